package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/internal/testcerts"
	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"github.com/nsqkit/nsqkit/core/nsqd"
)

func run(t *testing.T, o Options) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("%s: %v", o.Mode, err)
	}
	return res
}

// TestPubThenSub: a --count run publishes exactly that many messages (the
// last batch smaller) and a sub --count run receives exactly them.
func TestPubThenSub(t *testing.T) {
	n := testdaemon.NSQD(t)
	addr := n.TCPAddr().String()
	pub := run(t, Options{Mode: ModePub, Addrs: []string{addr}, Topic: "ps", Count: 1003, BatchSize: 10, Clients: 3, Size: 50})
	if pub.Pub.Msgs != 1003 {
		t.Fatalf("published %d, want 1003", pub.Pub.Msgs)
	}
	if l := pub.Pub.Latency; l == nil || l.Count != 101 || l.Min <= 0 {
		t.Errorf("pub latency %+v, want 101 batches", l)
	}
	sub := run(t, Options{Mode: ModeSub, Addrs: []string{addr}, Topic: "ps", Count: 1003, Clients: 2, RDY: 100})
	if sub.Sub.Msgs != 1003 || sub.Sub.Bytes != 1003*50 {
		t.Fatalf("received %d msgs %d bytes, want 1003 of 50 B", sub.Sub.Msgs, sub.Sub.Bytes)
	}
	if sub.Sub.Latency != nil {
		t.Errorf("sub has no latency: %+v", sub.Sub.Latency)
	}
	// nothing left in flight or queued: every message was finished
	stats := n.GetStats("ps", "ch", true).Topics
	if len(stats) != 1 || len(stats[0].Channels) != 1 {
		t.Fatalf("stats %+v", stats)
	}
	waitFor(t, "channel drained", func() bool {
		c := n.GetStats("ps", "ch", true).Topics[0].Channels[0]
		return c.Depth == 0 && c.InFlightCount == 0 && c.MessageCount == 1003
	})
}

// TestSubRunfor: without a count a consumer stops at --runfor.
func TestSubRunfor(t *testing.T) {
	n := testdaemon.NSQD(t)
	start := time.Now()
	sub := run(t, Options{Mode: ModeSub, Addrs: []string{n.TCPAddr().String()}, Runfor: 300 * time.Millisecond})
	if el := time.Since(start); el < 300*time.Millisecond || el > 5*time.Second {
		t.Errorf("ran %v", el)
	}
	if sub.Sub.Msgs != 0 || sub.Sub.MsgsPerSec != 0 {
		t.Errorf("%+v", sub.Sub)
	}
}

// TestRateExact: the schedule sends exactly rate × runfor messages.
func TestRateExact(t *testing.T) {
	n := testdaemon.NSQD(t)
	res := run(t, Options{Mode: ModePub, Addrs: []string{n.TCPAddr().String()}, Rate: 2000, BatchSize: 20, Clients: 2, Runfor: 500 * time.Millisecond})
	if res.Pub.Msgs != 1000 {
		t.Errorf("sent %d, want 1000", res.Pub.Msgs)
	}
	st := res.Schedule
	if st == nil || st.Due != 50 || st.Sent != 50 || st.Lag == nil {
		t.Fatalf("schedule %+v", st)
	}
	if res.Pub.Elapsed < 450*time.Millisecond || res.Pub.Elapsed > 700*time.Millisecond {
		t.Errorf("elapsed %v", res.Pub.Elapsed)
	}
}

// TestPubSubLatency: pubsub delivers all it published and measures
// publish → delivery latency of every message.
func TestPubSubLatency(t *testing.T) {
	n := testdaemon.NSQD(t)
	res := run(t, Options{Mode: ModePubSub, Addrs: []string{n.TCPAddr().String()}, Rate: 5000, BatchSize: 10, Clients: 1, Subs: 2,
		Runfor: 400 * time.Millisecond, OutputBufferTimeout: 25 * time.Millisecond})
	if res.Pub.Msgs != 2000 || res.Sub.Msgs != 2000 {
		t.Fatalf("published %d, received %d; want 2000 each (warnings %v)", res.Pub.Msgs, res.Sub.Msgs, res.Warnings)
	}
	l := res.Sub.Latency
	if l == nil || l.Count != 2000 || l.Min <= 0 || l.Max > 10*time.Second || l.P50 > l.P99 {
		t.Fatalf("latency %+v", l)
	}
	if res.Sub.LatencyOf != "publish_to_delivery" {
		t.Errorf("latency_of %q", res.Sub.LatencyOf)
	}
}

