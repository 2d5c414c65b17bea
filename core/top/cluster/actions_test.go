package cluster_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
)

// callStrings renders calls as "step daemon POST addr/path?query".
func callStrings(calls []cluster.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = fmt.Sprintf("%d %s %s %s%s", c.Step, c.Daemon, c.Method, c.Addr, c.Path)
	}
	return out
}

func TestPlanAction(t *testing.T) {
	h := newHarness(t, viaLookupd)
	st := h.poll(t)
	L, A, B := h.c.Lookupd, h.c.NSQDA, h.c.NSQDB
	lo, hi := min(A, B), max(A, B) // calls go to nodes in address order
	src := h.c.Source()

	tests := []struct {
		a       cluster.Action
		calls   []string
		summary string
	}{
		{cluster.Action{Kind: cluster.CreateTopic, Topic: "new"},
			[]string{"0 nsqlookupd POST " + L + "/topic/create?topic=new"},
			"create topic new on 1 nsqlookupd: " + L},
		{cluster.Action{Kind: cluster.CreateChannel, Topic: "new", Channel: "c1"},
			[]string{"0 nsqlookupd POST " + L + "/topic/create?topic=new", "1 nsqlookupd POST " + L + "/channel/create?topic=new&channel=c1"},
			"create channel new/c1 on 1 nsqlookupd: " + L},
		{cluster.Action{Kind: cluster.PauseTopic, Topic: "orders"},
			[]string{"0 nsqd POST " + lo + "/topic/pause?topic=orders", "0 nsqd POST " + hi + "/topic/pause?topic=orders"},
			"pause topic orders on 2 nsqd: " + lo + ", " + hi},
		{cluster.Action{Kind: cluster.UnpauseTopic, Topic: "paused_topic"},
			[]string{"0 nsqd POST " + A + "/topic/unpause?topic=paused_topic"},
			"unpause topic paused_topic on 1 nsqd: " + A},
		{cluster.Action{Kind: cluster.EmptyTopic, Topic: "clicks"},
			[]string{"0 nsqd POST " + B + "/topic/empty?topic=clicks"},
			"empty topic clicks on 1 nsqd: " + B},
		{cluster.Action{Kind: cluster.DeleteTopic, Topic: "orders"},
			[]string{"0 nsqlookupd POST " + L + "/topic/delete?topic=orders",
				"1 nsqd POST " + lo + "/topic/delete?topic=orders", "1 nsqd POST " + hi + "/topic/delete?topic=orders"},
			"delete topic orders on 1 nsqlookupd: " + L + ", then 2 nsqd: " + lo + ", " + hi},
		{cluster.Action{Kind: cluster.DeleteTopic, Topic: "lookupd_only"}, // not on any nsqd: the lookupds only
			[]string{"0 nsqlookupd POST " + L + "/topic/delete?topic=lookupd_only"},
			"delete topic lookupd_only on 1 nsqlookupd: " + L},
		{cluster.Action{Kind: cluster.PauseChannel, Topic: "orders", Channel: "billing"},
			[]string{"0 nsqd POST " + lo + "/channel/pause?topic=orders&channel=billing", "0 nsqd POST " + hi + "/channel/pause?topic=orders&channel=billing"},
			"pause channel orders/billing on 2 nsqd: " + lo + ", " + hi},
		{cluster.Action{Kind: cluster.UnpauseChannel, Topic: "orders", Channel: "audit"},
			[]string{"0 nsqd POST " + lo + "/channel/unpause?topic=orders&channel=audit", "0 nsqd POST " + hi + "/channel/unpause?topic=orders&channel=audit"},
			"unpause channel orders/audit on 2 nsqd: " + lo + ", " + hi},
		{cluster.Action{Kind: cluster.EmptyChannel, Topic: "events#ephemeral", Channel: "live#ephemeral"},
			[]string{"0 nsqd POST " + A + "/channel/empty?topic=events%23ephemeral&channel=live%23ephemeral"},
			"empty channel events#ephemeral/live#ephemeral on 1 nsqd: " + A},
		// nsqadmin sends channel actions to every producer of the topic,
		// also one without the channel (A has no tail#ephemeral).
		{cluster.Action{Kind: cluster.DeleteChannel, Topic: "orders", Channel: "tail#ephemeral"},
			[]string{"0 nsqlookupd POST " + L + "/channel/delete?topic=orders&channel=tail%23ephemeral",
				"1 nsqd POST " + lo + "/channel/delete?topic=orders&channel=tail%23ephemeral",
				"1 nsqd POST " + hi + "/channel/delete?topic=orders&channel=tail%23ephemeral"},
			"delete channel orders/tail#ephemeral on 1 nsqlookupd: " + L + ", then 2 nsqd: " + lo + ", " + hi},
		{cluster.Action{Kind: cluster.TombstoneTopic, Topic: "orders", Node: B},
			[]string{"0 nsqlookupd POST " + L + "/topic/tombstone?topic=orders&node=" + strings.ReplaceAll(B, ":", "%3A"),
				"1 nsqd POST " + B + "/topic/delete?topic=orders"},
			"tombstone topic orders for " + B + " on 1 nsqlookupd: " + L + ", then delete it on nsqd " + B},
	}
	for _, tt := range tests {
		t.Run(tt.a.String(), func(t *testing.T) {
			p, err := cluster.PlanAction(st, src, tt.a)
			if err != nil {
				t.Fatal(err)
			}
			if got := callStrings(p.Calls); !slices.Equal(got, tt.calls) {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.calls, "\n"))
			}
			if p.Summary != tt.summary {
				t.Errorf("summary %q\nwant    %q", p.Summary, tt.summary)
			}
			if p.Action != tt.a {
				t.Errorf("plan action %+v", p.Action)
			}
		})
	}
}

