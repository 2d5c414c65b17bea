package lookup

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// secondLookupd knows node B (tombstoned for orders) and a node C that the
// fixture lookupd does not, answering in the legacy envelope.
func secondLookupd(t *testing.T) *fakeServer {
	t.Helper()
	const b = `{"remote_address":"127.0.0.1:50000","hostname":"vm","broadcast_address":"127.0.0.1","tcp_port":4250,"http_port":4251,"version":"1.3.0"`
	const cNode = `{"remote_address":"127.0.0.2:50001","hostname":"c","broadcast_address":"127.0.0.2","tcp_port":4350,"http_port":4351,"version":"1.3.0"`
	return newFakeServer(t).
		handle("/lookup?topic=orders", legacy(v1Route(200, `{"channels":["billing","extra"],"producers":[`+b+`},`+cNode+`}]}`))).
		handle("/lookup?topic=nosuch", legacy(v1Route(404, `{"message":"TOPIC_NOT_FOUND"}`))).
		handle("/topics", legacy(v1Route(200, `{"topics":["orders","newtopic"]}`))).
		handle("/channels?topic=orders", legacy(v1Route(200, `{"channels":["extra"]}`))).
		handle("/nodes", legacy(v1Route(200, `{"producers":[`+
			b+`,"tombstones":[true,false,false],"topics":["orders","clicks","late"]},`+
			cNode+`,"tombstones":[],"topics":[]}]}`)))
}

func TestLookupAll(t *testing.T) {
	l1 := lookupdServer(t, identity)
	l2 := secondLookupd(t)
	dead := deadAddr(t)
	c := newClient(t, Options{})
	ctx := t.Context()
	addrs := []string{l1.Addr(), l2.URL, dead, "http://" + l1.Addr() + "/"}

	r, err := c.LookupAll(ctx, addrs, "orders")
	if err != nil {
		t.Fatalf("one dead lookupd failed the call: %v", err)
	}
	var got []string
	for _, p := range r.Producers {
		got = append(got, p.TCPAddress())
	}
	if !slices.Equal(got, []string{"127.0.0.1:4150", "127.0.0.1:4250", "127.0.0.2:4350"}) {
		t.Errorf("producers %q", got)
	}
	if !slices.Equal(r.Channels, []string{"archive", "audit", "billing", "extra", "tail#ephemeral"}) {
		t.Errorf("channels %q", r.Channels)
	}
	if !slices.Equal(r.Answered, []string{l1.Addr(), l2.URL}) || len(r.Errors) != 1 || r.Errors[0].Addr != dead {
		t.Errorf("answered %q errors %v", r.Answered, r.Errors)
	}
	if r.Err() == nil {
		t.Error("Partial.Err is nil with a failure")
	}
	// The repeated spelling of l1 was asked once.
	if n := len(l1.requests()); n != 1 {
		t.Errorf("l1 asked %d times", n)
	}

	// TOPIC_NOT_FOUND everywhere: answered, with nothing.
	r, err = c.LookupAll(ctx, []string{l1.Addr(), l2.Addr()}, "nosuch")
	if err != nil || len(r.Producers) != 0 || len(r.Channels) != 0 || len(r.Errors) != 0 {
		t.Errorf("nosuch: %+v %v", r, err)
	}

	// Every lookupd down: the error lists each.
	dead2 := deadAddr(t)
	r, err = c.LookupAll(ctx, []string{dead, dead2}, "orders")
	var me *MultiError
	if !errors.As(err, &me) || len(me.Errors) != 2 || len(r.Answered) != 0 || len(r.Producers) != 0 {
		t.Errorf("all dead: %+v %v", r, err)
	}
	if _, err := c.LookupAll(ctx, nil, "orders"); !errors.Is(err, ErrNoAddresses) {
		t.Errorf("no addrs: %v", err)
	}
}

func TestLookupAllBoundedByContext(t *testing.T) {
	l1 := lookupdServer(t, identity)
	slow := hangingServer(t)
	c := newClient(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := c.LookupAll(ctx, []string{slow.URL, l1.Addr()}, "orders")
	within(t, time.Since(start), 3*time.Second)
	if err != nil || len(r.Producers) != 2 || len(r.Errors) != 1 || !errors.Is(r.Errors[0], context.DeadlineExceeded) {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestTopicsChannelsNodesAll(t *testing.T) {
	l1 := lookupdServer(t, identity)
	l2 := secondLookupd(t)
	dead := deadAddr(t)
	c := newClient(t, Options{})
	ctx := t.Context()
	addrs := []string{dead, l1.Addr(), l2.Addr()}

	tr, err := c.TopicsAll(ctx, addrs)
	if err != nil || !slices.Equal(tr.Topics, []string{"clicks", "events#ephemeral", "newtopic", "orders", "paused_topic"}) || len(tr.Errors) != 1 {
		t.Errorf("topics %+v %v", tr, err)
	}
	cr, err := c.ChannelsAll(ctx, addrs, "orders")
	if err != nil || !slices.Equal(cr.Channels, []string{"archive", "audit", "billing", "extra", "tail#ephemeral"}) || len(cr.Errors) != 1 {
		t.Errorf("channels %+v %v", cr, err)
	}
	nr, err := c.NodesAll(ctx, addrs)
	if err != nil || len(nr.Nodes) != 3 || len(nr.Errors) != 1 || nr.Errors[0].Addr != dead {
		t.Fatalf("nodes %+v %v", nr, err)
	}
	a, b, cn := nr.Nodes[0], nr.Nodes[1], nr.Nodes[2]
	if a.HTTPAddress() != "127.0.0.1:4151" || !slices.Equal(a.Topics, []string{"events#ephemeral", "orders", "paused_topic"}) {
		t.Errorf("A %+v", a)
	}
	if b.HTTPAddress() != "127.0.0.1:4251" || !slices.Equal(b.Topics, []string{"clicks", "late", "orders"}) ||
		!slices.Equal(b.Tombstones, []bool{false, false, true}) || !b.Tombstoned("orders") || b.Tombstoned("clicks") {
		t.Errorf("B %+v", b)
	}
	if b.RemoteAddress != "127.0.0.1:49846" { // the first lookupd's record is kept
		t.Errorf("B remote %s", b.RemoteAddress)
	}
	if cn.HTTPAddress() != "127.0.0.2:4351" || len(cn.Topics) != 0 || cn.Topics == nil {
		t.Errorf("C %+v", cn)
	}
}
