package client

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"go.uber.org/goleak"
)

// TestNoGoroutineLeftAfterStop is acceptance 6: once Producer.Stop has
// returned and a Consumer's StopChan is closed, none of their goroutines
// (connections' readers and writers, node loops, lookupd pollers,
// reconnect loops, RDY loop, handlers, timers) is left — over TLS and
// snappy, with lookupd discovery, and after a reconnect.
func TestNoGoroutineLeftAfterStop(t *testing.T) {
	l := testdaemon.Lookupd(t)
	d, certs := tlsDaemon(t)
	o := nsqdOptions(t)
	o.NSQLookupdTCPAddresses = []string{l.TCPAddr().String()}
	d2 := startDaemon(t, o)
	publishN(t, d2.tcp(), "leak", 0, 10)
	waitRegistered(t, l.HTTPAddr().String(), 1)
	// The daemons' topics and channels exist before we look (their
	// goroutines are nsqd's).
	for _, n := range []*daemon{d, d2} {
		n.nsqd().GetTopic("leak").GetChannel("ch")
	}
	time.Sleep(50 * time.Millisecond)

	// Everything running now (daemons, their connections) is not ours.
	ignore := goleak.IgnoreCurrent()

	cfg := testConfig()
	cfg.TLSV1, cfg.Snappy = true, true
	cfg.TLSRootCAFile = certs.CAFile
	cfg.ReconnectInitialInterval = 20 * time.Millisecond

	p, err := NewProducer(cfg, d.tcp(), "127.0.0.1:1") // one node never connects
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ConnectToNSQLookupd(l.HTTPAddr().String()); err != nil {
		t.Fatal(err)
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := p.PublishAsync("leak", body(i), nil); err != nil {
			t.Fatal(err)
		}
	}

	ccfg := cfg.Clone()
	ccfg.MaxInFlight = 10
	c, err := NewConsumer("leak", "ch", ccfg)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	c.AddConcurrentHandlers(HandlerFunc(func(*Message) error { got.Add(1); return nil }), 3)
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	if err := c.ConnectToNSQLookupd(l.HTTPAddr().String()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "consumed", func() bool { return got.Load() >= 110 })

	p.Stop()
	c.Stop()
	select {
	case <-c.StopChan:
	case <-time.After(10 * time.Second):
		t.Fatal("consumer did not stop")
	}
	goleak.VerifyNone(t, ignore)
}

// A consumer whose nsqd is gone keeps a reconnect loop; Stop ends it.
func TestNoGoroutineLeftReconnecting(t *testing.T) {
	d := startDaemon(t, nil)
	ignore := goleak.IgnoreCurrent()
	cfg := testConfig()
	cfg.ReconnectInitialInterval = 20 * time.Millisecond
	c, err := NewConsumer("leak2", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.AddHandler(HandlerFunc(func(*Message) error { return nil }))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	d.stop()
	eventually(t, 5*time.Second, "disconnected", func() bool { return c.Stats().Connections == 0 })
	time.Sleep(100 * time.Millisecond) // a few reconnect attempts
	c.Stop()
	<-c.StopChan
	goleak.VerifyNone(t, ignore)
}
