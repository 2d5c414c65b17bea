package top

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/nsqkit/nsqkit/core/top/cluster"
)

// slowPoller answers its first poll at once and blocks every later one
// until released (or canceled): a node that hangs.
type slowPoller struct {
	first   *cluster.State
	release chan struct{}
	polls   atomic.Int32
}

func (p *slowPoller) Poll(ctx context.Context) *cluster.State {
	if p.polls.Add(1) == 1 {
		return p.first
	}
	select {
	case <-p.release:
	case <-ctx.Done():
	}
	return p.first
}

func (p *slowPoller) PollLookupds(ctx context.Context) []cluster.LookupdState { return nil }

func waitOutput(t *testing.T, tm *teatest.TestModel, want string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// TestKeysWhilePollHangs runs the real program loop with a poll that never
// returns: keys still switch views, open the help, and quit.
func TestKeysWhilePollHangs(t *testing.T) {
	fx := newFixture(t)
	fx.traffic()
	p := &slowPoller{first: fx.polls(t, 3), release: make(chan struct{})}
	defer close(p.release)
	m := New(Config{Poller: p, Source: fx.src, Interval: 100 * time.Millisecond, Styles: NewStyles(Plain, nil)})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitOutput(t, tm, "TOPICS (4)")
	deadline := time.Now().Add(5 * time.Second)
	for p.polls.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the second poll never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	tm.Send(keyMsg("2"))
	waitOutput(t, tm, "CHANNELS (6)")
	tm.Send(keyMsg("3"))
	waitOutput(t, tm, "NODES (2)")
	tm.Send(keyMsg("?"))
	waitOutput(t, tm, "nsqtop keys")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("keys took %v while a poll hung", d)
	}
	if n := p.polls.Load(); n != 2 {
		t.Errorf("%d polls: a second poll started while one was in flight", n)
	}
	tm.Send(keyMsg("?"))
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
}

// TestSlowNode polls the fixture cluster for real with nsqd B answering
// late: the UI keeps answering keys, and B turns stale once the poll's
// per-node bound cuts it off.
func TestSlowNode(t *testing.T) {
	fx := newFixture(t)
	opts := cluster.NewOptions()
	opts.Source = fx.src
	opts.Client = fx.cl
	opts.Timeout = 300 * time.Millisecond
	p := cluster.NewPoller(opts)
	m := New(Config{Poller: p, Source: fx.src, Interval: 200 * time.Millisecond, Styles: NewStyles(Plain, nil)})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitOutput(t, tm, "nodes 2 up")
	fx.c.SetDelay(fx.c.NSQDB, 10*time.Second)
	tm.Send(keyMsg("3"))
	waitOutput(t, tm, "NODES (2)")
	waitOutput(t, tm, "1 stale")
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
}
