package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"
)

// cluster is the two-node fixture cluster served from httptest: lookupd's
// /nodes rewritten to point at the fake nsqd A and B.
type cluster struct {
	lookupd, a, b *fakeServer
}

func newCluster(t *testing.T, wrap func(route) route) *cluster {
	t.Helper()
	a := newFakeServer(t).
		handle("/stats", wrap(fixture(t, "nsqd-a.stats.json"))).
		handle("/stats?format=json&include_clients=false&include_mem=false", wrap(fixture(t, "nsqd-a.stats.no-clients.json")))
	b := newFakeServer(t).handle("/stats", wrap(fixture(t, "nsqd-b.stats.json")))
	nodes := fixture(t, "lookupd.nodes.json").replace(
		`"http_port":4151`, `"http_port":`+strconv.Itoa(a.Port()),
		`"http_port":4251`, `"http_port":`+strconv.Itoa(b.Port()))
	l := newFakeServer(t).handle("/nodes", wrap(nodes))
	return &cluster{lookupd: l, a: a, b: b}
}

func TestSnapshot(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			cl := newCluster(t, f.wrap)
			failing := newFakeServer(t).handle("/stats", v1Route(500, `{"message":"INTERNAL_ERROR"}`))
			dead := deadAddr(t)
			deadLookupd := deadAddr(t)
			c := newClient(t, Options{})

			s, err := c.Snapshot(t.Context(), SnapshotRequest{
				LookupdHTTPAddrs: []string{cl.lookupd.Addr(), deadLookupd},
				// A again (as a URL: the same node), a node answering 500, a closed port.
				NSQDHTTPAddrs:  []string{"http://" + cl.a.Addr(), failing.Addr(), dead},
				IncludeClients: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkClusterSnapshot(t, s, cl, true)

			// Failures are recorded, not fatal.
			if len(s.Nodes) != 4 || s.Totals.Nodes != 2 || s.Totals.FailedNodes != 2 || len(s.NodeErrors) != 2 {
				t.Fatalf("nodes %d, totals %+v, errors %v", len(s.Nodes), s.Totals, s.NodeErrors)
			}
			var he *HTTPError
			if !errors.As(s.NodeErrors[failing.Addr()], &he) || he.Status != 500 {
				t.Errorf("500 node: %v", s.NodeErrors[failing.Addr()])
			}
			if n := s.Node(dead); n == nil || n.Err == nil || n.Error == "" || n.Stats != nil || n.Lookupd != nil {
				t.Errorf("dead node %+v", n)
			}
			if len(s.LookupdErrors) != 1 || s.LookupdErrors[0].Addr != deadLookupd || len(s.Lookupds) != 1 {
				t.Errorf("lookupd errors %v, answered %v", s.LookupdErrors, s.Lookupds)
			}
			if s.Time.IsZero() || s.Took <= 0 {
				t.Errorf("time %v took %v", s.Time, s.Took)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Errorf("marshal: %v", err)
			}

			// Without clients: same counts, no client detail.
			s, err = c.Snapshot(t.Context(), SnapshotRequest{LookupdHTTPAddrs: []string{cl.lookupd.Addr()}})
			if err != nil {
				t.Fatal(err)
			}
			checkClusterSnapshot(t, s, cl, false)
			if len(s.NodeErrors) != 0 || len(s.Nodes) != 2 {
				t.Errorf("node errors %v", s.NodeErrors)
			}
		})
	}
}

