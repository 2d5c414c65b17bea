package cluster_test

import (
	"context"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
	"github.com/nsqkit/nsqkit/core/top/cluster/clustertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is a fixture cluster with a Poller on a fake clock.
type harness struct {
	c     *clustertest.Cluster
	clock *clustertest.Clock
	p     *cluster.Poller
}

func newHarness(t *testing.T, src func(*clustertest.Cluster) cluster.Source, edit ...func(*cluster.Options)) *harness {
	t.Helper()
	c := clustertest.Start(t)
	client := lookup.NewClient(lookup.Options{})
	t.Cleanup(client.Close)
	clock := clustertest.NewClock()
	o := cluster.NewOptions()
	o.Source = src(c)
	o.Client = client
	o.Now = clock.Now
	o.Timeout = 5 * time.Second
	for _, e := range edit {
		e(&o)
	}
	return &harness{c: c, clock: clock, p: cluster.NewPoller(o)}
}

func viaLookupd(c *clustertest.Cluster) cluster.Source { return c.Source() }
func viaNSQD(c *clustertest.Cluster) cluster.Source    { return c.NSQDSource() }

func (h *harness) poll(t *testing.T) *cluster.State {
	t.Helper()
	return h.p.Poll(context.Background())
}

// step advances traffic and the clock by one step of d, then polls.
func (h *harness) step(t *testing.T, d time.Duration) *cluster.State {
	t.Helper()
	h.c.Advance(1)
	h.clock.Add(d)
	return h.poll(t)
}

func topic(t *testing.T, st *cluster.State, name string) *cluster.TopicState {
	t.Helper()
	for i := range st.Topics {
		if st.Topics[i].Snap.Name == name {
			return &st.Topics[i]
		}
	}
	t.Fatalf("no topic %q", name)
	return nil
}

func channel(t *testing.T, st *cluster.State, tn, cn string) *cluster.ChannelState {
	t.Helper()
	ts := topic(t, st, tn)
	for i := range ts.Channels {
		if ts.Channels[i].Snap.Name == cn {
			return &ts.Channels[i]
		}
	}
	t.Fatalf("no channel %s/%s", tn, cn)
	return nil
}

func node(t *testing.T, st *cluster.State, addr string) *cluster.NodeState {
	t.Helper()
	for i := range st.Nodes {
		if st.Nodes[i].Addr == addr {
			return &st.Nodes[i]
		}
	}
	t.Fatalf("no node %s", addr)
	return nil
}

func onNode(t *testing.T, c *cluster.ChannelState, addr string) *cluster.NodeChannelState {
	t.Helper()
	for i := range c.Nodes {
		if c.Nodes[i].Snap.Node == addr {
			return &c.Nodes[i]
		}
	}
	t.Fatalf("channel %s not on %s", c.Snap.Name, addr)
	return nil
}

func topicOnNode(t *testing.T, ts *cluster.TopicState, addr string) *cluster.NodeTopicState {
	t.Helper()
	for i := range ts.Nodes {
		if ts.Nodes[i].Snap.Node == addr {
			return &ts.Nodes[i]
		}
	}
	t.Fatalf("topic %s not on %s", ts.Snap.Name, addr)
	return nil
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) < 1e-6
}