func TestPlanActionNSQDOnly(t *testing.T) {
	h := newHarness(t, viaNSQD)
	st := h.poll(t)
	src := h.c.NSQDSource()
	A, B := h.c.NSQDA, h.c.NSQDB
	lo, hi := min(A, B), max(A, B)

	p, err := cluster.PlanAction(st, src, cluster.Action{Kind: cluster.PauseTopic, Topic: "clicks"})
	if err != nil || !slices.Equal(callStrings(p.Calls), []string{"0 nsqd POST " + B + "/topic/pause?topic=clicks"}) {
		t.Fatalf("pause clicks: %v %v", err, p)
	}
	p, err = cluster.PlanAction(st, src, cluster.Action{Kind: cluster.DeleteTopic, Topic: "orders"})
	if err != nil || !slices.Equal(callStrings(p.Calls), []string{
		"1 nsqd POST " + lo + "/topic/delete?topic=orders", "1 nsqd POST " + hi + "/topic/delete?topic=orders"}) {
		t.Fatalf("delete orders: %v %v", err, p)
	}
	for _, a := range []cluster.Action{
		{Kind: cluster.CreateTopic, Topic: "new"},
		{Kind: cluster.TombstoneTopic, Topic: "orders", Node: A},
	} {
		if _, err := cluster.PlanAction(st, src, a); err == nil || !strings.Contains(err.Error(), "needs a lookupd") {
			t.Errorf("%v without lookupd: %v", a, err)
		}
	}
}

func TestPlanActionErrors(t *testing.T) {
	h := newHarness(t, viaLookupd)
	st := h.poll(t)
	src := h.c.Source()
	for _, tt := range []struct {
		a   cluster.Action
		err string
	}{
		{cluster.Action{Kind: cluster.PauseTopic, Topic: "bad name"}, "invalid topic name"},
		{cluster.Action{Kind: cluster.CreateTopic, Topic: ""}, "invalid topic name"},
		{cluster.Action{Kind: cluster.PauseChannel, Topic: "orders", Channel: "no/slash"}, "invalid channel name"},
		{cluster.Action{Kind: cluster.CreateChannel, Topic: "orders"}, "invalid channel name"},
		{cluster.Action{Kind: cluster.PauseTopic, Topic: "nosuch"}, "no nsqd has topic"},
		{cluster.Action{Kind: cluster.EmptyChannel, Topic: "orders", Channel: "nosuch"}, "no nsqd has channel"},
		{cluster.Action{Kind: cluster.TombstoneTopic, Topic: "orders", Node: "127.0.0.1:1"}, "unknown nsqd"},
		{cluster.Action{Kind: cluster.TombstoneTopic, Topic: "clicks", Node: h.c.NSQDA}, "does not have topic"},
		{cluster.Action{Kind: cluster.ActionKind(99), Topic: "orders"}, "unknown action"},
	} {
		if _, err := cluster.PlanAction(st, src, tt.a); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%+v: err %v, want %q", tt.a, err, tt.err)
		}
	}
}

