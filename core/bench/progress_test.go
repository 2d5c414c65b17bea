package bench

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	start := time.Unix(100, 0)
	cases := []struct {
		name             string
		o                Options
		now, mstart, end time.Time
		np, ns           int64
		want             string
	}{
		{"pub runfor", Options{Mode: ModePub}, start.Add(time.Second), start, start.Add(4 * time.Second), 1234567, 0,
			"nsq_bench pub [=====               ] 1.00s  pub 1,234,567 msgs 600,000/s"},
		{"sub count", Options{Mode: ModeSub, Count: 1000}, start.Add(1500 * time.Millisecond), start, time.Time{}, 0, 500,
			"nsq_bench sub [==========          ] 1.50s  sub 500 msgs 0/s"},
		{"pubsub warmup", Options{Mode: ModePubSub}, start.Add(time.Second), start.Add(2 * time.Second), start.Add(4 * time.Second), 10, 9,
			"nsq_bench pubsub [=====               ] warmup 1.00s  pub 10 msgs 600,000/s  sub 9 msgs 0/s"},
		{"no end", Options{Mode: ModePub}, start.Add(time.Second), start, time.Time{}, 5, 0,
			"nsq_bench pub 1.00s  pub 5 msgs 600,000/s"},
	}
	for _, c := range cases {
		got := progressLine(c.o, c.now, start, c.mstart, c.end, c.np, c.ns, 600000, 0, c.o.Mode != ModeSub, c.o.Mode != ModePub)
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// TestProgressWriter: the line is rewritten with \r and erased at the end.
func TestProgressWriter(t *testing.T) {
	var buf syncBuf
	p := &publisher{}
	p.live.Store(42)
	now := time.Now()
	pr := startProgress(&buf, Options{Mode: ModePub}, now, now, now.Add(time.Second), []*publisher{p}, nil)
	time.Sleep(2*progressEvery + 50*time.Millisecond)
	pr.stop()
	out := buf.String()
	if !strings.HasPrefix(out, "\rnsq_bench pub [") || !strings.Contains(out, "pub 42 msgs") || !strings.HasSuffix(out, "\r") {
		t.Errorf("progress output %q", out)
	}
}

type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
