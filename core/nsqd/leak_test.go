package nsqd

import (
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"github.com/nsqkit/nsqkit/core/wire"
	"go.uber.org/goleak"
)

// TestNoGoroutineLeftAfterExit runs a broker with producers, consumers,
// in-flight and deferred messages, ephemeral names and HTTP traffic, and
// checks that Exit leaves no goroutine behind.
func TestNoGoroutineLeftAfterExit(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	opts := testOptions(t)
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Main() }()

	var consumers []*rawConn
	for _, ch := range []string{"a", "b#ephemeral"} {
		c := dialRaw(t, n)
		c.write(wire.MagicV2)
		c.cmd(wire.Subscribe("leak", ch))
		c.expect(wire.FrameTypeResponse, "OK")
		c.cmd(wire.Ready(10))
		consumers = append(consumers, c)
	}
	p := dialRaw(t, n)
	p.write(wire.MagicV2)
	for i := 0; i < 100; i++ {
		p.cmd(wire.Publish("leak", []byte("x")))
		p.expect(wire.FrameTypeResponse, "OK")
	}
	p.cmd(wire.DeferredPublish("leak", 60000, []byte("later")))
	p.expect(wire.FrameTypeResponse, "OK")
	for _, c := range consumers {
		if ft, _, err := c.frame(); err != nil || ft != wire.FrameTypeMessage {
			t.Fatalf("no message: %v", err)
		}
	}
	e := dialRaw(t, n)
	e.write(wire.MagicV2)
	e.cmd(wire.Subscribe("gone#ephemeral", "x#ephemeral"))
	e.expect(wire.FrameTypeResponse, "OK")
	e.conn.Close()
	// compressed connections, closed before Exit: nothing of theirs stays
	for _, mode := range []string{"snappy", "deflate"} {
		cfg := nsq.NewConfig()
		cfg.Snappy = mode == "snappy"
		cfg.Deflate = mode == "deflate"
		prod, err := nsq.NewProducer(n.TCPAddr().String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		prod.SetLoggerLevel(nsq.LogLevelError)
		if err := prod.Publish("leak", []byte(mode)); err != nil {
			t.Fatal(err)
		}
		prod.Stop()
	}
	idle := dialRaw(t, n) // connected, never sends the magic
	_ = idle

	n.Exit()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Main did not return")
	}
	goleak.VerifyNone(t, ignore)
}
