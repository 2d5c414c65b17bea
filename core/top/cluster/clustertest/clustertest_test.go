package clustertest

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

func newClient(t *testing.T) *lookup.Client {
	c := lookup.NewClient(lookup.Options{})
	t.Cleanup(c.Close)
	return c
}

func TestServesTheCapture(t *testing.T) {
	c := Start(t)
	client := newClient(t)
	ctx := context.Background()
	for addr, file := range map[string]string{c.NSQDA: "nsqd-a.stats.json", c.NSQDB: "nsqd-b.stats.json"} {
		got, err := client.Stats(ctx, addr, lookup.StatsQuery{IncludeClients: true, IncludeMem: true})
		if err != nil {
			t.Fatal(err)
		}
		var want lookup.NodeStats
		if err := json.Unmarshal(mustRead(t, file), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: served stats differ from %s", addr, file)
		}
	}
	if !(c.Lookupd < c.NSQDA && c.NSQDA < c.NSQDB) {
		t.Errorf("addresses not in order: %s %s %s", c.Lookupd, c.NSQDA, c.NSQDB)
	}
	nodes, err := client.Nodes(ctx, c.Lookupd)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("nodes %v %v", err, nodes)
	}
	if nodes[0].HTTPAddress() != c.NSQDA || nodes[1].HTTPAddress() != c.NSQDB || nodes[0].Hostname != "vm" ||
		!slices.Equal(nodes[0].Topics, []string{"events#ephemeral", "orders", "paused_topic"}) ||
		!slices.Equal(nodes[1].Tombstones, []bool{false, false}) {
		t.Errorf("nodes %+v", nodes)
	}
	topics, err := client.Topics(ctx, c.Lookupd)
	if err != nil || !slices.Equal(topics, []string{"clicks", "events#ephemeral", "orders", "paused_topic"}) {
		t.Errorf("topics %v %v", topics, err)
	}
	chans, err := client.Channels(ctx, c.Lookupd, "orders")
	if err != nil || !slices.Equal(chans, []string{"archive", "audit", "billing", "tail#ephemeral"}) {
		t.Errorf("channels %v %v", chans, err)
	}
	if _, err := client.Lookup(ctx, c.Lookupd, "nosuch"); !strings.Contains(err.Error(), "TOPIC_NOT_FOUND") {
		t.Errorf("lookup nosuch: %v", err)
	}
	info, err := client.NodeInfo(ctx, c.NSQDB)
	if err != nil || info.HTTPPort != httpPort(c.NSQDB) || info.Version != "1.3.0" || info.StartTime != StartTime {
		t.Errorf("info %+v %v", info, err)
	}
}

func TestStatsFilters(t *testing.T) {
	c := Start(t)
	client := newClient(t)
	ctx := context.Background()
	s, err := client.Stats(ctx, c.NSQDA, lookup.StatsQuery{})
	if err != nil || s.Memory != nil || s.Producers != nil || s.Topics[1].Channels[2].Clients != nil {
		t.Fatalf("no clients, no mem: %v %+v", err, s)
	}
	s, _ = client.Stats(ctx, c.NSQDA, lookup.StatsQuery{Topic: "orders", Channel: "billing", IncludeClients: true})
	if len(s.Topics) != 1 || len(s.Topics[0].Channels) != 1 || len(s.Topics[0].Channels[0].Clients) != 1 {
		t.Fatalf("topic+channel filter: %+v", s.Topics)
	}
	s, _ = client.Stats(ctx, c.NSQDA, lookup.StatsQuery{Topic: "nosuch"})
	if s.Topics != nil {
		t.Fatalf("unknown topic: %+v", s.Topics)
	}
}

