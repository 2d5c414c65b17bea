package nsqd

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestGoNSQPublishConsume(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	p, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLoggerLevel(nsq.LogLevelError)
	defer p.Stop()
	const total = 1000
	for i := 0; i < total/2; i++ {
		if err := p.Publish("t1", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var bodies [][]byte
	for i := total / 2; i < total; i++ {
		bodies = append(bodies, []byte(fmt.Sprintf("m%d", i)))
	}
	if err := p.MultiPublish("t1", bodies); err != nil {
		t.Fatal(err)
	}
	c, err := nsq.NewConsumer("t1", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLoggerLevel(nsq.LogLevelError)
	var mu sync.Mutex
	seen := map[string]int{}
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		mu.Lock()
		seen[string(m.Body)]++
		mu.Unlock()
		return nil
	}))
	if err := c.ConnectToNSQD(addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "all messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == total
	})
	c.Stop()
	<-c.StopChan
}