func wantRate(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func names(st *cluster.State) []string {
	var out []string
	for _, ts := range st.Topics {
		out = append(out, ts.Snap.Name)
		for _, c := range ts.Channels {
			out = append(out, ts.Snap.Name+"/"+c.Snap.Name)
		}
	}
	return out
}

func TestPollFixtureCluster(t *testing.T) {
	for _, src := range []struct {
		name string
		f    func(*clustertest.Cluster) cluster.Source
	}{{"lookupd", viaLookupd}, {"nsqd", viaNSQD}} {
		t.Run(src.name, func(t *testing.T) {
			h := newHarness(t, src.f)
			st := h.poll(t)

			if st.Polls != 1 || st.Interval != 0 || !st.Time.Equal(clustertest.Epoch) {
				t.Errorf("Polls %d Interval %v Time %v", st.Polls, st.Interval, st.Time)
			}
			c := st.Cluster
			if c.NodesUp != 2 || c.NodesStale != 0 || c.NodesDown != 0 {
				t.Errorf("nodes up/stale/down = %d/%d/%d", c.NodesUp, c.NodesStale, c.NodesDown)
			}
			tot := c.Totals
			if tot.Topics != 4 || tot.Channels != 6 || tot.PausedTopics != 1 || tot.PausedChannels != 1 ||
				tot.Depth != 3 || tot.ChannelDepth != 233 || tot.ChannelBackendDepth != 87 ||
				tot.InFlightCount != 18 || tot.DeferredCount != 8 || tot.RequeueCount != 3 ||
				tot.MessageCount != 165 || tot.ClientCount != 4 || tot.ProducerCount != 1 {
				t.Errorf("totals %+v", tot)
			}
			// Σ channel message_count: 105 + 5 + 3×(49+3) + 3 = 269
			if c.Processed != 269 {
				t.Errorf("Processed = %d, want 269", c.Processed)
			}
			for _, v := range []float64{c.RateIn, c.RateOut} {
				if !math.IsNaN(v) {
					t.Errorf("cluster rate %v on the first poll, want Unknown", v)
				}
			}
			if len(c.DepthHist) != 1 || c.DepthHist[0] != 236 || len(c.RateInHist) != 0 {
				t.Errorf("hist depth %v in %v", c.DepthHist, c.RateInHist)
			}

			want := []string{"clicks", "clicks/analytics", "events#ephemeral", "events#ephemeral/live#ephemeral",
				"orders", "orders/archive", "orders/audit", "orders/billing", "orders/tail#ephemeral", "paused_topic"}
			if got := names(st); !slices.Equal(got, want) {
				t.Errorf("topics/channels = %q\nwant %q", got, want)
			}
			for i := range st.Topics {
				if st.Topics[i].Snap != &st.Snap.Topics[i] {
					t.Errorf("topic %d is not Snap.Topics[%d]", i, i)
				}
			}

			// Nodes.
			if len(st.Nodes) != 2 || st.Nodes[0].Addr > st.Nodes[1].Addr {
				t.Fatalf("nodes %v", st.Nodes)
			}
			for _, addr := range []string{h.c.NSQDA, h.c.NSQDB} {
				n := node(t, st, addr)
				if n.Status != cluster.NodeUp || n.Err != "" || !n.LastSeen.Equal(clustertest.Epoch) || n.Snap == nil {
					t.Errorf("%s: %+v", addr, n)
				}
				if n.Version != "1.3.0" || n.VersionMismatch || n.Uptime != 5*time.Second {
					t.Errorf("%s: version %q mismatch %v uptime %v", addr, n.Version, n.VersionMismatch, n.Uptime)
				}
				if src.name == "lookupd" {
					if n.Hostname != "vm" || !slices.Equal(n.Lookupds, []string{h.c.Lookupd}) || n.Explicit {
						t.Errorf("%s: hostname %q lookupds %v explicit %v", addr, n.Hostname, n.Lookupds, n.Explicit)
					}
				} else if len(n.Lookupds) != 0 || !n.Explicit {
					t.Errorf("%s: lookupds %v explicit %v", addr, n.Lookupds, n.Explicit)
				}
				if len(n.Tombstoned) != 0 || !math.IsNaN(n.RateIn) {
					t.Errorf("%s: tombstoned %v rate %v", addr, n.Tombstoned, n.RateIn)
				}
			}
			if d := node(t, st, h.c.NSQDA).Depth; d != 3+48+48+32 {
				t.Errorf("A depth %d", d)
			}
			if d := node(t, st, h.c.NSQDB).Depth; d != 96+3*3 {
				t.Errorf("B depth %d", d)
			}
			if m := node(t, st, h.c.NSQDA).Snap.Memory; m == nil || m.HeapObjects != 6122 {
				t.Errorf("A memory %+v", m)
			}

			// Topics and channels.
			orders := topic(t, st, "orders")
			if len(orders.Nodes) != 2 || orders.Snap.MessageCount != 52 || !math.IsNaN(orders.RateIn) {
				t.Errorf("orders: %d nodes, %d msgs, rate %v", len(orders.Nodes), orders.Snap.MessageCount, orders.RateIn)
			}
			// tail#ephemeral is empty (ETA 0) but the others are unknown yet
			if !math.IsNaN(orders.SlowestETA) {
				t.Errorf("orders SlowestETA = %v, want Unknown", orders.SlowestETA)
			}
			billing := channel(t, st, "orders", "billing")
			if billing.Snap.Depth != 35 || billing.Snap.InFlightCount != 10 || len(billing.Nodes) != 2 || len(billing.Clients) != 1 {
				t.Errorf("billing %+v", billing.Snap)
			}
			if !math.IsNaN(billing.RateOut) || !math.IsNaN(billing.Lag) || !math.IsNaN(billing.ETA) {
				t.Errorf("billing rates on first poll: %v %v %v", billing.RateOut, billing.Lag, billing.ETA)
			}
			if !slices.Equal(billing.DepthHist, []float64{35}) || len(billing.RateHist) != 0 {
				t.Errorf("billing hist %v %v", billing.DepthHist, billing.RateHist)
			}
			audit := channel(t, st, "orders", "audit")
			if !audit.Snap.Paused || !onNode(t, audit, h.c.NSQDA).Snap.Paused || onNode(t, audit, h.c.NSQDB).Snap.Paused {
				t.Errorf("audit paused: %v %v", audit.Snap.Paused, audit.Nodes)
			}
			if tail := channel(t, st, "orders", "tail#ephemeral"); tail.ETA != 0 || tail.Snap.Depth != 0 {
				t.Errorf("tail#ephemeral: empty, ETA %v", tail.ETA)
			}
			if pt := topic(t, st, "paused_topic"); !pt.Snap.Paused || pt.Snap.Depth != 3 || len(pt.Channels) != 0 {
				t.Errorf("paused_topic %+v", pt.Snap)
			}

			// Clients.
			cl := billing.Clients[0]
			if cl.Snap.ClientID != "fixture-consumer" || cl.Snap.Node != h.c.NSQDA || cl.Snap.FinishCount != 6 {
				t.Errorf("billing client %+v", cl.Snap)
			}
			if cl.ConnectedFor != 4*time.Second || !math.IsNaN(cl.FinishRate) || cl.Attributes == nil || len(cl.Attributes) != 0 {
				t.Errorf("billing client connected %v finish rate %v attrs %q", cl.ConnectedFor, cl.FinishRate, cl.Attributes)
			}
			tail := channel(t, st, "orders", "tail#ephemeral").Clients[0]
			if tail.Snap.UserAgent != "nsq_tail/1.3.0 go-nsq/1.1.0" || tail.Snap.Node != h.c.NSQDB || tail.ConnectedFor != 3*time.Second {
				t.Errorf("tail client %+v %v", tail.Snap, tail.ConnectedFor)
			}
			if len(st.LookupdErrors) != 0 {
				t.Errorf("lookupd errors %v", st.LookupdErrors)
			}
		})
	}
}

func TestPollRates(t *testing.T) {
	h := newHarness(t, viaLookupd)
	h.poll(t)
	h.c.SetTraffic(clustertest.Traffic{Published: 10, Consumed: 8, Requeued: 2, TimedOut: 1})
	st := h.step(t, time.Second)
	if st.Interval != time.Second || st.Polls != 2 || !st.HasRates() {
		t.Fatalf("interval %v polls %d", st.Interval, st.Polls)
	}
	a, b := h.c.NSQDA, h.c.NSQDB

	// Ingress: 10/s per node and topic.
	wantRate(t, "orders RateIn", topic(t, st, "orders").RateIn, 20)
	wantRate(t, "clicks RateIn", topic(t, st, "clicks").RateIn, 10)
	wantRate(t, "paused_topic RateIn", topic(t, st, "paused_topic").RateIn, 10)
	wantRate(t, "orders@A RateIn", topicOnNode(t, topic(t, st, "orders"), a).RateIn, 10)
	wantRate(t, "cluster RateIn", st.Cluster.RateIn, 50) // orders×2, clicks, events, paused_topic
	wantRate(t, "A RateIn", node(t, st, a).RateIn, 30)
	wantRate(t, "B RateIn", node(t, st, b).RateIn, 20)

	// Egress = (Δmessage_count − Δdepth)/Δt = consumed/Δt.
	billing := channel(t, st, "orders", "billing")
	wantRate(t, "billing RateOut", billing.RateOut, 16)
	wantRate(t, "billing@A RateOut", onNode(t, billing, a).RateOut, 8)
	wantRate(t, "billing RequeueRate", billing.RequeueRate, 4)
	wantRate(t, "billing TimeoutRate", billing.TimeoutRate, 2)
	wantRate(t, "billing Lag", billing.Lag, 4) // +2 per node
	wantRate(t, "billing ETA", billing.ETA, math.Inf(1))
	// audit is paused on A: it only grows there.
	audit := channel(t, st, "orders", "audit")
	wantRate(t, "audit RateOut", audit.RateOut, 8)
	wantRate(t, "audit Lag", audit.Lag, 12)
	wantRate(t, "orders SlowestETA", topic(t, st, "orders").SlowestETA, math.Inf(1))
	wantRate(t, "billing client FinishRate", billing.Clients[0].FinishRate, 8)
	// 6 channels on 2 nodes: 9 node-channels, audit@A paused.
	wantRate(t, "cluster RateOut", st.Cluster.RateOut, 8*8)

	// The interval is the real one: 2s halves the rates.
	st = h.step(t, 2*time.Second)
	wantRate(t, "orders RateIn over 2s", topic(t, st, "orders").RateIn, 10)
	wantRate(t, "billing RateOut over 2s", channel(t, st, "orders", "billing").RateOut, 8)

	// Draining: clicks/analytics (on B only, depth 100) loses 4/s.
	h.c.SetTraffic(clustertest.Traffic{Consumed: 4})
	h.step(t, time.Second)
	h.step(t, time.Second)
	st = h.step(t, time.Second)
	an := channel(t, st, "clicks", "analytics")
	if len(an.DepthHist) != 6 {
		t.Fatalf("analytics depth hist %v", an.DepthHist)
	}
	// The last 5 polls mix growing and draining: the fitted line falls,
	// not exactly at 4/s; the ETA follows it.
	if !(an.Lag < 0) || near(an.Lag, -4) {
		t.Fatalf("analytics Lag = %v, want < 0 and not yet -4", an.Lag)
	}
	wantRate(t, "analytics ETA", an.ETA, float64(an.Snap.Depth)/-an.Lag)
	wantRate(t, "analytics RateOut draining", an.RateOut, 4)

	// Once the window holds only draining polls the lag is exact.
	h.step(t, time.Second)
	st = h.step(t, time.Second)
	an = channel(t, st, "clicks", "analytics")
	wantRate(t, "analytics Lag", an.Lag, -4)
	wantRate(t, "analytics ETA", an.ETA, float64(an.Snap.Depth)/4)
	if an.Snap.Depth != 96+2+2-5*4 {
		t.Errorf("analytics depth %d", an.Snap.Depth)
	}
	wantRate(t, "clicks SlowestETA", topic(t, st, "clicks").SlowestETA, an.ETA)
	if !slices.Equal(an.DepthHist, []float64{96, 98, 100, 96, 92, 88, 84, 80}) {
		t.Errorf("analytics DepthHist %v", an.DepthHist)
	}
	if !slices.Equal(an.RateHist, []float64{8, 4, 4, 4, 4, 4, 4}) {
		t.Errorf("analytics RateHist %v", an.RateHist)
	}
}

func TestPollCounterReset(t *testing.T) {
	h := newHarness(t, viaLookupd)
	h.c.SetTraffic(clustertest.Traffic{Published: 10, Consumed: 5})
	h.poll(t)
	h.step(t, time.Second)
	h.c.Restart(h.c.NSQDB) // B's counters go back to the captured ones
	st := h.step(t, time.Second)

	wantRate(t, "clicks RateIn (B only)", topic(t, st, "clicks").RateIn, cluster.Unknown)
	wantRate(t, "orders RateIn (A's part)", topic(t, st, "orders").RateIn, 10)
	orders := topic(t, st, "orders")
	wantRate(t, "orders@B RateIn", topicOnNode(t, orders, h.c.NSQDB).RateIn, cluster.Unknown)
	wantRate(t, "billing RateOut (A's part)", channel(t, st, "orders", "billing").RateOut, 5)
	wantRate(t, "B RateIn", node(t, st, h.c.NSQDB).RateIn, cluster.Unknown)
	if u := node(t, st, h.c.NSQDB).Uptime; u != 6*time.Second {
		t.Errorf("B uptime after restart %v", u)
	}
	// Known again on the next poll.
	st = h.step(t, time.Second)
	wantRate(t, "clicks RateIn", topic(t, st, "clicks").RateIn, 10)
	wantRate(t, "orders RateIn", topic(t, st, "orders").RateIn, 20)
}

func TestPollHistoryWindow(t *testing.T) {
	h := newHarness(t, viaLookupd, func(o *cluster.Options) { o.History = 3 })
	h.c.SetTopicTraffic("clicks", clustertest.Traffic{Published: 1})
	var states []*cluster.State
	states = append(states, h.poll(t))
	for i := range 5 {
		h.c.SetTopicTraffic("clicks", clustertest.Traffic{Published: int64(i + 1)})
		states = append(states, h.step(t, time.Second))
	}
	last := topic(t, states[5], "clicks")
	if !slices.Equal(last.RateHist, []float64{3, 4, 5}) {
		t.Errorf("clicks RateHist = %v, want [3 4 5]", last.RateHist)
	}
	if !slices.Equal(last.DepthHist, []float64{96 + 6, 96 + 10, 96 + 15}) {
		t.Errorf("clicks DepthHist = %v", last.DepthHist)
	}
	if got := states[5].Cluster.RateInHist; len(got) != 3 {
		t.Errorf("cluster RateInHist %v", got)
	}
	// Earlier states still show what they showed.
	if got := topic(t, states[2], "clicks").RateHist; !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("poll 3 RateHist changed to %v", got)
	}
	if got := topic(t, states[1], "clicks").RateHist; !slices.Equal(got, []float64{1}) {
		t.Errorf("poll 2 RateHist changed to %v", got)
	}
}

