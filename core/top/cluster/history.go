package cluster

import (
	"math"
	"time"
)

// series is an append-only window over the last n values of a number
// (a sparkline). The slices it hands out are never written again: when
// its buffer is full it starts a new one (copying the last n−1 values),
// so a State keeps its view unchanged without a copy per poll. A buffer
// holds 2n values, so a new one is made once every n+1 pushes.
type series struct {
	buf []float64
}

func (s *series) push(v float64, n int) {
	if len(s.buf) == cap(s.buf) {
		var nb []float64
		if c := cap(s.buf); c < 2*n {
			nb = make([]float64, len(s.buf), min(2*n, max(8, 2*c)))
			copy(nb, s.buf)
		} else {
			keep := min(len(s.buf), n-1)
			nb = make([]float64, keep, 2*n)
			copy(nb, s.buf[len(s.buf)-keep:])
		}
		s.buf = nb
	}
	s.buf = append(s.buf, v)
}

// view is the last n values, oldest first, capped so that appending to
// it cannot write into the buffer.
func (s *series) view(n int) []float64 {
	k := len(s.buf)
	lo := max(0, k-n)
	return s.buf[lo:k:k]
}

// counters is the previous sample of up to four numbers of one entity
// (a node's topic, a node's channel, a client), from which the next
// sample's per-second rates are derived.
type counters struct {
	t     time.Time
	epoch uint32 // the node's restart count when sampled
	has   bool
	v     [4]int64
}

// next records v, sampled at t, and returns the per-second change of
// each value since the previous sample. ok is false when there is no
// usable previous sample: the first one, one from before the node
// restarted (epoch changed), no time elapsed, or a value marked in mono
// (bit i for v[i]: a counter that only grows) went down.
func (c *counters) next(t time.Time, epoch uint32, v [4]int64, mono uint8) (r [4]float64, ok bool) {
	prev := *c
	c.t, c.epoch, c.has, c.v = t, epoch, true, v
	if !prev.has || prev.epoch != epoch {
		return r, false
	}
	dt := t.Sub(prev.t).Seconds()
	if dt <= 0 {
		return r, false
	}
	for i := range v {
		d := v[i] - prev.v[i]
		if mono&(1<<i) != 0 && d < 0 {
			return r, false
		}
		r[i] = float64(d) / dt
	}
	return r, true
}

// trendPoints is how many polls the depth trend (Lag) looks at.
const trendPoints = 5

// trend holds the last trendPoints (time, depth) samples of one node's
// channel and fits a line through them.
type trend struct {
	t, d    [trendPoints]float64
	n, next int
}

func (w *trend) reset() { w.n, w.next = 0, 0 }

func (w *trend) add(t time.Time, d int64) {
	w.t[w.next] = float64(t.UnixNano()) / 1e9
	w.d[w.next] = float64(d)
	w.next = (w.next + 1) % trendPoints
	w.n = min(w.n+1, trendPoints)
}

// slope is the least-squares slope of depth over time in units per
// second, Unknown with fewer than two samples (or no time between them).
func (w *trend) slope() float64 {
	if w.n < 2 {
		return Unknown
	}
	return leastSquares(w.t[:w.n], w.d[:w.n])
}

// leastSquares is the slope of the least-squares line through (x, y),
// Unknown when every x is the same.
func leastSquares(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx float64
	for i := range x {
		dx := x[i] - mx
		sxy += dx * (y[i] - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return Unknown
	}
	return sxy / sxx
}

// eta is the drain ETA in seconds of a depth with the given trend: 0 when
// empty, Unknown when the trend is, +Inf when growing or flat.
func eta(depth int64, lag float64) float64 {
	switch {
	case depth <= 0:
		return 0
	case math.IsNaN(lag):
		return Unknown
	case lag >= 0:
		return math.Inf(1)
	}
	return float64(depth) / -lag
}

// sum adds up the parts of an aggregate rate: Unknown when it has parts
// and none of them is known (or there is no previous poll), their sum
// over the known ones otherwise.
type sum struct {
	v            float64
	parts, known int
}

func (s *sum) add(v float64) {
	s.parts++
	if !math.IsNaN(v) {
		s.known++
		s.v += v
	}
}

func (s *sum) value(polls int) float64 {
	if polls < 2 || (s.parts > 0 && s.known == 0) {
		return Unknown
	}
	return s.v
}
