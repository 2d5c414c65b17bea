package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/wire"
)

func newTestProducer(t *testing.T, cfg *Config, addrs ...string) *Producer {
	t.Helper()
	if cfg == nil {
		cfg = testConfig()
	}
	p, err := NewProducer(cfg, addrs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func TestProducerPublishVariants(t *testing.T) {
	d := startDaemon(t, nil)
	p := newTestProducer(t, nil, d.tcp())
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish("pv", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := p.MultiPublish("pv", [][]byte{[]byte("a"), []byte("b"), []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if err := p.DeferredPublish("pv", 10*time.Millisecond, []byte("later")); err != nil {
		t.Fatal(err)
	}
	done := make(chan *ProducerTransaction, 10)
	if err := p.PublishAsync("pv", []byte("x"), done, "arg1", 1); err != nil {
		t.Fatal(err)
	}
	if err := p.MultiPublishAsync("pv", [][]byte{[]byte("y"), []byte("z")}, done, "arg2"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeferredPublishAsync("pv", time.Millisecond, []byte("w"), done, "arg3"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"arg1", "arg2", "arg3"} {
		select {
		case tr := <-done:
			if tr.Error != nil || tr.Args[0] != want {
				t.Fatalf("transaction %v %v", tr.Args, tr.Error)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no completion")
		}
	}
	if got := d.topicCount("pv"); got != 9 {
		t.Fatalf("nsqd has %d messages, want 9", got)
	}
	st := p.Nodes()
	if len(st) != 1 || st[0].State != NodeConnected || st[0].Published != 6 || st[0].Pending != 0 {
		t.Fatalf("nodes %+v", st)
	}
}

// TestProducerLocalValidation is acceptance 5: empty body, bad topic name,
// oversized message → errors returned before anything is sent; the
// connection stays up and usable (publishes pipelined around them succeed).
func TestProducerLocalValidation(t *testing.T) {
	o := nsqdOptions(t)
	o.MaxMsgSize = 1024
	o.MaxBodySize = 4096
	d := startDaemon(t, o)
	cfg := testConfig()
	cfg.PublishMaxMsgSize = 1024
	cfg.PublishMaxBodySize = 4096
	p := newTestProducer(t, cfg, d.tcp())
	if err := p.Publish("valid", []byte("first")); err != nil {
		t.Fatal(err)
	}
	before := p.Nodes()[0]

	big := make([]byte, 1025)
	cases := []struct {
		name string
		want error
		call func() error
	}{
		{"empty body", ErrEmptyBody, func() error { return p.Publish("valid", nil) }},
		{"empty body (non-nil)", ErrEmptyBody, func() error { return p.Publish("valid", []byte{}) }},
		{"bad topic", ErrInvalidTopic, func() error { return p.Publish("bad topic!", []byte("x")) }},
		{"empty topic", ErrInvalidTopic, func() error { return p.Publish("", []byte("x")) }},
		{"long topic", ErrInvalidTopic, func() error { return p.Publish(strings.Repeat("t", 65), []byte("x")) }},
		{"oversized", ErrMessageTooBig, func() error { return p.Publish("valid", big) }},
		{"deferred empty", ErrEmptyBody, func() error { return p.DeferredPublish("valid", time.Second, nil) }},
		{"deferred negative", ErrInvalidDelay, func() error { return p.DeferredPublish("valid", -time.Second, []byte("x")) }},
		{"mpub none", ErrNoMessages, func() error { return p.MultiPublish("valid", nil) }},
		{"mpub empty one", ErrEmptyBody, func() error { return p.MultiPublish("valid", [][]byte{[]byte("a"), {}}) }},
		{"mpub oversized one", ErrMessageTooBig, func() error { return p.MultiPublish("valid", [][]byte{[]byte("a"), big}) }},
		{"mpub body too big", ErrBodyTooBig, func() error {
			return p.MultiPublish("valid", [][]byte{make([]byte, 1000), make([]byte, 1000), make([]byte, 1000), make([]byte, 1000), make([]byte, 100)})
		}},
		{"async empty", ErrEmptyBody, func() error { return p.PublishAsync("valid", nil, nil) }},
		{"async bad topic", ErrInvalidTopic, func() error { return p.MultiPublishAsync("a/b", [][]byte{[]byte("x")}, nil) }},
	}
	done := make(chan *ProducerTransaction, 100)
	for i, tc := range cases {
		// A publish pipelined before each invalid one, one after.
		if err := p.PublishAsync("valid", body(i), done); err != nil {
			t.Fatal(err)
		}
		err := tc.call()
		var ve *ValidationError
		if !errors.Is(err, tc.want) || !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if err := p.PublishAsync("valid", body(i), done); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2*len(cases); i++ {
		select {
		case tr := <-done:
			if tr.Error != nil {
				t.Fatalf("pipelined publish failed: %v", tr.Error)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("pipelined publishes not acknowledged")
		}
	}
	if err := p.Publish("valid", []byte("last")); err != nil {
		t.Fatal(err)
	}
	after := p.Nodes()[0]
	if after.State != NodeConnected || !after.Since.Equal(before.Since) || after.LastError != nil {
		t.Fatalf("connection disturbed: before %+v after %+v", before, after)
	}
	// The same single connection did everything.
	st := d.nsqd().GetStats("", "", true)
	if len(st.Producers) != 1 {
		t.Fatalf("nsqd saw %d producer connections", len(st.Producers))
	}
	if got, want := d.topicCount("valid"), uint64(2+2*len(cases)); got != want {
		t.Fatalf("nsqd has %d messages, want %d", got, want)
	}
}

// A server-side rejection (nsqd's --max-msg-size below the producer's
// limit) is returned to its caller; the publishes pipelined behind it on
// the connection nsqd closes are retried, not failed.
func TestProducerServerRejectionDoesNotPoison(t *testing.T) {
	o := nsqdOptions(t)
	o.MaxMsgSize = 100
	d := startDaemon(t, o)
	cfg := testConfig()
	p := newTestProducer(t, cfg, d.tcp())
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan *ProducerTransaction, 100)
	for i := 0; i < 20; i++ {
		b := body(i)
		if i == 5 {
			b = make([]byte, 200)
		}
		if err := p.PublishAsync("srv", b, done, i); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		tr := <-done
		if tr.Args[0] == 5 {
			var we *wire.Error
			if !errors.As(tr.Error, &we) || we.Code != wire.ErrCodeBadMessage {
				t.Errorf("oversized publish: %v", tr.Error)
			}
		} else if tr.Error != nil {
			t.Errorf("publish %v: %v", tr.Args[0], tr.Error)
		}
	}
	if err := p.Publish("srv", []byte("after")); err != nil {
		t.Fatal(err)
	}
}

func TestProducerBackgroundReconnect(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.ReconnectInitialInterval = 50 * time.Millisecond
	cfg.ReconnectMaxInterval = 200 * time.Millisecond
	p := newTestProducer(t, cfg, d.tcp())
	eventually(t, 5*time.Second, "connected without any publish", func() bool { return p.Nodes()[0].State == NodeConnected })

	d.stop()
	eventually(t, 5*time.Second, "node down", func() bool {
		st := p.Nodes()[0]
		return st.State != NodeConnected && st.LastError != nil
	})
	// A publish during the outage waits for the node (publish_timeout)
	// instead of failing.
	errc := make(chan error, 1)
	go func() { errc <- p.Publish("bg", []byte("during outage")) }()
	time.Sleep(300 * time.Millisecond)
	d.restart()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("publish during outage: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("publish during outage never completed")
	}
	eventually(t, 5*time.Second, "reconnected", func() bool { return p.Nodes()[0].State == NodeConnected })
	if d.topicCount("bg") != 1 {
		t.Fatal("message not on the restarted nsqd")
	}
}

func TestProducerTimeoutAndPing(t *testing.T) {
	// Nothing listens there.
	d := startDaemon(t, nil)
	addr := d.tcp()
	d.stop()

	cfg := testConfig()
	cfg.PublishTimeout = 300 * time.Millisecond
	p := newTestProducer(t, cfg, addr)
	start := time.Now()
	if err := p.Ping(context.Background()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Ping: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("Ping took %s", time.Since(start))
	}
	err := p.Publish("t", []byte("x"))
	if !errors.Is(err, ErrPublishTimeout) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Publish: %v", err)
	}
	done := make(chan *ProducerTransaction, 1)
	if err := p.PublishAsync("t", []byte("x"), done); err != nil {
		t.Fatal(err)
	}
	if tr := <-done; !errors.Is(tr.Error, ErrPublishTimeout) {
		t.Fatalf("async: %v", tr.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.PublishContext(ctx, "t", []byte("x")); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrPublishTimeout) {
		t.Fatalf("PublishContext: %v", err)
	}
	st := p.Nodes()[0]
	if st.State == NodeConnected || st.LastError == nil || st.Failures == 0 {
		t.Fatalf("status %+v", st)
	}
	if _, err := NewProducer(cfg, "no-port"); err == nil {
		t.Fatal("address without port accepted")
	}
	empty := newTestProducer(t, cfg)
	if err := empty.Publish("t", []byte("x")); !errors.Is(err, ErrNoNodes) {
		t.Fatalf("no nodes: %v", err)
	}
}

// Stop flushes: asynchronous publishes made just before Stop are all
// acknowledged; publishes after Stop fail with ErrStopped.
func TestProducerStopFlushes(t *testing.T) {
	d := startDaemon(t, nil)
	p, err := NewProducer(testConfig(), d.tcp())
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	done := make(chan *ProducerTransaction, n)
	for i := 0; i < n; i++ {
		if err := p.PublishAsync("flush", body(i), done); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()
	if len(done) != n {
		t.Fatalf("%d of %d completed by Stop", len(done), n)
	}
	for i := 0; i < n; i++ {
		if tr := <-done; tr.Error != nil {
			t.Fatal(tr.Error)
		}
	}
	if got := d.topicCount("flush"); got != n {
		t.Fatalf("nsqd has %d", got)
	}
	if err := p.Publish("flush", []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("after Stop: %v", err)
	}
	p.Stop() // idempotent
}

// TestProducerFailover is acceptance 2: a producer over two nsqd keeps
// publishing with no error while one node is killed and restarted (same
// address and data directory); every acknowledged message is consumable
// afterwards from one node or the other.
func TestProducerFailover(t *testing.T) {
	for _, rr := range []bool{false, true} {
		t.Run(fmt.Sprintf("round_robin=%v", rr), func(t *testing.T) {
			testProducerFailover(t, rr)
		})
	}
}

func testProducerFailover(t *testing.T, roundRobin bool) {
	a := startDaemon(t, nil)
	b := startDaemon(t, nil)
	cfg := testConfig()
	cfg.PublishRoundRobin = roundRobin
	cfg.ReconnectInitialInterval = 50 * time.Millisecond
	p := newTestProducer(t, cfg, a.tcp(), b.tcp())
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "both nodes up", func() bool {
		st := p.Nodes()
		return st[0].State == NodeConnected && st[1].State == NodeConnected
	})

	const topic = "failover"
	var (
		mu      sync.Mutex
		acked   = map[string]bool{}
		errs    []error
		stop    atomic.Bool
		wg      sync.WaitGroup
		counter atomic.Int64
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				n := counter.Add(1)
				id := fmt.Sprintf("m%07d", n)
				var err error
				if n%5 == 0 { // an MPUB: id stands for id-a and id-b
					err = p.MultiPublish(topic, [][]byte{[]byte(id + "-a"), []byte(id + "-b")})
				} else {
					err = p.Publish(topic, []byte(id))
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					acked[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	a.stop() // killed (clean exit: memory flushed to disk)
	time.Sleep(500 * time.Millisecond)
	a.restart()
	eventually(t, 5*time.Second, "node a back", func() bool { return p.Nodes()[0].State == NodeConnected })
	time.Sleep(300 * time.Millisecond)
	b.stop()
	time.Sleep(300 * time.Millisecond)
	b.restart()
	eventually(t, 5*time.Second, "node b back", func() bool { return p.Nodes()[1].State == NodeConnected })
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("%d publishes failed, first: %v", len(errs), errs[0])
	}
	t.Logf("%d publish calls acknowledged", len(acked))
	if roundRobin {
		if a.topicCount(topic) == 0 || b.topicCount(topic) == 0 {
			t.Fatalf("round robin did not use both nodes: %d / %d", a.topicCount(topic), b.topicCount(topic))
		}
	}

	// Consume everything from both nodes.
	got := consumeAll(t, topic, []string{a.tcp(), b.tcp()}, func() bool {
		return a.pending(topic, "check") == 0 && b.pending(topic, "check") == 0
	})
	for id := range acked {
		// An MPUB's id stands for its two messages.
		if got[id] == 0 && (got[id+"-a"] == 0 || got[id+"-b"] == 0) {
			t.Fatalf("acknowledged message %s not consumable", id)
		}
	}
}

// consumeAll reads channel "check" of topic from addrs until drained()
// and returns how often each body was seen.
func consumeAll(t *testing.T, topic string, addrs []string, drained func() bool) map[string]int {
	t.Helper()
	cfg := testConfig()
	cfg.MaxInFlight = 1000
	c, err := NewConsumer(topic, "check", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	c.AddConcurrentHandlers(HandlerFunc(func(m *Message) error {
		mu.Lock()
		got[string(m.Body)]++
		mu.Unlock()
		return nil
	}), 4)
	if err := c.ConnectToNSQDs(addrs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	eventually(t, 30*time.Second, "channel drained", drained)
	stopConsumer(t, c)
	mu.Lock()
	defer mu.Unlock()
	return got
}

func TestProducerLookupdDiscovery(t *testing.T) {
	l := testdaemon.Lookupd(t)
	o := nsqdOptions(t)
	o.NSQLookupdTCPAddresses = []string{l.TCPAddr().String()}
	d := startDaemon(t, o)
	waitRegistered(t, l.HTTPAddr().String(), 1)
	cfg := testConfig()
	p := newTestProducer(t, cfg)
	if err := p.ConnectToNSQLookupd(l.HTTPAddr().String(), l.HTTPAddr().String()); err != nil {
		t.Fatal(err)
	}
	st := p.Nodes()
	if len(st) != 1 || st[0].Addr != d.tcp() || !st[0].Discovered {
		t.Fatalf("nodes %+v", st)
	}
	if err := p.Publish("disc", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := p.ConnectToNSQLookupd("missing-port"); err == nil {
		t.Fatal("bad lookupd address accepted")
	}
}

// waitRegistered waits until lookupd lists n nsqd.
func waitRegistered(t *testing.T, lookupdHTTP string, n int) {
	t.Helper()
	lc := lookup.NewClient(lookup.Options{})
	defer lc.Close()
	eventually(t, 5*time.Second, "nsqd registered with lookupd", func() bool {
		nodes, err := lc.Nodes(context.Background(), lookupdHTTP)
		return err == nil && len(nodes) == n
	})
}

// fakeNSQD accepts connections, answers IDENTIFY with a plain OK (an old
// server: no negotiation) and closes the connection on the first publish
// without answering it.
func fakeNSQD(t *testing.T) (addr string, publishes *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	publishes = new(atomic.Int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				magic := make([]byte, 4)
				if _, err := io.ReadFull(c, magic); err != nil {
					return
				}
				r := wire.NewCommandReader(c)
				for {
					params, err := r.ReadLine()
					if err != nil {
						return
					}
					switch string(params[0]) {
					case "IDENTIFY":
						n, _ := r.ReadSize()
						r.ReadBody(n)
						c.Write(wire.AppendFrame(nil, wire.FrameTypeResponse, wire.OK))
					case "PUB", "MPUB", "DPUB":
						n, _ := r.ReadSize()
						r.ReadBody(n)
						publishes.Add(1)
						return // no answer: the connection drops
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), publishes
}

// A publish whose connection drops before the reply is retried on
// another node (no error to the caller); with publish_attempts 1 the
// error is returned.
func TestProducerRetriesOnAnotherNode(t *testing.T) {
	fake, publishes := fakeNSQD(t)
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.ReconnectInitialInterval = 10 * time.Millisecond
	p := newTestProducer(t, cfg, fake, d.tcp())
	eventually(t, 5*time.Second, "both connected", func() bool {
		st := p.Nodes()
		return st[0].State == NodeConnected && st[1].State == NodeConnected
	})
	for i := 0; i < 5; i++ {
		if err := p.Publish("retry", body(i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		// Let the fake come back so the next publish tries it first again.
		eventually(t, 5*time.Second, "fake reconnected", func() bool { return p.Nodes()[0].State == NodeConnected })
	}
	if publishes.Load() == 0 {
		t.Fatal("the fake node was never tried")
	}
	if got := d.topicCount("retry"); got != 5 {
		t.Fatalf("real nsqd has %d", got)
	}

	cfg1 := testConfig()
	cfg1.PublishAttempts = 1
	p1 := newTestProducer(t, cfg1, fake)
	if err := p1.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p1.Publish("retry", []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("without retries: %v", err)
	}
}