func TestPollNodeGoesDown(t *testing.T) {
	h := newHarness(t, viaLookupd, func(o *cluster.Options) { o.History = 3 })
	h.poll(t)
	seen := h.clock.Now()
	h.c.SetDown(h.c.NSQDB, true)

	for i := 1; i <= 2; i++ {
		h.clock.Add(time.Second)
		st := h.poll(t)
		b := node(t, st, h.c.NSQDB)
		if b.Status != cluster.NodeStale || b.Err != "connection refused" || !b.LastSeen.Equal(seen) || b.Failures != i {
			t.Fatalf("poll %d: B %v err %q last seen %v failures %d", i+1, b.Status, b.Err, b.LastSeen, b.Failures)
		}
		if b.Snap == nil || b.Snap.Totals.Topics != 2 {
			t.Fatalf("stale B lost its data")
		}
		if st.Cluster.NodesUp != 1 || st.Cluster.NodesStale != 1 {
			t.Fatalf("cluster %+v", st.Cluster)
		}
		// Aggregates come from the answering nodes.
		if slices.Contains(names(st), "clicks") || len(topic(t, st, "orders").Nodes) != 1 {
			t.Fatalf("B's topics still merged: %v", names(st))
		}
	}
	h.clock.Add(time.Second)
	st := h.poll(t)
	b := node(t, st, h.c.NSQDB)
	if b.Status != cluster.NodeDown || b.Snap != nil || b.Err != "connection refused" || st.Cluster.NodesDown != 1 {
		t.Fatalf("after History failed polls: %v snap %v err %q", b.Status, b.Snap != nil, b.Err)
	}
	var buf strings.Builder
	if err := cluster.WriteText(&buf, st); err != nil || !strings.Contains(buf.String(), "nsqd "+h.c.NSQDB+" (down, last seen") {
		t.Errorf("text does not list the down node:\n%s", buf.String())
	}

	h.c.SetDown(h.c.NSQDB, false)
	h.clock.Add(time.Second)
	st = h.poll(t)
	if b := node(t, st, h.c.NSQDB); b.Status != cluster.NodeUp || b.Err != "" || b.Failures != 0 {
		t.Fatalf("back up: %+v", b)
	}
}

