package lookup

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/version"
)

func identity(r route) route { return r }

// formats are the two shapes every fixture test runs in: as captured (v1,
// with the X-NSQ-Content-Type header) and wrapped in the legacy envelope
// without the header.
var formats = []struct {
	name string
	wrap func(route) route
}{
	{"v1", identity},
	{"legacy", legacy},
}

func lookupdServer(t testing.TB, wrap func(route) route) *fakeServer {
	t.Helper()
	return newFakeServer(t).
		handle("/lookup?topic=orders", wrap(fixture(t, "lookupd.lookup-orders.json"))).
		handle("/lookup?topic=nosuch", wrap(fixture(t, "lookupd.lookup-missing.json"))).
		handle("/topics", wrap(fixture(t, "lookupd.topics.json"))).
		handle("/channels?topic=orders", wrap(fixture(t, "lookupd.channels-orders.json"))).
		handle("/nodes", wrap(fixture(t, "lookupd.nodes.json"))).
		handle("/info", wrap(fixture(t, "lookupd.info.json"))).
		handle("/ping", fixture(t, "lookupd.ping.txt"))
}

const (
	allStats  = "/stats?format=json&include_clients=true&include_mem=true"
	noClients = "/stats?format=json&include_clients=false&include_mem=true"
	noMem     = "/stats?format=json&include_clients=true&include_mem=false"
)

func nsqdAServer(t testing.TB, wrap func(route) route) *fakeServer {
	t.Helper()
	return newFakeServer(t).
		handle(allStats, wrap(fixture(t, "nsqd-a.stats.json"))).
		handle(noClients, wrap(fixture(t, "nsqd-a.stats.no-clients.json"))).
		handle(noMem, wrap(fixture(t, "nsqd-a.stats.no-mem.json"))).
		handle(allStats+"&topic=orders&channel=billing", wrap(fixture(t, "nsqd-a.stats.topic-orders-channel-billing.json"))).
		handle(allStats+"&topic=nosuch", wrap(fixture(t, "nsqd-a.stats.topic-missing.json"))).
		handle("/info", wrap(fixture(t, "nsqd-a.info.json"))).
		handle("/ping", fixture(t, "nsqd-a.ping.txt"))
}

func nsqdBServer(t testing.TB, wrap func(route) route) *fakeServer {
	t.Helper()
	return newFakeServer(t).
		handle("/stats", wrap(fixture(t, "nsqd-b.stats.json"))).
		handle(allStats+"&topic=clicks&channel=analytics", wrap(fixture(t, "nsqd-b.stats.topic-clicks-channel-analytics.json"))).
		handle("/info", wrap(fixture(t, "nsqd-b.info.json")))
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "127.0.0.1:4161", want: "http://127.0.0.1:4161"},
		{in: " 127.0.0.1:4161 ", want: "http://127.0.0.1:4161"},
		{in: ":4161", want: "http://127.0.0.1:4161"},
		{in: "[::1]:4161", want: "http://[::1]:4161"},
		{in: "http://h:4161", want: "http://h:4161"},
		{in: "http://h:4161/", want: "http://h:4161"},
		{in: "https://h:4152/prefix/", want: "https://h:4152/prefix"},
		{in: "http://h", want: "http://h"},
		{in: "http://h:4161/lookup?topic=x", want: "http://h:4161/lookup"},
		{in: "h", bad: true},
		{in: "h:", bad: true},
		{in: "h:abc", bad: true},
		{in: "h:4161/x", bad: true},
		{in: "", bad: true},
		{in: "ftp://h:21", bad: true},
		{in: "http://", bad: true},
	} {
		u, err := ParseAddr(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseAddr(%q) = %v, want error", tc.in, u)
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("ParseAddr(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
		}
	}
	if got := dedupAddrs([]string{"127.0.0.1:1", "http://127.0.0.1:1/", "https://127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1"}); !slices.Equal(got, []string{"127.0.0.1:1", "https://127.0.0.1:1", "127.0.0.1:2"}) {
		t.Errorf("dedupAddrs = %q", got)
	}
}

