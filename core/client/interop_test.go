package client

import (
	"io"
	"log"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gonsq "github.com/nsqio/go-nsq"
)

var discardLog = log.New(io.Discard, "", 0)

// Our producer → nsqd → go-nsq 1.1.0 consumer (with snappy on both sides).
func TestInteropOurProducerGoNSQConsumer(t *testing.T) {
	d := startDaemon(t, nil)
	const n = 2000
	cfg := testConfig()
	cfg.Snappy = true
	p := newTestProducer(t, cfg, d.tcp())
	for i := 0; i < n; i += 100 {
		var bodies [][]byte
		for j := i; j < i+100; j++ {
			bodies = append(bodies, body(j))
		}
		if err := p.MultiPublish("interop1", bodies); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.DeferredPublish("interop1", 10*time.Millisecond, body(n)); err != nil {
		t.Fatal(err)
	}

	gcfg := gonsq.NewConfig()
	gcfg.MaxInFlight = 100
	gcfg.Snappy = true
	gc, err := gonsq.NewConsumer("interop1", "ch", gcfg)
	if err != nil {
		t.Fatal(err)
	}
	gc.SetLogger(discardLog, gonsq.LogLevelError)
	var mu sync.Mutex
	seen := map[string]int{}
	gc.AddHandler(gonsq.HandlerFunc(func(m *gonsq.Message) error {
		mu.Lock()
		seen[string(m.Body)]++
		mu.Unlock()
		return nil
	}))
	if err := gc.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	defer func() { gc.Stop(); <-gc.StopChan }()
	eventually(t, 10*time.Second, "go-nsq consumed everything", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n+1
	})
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i <= n; i++ {
		if seen[string(body(i))] != 1 {
			t.Fatalf("msg %d seen %d times", i, seen[string(body(i))])
		}
	}
}

// go-nsq 1.1.0 producer → nsqd → our consumer (with deflate on both sides).
func TestInteropGoNSQProducerOurConsumer(t *testing.T) {
	d := startDaemon(t, nil)
	const n = 2000
	gcfg := gonsq.NewConfig()
	gcfg.Deflate = true
	gp, err := gonsq.NewProducer(d.tcp(), gcfg)
	if err != nil {
		t.Fatal(err)
	}
	gp.SetLogger(discardLog, gonsq.LogLevelError)
	defer gp.Stop()
	for i := 0; i < n; i++ {
		if err := gp.Publish("interop2", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}

	cfg := testConfig()
	cfg.Deflate = true
	cfg.MaxInFlight = 200
	c := newTestConsumer(t, "interop2", "ch", cfg)
	seen := make([]atomic.Int32, n)
	var got atomic.Int64
	c.AddConcurrentHandlers(HandlerFunc(func(m *Message) error {
		i, err := strconv.Atoi(string(m.Body))
		if err != nil || i < 0 || i >= n {
			t.Errorf("unexpected body %q", m.Body)
			return nil
		}
		seen[i].Add(1)
		got.Add(1)
		return nil
	}), 2)
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "our consumer got everything", func() bool { return got.Load() == n })
	eventually(t, 2*time.Second, "drained", func() bool { return d.pending("interop2", "ch") == 0 })
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("msg %d seen %d times", i, seen[i].Load())
		}
	}
}
