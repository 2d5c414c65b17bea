package nsqd

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func latencyOpts(window time.Duration, q ...float64) *Options {
	o := NewOptions()
	o.E2EProcessingLatencyWindowTime = window
	o.E2EProcessingLatencyPercentiles = q
	return o
}

func TestE2ELatencyStreamQuantiles(t *testing.T) {
	// A seeded reservoir: the estimate's error is random (about 1.6 % of
	// the range for the median with 1024 samples), the check must not be.
	seeded := rand.New(rand.NewPCG(1, 2))
	latencyRandN = seeded.Uint64N
	defer func() { latencyRandN = rand.Uint64N }()
	l := newLatencyStream(latencyOpts(10*time.Minute, 0.5, 1.0, 0.99))
	now := l.curStart + int64(time.Second)
	// 1..10000 µs, in a scrambled order
	for i := 0; i < 10000; i++ {
		v := int64((i*7919)%10000+1) * int64(time.Microsecond)
		l.insertAt(now, now-v)
	}
	r := l.result(now)
	if r.Count != 10000 || len(r.Percentiles) != 3 {
		t.Fatalf("result %+v", r)
	}
	for i, want := range []struct{ q, v, tol float64 }{{1.0, 10000e3, 0}, {0.99, 9900e3, 0.02}, {0.5, 5000e3, 0.05}} {
		p := r.Percentiles[i]
		if p.Quantile != want.q || math.Abs(p.Value-want.v) > want.tol*want.v {
			t.Errorf("percentile %d = %+v, want quantile %v value %v ±%v%%", i, p, want.q, want.v, want.tol*100)
		}
	}
	// a future publish time (clock skew) counts as 0
	l.insertAt(now, now+int64(time.Second))
	if r := l.result(now); r.Count != 10001 {
		t.Fatalf("count %d", r.Count)
	}
}

func TestE2ELatencyWindowRotation(t *testing.T) {
	l := newLatencyStream(latencyOpts(10*time.Second, 1.0))
	start := l.curStart
	at := func(d time.Duration) int64 { return start + int64(d) }
	check := func(now int64, count uint64, max float64) {
		t.Helper()
		r := l.result(now)
		if r.Count != count || r.Percentiles[0].Value != max {
			t.Fatalf("at +%s: %+v, want count %d max %v", time.Duration(now-start), r, count, max)
		}
	}
	l.insertAt(at(1*time.Second), at(1*time.Second)-3000)
	check(at(4*time.Second), 1, 3000)
	l.insertAt(at(6*time.Second), at(6*time.Second)-2000) // second sub-window
	check(at(6*time.Second), 2, 3000)
	l.insertAt(at(11*time.Second), at(11*time.Second)-1000) // the first one is dropped
	check(at(11*time.Second), 2, 2000)
	check(at(14*time.Second), 2, 2000)
	check(at(16*time.Second), 1, 1000)
	check(at(60*time.Second), 0, 0) // idle for more than a window
	l.insertAt(at(61*time.Second), at(61*time.Second)-500)
	check(at(61*time.Second), 1, 500)
}

func TestE2ELatencyDisabled(t *testing.T) {
	l := newLatencyStream(latencyOpts(10 * time.Minute))
	if l != nil {
		t.Fatal("a stream without percentiles")
	}
	l.insert(time.Now().UnixNano()) // no-op on nil
	b, _ := json.Marshal(l.result(time.Now().UnixNano()))
	if string(b) != `{"count":0,"percentiles":null}` {
		t.Fatalf("disabled latency %s", b)
	}
}

func TestE2ELatencyTopicMerge(t *testing.T) {
	n := startNSQD(t, fixtureOptions(t))
	tp := n.GetTopic("merge")
	now := time.Now().UnixNano()
	if r := topicLatency(tp, n.opts, now); r.Percentiles != nil {
		t.Fatalf("topic without channels %+v", r)
	}
	a, b := tp.GetChannel("a"), tp.GetChannel("b")
	if r := topicLatency(tp, n.opts, now); r.Count != 0 || len(r.Percentiles) != 2 || r.Percentiles[0].Value != 0 {
		t.Fatalf("topic with idle channels %+v", r)
	}
	for i := 1; i <= 100; i++ {
		a.e2e.insertAt(now, now-int64(i)*1000)
		b.e2e.insertAt(now, now-int64(i)*1000000)
	}
	r := topicLatency(tp, n.opts, now)
	if r.Count != 200 || r.Percentiles[0].Quantile != 0.99 || r.Percentiles[1].Quantile != 0.5 {
		t.Fatalf("merged %+v", r)
	}
	// the median of the union lies between the two channels' ranges
	if v := r.Percentiles[1].Value; v < 100000 || v > 2000000 {
		t.Fatalf("merged median %v", v)
	}
	if v := r.Percentiles[0].Value; v < 98e6 {
		t.Fatalf("merged p99 %v", v)
	}
}

// After FINs, /stats, the text stats and /metrics show the latencies.
func TestE2ELatencyAfterFIN(t *testing.T) {
	opts := fixtureOptions(t)
	opts.E2EProcessingLatencyPercentiles = []float64{1.0, 0.5}
	n := startNSQD(t, opts)
	for i := 0; i < 20; i++ {
		hPost(t, n, "/pub?topic=lat", fmt.Sprintf("m%d", i)).expectV1(t, "pub", 200, "OK")
	}
	cfg := nsq.NewConfig()
	c, err := nsq.NewConsumer("lat", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLoggerLevel(nsq.LogLevelError)
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		time.Sleep(time.Millisecond)
		return nil
	}))
	if err := c.ConnectToNSQD(n.TCPAddr().String()); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Stop(); <-c.StopChan }()
	eventually(t, 10*time.Second, "20 FINs", func() bool {
		ch, err := n.GetTopic("lat").GetExistingChannel("ch")
		return err == nil && ch.e2e.result(time.Now().UnixNano()).Count == 20
	})

	r := hGet(t, n, "/stats?format=json&topic=lat&include_mem=false")
	var st struct {
		Topics []TopicStats `json:"topics"`
	}
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatal(err)
	}
	for _, l := range []LatencyStats{st.Topics[0].E2eProcessingLatency, st.Topics[0].Channels[0].E2eProcessingLatency} {
		if l.Count != 20 || len(l.Percentiles) != 2 || l.Percentiles[0].Quantile != 1.0 || l.Percentiles[1].Quantile != 0.5 ||
			l.Percentiles[0].Value <= 0 || l.Percentiles[1].Value <= 0 || l.Percentiles[1].Value > l.Percentiles[0].Value {
			t.Fatalf("latency %+v in %s", l, r.body)
		}
	}
	text := hGet(t, n, "/stats?topic=lat").body
	if strings.Contains(text, "e2e%: 0.0ns") || !strings.Contains(text, "e2e%: ") {
		t.Fatalf("text stats %s", text)
	}
	if m := hGet(t, n, "/metrics").body; !strings.Contains(m, `nsq_channel_e2e_processing_latency_samples{channel="ch",topic="lat"} 20`) {
		t.Fatalf("/metrics without the latency samples")
	}
}

func BenchmarkE2ELatencyInsert(b *testing.B) {
	l := newLatencyStream(latencyOpts(10*time.Minute, 0.99, 0.5))
	now := time.Now().UnixNano()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.insert(now)
		}
	})
}