func TestLookupdFixtures(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			srv := lookupdServer(t, f.wrap)
			c := newClient(t, Options{})
			ctx := t.Context()
			for _, addr := range []string{srv.Addr(), srv.URL, srv.URL + "/"} {
				r, err := c.Lookup(ctx, addr, "orders")
				if err != nil {
					t.Fatal(err)
				}
				if got := sortedUnique(slices.Clone(r.Channels)); !slices.Equal(got, []string{"archive", "audit", "billing", "tail#ephemeral"}) {
					t.Errorf("channels %q", got)
				}
				want := []Producer{
					{RemoteAddress: "127.0.0.1:49840", Hostname: "vm", BroadcastAddress: "127.0.0.1", TCPPort: 4150, HTTPPort: 4151, Version: "1.3.0"},
					{RemoteAddress: "127.0.0.1:49846", Hostname: "vm", BroadcastAddress: "127.0.0.1", TCPPort: 4250, HTTPPort: 4251, Version: "1.3.0"},
				}
				if !slices.Equal(r.Producers, want) {
					t.Errorf("producers %+v", r.Producers)
				}
				if r.Producers[1].TCPAddress() != "127.0.0.1:4250" || r.Producers[1].HTTPAddress() != "127.0.0.1:4251" {
					t.Errorf("addresses %s %s", r.Producers[1].TCPAddress(), r.Producers[1].HTTPAddress())
				}
			}

			_, err := c.Lookup(ctx, srv.Addr(), "nosuch")
			var he *HTTPError
			if !errors.Is(err, ErrTopicNotFound) || !errors.As(err, &he) || he.Status != 404 || he.Message != "TOPIC_NOT_FOUND" || he.Addr != srv.Addr() {
				t.Errorf("lookup nosuch: %#v", err)
			}
			if errors.Is(err, ErrChannelNotFound) {
				t.Error("TOPIC_NOT_FOUND matches ErrChannelNotFound")
			}

			topics, err := c.Topics(ctx, srv.Addr())
			if err != nil || !slices.Equal(sortedUnique(topics), []string{"clicks", "events#ephemeral", "orders", "paused_topic"}) {
				t.Errorf("topics %q %v", topics, err)
			}
			chans, err := c.Channels(ctx, srv.Addr(), "orders")
			if err != nil || !slices.Equal(sortedUnique(chans), []string{"archive", "audit", "billing", "tail#ephemeral"}) {
				t.Errorf("channels %q %v", chans, err)
			}
			nodes, err := c.Nodes(ctx, srv.Addr())
			if err != nil || len(nodes) != 2 {
				t.Fatalf("nodes %+v %v", nodes, err)
			}
			a := nodes[0]
			if a.HTTPAddress() != "127.0.0.1:4151" || a.TCPPort != 4150 || a.Hostname != "vm" || a.Version != "1.3.0" ||
				!slices.Equal(a.Topics, []string{"events#ephemeral", "orders", "paused_topic"}) || !slices.Equal(a.Tombstones, []bool{false, false, false}) {
				t.Errorf("node A %+v", a)
			}
			if a.Tombstoned("orders") {
				t.Error("A tombstoned for orders")
			}
			info, err := c.Info(ctx, srv.Addr())
			if err != nil || info.Version != "1.3.0" {
				t.Errorf("info %+v %v", info, err)
			}
			if err := c.Ping(ctx, srv.Addr()); err != nil {
				t.Errorf("ping: %v", err)
			}
		})
	}
}

