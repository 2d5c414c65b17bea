package client

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestThroughputMatrix is acceptance 1: 100 000 messages producer → nsqd →
// consumer over plain TCP, TLS, snappy, deflate and TLS+snappy; every
// message arrives exactly once (nothing is requeued).
func TestThroughputMatrix(t *testing.T) {
	total := 100_000
	if testing.Short() {
		total = 10_000
	}
	d, certs := tlsDaemon(t)
	modes := []struct {
		name                 string
		tls, snappy, deflate bool
	}{
		{"plain", false, false, false},
		{"tls", true, false, false},
		{"snappy", false, true, false},
		{"deflate", false, false, true},
		{"tls_snappy", true, true, false},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.TLSV1, cfg.Snappy, cfg.Deflate = m.tls, m.snappy, m.deflate
			cfg.TLSRootCAFile = certs.CAFile
			runMatrix(t, d, cfg, "matrix_"+m.name, total)
		})
	}
}

func runMatrix(t *testing.T, d *daemon, cfg *Config, topic string, total int) {
	start := time.Now()
	ccfg := cfg.Clone()
	ccfg.MaxInFlight = 2500
	c := newTestConsumer(t, topic, "ch", ccfg)
	seen := make([]atomic.Int32, total)
	var received, bad atomic.Int64
	c.AddConcurrentHandlers(HandlerFunc(func(m *Message) error {
		i, err := strconv.Atoi(string(m.Body[4:]))
		if err != nil || i < 0 || i >= total || m.Attempts != 1 {
			bad.Add(1)
			return nil
		}
		seen[i].Add(1)
		received.Add(1)
		return nil
	}), 4)
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}

	p := newTestProducer(t, cfg, d.tcp())
	const batch = 500
	done := make(chan *ProducerTransaction, total/batch+1)
	for i := 0; i < total; i += batch {
		bodies := make([][]byte, 0, batch)
		for j := i; j < min(i+batch, total); j++ {
			bodies = append(bodies, body(j))
		}
		if err := p.MultiPublishAsync(topic, bodies, done); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < total; i += batch {
		if tr := <-done; tr.Error != nil {
			t.Fatalf("MPUB: %v", tr.Error)
		}
	}
	published := time.Since(start)
	eventually(t, 60*time.Second, fmt.Sprintf("%d messages received", total), func() bool {
		return received.Load()+bad.Load() >= int64(total)
	})
	eventually(t, 10*time.Second, "channel drained", func() bool { return d.pending(topic, "ch") == 0 })
	if bad.Load() != 0 {
		t.Fatalf("%d unexpected messages", bad.Load())
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("message %d received %d times", i, n)
		}
	}
	st := c.Stats()
	if st.MessagesReceived != uint64(total) || st.MessagesRequeued != 0 {
		t.Fatalf("stats %+v", st)
	}
	cs := d.channelStats(topic, "ch")
	if cs.RequeueCount != 0 || cs.TimeoutCount != 0 || cs.MessageCount != uint64(total) {
		t.Fatalf("nsqd channel %+v", cs)
	}
	t.Logf("%d messages: published in %s, consumed in %s", total, published.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
