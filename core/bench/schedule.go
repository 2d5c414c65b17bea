package bench

import (
	"sync/atomic"
	"time"
)

// Clock is the time source of a schedule; tests use a fake one.
type Clock interface {
	Now() time.Time
	// SleepUntil returns once Now() is at or past t.
	SleepUntil(t time.Time)
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// SleepUntil sleeps until t (returns at once when t has passed).
func (SystemClock) SleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// Schedule gives every batch of a fixed-rate run its intended send time:
// batch n (counted over the whole run, all publishers) is due at
// Start + n×Batch/Rate. The times are computed from n, never accumulated,
// so the rate does not drift however late single sends are.
type Schedule struct {
	Start time.Time
	Rate  float64 // messages per second (> 0)
	Batch int     // messages per batch
}

// At is the intended send time of batch n.
func (s *Schedule) At(n int64) time.Time {
	return s.Start.Add(s.Offset(n))
}

// Offset is the intended send time of batch n relative to Start.
func (s *Schedule) Offset(n int64) time.Duration {
	return time.Duration(float64(n) * float64(s.Batch) * 1e9 / s.Rate)
}

// Batches is how many batches are due before Start+d, i.e. the number of
// batches a run of length d sends.
func (s *Schedule) Batches(d time.Duration) int64 {
	// smallest n with Offset(n) >= d
	n := int64(d.Seconds() * s.Rate / float64(s.Batch))
	for n > 0 && s.Offset(n-1) >= d {
		n--
	}
	for s.Offset(n) < d {
		n++
	}
	return n
}

// Pacer waits for batches' intended times on a Clock and keeps track of how
// late sends were.
type Pacer struct {
	Schedule *Schedule
	Clock    Clock
	// LateAfter is the lag past which a send counts as late (behind
	// schedule); 0 means 1 ms.
	LateAfter time.Duration

	late   atomic.Int64 // sends later than LateAfter
	maxLag atomic.Int64 // ns
}

// Wait blocks until batch n is due and returns its intended time and the
// time it may be sent (now; later than intended when behind).
func (p *Pacer) Wait(n int64) (intended, now time.Time) {
	intended = p.Schedule.At(n)
	now = p.Clock.Now()
	if now.Before(intended) {
		p.Clock.SleepUntil(intended)
		now = p.Clock.Now()
	}
	lag := now.Sub(intended)
	limit := p.LateAfter
	if limit == 0 {
		limit = time.Millisecond
	}
	if lag > limit {
		p.late.Add(1)
	}
	for {
		m := p.maxLag.Load()
		if int64(lag) <= m || p.maxLag.CompareAndSwap(m, int64(lag)) {
			break
		}
	}
	return intended, now
}

// Late is how many sends were more than LateAfter behind schedule.
func (p *Pacer) Late() int64 { return p.late.Load() }

// MaxLag is the largest delay between a batch's intended and actual send.
func (p *Pacer) MaxLag() time.Duration { return time.Duration(p.maxLag.Load()) }