func TestNSQDFixtures(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			a := nsqdAServer(t, f.wrap)
			b := nsqdBServer(t, f.wrap)
			c := newClient(t, Options{})
			ctx := t.Context()

			st, err := c.Stats(ctx, a.Addr(), StatsQuery{IncludeClients: true, IncludeMem: true})
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != "1.3.0" || st.Health != "OK" || st.StartTime != 1795422048 || st.Memory == nil || st.Memory.NextGCBytes != 4194304 {
				t.Errorf("top level %+v", st)
			}
			if names := topicNames(st); !slices.Equal(names, []string{"events#ephemeral", "orders", "paused_topic"}) {
				t.Fatalf("topics %q", names)
			}
			orders := st.Topics[1]
			if orders.MessageCount != 49 || orders.MessageBytes != 372 || orders.Depth != 0 || len(orders.Channels) != 3 {
				t.Errorf("orders %+v", orders)
			}
			billing := orders.Channels[2]
			if billing.ChannelName != "billing" || billing.Depth != 32 || billing.InFlightCount != 10 || billing.DeferredCount != 1 ||
				billing.MessageCount != 49 || billing.RequeueCount != 1 || billing.ClientCount != 1 || len(billing.Clients) != 1 {
				t.Errorf("billing %+v", billing)
			}
			cl := billing.Clients[0]
			if cl.ClientID != "fixture-consumer" || cl.ReadyCount != 10 || cl.FinishCount != 6 || cl.UserAgent != "fixture/1.0" || cl.State != 3 {
				t.Errorf("billing client %+v", cl)
			}
			lat := billing.E2eProcessingLatency
			if lat.Count != 6 || len(lat.Percentiles) != 2 || lat.Percentiles[0] != (Percentile{Quantile: 0.99, Value: 974154301}) {
				t.Errorf("e2e %+v", lat)
			}
			if !orders.Channels[1].Paused || orders.Channels[0].Paused || !st.Topics[2].Paused || st.Topics[2].Depth != 3 {
				t.Error("paused flags")
			}
			if st.Topics[2].E2eProcessingLatency.Percentiles != nil || len(st.Topics[2].Channels) != 0 {
				t.Errorf("paused_topic %+v", st.Topics[2])
			}
			if len(st.Producers) != 1 || st.Producers[0].ClientID != "fixture-producer" || st.Producers[0].PublishedCount() != 9 ||
				st.Producers[0].PubCounts[0].Topic != "orders" {
				t.Errorf("producers %+v", st.Producers)
			}

			st, err = c.Stats(ctx, a.Addr(), StatsQuery{IncludeMem: true})
			if err != nil {
				t.Fatal(err)
			}
			if st.Producers != nil || st.Topics[1].Channels[2].Clients != nil || st.Topics[1].Channels[2].ClientCount != 1 {
				t.Errorf("no-clients: producers %+v, billing %+v", st.Producers, st.Topics[1].Channels[2])
			}

			st, err = c.Stats(ctx, a.Addr(), StatsQuery{IncludeClients: true})
			if err != nil || st.Memory != nil || len(st.Topics) != 3 {
				t.Errorf("no-mem: %+v %v", st, err)
			}

			st, err = c.Stats(ctx, a.URL, StatsQuery{Topic: "orders", Channel: "billing", IncludeClients: true, IncludeMem: true})
			if err != nil || len(st.Topics) != 1 || len(st.Topics[0].Channels) != 1 || st.Topics[0].Channels[0].ChannelName != "billing" {
				t.Errorf("orders/billing: %+v %v", st, err)
			}

			st, err = c.Stats(ctx, a.Addr(), StatsQuery{Topic: "nosuch", IncludeClients: true, IncludeMem: true})
			if err != nil || st.Topics != nil || st.Producers != nil || st.Memory == nil {
				t.Errorf("topic-missing: %+v %v", st, err)
			}

			st, err = c.Stats(ctx, b.Addr(), StatsQuery{Topic: "clicks", Channel: "analytics", IncludeClients: true, IncludeMem: true})
			if err != nil || len(st.Topics) != 1 {
				t.Fatalf("clicks/analytics: %+v %v", st, err)
			}
			an := st.Topics[0].Channels[0]
			if an.ChannelName != "analytics" || an.Depth != 96 || an.BackendDepth != 87 || an.DeferredCount != 5 || an.InFlightCount != 3 || an.MessageCount != 105 {
				t.Errorf("analytics %+v", an)
			}

			info, err := c.NodeInfo(ctx, a.Addr())
			if err != nil {
				t.Fatal(err)
			}
			want := NodeInfo{Version: "1.3.0", BroadcastAddress: "127.0.0.1", Hostname: "vm", HTTPPort: 4151, TCPPort: 4150, StartTime: 1795422048,
				MaxHeartbeatInterval: time.Minute, MaxOutputBufferSize: 65536, MaxOutputBufferTimeout: 30 * time.Second, MaxDeflateLevel: 6}
			if *info != want {
				t.Errorf("info %+v", info)
			}
			if err := c.Ping(ctx, a.Addr()); err != nil {
				t.Error(err)
			}

			// What the client sent.
			for _, r := range a.requests() {
				if r.Method != http.MethodGet || r.Header.Get("Accept") != AcceptHeader || r.Header.Get("User-Agent") != "nsqkit/"+version.Nsqkit {
					t.Errorf("request %s %s headers %v", r.Method, r.Path, r.Header)
				}
				if r.Path == "/stats" && r.Query.Get("format") != "json" {
					t.Errorf("stats query %v", r.Query)
				}
			}
		})
	}
}