func TestPollNeverAnswered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	h := newHarness(t, func(c *clustertest.Cluster) cluster.Source {
		return cluster.Source{NSQDHTTPAddrs: []string{c.NSQDA, dead}}
	})
	st := h.poll(t)
	n := node(t, st, dead)
	if n.Status != cluster.NodeDown || n.Snap != nil || n.Err != "connection refused" || !n.LastSeen.IsZero() {
		t.Fatalf("never answered: %+v", n)
	}
	if st.Cluster.NodesUp != 1 || st.Cluster.NodesDown != 1 {
		t.Fatalf("cluster %+v", st.Cluster)
	}
}

func TestPollSlowNodeBounded(t *testing.T) {
	// B would answer in an hour; the poll must end at its timeout with B
	// stale and A's data in.
	h := newHarness(t, viaLookupd, func(o *cluster.Options) { o.Timeout = 300 * time.Millisecond })
	h.poll(t)
	h.c.SetDelay(h.c.NSQDB, time.Hour)
	h.clock.Add(time.Second)
	st := h.poll(t)
	b := node(t, st, h.c.NSQDB)
	if b.Status != cluster.NodeStale || !strings.Contains(b.Err, "timeout") {
		t.Fatalf("slow B: %v %q", b.Status, b.Err)
	}
	if a := node(t, st, h.c.NSQDA); a.Status != cluster.NodeUp {
		t.Fatalf("A: %v %q", a.Status, a.Err)
	}
	// A slow lookupd: the nodes it listed are still asked directly.
	h.c.SetDelay(h.c.NSQDB, 0)
	h.c.SetDelay(h.c.Lookupd, time.Hour)
	h.clock.Add(time.Second)
	st = h.poll(t)
	if len(st.LookupdErrors) != 1 || !strings.Contains(st.LookupdErrors[0].Err, "timeout") {
		t.Fatalf("lookupd errors %v", st.LookupdErrors)
	}
	if st.Cluster.NodesUp != 2 {
		t.Fatalf("nodes not asked while the lookupd is slow: %+v", st.Nodes)
	}
}

