package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

func TestFmtInt(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234", 100000: "100,000"} {
		if got := fmtInt(n); got != want {
			t.Errorf("fmtInt(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0ns",
		850:                      "850ns",
		1500:                     "1.50µs",
		312 * time.Microsecond:   "312µs",
		1234 * time.Microsecond:  "1.23ms",
		45600 * time.Microsecond: "45.6ms",
		4 * time.Second:          "4.00s",
		125 * time.Second:        "125s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	if Summarize(nil) != nil || Summarize(newHist()) != nil {
		t.Fatal("empty histograms have no summary")
	}
	h := newHist()
	for i := 1; i <= 1000; i++ {
		record(h, time.Duration(i)*time.Microsecond)
	}
	record(h, -5)          // clamped to 1 ns
	record(h, 2*time.Hour) // clamped to the maximum
	l := Summarize(h)
	near := func(name string, got, want time.Duration) {
		t.Helper()
		if diff := got - want; diff < -want/500 || diff > want/500 {
			t.Errorf("%s = %v, want %v ±0.2%%", name, got, want)
		}
	}
	if l.Count != 1002 || l.Min != 1 {
		t.Errorf("count %d min %v", l.Count, l.Min)
	}
	near("p50", l.P50, 501*time.Microsecond)
	near("p90", l.P90, 901*time.Microsecond)
	near("p99", l.P99, 991*time.Microsecond)
	near("p99.9", l.P999, 1000*time.Microsecond)
	near("max", l.Max, time.Hour)

	a, b := newHist(), newHist()
	record(a, time.Millisecond)
	record(b, 3*time.Millisecond)
	m := Summarize(merge(a, nil, b))
	if m.Count != 2 {
		t.Errorf("merged count %d", m.Count)
	}
	near("merged min", m.Min, time.Millisecond)
	near("merged max", m.Max, 3*time.Millisecond)
}

func sampleResult() *Result {
	lat := &Latency{Count: 10, Min: 100 * time.Microsecond, Mean: 300 * time.Microsecond, P50: 250 * time.Microsecond,
		P90: 500 * time.Microsecond, P99: 900 * time.Microsecond, P999: time.Millisecond, Max: 2 * time.Millisecond}
	pub := &Side{LatencyOf: "mpub_ok", Latency: lat, Clients: []ClientStats{
		{ID: 1, Addr: "127.0.0.1:4150", Msgs: 1000, Bytes: 100000, Elapsed: time.Second, Latency: lat},
		{ID: 2, Addr: "127.0.0.1:4152", Msgs: 3000, Bytes: 300000, Elapsed: 2 * time.Second},
	}}
	for i := range pub.Clients {
		pub.Clients[i].fill()
	}
	pub.total()
	return &Result{Mode: ModePub, Topic: "t", Addrs: []string{"127.0.0.1:4150", "127.0.0.1:4152"}, Transport: "tcp",
		Size: 100, BatchSize: 200, Clients: 2, Rate: 2000, Pub: pub,
		Schedule: &ScheduleStats{TargetRate: 2000, Due: 20, Sent: 20, Lag: lat},
		Warnings: []string{"something to say"}}
}

func TestSideTotals(t *testing.T) {
	r := sampleResult()
	p := r.Pub
	if p.Msgs != 4000 || p.Bytes != 400000 || p.Elapsed != 2*time.Second || p.MsgsPerSec != 2000 {
		t.Errorf("totals %+v", p)
	}
	if p.Clients[0].MsgsPerSec != 1000 || p.Clients[1].MsgsPerSec != 1500 {
		t.Errorf("client rates %v %v", p.Clients[0].MsgsPerSec, p.Clients[1].MsgsPerSec)
	}
	if want := 400000.0 / 2 / mb; p.MBPerSec != want {
		t.Errorf("MB/s %v, want %v", p.MBPerSec, want)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleResult().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"nsq_bench pub: topic t, 100 B messages, MPUB batches of 200, 2 publishers, tcp to 127.0.0.1:4150 127.0.0.1:4152\n",
		"Fixed rate: 2,000 msgs/sec (20 of 20 batches sent, 0 late > 5ms; send lag p50 250µs p99 900µs max 2.00ms)\n",
		"Pub stats: 2,000 msgs/sec ~ 0.19 MB/sec (4,000 msgs in 2.00s)\n",
		" [1] 1,000 msgs/sec ~ 0.10 MB/sec (1,000 msgs)\n",
		" [2] 1,500 msgs/sec ~ 0.14 MB/sec (3,000 msgs)\n",
		" min 1,000 | avg 1,250 | max 1,500 | stddev 250 msgs/sec\n",
		" Latency MPUB→OK per batch, from the intended send time (10 samples): min 100µs | p50 250µs | p90 500µs | p99 900µs | p99.9 1.00ms | max 2.00ms\n",
		"Warning: something to say\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleResult().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	pub := doc["pub"].(map[string]any)
	if pub["msgs"].(float64) != 4000 || pub["msgs_per_sec"].(float64) != 2000 {
		t.Errorf("pub = %v", pub)
	}
	lat := pub["latency"].(map[string]any)
	if lat["p99_ns"].(float64) != 900000 || lat["p99_9_ns"].(float64) != 1e6 {
		t.Errorf("latency = %v", lat)
	}
	if _, ok := doc["sub"]; ok {
		t.Error("a pub run has no sub side")
	}
	if doc["schedule"].(map[string]any)["batches_sent"].(float64) != 20 {
		t.Errorf("schedule = %v", doc["schedule"])
	}
	var back Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Pub.Latency.P50 != 250*time.Microsecond {
		t.Errorf("round trip: %v %+v", err, back.Pub)
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := sampleResult().WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want header + 2 clients + total:\n%v", len(rows), rows)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Errorf("header %v", rows[0])
	}
	col := func(row []string, name string) string {
		for i, h := range CSVHeader {
			if h == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	if col(rows[1], "client") != "1" || col(rows[1], "lat_p99_ns") != "900000" || col(rows[1], "msgs_per_sec") != "1000.0" {
		t.Errorf("row 1 %v", rows[1])
	}
	if col(rows[2], "lat_count") != "0" || col(rows[2], "lat_p50_ns") != "" {
		t.Errorf("row 2 (no latency) %v", rows[2])
	}
	if col(rows[3], "client") != "total" || col(rows[3], "msgs") != "4000" || col(rows[3], "seconds") != "2.000000" {
		t.Errorf("total row %v", rows[3])
	}
}

func TestBatchEncoding(t *testing.T) {
	for _, n := range []int{1, 3} {
		b := newBatch("topic", n, 16, n == 1, 1)
		b.stamp(0x0102030405060708)
		if !bytes.Equal(b.cmd.Append(nil), b.raw) {
			t.Fatalf("n=%d: the Conn form differs from the raw bytes", n)
		}
		cr := wire.NewCommandReader(bytes.NewReader(b.raw))
		params, err := cr.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		size, _ := cr.ReadSize()
		var bodies [][]byte
		if n == 1 {
			if string(params[0]) != "PUB" {
				t.Fatalf("single message sent as %s", params[0])
			}
			body, _ := cr.ReadBody(size)
			bodies = [][]byte{body}
		} else {
			if string(params[0]) != "MPUB" || int(size) != 4+n*(4+16) {
				t.Fatalf("%s size %d", params[0], size)
			}
			if bodies, err = cr.ReadMPUB(1<<20, 5<<20); err != nil {
				t.Fatal(err)
			}
		}
		if len(bodies) != n {
			t.Fatalf("%d bodies, want %d", len(bodies), n)
		}
		for i, body := range bodies {
			if len(body) != 16 || binary.BigEndian.Uint64(body) != 0x0102030405060708 {
				t.Errorf("n=%d body %d = %x", n, i, body)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Options{Mode: ModePub, Addrs: []string{"x:1"}, Runfor: time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for name, edit := range map[string]func(*Options){
		"mode":          func(o *Options) { o.Mode = "both" },
		"no address":    func(o *Options) { o.Addrs = nil },
		"topic":         func(o *Options) { o.Topic = "a/b" },
		"channel":       func(o *Options) { o.Mode = ModeSub; o.Channel = "a b" },
		"size":          func(o *Options) { o.Size = -1 },
		"pubsub size":   func(o *Options) { o.Mode = ModePubSub; o.Size = 7 },
		"body too big":  func(o *Options) { o.Size = 1 << 20; o.BatchSize = 10 },
		"no end":        func(o *Options) { o.Runfor = 0 },
		"rate on sub":   func(o *Options) { o.Mode = ModeSub; o.Rate = 10 },
		"negative rate": func(o *Options) { o.Rate = -1 },
		"warmup+count":  func(o *Options) { o.Warmup = time.Second; o.Count = 10 },
		"clients":       func(o *Options) { o.Clients = -1 },
	} {
		o := ok
		edit(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