func TestExecuteOnFixtures(t *testing.T) {
	h := newHarness(t, viaLookupd)
	st := h.poll(t)
	client := lookup.NewClient(lookup.Options{})
	defer client.Close()
	ctx := context.Background()
	A, B := h.c.NSQDA, h.c.NSQDB

	p, err := cluster.PlanAction(st, h.c.Source(), cluster.Action{Kind: cluster.PauseChannel, Topic: "orders", Channel: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	r := cluster.Execute(ctx, client, p)
	if r.Failed != 0 || r.Summary != "paused orders/billing on 2 nsqd" || len(r.Calls) != 2 {
		t.Fatalf("result %+v", r)
	}
	calls := h.c.Calls()
	slices.Sort(calls)
	want := []string{"POST " + A + "/channel/pause?channel=billing&topic=orders", "POST " + B + "/channel/pause?channel=billing&topic=orders"}
	slices.Sort(want)
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %q", calls)
	}
	st = h.poll(t)
	if c := channel(t, st, "orders", "billing"); !c.Nodes[0].Snap.Paused || !c.Nodes[1].Snap.Paused {
		t.Fatalf("billing not paused on both: %+v", c.Nodes)
	}

	// A failing node: reported, the other call still made.
	h.c.SetDown(B, true)
	h.c.ResetCalls()
	client.Close() // drop kept-alive connections: a POST on one B closed fails with EOF, not "refused"
	p, _ = cluster.PlanAction(st, h.c.Source(), cluster.Action{Kind: cluster.UnpauseChannel, Topic: "orders", Channel: "billing"})
	r = cluster.Execute(ctx, client, p)
	if r.Failed != 1 || r.Summary != "unpause orders/billing: failed on "+B+": connection refused" {
		t.Fatalf("failing B: %+v", r)
	}
	for _, c := range r.Calls {
		if (c.Call.Addr == B) != (c.Err != nil) {
			t.Errorf("call %v err %v", c.Call, c.Err)
		}
	}
	if calls := h.c.Calls(); len(calls) != 1 || !strings.Contains(calls[0], A) {
		t.Fatalf("A not called: %q", calls)
	}
	h.c.SetDown(B, false)
	// Steps run in order: the lookupd delete before the nsqd deletes.
	h.c.ResetCalls()
	p, _ = cluster.PlanAction(st, h.c.Source(), cluster.Action{Kind: cluster.DeleteTopic, Topic: "orders"})
	r = cluster.Execute(ctx, client, p)
	if r.Failed != 0 || r.Summary != "deleted orders on 1 nsqlookupd and 2 nsqd" {
		t.Fatalf("delete: %+v", r)
	}
	if calls := h.c.Calls(); len(calls) != 3 || !strings.Contains(calls[0], h.c.Lookupd+"/topic/delete") {
		t.Fatalf("delete calls %q", calls)
	}

	// An nsqd answering an error: its message.
	p, _ = cluster.PlanAction(st, h.c.Source(), cluster.Action{Kind: cluster.EmptyChannel, Topic: "clicks", Channel: "analytics"})
	r = cluster.Execute(ctx, client, &cluster.Plan{Action: cluster.Action{Kind: cluster.EmptyChannel, Topic: "orders", Channel: "nosuch"},
		Calls: []cluster.Call{{Method: "POST", Addr: A, Path: "/channel/empty?topic=orders&channel=nosuch", Daemon: "nsqd"}}})
	if r.Failed != 1 || r.Summary != "empty orders/nosuch: failed on "+A+": HTTP 404: TOPIC_NOT_FOUND" {
		t.Fatalf("error message: %+v", r)
	}
	if r := cluster.Execute(ctx, client, p); r.Failed != 0 || r.Summary != "emptied clicks/analytics on 1 nsqd" {
		t.Fatalf("empty: %+v", r)
	}
	if s := h.c.Stats(B); s.Topics[0].Channels[0].Depth != 0 {
		t.Fatalf("analytics not emptied: %+v", s.Topics[0].Channels[0])
	}
}

// TestExecuteRealDaemons runs actions against our own nsqlookupd and two
// nsqd, and checks the effect through their HTTP APIs.
func TestExecuteRealDaemons(t *testing.T) {
	l := testdaemon.Lookupd(t)
	n1 := testdaemon.NSQD(t, testdaemon.RegisteredWith(l))
	n2 := testdaemon.NSQD(t, testdaemon.RegisteredWith(l))
	L := l.HTTPAddr().String()
	A, B := n1.HTTPAddr().String(), n2.HTTPAddr().String()
	client := lookup.NewClient(lookup.Options{})
	defer client.Close()
	ctx := context.Background()
	for _, n := range []string{A, B} {
		if err := client.CreateTopic(ctx, n, "orders"); err != nil {
			t.Fatal(err)
		}
		if err := client.CreateChannel(ctx, n, "orders", "billing"); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Publish(ctx, A, "orders", []byte("m")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "both nsqd registered for orders", func() bool {
		r, err := client.Lookup(ctx, L, "orders")
		return err == nil && len(r.Producers) == 2
	})

	src := cluster.Source{LookupdHTTPAddrs: []string{L}}
	o := cluster.NewOptions()
	o.Source, o.Client = src, client
	p := cluster.NewPoller(o)
	st := p.Poll(ctx)
	if st.Cluster.NodesUp != 2 || len(st.Topics) != 1 {
		t.Fatalf("poll: %+v", st.Cluster)
	}
	run := func(a cluster.Action) *cluster.Result {
		t.Helper()
		plan, err := cluster.PlanAction(st, src, a)
		if err != nil {
			t.Fatal(err)
		}
		r := cluster.Execute(ctx, client, plan)
		if r.Failed != 0 {
			t.Fatalf("%v: %s", a, r.Summary)
		}
		return r
	}
	paused := func(addr string) bool {
		s, err := client.Stats(ctx, addr, lookup.StatsQuery{Topic: "orders"})
		if err != nil || len(s.Topics) != 1 || len(s.Topics[0].Channels) != 1 {
			t.Fatalf("stats %s: %v %+v", addr, err, s)
		}
		return s.Topics[0].Channels[0].Paused
	}

	// Pause a channel on both nodes.
	run(cluster.Action{Kind: cluster.PauseChannel, Topic: "orders", Channel: "billing"})
	if !paused(A) || !paused(B) {
		t.Fatalf("billing paused on A %v B %v", paused(A), paused(B))
	}
	st = p.Poll(ctx)
	if !channel(t, st, "orders", "billing").Snap.Paused {
		t.Fatal("poll does not show the pause")
	}
	run(cluster.Action{Kind: cluster.UnpauseChannel, Topic: "orders", Channel: "billing"})
	if paused(A) || paused(B) {
		t.Fatal("still paused")
	}

	// Create a topic with a channel on the lookupd only.
	run(cluster.Action{Kind: cluster.CreateChannel, Topic: "fresh", Channel: "c1"})
	lds := p.PollLookupds(ctx)
	if len(lds) != 1 || lds[0].Err != "" {
		t.Fatalf("lookupds %+v", lds)
	}
	var fresh *cluster.LookupdTopic
	for i := range lds[0].Topics {
		if lds[0].Topics[i].Name == "fresh" {
			fresh = &lds[0].Topics[i]
		}
	}
	if fresh == nil || !slices.Equal(fresh.Channels, []string{"c1"}) || len(fresh.Producers) != 0 {
		t.Fatalf("fresh on lookupd: %+v", fresh)
	}

	// Tombstone B for orders: lookupd stops returning it, B deletes it.
	r := run(cluster.Action{Kind: cluster.TombstoneTopic, Topic: "orders", Node: B})
	if !strings.HasPrefix(r.Summary, "tombstoned orders for "+B) {
		t.Errorf("summary %q", r.Summary)
	}
	lr, err := client.Lookup(ctx, L, "orders")
	if err != nil || len(lr.Producers) != 1 || lr.Producers[0].HTTPAddress() != A {
		t.Fatalf("lookup after tombstone: %v %+v", err, lr)
	}
	if s, _ := client.Stats(ctx, B, lookup.StatsQuery{}); len(s.Topics) != 0 {
		t.Fatalf("B still has %+v", s.Topics)
	}

	// Delete the topic everywhere.
	st = p.Poll(ctx)
	run(cluster.Action{Kind: cluster.DeleteTopic, Topic: "orders"})
	if s, _ := client.Stats(ctx, A, lookup.StatsQuery{}); len(s.Topics) != 0 {
		t.Fatalf("A still has %+v", s.Topics)
	}
	testutil.Eventually(t, 5*time.Second, "orders gone from lookupd", func() bool {
		ts, err := client.Topics(ctx, L)
		return err == nil && !slices.Contains(ts, "orders")
	})

	// A node that fails is reported, the others still called.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if err := client.CreateTopic(ctx, A, "t2"); err != nil {
		t.Fatal(err)
	}
	plan := &cluster.Plan{Action: cluster.Action{Kind: cluster.PauseTopic, Topic: "t2"}, Calls: []cluster.Call{
		{Method: "POST", Addr: A, Path: "/topic/pause?topic=t2", Daemon: "nsqd"},
		{Method: "POST", Addr: dead, Path: "/topic/pause?topic=t2", Daemon: "nsqd"},
	}}
	res := cluster.Execute(ctx, client, plan)
	if res.Failed != 1 || res.Calls[0].Err != nil || res.Calls[1].Err == nil ||
		res.Summary != "pause t2: failed on "+dead+": connection refused" {
		t.Fatalf("result %+v", res)
	}
	if s, _ := client.Stats(ctx, A, lookup.StatsQuery{Topic: "t2"}); len(s.Topics) != 1 || !s.Topics[0].Paused {
		t.Fatalf("t2 not paused on A: %+v", s.Topics)
	}
}