func TestTrafficRestartAndAdmin(t *testing.T) {
	c := Start(t)
	c.SetTraffic(Traffic{Published: 10, Consumed: 4, Requeued: 1, TimedOut: 2})
	c.SetChannelTraffic("orders", "archive", Traffic{Consumed: 100})
	c.SetTopicTraffic("clicks", Traffic{Published: 1})
	c.Advance(2)
	a := c.Stats(c.NSQDA)
	orders := a.Topics[1]
	if orders.MessageCount != 49+20 || orders.Channels[0].Depth != 0 || orders.Channels[1].Depth != 48+20 ||
		orders.Channels[2].Depth != 32+12 || orders.Channels[2].RequeueCount != 3 || orders.Channels[2].TimeoutCount != 4 ||
		orders.Channels[2].Clients[0].FinishCount != 6+8 {
		t.Errorf("orders after 2 steps: %+v", orders)
	}
	if pt := a.Topics[2]; pt.Depth != 3+20 || pt.MessageCount != 23 {
		t.Errorf("paused_topic keeps its messages: %+v", pt)
	}
	if cl := c.Stats(c.NSQDB).Topics[0]; cl.MessageCount != 107 || cl.Channels[0].Depth != 96+2 {
		t.Errorf("clicks: %+v", cl)
	}
	c.Restart(c.NSQDA)
	if a := c.Stats(c.NSQDA); a.StartTime != StartTime+1 || a.Topics[1].MessageCount != 49 {
		t.Errorf("restart: %d %d", a.StartTime, a.Topics[1].MessageCount)
	}

	client := newClient(t)
	ctx := context.Background()
	if err := client.PauseTopic(ctx, c.NSQDB, "clicks"); err != nil {
		t.Fatal(err)
	}
	if err := client.DeleteChannel(ctx, c.NSQDB, "orders", "nosuch"); err == nil || !strings.Contains(err.Error(), "CHANNEL_NOT_FOUND") {
		t.Fatalf("delete nosuch: %v", err)
	}
	if err := client.DeleteTopic(ctx, c.NSQDA, "paused_topic"); err != nil {
		t.Fatal(err)
	}
	if !c.Stats(c.NSQDB).Topics[0].Paused || slices.Contains(c.Topics(c.NSQDA), "paused_topic") {
		t.Errorf("admin calls not applied")
	}
	want := []string{
		"POST " + c.NSQDB + "/topic/pause?topic=clicks",
		"POST " + c.NSQDB + "/channel/delete?channel=nosuch&topic=orders",
		"POST " + c.NSQDA + "/topic/delete?topic=paused_topic",
	}
	if got := c.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q", got)
	}
	if r, _ := client.Lookup(ctx, c.Lookupd, "paused_topic"); r != nil {
		t.Errorf("lookupd still lists deleted paused_topic: %+v", r)
	}
}

func TestDownDelayListed(t *testing.T) {
	c := Start(t)
	client := newClient(t)
	ctx := context.Background()
	c.SetDown(c.NSQDA, true)
	if err := client.Ping(ctx, c.NSQDA); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("down A: %v", err)
	}
	c.SetDown(c.NSQDA, false)
	if err := client.Ping(ctx, c.NSQDA); err != nil {
		t.Fatalf("A back: %v", err)
	}
	c.SetDelay(c.NSQDB, time.Hour)
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := client.Ping(tctx, c.NSQDB); !lookup.IsTimeout(err) {
		t.Fatalf("slow B: %v", err)
	}
	c.SetDelay(c.NSQDB, 0)
	c.SetListed(c.NSQDB, false)
	nodes, _ := client.Nodes(ctx, c.Lookupd)
	if len(nodes) != 1 || nodes[0].HTTPAddress() != c.NSQDA {
		t.Fatalf("unlisted B: %+v", nodes)
	}
	if got := c.Normalize("a " + c.NSQDA + " b " + c.NSQDB + " l " + c.Lookupd); got != "a "+StableNSQDA+" b "+StableNSQDB+" l "+StableLookupd {
		t.Errorf("Normalize: %q", got)
	}
}
