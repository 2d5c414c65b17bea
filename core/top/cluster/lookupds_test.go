package cluster_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
	"github.com/nsqkit/nsqkit/core/top/cluster/clustertest"
)

func TestPollLookupds(t *testing.T) {
	h := newHarness(t, viaLookupd)
	ctx := context.Background()
	client := lookup.NewClient(lookup.Options{})
	defer client.Close()
	// A topic created on the lookupd only, with a channel; B tombstoned
	// for orders.
	if err := client.CreateChannel(ctx, h.c.Lookupd, "planned", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := client.TombstoneTopicProducer(ctx, h.c.Lookupd, "orders", h.c.NSQDB); err != nil {
		t.Fatal(err)
	}

	lds := h.p.PollLookupds(ctx)
	if len(lds) != 1 || lds[0].Addr != h.c.Lookupd || lds[0].Err != "" {
		t.Fatalf("lookupds %+v", lds)
	}
	ld := lds[0]
	var got []string
	for _, tp := range ld.Topics {
		got = append(got, fmt.Sprintf("%s %v %v", tp.Name, tp.Channels, tp.Producers))
	}
	A, B := h.c.NSQDA, h.c.NSQDB
	want := []string{
		"clicks [analytics] [" + B + "]",
		"events#ephemeral [live#ephemeral] [" + A + "]",
		"orders [archive audit billing tail#ephemeral] [" + A + "]", // B tombstoned
		"paused_topic [] [" + A + "]",
		"planned [c1] []",
	}
	if !slices.Equal(got, want) {
		t.Errorf("topics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ld.Producers) != 2 || ld.Producers[0].HTTPAddress() != A || ld.Producers[1].HTTPAddress() != B {
		t.Fatalf("producers %+v", ld.Producers)
	}
	if b := ld.Producers[1]; !slices.Equal(b.Topics, []string{"clicks", "orders"}) || !slices.Equal(b.Tombstones, []bool{false, true}) {
		t.Errorf("B: topics %v tombstones %v", b.Topics, b.Tombstones)
	}
	for _, tp := range ld.Topics {
		if tp.Channels == nil || tp.Producers == nil {
			t.Errorf("%s: nil lists", tp.Name)
		}
	}

	// A failing lookupd: its error, nothing else.
	h.c.SetDown(h.c.Lookupd, true)
	lds = h.p.PollLookupds(ctx)
	if len(lds) != 1 || !strings.Contains(lds[0].Err, "connection refused") || len(lds[0].Topics) != 0 {
		t.Fatalf("down lookupd: %+v", lds)
	}
}

func TestPollLookupdsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	h := newHarness(t, func(c *clustertest.Cluster) cluster.Source {
		return cluster.Source{LookupdHTTPAddrs: []string{c.Lookupd, dead}}
	}, func(o *cluster.Options) { o.Timeout = 300 * time.Millisecond })
	h.c.SetDelay(h.c.Lookupd, time.Hour)
	lds := h.p.PollLookupds(context.Background())
	if len(lds) != 2 || lds[0].Addr != h.c.Lookupd || lds[1].Addr != dead {
		t.Fatalf("lookupds %+v", lds)
	}
	if !strings.Contains(lds[0].Err, "timeout") || !strings.Contains(lds[1].Err, "connection refused") {
		t.Fatalf("errors %q, %q", lds[0].Err, lds[1].Err)
	}
}