func topicNames(st *NodeStats) []string {
	var out []string
	for _, t := range st.Topics {
		out = append(out, t.TopicName)
	}
	return out
}

// A v1 body whose header a proxy dropped is still read directly.
func TestV1BodyWithoutHeader(t *testing.T) {
	r := fixture(t, "lookupd.lookup-orders.json")
	r.header.Del("X-Nsq-Content-Type")
	srv := newFakeServer(t).handle("/lookup", r)
	c := newClient(t, Options{})
	lr, err := c.Lookup(t.Context(), srv.Addr(), "orders")
	if err != nil || len(lr.Producers) != 2 || len(lr.Channels) != 4 {
		t.Fatalf("%+v %v", lr, err)
	}
}

func TestHTTPErrors(t *testing.T) {
	srv := newFakeServer(t).
		handle("/topic/delete", v1Route(404, `{"message":"TOPIC_NOT_FOUND"}`)).
		handle("/channel/delete", v1Route(404, `{"message":"CHANNEL_NOT_FOUND"}`)).
		handle("/ping", route{status: 500, body: []byte("NOK - disk write failed")}).
		handle("/info", route{status: 200, header: http.Header{"Content-Type": {"application/json"}},
			body: []byte(`{"status_code":500,"status_txt":"INTERNAL_ERROR","data":null}`)}).
		handle("/topic/pause", route{status: 404, body: []byte(`{"status_code":404,"status_txt":"TOPIC_NOT_FOUND","data":null}`)}).
		handle("/stats", v1Route(200, `{"topics":[{"topic_name":1}]}`)).
		handle("/topic/empty", route{status: 502, body: nil})
	c := newClient(t, Options{})
	ctx := t.Context()
	addr := srv.Addr()

	check := func(name string, err error, status int, msg string, target error) {
		t.Helper()
		var he *HTTPError
		if !errors.As(err, &he) {
			t.Errorf("%s: %v is not an *HTTPError", name, err)
			return
		}
		if he.Status != status || he.Message != msg || he.Addr != addr {
			t.Errorf("%s: %+v", name, he)
		}
		if target != nil && !errors.Is(err, target) {
			t.Errorf("%s: %v is not %v", name, err, target)
		}
		if !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: %q lacks the address", name, err)
		}
	}
	check("delete topic", c.DeleteTopic(ctx, addr, "nosuch"), 404, "TOPIC_NOT_FOUND", ErrTopicNotFound)
	check("delete channel", c.DeleteChannel(ctx, addr, "orders", "nosuch"), 404, "CHANNEL_NOT_FOUND", ErrChannelNotFound)
	check("ping", c.Ping(ctx, addr), 500, "NOK - disk write failed", nil)
	_, err := c.Info(ctx, addr)
	check("legacy 200 with status_code 500", err, 500, "INTERNAL_ERROR", nil)
	check("legacy 404", c.PauseTopic(ctx, addr, "nosuch"), 404, "TOPIC_NOT_FOUND", ErrTopicNotFound)
	check("empty 502", c.EmptyTopic(ctx, addr, "x"), 502, "Bad Gateway", nil)
	if err := c.UnpauseTopic(ctx, srv.URL+"/nope", "x"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), srv.URL+"/nope/topic/unpause") {
		t.Errorf("unknown path: %v", err)
	}

	_, err = c.Stats(ctx, addr, StatsQuery{})
	var he *HTTPError
	if err == nil || errors.As(err, &he) || !strings.Contains(err.Error(), addr) {
		t.Errorf("bad JSON: %v", err)
	}
	if _, err := c.Stats(ctx, "nohostport", StatsQuery{}); err == nil || !strings.Contains(err.Error(), "nohostport") {
		t.Errorf("bad address: %v", err)
	}
}