func TestPollDiscovery(t *testing.T) {
	h := newHarness(t, viaLookupd)
	h.poll(t)

	// The lookupd fails: the nodes it listed stay known and are asked.
	h.c.SetDown(h.c.Lookupd, true)
	st := h.poll(t)
	if len(st.LookupdErrors) != 1 || st.LookupdErrors[0].Err != "connection refused" || st.Cluster.NodesUp != 2 {
		t.Fatalf("lookupd down: errors %v, up %d", st.LookupdErrors, st.Cluster.NodesUp)
	}
	if n := node(t, st, h.c.NSQDA); n.Hostname != "vm" || !slices.Equal(n.Lookupds, []string{h.c.Lookupd}) {
		t.Errorf("A while the lookupd is down: %+v", n)
	}
	h.c.SetDown(h.c.Lookupd, false)

	// The lookupd stops listing B and B stops answering (a crashed nsqd
	// leaves lookupd with its connection): B stays, stale with its error,
	// and is asked again.
	h.c.SetListed(h.c.NSQDB, false)
	h.c.SetDown(h.c.NSQDB, true)
	st = h.poll(t)
	b := node(t, st, h.c.NSQDB)
	if b.Status != cluster.NodeStale || b.Err == "" || len(b.Lookupds) != 0 || st.Cluster.NodesUp != 1 {
		t.Fatalf("crashed, unlisted B: %+v", b)
	}
	h.c.SetDown(h.c.NSQDB, false)
	h.c.SetListed(h.c.NSQDB, true)
	st = h.poll(t)
	if len(st.Nodes) != 2 || st.Cluster.NodesUp != 2 {
		t.Fatalf("B back: %v", st.Nodes)
	}
}

