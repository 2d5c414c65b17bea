package bench

import (
	"testing"
	"time"
)

// fakeClock jumps to whatever time it is asked to sleep until, plus an
// optional oversleep; work advances it by hand.
type fakeClock struct {
	now       time.Time
	oversleep time.Duration
	sleeps    int
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) SleepUntil(t time.Time) {
	c.sleeps++
	if t.After(c.now) {
		c.now = t.Add(c.oversleep)
	}
}

func TestScheduleTimes(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := []struct {
		rate  float64
		batch int
		n     int64
		want  time.Duration
	}{
		{1000, 1, 0, 0},
		{1000, 1, 1, time.Millisecond},
		{1000, 200, 1, 200 * time.Millisecond},
		{1000, 200, 5, time.Second},
		{3, 1, 1, 333333333},
		{3, 1, 3, time.Second},
		{2e6, 200, 10000, time.Second},
	}
	for _, c := range cases {
		s := &Schedule{Start: start, Rate: c.rate, Batch: c.batch}
		if got := s.At(c.n).Sub(start); got != c.want {
			t.Errorf("rate %v batch %d: At(%d) = +%v, want +%v", c.rate, c.batch, c.n, got, c.want)
		}
	}
}

func TestScheduleBatches(t *testing.T) {
	cases := []struct {
		rate  float64
		batch int
		d     time.Duration
		want  int64
	}{
		{1000, 1, 2 * time.Second, 2000},
		{1000, 200, 2 * time.Second, 10},
		{1000, 300, 2 * time.Second, 7}, // due at 0, .3, .6, .9, 1.2, 1.5, 1.8
		{3, 1, time.Second, 3},
		{3, 1, time.Second + 1, 4},
		{5000, 1, 0, 0},
	}
	for _, c := range cases {
		s := &Schedule{Rate: c.rate, Batch: c.batch}
		if got := s.Batches(c.d); got != c.want {
			t.Errorf("rate %v batch %d: Batches(%v) = %d, want %d", c.rate, c.batch, c.d, got, c.want)
		}
	}
}

func TestPacerOnTime(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	p := &Pacer{Schedule: &Schedule{Start: clk.now, Rate: 100, Batch: 10}, Clock: clk, LateAfter: time.Millisecond}
	for n := int64(0); n < 50; n++ {
		intended, now := p.Wait(n)
		if want := time.Unix(0, 0).Add(time.Duration(n) * 100 * time.Millisecond); !intended.Equal(want) || !now.Equal(want) {
			t.Fatalf("batch %d: intended %v now %v, want both %v", n, intended, now, want)
		}
	}
	if p.Late() != 0 || p.MaxLag() != 0 {
		t.Errorf("late %d, max lag %v; want none", p.Late(), p.MaxLag())
	}
	if clk.sleeps != 49 { // batch 0 is due at once
		t.Errorf("slept %d times, want 49", clk.sleeps)
	}
}

func TestPacerBehind(t *testing.T) {
	start := time.Unix(0, 0)
	clk := &fakeClock{now: start}
	p := &Pacer{Schedule: &Schedule{Start: start, Rate: 1000, Batch: 1}, Clock: clk, LateAfter: 5 * time.Millisecond}
	// each send takes 3 ms: the publisher falls 2 ms further behind per batch
	var lags []time.Duration
	for n := int64(0); n < 10; n++ {
		intended, now := p.Wait(n)
		if now.Before(intended) {
			t.Fatalf("batch %d sent early", n)
		}
		lags = append(lags, now.Sub(intended))
		clk.now = clk.now.Add(3 * time.Millisecond)
	}
	// lag of batch n is 2n ms; late (> 5 ms) from n = 3
	for n, lag := range lags {
		if want := time.Duration(2*n) * time.Millisecond; lag != want {
			t.Errorf("batch %d lag %v, want %v", n, lag, want)
		}
	}
	if p.Late() != 7 {
		t.Errorf("late = %d, want 7", p.Late())
	}
	if p.MaxLag() != 18*time.Millisecond {
		t.Errorf("max lag = %v, want 18ms", p.MaxLag())
	}
	// the schedule itself did not move: batch 10 is still due at +10 ms
	if got := p.Schedule.At(10).Sub(start); got != 10*time.Millisecond {
		t.Errorf("At(10) = +%v", got)
	}
}

func TestPacerOversleep(t *testing.T) {
	start := time.Unix(0, 0)
	clk := &fakeClock{now: start, oversleep: time.Millisecond}
	p := &Pacer{Schedule: &Schedule{Start: start, Rate: 100, Batch: 1}, Clock: clk}
	for n := int64(0); n < 5; n++ {
		intended, now := p.Wait(n)
		if n > 0 && now.Sub(intended) != time.Millisecond {
			t.Errorf("batch %d: lag %v, want the 1ms oversleep", n, now.Sub(intended))
		}
	}
	if p.Late() != 0 { // LateAfter 0 means 1 ms: 1 ms is not late
		t.Errorf("late = %d", p.Late())
	}
}
