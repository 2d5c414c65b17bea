package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

var t0 = time.Unix(1795422053, 0)

func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) < 1e-9
}

func TestCountersRates(t *testing.T) {
	type sample struct {
		at    time.Duration
		epoch uint32
		v     [4]int64
	}
	tests := []struct {
		name    string
		samples []sample
		mono    uint8
		want    [4]float64
		ok      bool
	}{
		{"first sample is unknown", []sample{{0, 0, [4]int64{5}}}, 1, [4]float64{}, false},
		{"delta over 1s", []sample{{0, 0, [4]int64{5}}, {time.Second, 0, [4]int64{15}}}, 1, [4]float64{10}, true},
		{"delta over 2s", []sample{{0, 0, [4]int64{5}}, {2 * time.Second, 0, [4]int64{15}}}, 1, [4]float64{5}, true},
		{"delta over 500ms", []sample{{0, 0, [4]int64{0}}, {500 * time.Millisecond, 0, [4]int64{3}}}, 1, [4]float64{6}, true},
		{"counter backwards (restart)", []sample{{0, 0, [4]int64{50}}, {time.Second, 0, [4]int64{3}}}, 1, [4]float64{}, false},
		{"non-monotonic value may fall", []sample{{0, 0, [4]int64{10, 40}}, {time.Second, 0, [4]int64{20, 30}}}, 1, [4]float64{10, -10}, true},
		{"epoch changed", []sample{{0, 0, [4]int64{5}}, {time.Second, 1, [4]int64{15}}}, 1, [4]float64{}, false},
		{"no time elapsed", []sample{{0, 0, [4]int64{5}}, {0, 0, [4]int64{15}}}, 1, [4]float64{}, false},
		{"known again after a reset", []sample{{0, 0, [4]int64{50}}, {time.Second, 0, [4]int64{3}}, {2 * time.Second, 0, [4]int64{7}}}, 1, [4]float64{4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c counters
			var got [4]float64
			var ok bool
			for _, s := range tt.samples {
				got, ok = c.next(t0.Add(s.at), s.epoch, s.v, tt.mono)
			}
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("got %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestTrendAndETA(t *testing.T) {
	tests := []struct {
		name    string
		depths  []int64
		step    time.Duration
		lag     float64
		wantETA float64
	}{
		{"one sample: unknown", []int64{100}, time.Second, Unknown, Unknown},
		{"one sample, empty: 0", []int64{0}, time.Second, Unknown, 0},
		{"draining 10/s", []int64{100, 90, 80}, time.Second, -10, 8},
		{"draining 10 per 2s", []int64{100, 90, 80}, 2 * time.Second, -5, 16},
		{"growing", []int64{10, 20, 30}, time.Second, 10, math.Inf(1)},
		{"flat: not draining", []int64{30, 30, 30}, time.Second, 0, math.Inf(1)},
		{"drained to 0", []int64{20, 10, 0}, time.Second, -10, 0},
		// least squares over the last 5 only: 100 is forgotten
		{"window of 5", []int64{100, 50, 48, 46, 44, 42}, time.Second, -2, 21},
		// noisy: slope of the fitted line, not first/last
		{"least squares", []int64{10, 14, 10, 14}, time.Second, 0.8, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w trend
			for i, d := range tt.depths {
				w.add(t0.Add(time.Duration(i)*tt.step), d)
			}
			lag := w.slope()
			if !same(lag, tt.lag) {
				t.Errorf("lag = %v, want %v", lag, tt.lag)
			}
			if got := eta(tt.depths[len(tt.depths)-1], lag); !same(got, tt.wantETA) {
				t.Errorf("eta = %v, want %v", got, tt.wantETA)
			}
		})
	}
}

func TestSum(t *testing.T) {
	var s sum
	if v := s.value(1); !math.IsNaN(v) {
		t.Errorf("first poll: %v, want Unknown", v)
	}
	if v := s.value(2); v != 0 {
		t.Errorf("no parts: %v, want 0", v)
	}
	s.add(Unknown)
	if v := s.value(2); !math.IsNaN(v) {
		t.Errorf("only unknown parts: %v", v)
	}
	s.add(3)
	s.add(4)
	if v := s.value(2); v != 7 {
		t.Errorf("known parts: %v, want 7", v)
	}
}

func TestSeriesViewsStayPut(t *testing.T) {
	const n = 4
	var s series
	var views [][]float64
	for i := range 20 {
		s.push(float64(i), n)
		views = append(views, s.view(n))
	}
	for i, v := range views {
		var want []float64
		for j := max(0, i-n+1); j <= i; j++ {
			want = append(want, float64(j))
		}
		if !slices.Equal(v, want) {
			t.Fatalf("view %d = %v, want %v (a later push changed it)", i, v, want)
		}
		if cap(v) != len(v) {
			t.Fatalf("view %d has spare capacity %d", i, cap(v)-len(v))
		}
	}
	// Appending to a view must not write into the buffer.
	v := s.view(n)
	_ = append(v, 99)
	s.push(20, n)
	if got := s.view(n); got[len(got)-1] != 20 || !slices.Equal(views[19], []float64{16, 17, 18, 19}) {
		t.Fatalf("append to a view leaked: %v %v", got, views[19])
	}
}

func TestVersionMismatch(t *testing.T) {
	tests := []struct {
		versions []string
		flagged  []bool
	}{
		{[]string{"1.3.0", "1.3.0"}, []bool{false, false}},
		{[]string{"1.3.0", "1.2.1", "1.3.0"}, []bool{false, true, false}},
		{[]string{"1.2.1", "1.2.1", "1.3.0"}, []bool{false, false, true}}, // the newer one is the odd one
		{[]string{"1.2.1", "1.3.0"}, []bool{true, false}},                 // a tie goes to the newest
		{[]string{"1.10.0", "1.9.0"}, []bool{false, true}},                // numeric, not text
		{[]string{"1.3.0", ""}, []bool{false, false}},                     // unknown versions are not flagged
		{[]string{"1.3.0+nsqkit.0.1.0", "1.3.0"}, []bool{false, true}},
	}
	for _, tt := range tests {
		nodes := make([]NodeState, len(tt.versions))
		for i, v := range tt.versions {
			nodes[i].Version = v
		}
		markVersionMismatch(nodes)
		for i := range nodes {
			if nodes[i].VersionMismatch != tt.flagged[i] {
				t.Errorf("%v: node %d flagged %v, want %v", tt.versions, i, nodes[i].VersionMismatch, tt.flagged[i])
			}
		}
	}
}

func TestAttributes(t *testing.T) {
	tests := []struct {
		c    lookup.ClientStats
		want []string
	}{
		{lookup.ClientStats{}, []string{}},
		{lookup.ClientStats{TLS: true, TLSVersion: "TLS1.3"}, []string{"TLS 1.3"}},
		{lookup.ClientStats{TLS: true}, []string{"TLS"}},
		{lookup.ClientStats{TLS: true, TLSVersion: "Unknown 999"}, []string{"TLS Unknown 999"}},
		{lookup.ClientStats{Snappy: true}, []string{"snappy"}},
		{lookup.ClientStats{Deflate: true}, []string{"deflate"}},
		{lookup.ClientStats{Authed: true, AuthIdentity: "alice"}, []string{"auth: alice"}},
		{lookup.ClientStats{Authed: true}, []string{"auth"}},
		{lookup.ClientStats{SampleRate: 25}, []string{"sample: 25%"}},
		{lookup.ClientStats{TLS: true, TLSVersion: "TLS1.2", Snappy: true, Authed: true, AuthIdentity: "svc", SampleRate: 10},
			[]string{"TLS 1.2", "snappy", "auth: svc", "sample: 10%"}},
	}
	for _, tt := range tests {
		if got := Attributes(&tt.c); !slices.Equal(got, tt.want) || got == nil {
			t.Errorf("Attributes(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestErrText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&lookup.HTTPError{Status: 404, Message: "TOPIC_NOT_FOUND", Addr: "a:1", Method: "POST", Path: "/x"}, "HTTP 404: TOPIC_NOT_FOUND"},
		{fmt.Errorf("POST a:1/x: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), "connection refused"},
		{fmt.Errorf("GET a:1/stats: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("POST a:1/x: %w", io.EOF), "connection closed"},
		{errors.New("something else"), "something else"},
	}
	for _, tt := range tests {
		if got := errText(tt.err); got != tt.want {
			t.Errorf("errText(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{fmtRate(Unknown), "-"},
		{fmtRate(0), "0.0"},
		{fmtRate(math.Copysign(0, -1)), "0.0"},
		{fmtRate(12.345), "12.3"},
		{fmtETA(Unknown), "-"},
		{fmtETA(math.Inf(1)), "inf"},
		{fmtETA(0), "0s"},
		{fmtETA(0.4), "<1s"},
		{fmtETA(200), "3m20s"},
		{fmtDuration(1500 * time.Millisecond), "2s"},
		{fmtDuration(250 * time.Millisecond), "250ms"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	o := NewOptions()
	if o.History != 60 || !o.IncludeClients {
		t.Fatalf("NewOptions = %+v", o)
	}
	for _, tt := range []struct {
		timeout, interval, want time.Duration
	}{
		{0, 0, 5 * time.Second},
		{0, time.Second, 800 * time.Millisecond},
		{0, 10 * time.Second, 5 * time.Second},
		{300 * time.Millisecond, time.Second, 300 * time.Millisecond},
	} {
		p := NewPoller(Options{Timeout: tt.timeout, Interval: tt.interval, Client: lookup.NewClient(lookup.Options{})})
		if p.opts.Timeout != tt.want {
			t.Errorf("Timeout %v Interval %v: got %v, want %v", tt.timeout, tt.interval, p.opts.Timeout, tt.want)
		}
	}
}