// A node no lookupd lists any more is forgotten after History polls.
func TestPollForgetsUnlistedNode(t *testing.T) {
	h := newHarness(t, viaLookupd, func(o *cluster.Options) { o.History = 3 })
	h.poll(t)
	h.c.SetListed(h.c.NSQDB, false)
	for i := 1; i <= 3; i++ {
		st := h.poll(t)
		if got := len(st.Nodes); (i < 3 && got != 2) || (i == 3 && got != 1) {
			t.Fatalf("poll %d after unlisting: %d nodes", i, got)
		}
	}
}

func TestPollExplicitNodeStays(t *testing.T) {
	h := newHarness(t, func(c *clustertest.Cluster) cluster.Source {
		return cluster.Source{LookupdHTTPAddrs: []string{c.Lookupd}, NSQDHTTPAddrs: []string{c.NSQDB}}
	})
	st := h.poll(t)
	if b := node(t, st, h.c.NSQDB); !b.Explicit || b.Hostname != "vm" {
		t.Fatalf("B: %+v", b)
	}
	h.c.SetListed(h.c.NSQDB, false)
	st = h.poll(t)
	b := node(t, st, h.c.NSQDB)
	if b.Status != cluster.NodeUp || len(b.Lookupds) != 0 || len(st.Nodes) != 2 {
		t.Fatalf("explicit B after unlisting: %+v", b)
	}
}

