package nsqd

import (
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"
)

// latencyReservoirSize is how many samples each sub-window keeps. Past
// that, samples are replaced at random (reservoir sampling), so every
// latency of the sub-window has the same chance of being represented.
const latencyReservoirSize = 1024

// latencyRandN picks reservoir slots; tests swap in a seeded source so
// their accuracy checks are reproducible.
var latencyRandN = rand.Uint64N

// latencyStream tracks a channel's end-to-end processing latency (publish
// to FIN, in nanoseconds) over a sliding window (daemon-behaviour.md §8).
//
// The window is made of two sub-windows of half its length: inserts go to
// the current one; when it is older than half the window the other one is
// cleared and becomes current. Queries merge both, so they cover between
// half and all of the window. Each sub-window keeps its exact count and
// maximum and a uniform random sample of its latencies; quantiles are read
// from the samples weighted by how many latencies each stands for.
//
// A nil *latencyStream (no percentiles configured) ignores inserts. insert
// takes one short lock and starts no goroutine.
type latencyStream struct {
	half      int64     // sub-window length, ns
	quantiles []float64 // sorted descending

	mu       sync.Mutex
	cur      int
	curStart int64 // when the current sub-window began, unix ns
	windows  [2]latencyWindow
}

type latencyWindow struct {
	count   uint64
	max     float64
	samples []float64
}

func (w *latencyWindow) reset() {
	w.count = 0
	w.max = 0
	w.samples = w.samples[:0]
}

func (w *latencyWindow) add(v float64) {
	w.count++
	if v > w.max {
		w.max = v
	}
	if len(w.samples) < latencyReservoirSize {
		w.samples = append(w.samples, v)
		return
	}
	if j := latencyRandN(w.count); j < latencyReservoirSize {
		w.samples[j] = v
	}
}

// newLatencyStream returns nil when no percentiles are configured.
func newLatencyStream(opts *Options) *latencyStream {
	if len(opts.E2EProcessingLatencyPercentiles) == 0 {
		return nil
	}
	half := int64(opts.E2EProcessingLatencyWindowTime / 2)
	if half <= 0 {
		half = int64(5 * time.Minute)
	}
	return &latencyStream{
		half:      half,
		quantiles: sortedQuantiles(opts.E2EProcessingLatencyPercentiles),
		curStart:  time.Now().UnixNano(),
	}
}

func sortedQuantiles(q []float64) []float64 {
	out := slices.Clone(q)
	sort.Sort(sort.Reverse(sort.Float64Slice(out)))
	return out
}

// insert records a FIN of a message published at publishedNS.
func (l *latencyStream) insert(publishedNS int64) {
	if l == nil {
		return
	}
	l.insertAt(time.Now().UnixNano(), publishedNS)
}

func (l *latencyStream) insertAt(now, publishedNS int64) {
	v := now - publishedNS
	if v < 0 {
		v = 0
	}
	l.mu.Lock()
	l.rotateLocked(now)
	l.windows[l.cur].add(float64(v))
	l.mu.Unlock()
}

// rotateLocked moves the window forward to now.
func (l *latencyStream) rotateLocked(now int64) {
	elapsed := now - l.curStart
	if elapsed <= l.half {
		return
	}
	if elapsed > 2*l.half {
		// idle for a whole window: both sub-windows are stale
		l.windows[0].reset()
		l.windows[1].reset()
		l.curStart = now - elapsed%l.half
		return
	}
	l.cur ^= 1
	l.windows[l.cur].reset()
	l.curStart += l.half
}

// latencySample is a sampled latency standing for weight latencies.
type latencySample struct {
	v, w float64
}

// latencyMerge accumulates sub-windows of one or more streams.
type latencyMerge struct {
	count   uint64
	max     float64
	samples []latencySample
}

// addTo merges l's current window (as of now) into m.
func (l *latencyStream) addTo(m *latencyMerge, now int64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rotateLocked(now)
	for i := range l.windows {
		w := &l.windows[i]
		if w.count == 0 {
			continue
		}
		m.count += w.count
		if w.max > m.max {
			m.max = w.max
		}
		weight := float64(w.count) / float64(len(w.samples))
		for _, v := range w.samples {
			m.samples = append(m.samples, latencySample{v, weight})
		}
	}
}

// result computes the quantiles (descending). Every quantile is 0 when
// there were no FINs in the window.
func (m *latencyMerge) result(quantiles []float64) LatencyStats {
	out := LatencyStats{Count: m.count, Percentiles: make([]Percentile, 0, len(quantiles))}
	sort.Slice(m.samples, func(i, j int) bool { return m.samples[i].v < m.samples[j].v })
	var total float64
	for _, s := range m.samples {
		total += s.w
	}
	for _, q := range quantiles {
		out.Percentiles = append(out.Percentiles, Percentile{Quantile: q, Value: m.quantile(q, total)})
	}
	return out
}

func (m *latencyMerge) quantile(q, total float64) float64 {
	if len(m.samples) == 0 {
		return 0
	}
	if q >= 1 {
		return m.max
	}
	target := q * total
	var cum float64
	for _, s := range m.samples {
		cum += s.w
		if cum >= target {
			return s.v
		}
	}
	return m.samples[len(m.samples)-1].v
}

// result is the channel's latency object: {"count":0,"percentiles":null}
// when percentiles are not configured.
func (l *latencyStream) result(now int64) LatencyStats {
	if l == nil {
		return LatencyStats{}
	}
	var m latencyMerge
	l.addTo(&m, now)
	return m.result(l.quantiles)
}

// topicLatency merges the latencies of all of t's channels; a topic
// without channels (or without configured percentiles) has none.
func topicLatency(t *Topic, opts *Options, now int64) LatencyStats {
	chans := t.Channels()
	if len(chans) == 0 || len(opts.E2EProcessingLatencyPercentiles) == 0 {
		return LatencyStats{}
	}
	var m latencyMerge
	var quantiles []float64
	for _, c := range chans {
		if c.e2e == nil {
			continue
		}
		quantiles = c.e2e.quantiles
		c.e2e.addTo(&m, now)
	}
	if quantiles == nil {
		return LatencyStats{}
	}
	return m.result(quantiles)
}