func TestNetworkError(t *testing.T) {
	c := newClient(t, Options{ConnectTimeout: time.Second})
	dead := deadAddr(t)
	_, err := c.Nodes(t.Context(), dead)
	var he *HTTPError
	if err == nil || errors.As(err, &he) || !strings.Contains(err.Error(), dead) {
		t.Fatalf("%v", err)
	}
	if strings.Contains(err.Error(), `Get "`) { // the *url.Error text is not repeated
		t.Errorf("message %q", err)
	}
}

func TestTimeouts(t *testing.T) {
	srv := hangingServer(t)
	addr := srv.Listener.Addr().String()

	t.Run("request timeout", func(t *testing.T) {
		c := newClient(t, Options{RequestTimeout: 150 * time.Millisecond})
		start := time.Now()
		_, err := c.Stats(t.Context(), addr, StatsQuery{})
		within(t, time.Since(start), 3*time.Second)
		if err == nil || !IsTimeout(err) || !strings.Contains(err.Error(), addr) {
			t.Fatalf("err %v (timeout %v)", err, IsTimeout(err))
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		c := newClient(t, Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := c.Ping(ctx, addr)
		within(t, time.Since(start), 3*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) || !IsTimeout(err) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := newClient(t, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		err := c.Ping(ctx, addr)
		if !errors.Is(err, context.Canceled) || IsTimeout(err) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestAdminActions(t *testing.T) {
	srv := newFakeServer(t)
	ok := v1Route(200, "")
	for _, p := range []string{"/topic/create", "/topic/delete", "/topic/empty", "/topic/pause", "/topic/unpause",
		"/channel/create", "/channel/delete", "/channel/empty", "/channel/pause", "/channel/unpause", "/topic/tombstone"} {
		srv.handle(p, ok)
	}
	srv.handle("/pub", v1Route(200, "OK")).handle("/mpub", v1Route(200, "OK"))
	c := newClient(t, Options{})
	ctx := t.Context()
	a := srv.URL // full URL form

	type want struct {
		path  string
		query string
	}
	for _, tc := range []struct {
		call func() error
		want want
	}{
		{func() error { return c.CreateTopic(ctx, a, "orders") }, want{"/topic/create", "topic=orders"}},
		{func() error { return c.DeleteTopic(ctx, a, "orders") }, want{"/topic/delete", "topic=orders"}},
		{func() error { return c.EmptyTopic(ctx, a, "orders") }, want{"/topic/empty", "topic=orders"}},
		{func() error { return c.PauseTopic(ctx, a, "orders") }, want{"/topic/pause", "topic=orders"}},
		{func() error { return c.UnpauseTopic(ctx, a, "orders") }, want{"/topic/unpause", "topic=orders"}},
		{func() error { return c.CreateChannel(ctx, a, "orders", "billing") }, want{"/channel/create", "channel=billing&topic=orders"}},
		{func() error { return c.DeleteChannel(ctx, a, "orders", "billing") }, want{"/channel/delete", "channel=billing&topic=orders"}},
		{func() error { return c.EmptyChannel(ctx, a, "orders", "billing") }, want{"/channel/empty", "channel=billing&topic=orders"}},
		{func() error { return c.PauseChannel(ctx, a, "orders", "tail#ephemeral") }, want{"/channel/pause", "channel=tail%23ephemeral&topic=orders"}},
		{func() error { return c.UnpauseChannel(ctx, a, "orders", "billing") }, want{"/channel/unpause", "channel=billing&topic=orders"}},
		{func() error { return c.TombstoneTopicProducer(ctx, a, "orders", "127.0.0.1:4151") }, want{"/topic/tombstone", "node=127.0.0.1%3A4151&topic=orders"}},
		{func() error { return c.Publish(ctx, a, "events#ephemeral", []byte("hello")) }, want{"/pub", "topic=events%23ephemeral"}},
		{func() error { return c.DeferredPublish(ctx, a, "orders", []byte("later"), 1500*time.Millisecond) }, want{"/pub", "defer=1500&topic=orders"}},
		{func() error { return c.MultiPublish(ctx, a, "orders", [][]byte{[]byte("a\nb"), []byte("c")}) }, want{"/mpub", "binary=true&topic=orders"}},
	} {
		before := len(srv.requests())
		if err := tc.call(); err != nil {
			t.Errorf("%s: %v", tc.want.path, err)
			continue
		}
		reqs := srv.requests()
		if len(reqs) != before+1 {
			t.Fatalf("%s: %d requests", tc.want.path, len(reqs)-before)
		}
		r := reqs[before]
		if r.Method != http.MethodPost || r.Path != tc.want.path || r.Query.Encode() != tc.want.query {
			t.Errorf("sent %s %s?%s, want POST %s?%s", r.Method, r.Path, r.Query.Encode(), tc.want.path, tc.want.query)
		}
		if r.Header.Get("Accept") != AcceptHeader {
			t.Errorf("%s: Accept %q", r.Path, r.Header.Get("Accept"))
		}
		switch r.Path {
		case "/pub":
			if b := string(r.Body); b != "hello" && b != "later" {
				t.Errorf("pub body %q", b)
			}
		case "/mpub":
			if want := "\x00\x00\x00\x02\x00\x00\x00\x03a\nb\x00\x00\x00\x01c"; string(r.Body) != want {
				t.Errorf("mpub body %q", r.Body)
			}
		default:
			if len(r.Body) != 0 {
				t.Errorf("%s: body %q", r.Path, r.Body)
			}
		}
	}
	if err := c.DeferredPublish(ctx, a, "orders", []byte("x"), -time.Second); err == nil {
		t.Error("negative defer accepted")
	}
}

func TestMultiErrorIs(t *testing.T) {
	m := &MultiError{Errors: []*AddrError{
		{Addr: "a:1", Err: errors.New("boom")},
		{Addr: "b:2", Err: &HTTPError{Addr: "b:2", Method: "GET", Path: "/lookup", Status: 404, Message: "TOPIC_NOT_FOUND"}},
	}}
	if !errors.Is(m, ErrTopicNotFound) {
		t.Error("errors.Is through MultiError")
	}
	var he *HTTPError
	if !errors.As(m, &he) || he.Addr != "b:2" {
		t.Error("errors.As through MultiError")
	}
	if s := m.Error(); !strings.Contains(s, "a:1: boom") || strings.Count(s, "b:2") != 1 {
		t.Errorf("message %q", s)
	}
	if (&Partial{}).Err() != nil {
		t.Error("empty Partial has an error")
	}
}