func TestPollTombstonedAndVersions(t *testing.T) {
	h := newHarness(t, viaLookupd)
	st := h.poll(t)
	// Tombstone B for orders through the lookupd only (no delete).
	client := lookup.NewClient(lookup.Options{})
	defer client.Close()
	if err := client.TombstoneTopicProducer(context.Background(), h.c.Lookupd, "orders", h.c.NSQDB); err != nil {
		t.Fatal(err)
	}
	st = h.poll(t)
	if b := node(t, st, h.c.NSQDB); !slices.Equal(b.Tombstoned, []string{"orders"}) {
		t.Errorf("B tombstoned %v", b.Tombstoned)
	}
	if a := node(t, st, h.c.NSQDA); len(a.Tombstoned) != 0 {
		t.Errorf("A tombstoned %v", a.Tombstoned)
	}
}

func TestPollDropsVanishedEntities(t *testing.T) {
	h := newHarness(t, viaLookupd, func(o *cluster.Options) { o.History = 2 })
	h.poll(t)
	sizes := h.p.HistorySizes()
	want := map[string]int{"nodes": 2, "node_topics": 5, "node_chans": 9, "topics": 4, "channels": 6, "clients": 4}
	for k, v := range want {
		if sizes[k] != v {
			t.Errorf("%s: %d entries, want %d", k, sizes[k], v)
		}
	}
	// B goes away: it is asked for History more polls, then forgotten, and
	// History polls later so are its topics, channels and clients.
	h.c.SetListed(h.c.NSQDB, false)
	for range 5 {
		h.poll(t)
	}
	sizes = h.p.HistorySizes()
	want = map[string]int{"nodes": 1, "node_topics": 3, "node_chans": 4, "topics": 3, "channels": 4, "clients": 2}
	for k, v := range want {
		if sizes[k] != v {
			t.Errorf("after B left: %s: %d entries, want %d", k, sizes[k], v)
		}
	}
}

func TestPollWithoutClients(t *testing.T) {
	h := newHarness(t, viaLookupd, func(o *cluster.Options) { o.IncludeClients = false })
	st := h.poll(t)
	billing := channel(t, st, "orders", "billing")
	if len(billing.Clients) != 0 || billing.Snap.ClientCount != 1 {
		t.Fatalf("clients %v count %d", billing.Clients, billing.Snap.ClientCount)
	}
}

func TestPollContextCanceled(t *testing.T) {
	h := newHarness(t, viaLookupd)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st := h.p.Poll(ctx)
	if st == nil || len(st.LookupdErrors) != 1 {
		t.Fatalf("canceled poll: %+v", st)
	}
}

// SetInterval moves the poll timeout with the interval (80%), unless the
// Options fixed it.
func TestPollSetInterval(t *testing.T) {
	h := newHarness(t, viaLookupd, func(o *cluster.Options) { o.Timeout, o.Interval = 0, 5*time.Second })
	h.c.SetDelay(h.c.NSQDB, 500*time.Millisecond)
	if st := h.poll(t); st.Cluster.NodesUp != 2 {
		t.Fatalf("a 500ms node within a 4s timeout: %d up", st.Cluster.NodesUp)
	}
	h.p.SetInterval(250 * time.Millisecond) // timeout 200ms
	st := h.poll(t)
	if b := node(t, st, h.c.NSQDB); b.Status != cluster.NodeStale || !strings.Contains(b.Err, "timeout") {
		t.Fatalf("a 500ms node within a 200ms timeout: %+v", b)
	}

	fixed := newHarness(t, viaLookupd) // Options.Timeout 5s
	fixed.c.SetDelay(fixed.c.NSQDB, 300*time.Millisecond)
	fixed.p.SetInterval(100 * time.Millisecond)
	if st := fixed.poll(t); st.Cluster.NodesUp != 2 {
		t.Fatalf("a fixed timeout moved with the interval: %d up", st.Cluster.NodesUp)
	}
}