// TestWarmup: what is published during the warmup is not counted.
func TestWarmup(t *testing.T) {
	n := testdaemon.NSQD(t)
	res := run(t, Options{Mode: ModePub, Addrs: []string{n.TCPAddr().String()}, Rate: 1000, BatchSize: 10,
		Warmup: 200 * time.Millisecond, Runfor: 300 * time.Millisecond})
	if res.Pub.Msgs != 300 {
		t.Errorf("measured %d, want the 300 after the warmup", res.Pub.Msgs)
	}
	if got := n.GetStats("sub_bench", "", false).Topics[0].MessageCount; got != 500 {
		t.Errorf("nsqd got %d, want 500", got)
	}
}

// TestTransports: TLS, snappy and deflate go through core/client.
func TestTransports(t *testing.T) {
	certs := testcerts.New(t)
	n := testdaemon.NSQD(t, func(o *nsqd.Options) {
		o.TLSCert, o.TLSKey, o.TLSRootCAFile = certs.ServerCert, certs.ServerKey, certs.CAFile
	})
	addr := n.TCPAddr().String()
	for _, tc := range []struct {
		name string
		set  func(*client.Config)
		want string
	}{
		{"tls", func(c *client.Config) { c.TLSV1 = true; c.TLSConfig = certs.ClientTLS(t, false) }, "tcp+tls"},
		{"snappy", func(c *client.Config) { c.Snappy = true }, "tcp+snappy"},
		{"deflate", func(c *client.Config) { c.Deflate = true }, "tcp+deflate"},
		{"tls+snappy", func(c *client.Config) { c.TLSV1 = true; c.TLSConfig = certs.ClientTLS(t, false); c.Snappy = true }, "tcp+tls+snappy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := client.NewConfig()
			tc.set(cfg)
			topic := strings.ReplaceAll("tr_"+tc.name, "+", "_")
			res := run(t, Options{Mode: ModePubSub, Addrs: []string{addr}, Topic: topic, Count: 500, BatchSize: 50, Client: cfg})
			if res.Transport != tc.want || res.Pub.Msgs != 500 || res.Sub.Msgs != 500 || res.Sub.Latency == nil {
				t.Fatalf("transport %s: published %d received %d latency %+v", res.Transport, res.Pub.Msgs, res.Sub.Msgs, res.Sub.Latency)
			}
		})
	}
}

// TestNSQDError: an error frame ends the run with its text.
func TestNSQDError(t *testing.T) {
	n := testdaemon.NSQD(t, func(o *nsqd.Options) { o.MaxMsgSize = 64 })
	_, err := Run(context.Background(), Options{Mode: ModePub, Addrs: []string{n.TCPAddr().String()}, Size: 100, Count: 10})
	if err == nil || !strings.Contains(err.Error(), "E_BAD_MESSAGE") {
		t.Fatalf("err = %v, want E_BAD_MESSAGE", err)
	}
}

// TestDialError: an unreachable nsqd fails the run.
func TestDialError(t *testing.T) {
	_, err := Run(context.Background(), Options{Mode: ModeSub, Addrs: []string{"127.0.0.1:1"}, Runfor: time.Second})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
}

// TestCancel: cancelling the context ends a run without a time limit and
// still returns what was measured.
func TestCancel(t *testing.T) {
	n := testdaemon.NSQD(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	res, err := Run(ctx, Options{Mode: ModePubSub, Addrs: []string{n.TCPAddr().String()}, Rate: 1000, BatchSize: 10, Count: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pub.Msgs < 100 || res.Pub.Msgs > 500 {
		t.Errorf("published %d in ~300 ms at 1000/s", res.Pub.Msgs)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