// checkClusterSnapshot asserts the merged state of the fixture cluster,
// computed by hand from nsqd-a.stats.json and nsqd-b.stats.json.
func checkClusterSnapshot(t *testing.T, s *Snapshot, cl *cluster, clients bool) {
	t.Helper()
	aAddr, bAddr := cl.a.Addr(), cl.b.Addr()

	var names []string
	for _, tp := range s.Topics {
		names = append(names, tp.Name)
	}
	if len(names) != 4 || names[0] != "clicks" || names[1] != "events#ephemeral" || names[2] != "orders" || names[3] != "paused_topic" {
		t.Fatalf("topics %q", names)
	}

	// orders: A (49 msgs, 372 bytes) + B (3 msgs, 27 bytes).
	o := s.Topic("orders")
	if o.Depth != 0 || o.BackendDepth != 0 || o.MessageCount != 52 || o.MessageBytes != 399 || o.Paused || o.Ephemeral {
		t.Errorf("orders %+v", o)
	}
	// channels: A 48+48+32, B 3+3+3+0; in flight A billing 10; deferred one per A channel;
	// requeue A billing 1; clients A billing + B tail.
	if o.ChannelDepth != 137 || o.InFlightCount != 10 || o.DeferredCount != 3 || o.RequeueCount != 1 || o.TimeoutCount != 0 || o.ClientCount != 2 {
		t.Errorf("orders channel sums %+v", o)
	}
	if len(o.Nodes) != 2 || len(o.Channels) != 4 {
		t.Fatalf("orders nodes %d channels %d", len(o.Nodes), len(o.Channels))
	}
	for _, n := range o.Nodes {
		switch n.Node {
		case aAddr:
			if n.MessageCount != 49 || n.ChannelCount != 3 || n.Hostname != "vm" || n.E2eProcessingLatency.Count != 6 || len(n.E2eProcessingLatency.Percentiles) != 2 {
				t.Errorf("orders on A %+v", n)
			}
		case bAddr:
			if n.MessageCount != 3 || n.ChannelCount != 4 || n.E2eProcessingLatency.Percentiles != nil {
				t.Errorf("orders on B %+v", n)
			}
		default:
			t.Errorf("orders on unknown node %s", n.Node)
		}
	}
	for i, want := range []ChannelSnapshot{
		{Topic: "orders", Name: "archive", Depth: 51, DeferredCount: 1, MessageCount: 52},
		{Topic: "orders", Name: "audit", Depth: 51, DeferredCount: 1, MessageCount: 52, Paused: true},
		{Topic: "orders", Name: "billing", Depth: 35, InFlightCount: 10, DeferredCount: 1, MessageCount: 52, RequeueCount: 1, ClientCount: 1},
		{Topic: "orders", Name: "tail#ephemeral", Ephemeral: true, MessageCount: 3, ClientCount: 1},
	} {
		got := o.Channels[i]
		cmp := got
		cmp.Clients, cmp.Nodes = nil, nil
		if !equalJSON(cmp, want) {
			t.Errorf("orders/%s = %+v, want %+v", want.Name, cmp, want)
		}
	}
	billing := o.Channel("billing")
	if len(billing.Nodes) != 2 {
		t.Fatalf("billing nodes %+v", billing.Nodes)
	}
	for _, n := range billing.Nodes {
		if (n.Node == aAddr) != (n.Depth == 32 && n.InFlightCount == 10 && n.ClientCount == 1) || (n.Node == bAddr) != (n.Depth == 3 && n.ClientCount == 0) {
			t.Errorf("billing on %s: %+v", n.Node, n)
		}
	}
	if clients {
		if len(billing.Clients) != 1 || billing.Clients[0].Node != aAddr || billing.Clients[0].ClientID != "fixture-consumer" {
			t.Errorf("billing clients %+v", billing.Clients)
		}
	} else if len(billing.Clients) != 0 {
		t.Errorf("billing clients without IncludeClients: %+v", billing.Clients)
	}
	audit := o.Channel("audit")
	for _, n := range audit.Nodes {
		if n.Paused != (n.Node == aAddr) {
			t.Errorf("audit paused on %s: %v", n.Node, n.Paused)
		}
	}
	if tail := o.Channel("tail#ephemeral"); len(tail.Nodes) != 1 || tail.Nodes[0].Node != bAddr {
		t.Errorf("tail nodes %+v", tail.Nodes)
	}

	// clicks: only on B.
	ck := s.Topic("clicks")
	if len(ck.Nodes) != 1 || ck.Nodes[0].Node != bAddr || ck.MessageCount != 105 || ck.MessageBytes != 857 || len(ck.Channels) != 1 {
		t.Errorf("clicks %+v", ck)
	}
	if an := ck.Channel("analytics"); an == nil || an.Depth != 96 || an.BackendDepth != 87 || an.InFlightCount != 3 || an.DeferredCount != 5 || an.RequeueCount != 1 {
		t.Errorf("analytics %+v", an)
	}

	// paused_topic: paused, 3 held.
	pt := s.Topic("paused_topic")
	if !pt.Paused || pt.Depth != 3 || len(pt.Channels) != 0 || len(pt.Nodes) != 1 || !pt.Nodes[0].Paused {
		t.Errorf("paused_topic %+v", pt)
	}
	if ev := s.Topic("events#ephemeral"); !ev.Ephemeral || ev.InFlightCount != 5 || ev.RequeueCount != 1 {
		t.Errorf("events %+v", ev)
	}
	if s.Topic("nosuch") != nil || o.Channel("nosuch") != nil {
		t.Error("lookup of a missing name")
	}

	// Cluster totals.
	producers := int64(0)
	if clients {
		producers = 1
	}
	wantTotals := Totals{
		Nodes: s.Totals.Nodes, FailedNodes: s.Totals.FailedNodes,
		Topics: 4, Channels: 6, PausedTopics: 1, PausedChannels: 1,
		Depth: 3, MessageCount: 57 + 108, MessageBytes: 35 + 372 + 18 + 857 + 27,
		ChannelDepth: 128 + 105, ChannelBackendDepth: 87,
		InFlightCount: 5 + 10 + 3, DeferredCount: 3 + 5, RequeueCount: 3, ClientCount: 4,
		ProducerCount: producers,
	}
	if s.Totals != wantTotals {
		t.Errorf("totals\n got %+v\nwant %+v", s.Totals, wantTotals)
	}

	// Per node.
	a, b := s.Node(aAddr), s.Node(bAddr)
	if a == nil || b == nil {
		t.Fatalf("nodes %+v", s.Nodes)
	}
	if a.Lookupd == nil || a.Hostname != "vm" || a.TCPPort != 4150 || a.HTTPPort != cl.a.Port() || a.Health != "OK" || a.Version != "1.3.0" || a.Err != nil {
		t.Errorf("node A %+v", a)
	}
	wantA := Totals{Nodes: 1, Topics: 3, Channels: 4, PausedTopics: 1, PausedChannels: 1, Depth: 3, MessageCount: 57, MessageBytes: 425,
		ChannelDepth: 128, InFlightCount: 15, DeferredCount: 3, RequeueCount: 2, ClientCount: 2, ProducerCount: producers}
	if a.Totals != wantA {
		t.Errorf("A totals\n got %+v\nwant %+v", a.Totals, wantA)
	}
	wantB := Totals{Nodes: 1, Topics: 2, Channels: 5, MessageCount: 108, MessageBytes: 884,
		ChannelDepth: 105, ChannelBackendDepth: 87, InFlightCount: 3, DeferredCount: 5, RequeueCount: 1, ClientCount: 2}
	if b.Totals != wantB {
		t.Errorf("B totals\n got %+v\nwant %+v", b.Totals, wantB)
	}
	if clients {
		if len(a.Producers) != 1 || len(b.Producers) != 0 || len(s.Producers) != 1 || s.Producers[0].Node != aAddr || s.Producers[0].PublishedCount() != 9 {
			t.Errorf("producers A %+v B %+v all %+v", a.Producers, b.Producers, s.Producers)
		}
	} else if len(s.Producers) != 0 {
		t.Errorf("producers without IncludeClients: %+v", s.Producers)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestSnapshotExplicitNodesOnly(t *testing.T) {
	cl := newCluster(t, identity)
	c := newClient(t, Options{})
	s, err := c.Snapshot(t.Context(), SnapshotRequest{NSQDHTTPAddrs: []string{cl.a.Addr(), cl.b.URL}, Topic: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 2 || s.Nodes[0].Lookupd != nil || len(s.LookupdErrors) != 0 {
		t.Errorf("nodes %+v", s.Nodes)
	}
	// The topic filter went to every node.
	for _, srv := range []*fakeServer{cl.a, cl.b} {
		for _, r := range srv.requests() {
			if r.Query.Get("topic") != "orders" || r.Query.Get("format") != "json" {
				t.Errorf("query %v", r.Query)
			}
		}
	}
	if _, err := c.Snapshot(t.Context(), SnapshotRequest{}); !errors.Is(err, ErrNoAddresses) {
		t.Errorf("empty request: %v", err)
	}
}

// A node that never answers costs at most the context's deadline.
func TestSnapshotDeadline(t *testing.T) {
	cl := newCluster(t, identity)
	slow := hangingServer(t)
	c := newClient(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := c.Snapshot(ctx, SnapshotRequest{LookupdHTTPAddrs: []string{cl.lookupd.Addr()}, NSQDHTTPAddrs: []string{slow.URL}})
	within(t, time.Since(start), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Nodes != 2 || s.Totals.FailedNodes != 1 || !errors.Is(s.NodeErrors[slow.URL], context.DeadlineExceeded) {
		t.Errorf("totals %+v errors %v", s.Totals, s.NodeErrors)
	}
	if s.Totals.MessageCount != 165 {
		t.Errorf("messages %d", s.Totals.MessageCount)
	}
}

func TestMergeNodes(t *testing.T) {
	p := func(host string, port int) Producer {
		return Producer{BroadcastAddress: host, HTTPPort: port, TCPPort: port - 1}
	}
	got := MergeNodes(
		[]Node{{Producer: p("h2", 4151), Topics: []string{"b", "a"}, Tombstones: []bool{false, true}}},
		[]Node{{Producer: p("h1", 4151)}, {Producer: p("h2", 4151), Topics: []string{"c", "a"}, Tombstones: []bool{true}}},
		nil,
	)
	if len(got) != 2 || got[0].BroadcastAddress != "h1" || got[1].BroadcastAddress != "h2" {
		t.Fatalf("%+v", got)
	}
	h2 := got[1]
	if !equalJSON(h2.Topics, []string{"a", "b", "c"}) || !equalJSON(h2.Tombstones, []bool{true, false, true}) {
		t.Errorf("h2 %+v", h2)
	}
	if len(MergeNodes()) != 0 {
		t.Error("empty merge")
	}
}
