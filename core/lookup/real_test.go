package lookup_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/nsqd"
	"github.com/nsqkit/nsqkit/core/nsqlookupd"
)

// realCluster starts one nsqlookupd and two nsqd in process, the nsqds
// registered with the lookupd.
func realCluster(t *testing.T) (lookupdHTTP string, nodes []*nsqd.NSQD) {
	t.Helper()
	l := testdaemon.Lookupd(t, func(o *nsqlookupd.Options) { o.TombstoneLifetime = time.Hour })
	for i := 0; i < 2; i++ {
		nodes = append(nodes, testdaemon.NSQD(t, testdaemon.RegisteredWith(l)))
	}
	return l.HTTPAddr().String(), nodes
}

// TestAgainstRealDaemons: the client and the snapshot against our own
// nsqlookupd and two nsqd.
func TestAgainstRealDaemons(t *testing.T) {
	lookupdAddr, nodes := realCluster(t)
	a, b := nodes[0].HTTPAddr().String(), nodes[1].HTTPAddr().String()
	c := lookup.NewClient(lookup.Options{RequestTimeout: 5 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// admin actions on both nodes, publishing over HTTP
	for _, addr := range []string{a, b} {
		if err := c.CreateTopic(ctx, addr, "orders"); err != nil {
			t.Fatal(err)
		}
		if err := c.CreateChannel(ctx, addr, "orders", "billing"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		if err := c.Publish(ctx, a, "orders", []byte("a"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MultiPublish(ctx, b, "orders", [][]byte{[]byte("b1"), []byte("b2"), []byte("b3")}); err != nil {
		t.Fatal(err)
	}
	if err := c.PauseChannel(ctx, b, "orders", "billing"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(ctx, b, "clicks"); err != nil {
		t.Fatal(err)
	}

	testutil.Eventually(t, 10*time.Second, "both nodes registered for orders", func() bool {
		r, err := c.LookupAll(ctx, []string{lookupdAddr}, "orders")
		return err == nil && len(r.Producers) == 2 && len(r.Channels) == 1 && r.Channels[0] == "billing"
	})
	topics, err := c.TopicsAll(ctx, []string{lookupdAddr})
	if err != nil || len(topics.Topics) != 2 {
		t.Fatalf("topics: %v %+v", err, topics)
	}
	nodesRes, err := c.NodesAll(ctx, []string{lookupdAddr})
	if err != nil || len(nodesRes.Nodes) != 2 {
		t.Fatalf("nodes: %v %+v", err, nodesRes)
	}

	snap, err := c.Snapshot(ctx, lookup.SnapshotRequest{LookupdHTTPAddrs: []string{lookupdAddr}, IncludeClients: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.NodeErrors) != 0 || snap.Totals.Nodes != 2 {
		t.Fatalf("snapshot nodes: %+v errors %v", snap.Totals, snap.NodeErrors)
	}
	orders := snap.Topic("orders")
	if orders == nil || orders.MessageCount != 13 || orders.ChannelDepth != 13 || len(orders.Nodes) != 2 {
		t.Fatalf("orders = %+v", orders)
	}
	billing := orders.Channel("billing")
	if billing == nil || billing.Depth != 13 || !billing.Paused {
		t.Fatalf("billing = %+v", billing)
	}
	if ck := snap.Topic("clicks"); ck == nil || len(ck.Nodes) != 1 {
		t.Fatalf("clicks = %+v", ck)
	}

	// tombstone b for orders: lookup shows only a
	if err := c.TombstoneTopicProducer(ctx, lookupdAddr, "orders", b); err != nil {
		t.Fatal(err)
	}
	r, err := c.Lookup(ctx, lookupdAddr, "orders")
	if err != nil || len(r.Producers) != 1 || r.Producers[0].HTTPAddress() != a {
		t.Fatalf("after tombstone: %v %+v", err, r)
	}
	// deleting the topic everywhere
	for _, addr := range []string{a, b} {
		if err := c.DeleteTopic(ctx, addr, "orders"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Stats(ctx, a, lookup.StatsQuery{Topic: "orders"}); err != nil {
		t.Fatal(err)
	}
	if err := c.EmptyTopic(ctx, a, "orders"); !errors.Is(err, lookup.ErrTopicNotFound) {
		t.Fatalf("empty deleted topic: %v", err)
	}
}
