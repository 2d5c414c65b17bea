package nsqlookupd

import (
	"cmp"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/version"
)

// ---- errors.md ----

type errorRow struct {
	method, path string
	code         int
	body         string
}

// lookupdErrorRows parses the lookupd rows of testdata/errors.md, e.g.
// "| `lookupd GET /lookup (no topic)` | 400 | `{...}` |".
func lookupdErrorRows(t testing.TB) []errorRow {
	var rows []errorRow
	re := regexp.MustCompile("^\\| `lookupd (\\S+) (\\S+)[^`]*` \\| (\\d+) \\| `(.*)` \\|$")
	for _, line := range strings.Split(string(readTestdata(t, "errors.md")), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var code int
		fmt.Sscan(m[3], &code)
		rows = append(rows, errorRow{m[1], m[2], code, m[4]})
	}
	return rows
}

func TestHTTPErrorsFixture(t *testing.T) {
	l := startLookupd(t, testOptions())
	p := fakeNSQD(t, l, 4150, 4151)
	p.cmd("REGISTER orders billing", "OK")
	rows := lookupdErrorRows(t)
	if len(rows) != 10 {
		t.Fatalf("%d lookupd rows in errors.md", len(rows))
	}
	for _, row := range rows {
		r := hDo(t, l, row.method, row.path)
		r.expectV1(t, row.method+" "+row.path, row.code, row.body)
		if row.code == 405 {
			if got := r.hdr.Get("Allow"); got != "OPTIONS, POST" {
				t.Fatalf("%s %s: Allow %q", row.method, row.path, got)
			}
		}
	}
	// the headers of the captured error
	r := hGet(t, l, "/lookup?topic=nosuch")
	sameHeadersAsFixture(t, r, "lookupd.lookup-missing.json")
	if r.body != string(readTestdata(t, "lookupd.lookup-missing.json")) {
		t.Fatalf("lookup missing: %q", r.body)
	}
}

// TestHTTPParamErrors covers the rest of http-api.md §3's errors.
func TestHTTPParamErrors(t *testing.T) {
	l := startLookupd(t, testOptions())
	for _, tc := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/lookup?topic=%zz", 400, "INVALID_REQUEST"},
		{"GET", "/lookup?topic=", 404, "TOPIC_NOT_FOUND"},
		{"GET", "/lookup?Topic=t", 400, "MISSING_ARG_TOPIC"},
		{"GET", "/channels?topic=%zz", 400, "INVALID_REQUEST"},
		{"POST", "/topic/create", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/topic/create?topic=%", 400, "INVALID_REQUEST"},
		{"POST", "/topic/create?topic=", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/topic/delete", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/topic/delete?topic=%zz", 400, "INVALID_REQUEST"},
		{"POST", "/topic/tombstone?node=a:1", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/topic/tombstone?topic=t&node=a:1&x=%zz", 400, "INVALID_REQUEST"},
		{"POST", "/channel/create", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/channel/create?topic=bad!t&channel=c", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/channel/create?topic=t&channel=bad!c", 400, "INVALID_ARG_CHANNEL"},
		{"POST", "/channel/create?topic=t&channel=", 400, "INVALID_ARG_CHANNEL"},
		{"POST", "/channel/create?topic=t&channel=c&%zz", 400, "INVALID_REQUEST"},
		{"POST", "/channel/delete?channel=c", 400, "MISSING_ARG_TOPIC"},
		{"POST", "/channel/delete?topic=bad!t&channel=c", 400, "INVALID_ARG_TOPIC"},
		{"POST", "/channel/delete?topic=t", 400, "MISSING_ARG_CHANNEL"},
		{"POST", "/channel/delete?topic=t&channel=bad!c", 400, "INVALID_ARG_CHANNEL"},
		{"POST", "/channel/delete?topic=t&channel=c", 404, "CHANNEL_NOT_FOUND"},
		{"GET", "/lookup/nosuch", 404, "NOT_FOUND"},
		{"GET", "/tombstone_topic_producer?topic=t&node=a:1", 404, "NOT_FOUND"},
		{"POST", "/lookup?topic=t", 405, "METHOD_NOT_ALLOWED"},
		{"DELETE", "/topics", 405, "METHOD_NOT_ALLOWED"},
	} {
		hDo(t, l, tc.method, tc.path).expectV1(t, tc.method+" "+tc.path, tc.code, `{"message":"`+tc.msg+`"}`)
	}
}

// ---- the fixtures' cluster ----

// buildFixtureCluster registers two fake nsqd the way nsqd A and B of the
// capture did (testdata/README of the fixtures: "How the state was made").
func buildFixtureCluster(t testing.TB, l *NSQLookupd) (a, b *peerConn) {
	a = fakeNSQD(t, l, 4150, 4151)
	for _, cmd := range []string{"REGISTER orders", "REGISTER orders billing", "REGISTER orders audit", "REGISTER orders archive",
		"REGISTER paused_topic", "REGISTER events#ephemeral", "REGISTER events#ephemeral live#ephemeral"} {
		a.cmd(cmd, "OK")
	}
	b = fakeNSQD(t, l, 4250, 4251)
	for _, cmd := range []string{"REGISTER clicks", "REGISTER clicks analytics", "REGISTER orders", "REGISTER orders billing",
		"REGISTER orders archive", "REGISTER orders audit", "REGISTER orders tail#ephemeral"} {
		b.cmd(cmd, "OK")
	}
	return a, b
}

// sameHeadersAsFixture compares status, Content-Type and X-NSQ-Content-Type.
func sameHeadersAsFixture(t testing.TB, r hResp, name string) {
	t.Helper()
	code, hdr := testutil.ReadHeaders(t, filepath.Join("testdata", name+".headers"))
	if r.code != code {
		t.Fatalf("%s: status %d, fixture %d", name, r.code, code)
	}
	for _, k := range []string{"Content-Type", "X-Nsq-Content-Type"} {
		if got, want := r.hdr.Get(k), hdr.Get(k); got != want {
			t.Fatalf("%s: %s %q, fixture %q", name, k, got, want)
		}
	}
}

// fixture fetches path, checks headers and JSON shape against the
// fixture and returns the body of both.
func fixture(t *testing.T, l *NSQLookupd, path, name string, opts ...testutil.Option) (got, want string) {
	t.Helper()
	r := hGet(t, l, path)
	sameHeadersAsFixture(t, r, name)
	want = string(readTestdata(t, name))
	testutil.CompareJSONShape(t, name, []byte(r.body), []byte(want), opts...)
	return r.body, want
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func TestHTTPFixtures(t *testing.T) {
	l := startLookupd(t, testOptions())
	a, b := buildFixtureCluster(t, l)

	// /ping (plain) and /info
	r := hGet(t, l, "/ping")
	sameHeadersAsFixture(t, r, "lookupd.ping.txt")
	if r.body != "OK" || r.body != string(readTestdata(t, "lookupd.ping.txt")) || r.hdr.Get("X-NSQ-Content-Type") != "" {
		t.Fatalf("/ping %q %v", r.body, r.hdr)
	}
	got, _ := fixture(t, l, "/info", "lookupd.info.json")
	if got != `{"version":"`+version.Reported+`"}` {
		t.Fatalf("/info %s", got)
	}

	// lists: same names as the capture (order is unspecified)
	var gl, wl struct{ Topics, Channels []string }
	got, want := fixture(t, l, "/topics", "lookupd.topics.json")
	unmarshal(t, "topics", got, &gl)
	unmarshal(t, "fixture", want, &wl)
	if !slices.Equal(sorted(gl.Topics), sorted(wl.Topics)) {
		t.Fatalf("/topics %q, fixture %q", gl.Topics, wl.Topics)
	}
	got, want = fixture(t, l, "/channels?topic=orders", "lookupd.channels-orders.json")
	unmarshal(t, "channels", got, &gl)
	unmarshal(t, "fixture", want, &wl)
	if !slices.Equal(sorted(gl.Channels), sorted(wl.Channels)) {
		t.Fatalf("/channels %q, fixture %q", gl.Channels, wl.Channels)
	}

	// /lookup: the producers as the capture has them but for the
	// connections' ports
	type lookupResp struct {
		Channels  []string   `json:"channels"`
		Producers []PeerInfo `json:"producers"`
	}
	normLookup := func(s string) lookupResp {
		var v lookupResp
		unmarshal(t, "lookup", s, &v)
		slices.Sort(v.Channels)
		for i := range v.Producers {
			if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(v.Producers[i].RemoteAddress) {
				t.Fatalf("remote_address %q", v.Producers[i].RemoteAddress)
			}
			v.Producers[i].RemoteAddress = ""
		}
		slices.SortFunc(v.Producers, func(x, y PeerInfo) int { return cmp.Compare(x.TCPPort, y.TCPPort) })
		return v
	}
	got, want = fixture(t, l, "/lookup?topic=orders", "lookupd.lookup-orders.json")
	if g, w := normLookup(got), normLookup(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("/lookup\n%+v\nfixture\n%+v", g, w)
	}
	if !strings.Contains(got, `"remote_address":"`+a.localAddr()+`"`) || !strings.Contains(got, `"remote_address":"`+b.localAddr()+`"`) {
		t.Fatalf("/lookup remote addresses: %s", got)
	}

	// /nodes: A with 3 topics, B with 2 (sorted by id here, so compare
	// the element shape with any length and the values normalized)
	type nodesResp struct {
		Producers []Node `json:"producers"`
	}
	normNodes := func(s string) nodesResp {
		var v nodesResp
		unmarshal(t, "nodes", s, &v)
		for i := range v.Producers {
			n := &v.Producers[i]
			n.RemoteAddress = ""
			slices.Sort(n.Topics) // every tombstone is false
		}
		slices.SortFunc(v.Producers, func(x, y Node) int { return cmp.Compare(x.TCPPort, y.TCPPort) })
		return v
	}
	got, want = fixture(t, l, "/nodes", "lookupd.nodes.json", testutil.AnyLength())
	if g, w := normNodes(got), normNodes(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("/nodes\n%+v\nfixture\n%+v", g, w)
	}

	// /debug: the same keys, in the same (alphabetical) order; records
	// equal but for the ids and times
	normDebug := func(s string) map[string][]Record {
		var v map[string][]Record
		unmarshal(t, "debug", s, &v)
		for _, recs := range v {
			for i := range recs {
				if recs[i].LastUpdate < 1e18 {
					t.Fatalf("last_update %d", recs[i].LastUpdate)
				}
				recs[i].ID, recs[i].LastUpdate = "", 0
			}
			slices.SortFunc(recs, func(x, y Record) int { return cmp.Compare(x.TCPPort, y.TCPPort) })
		}
		return v
	}
	got, want = fixture(t, l, "/debug", "lookupd.debug.json")
	if g, w := normDebug(got), normDebug(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("/debug\n%+v\nfixture\n%+v", g, w)
	}
}

// TestHTTPEmpty: [] rather than null, {} for /debug, a created topic
// with no producers.
func TestHTTPEmpty(t *testing.T) {
	l := startLookupd(t, testOptions())
	hGet(t, l, "/topics").expectV1(t, "topics", 200, `{"topics":[]}`)
	hGet(t, l, "/channels?topic=nosuch").expectV1(t, "channels", 200, `{"channels":[]}`)
	hGet(t, l, "/nodes").expectV1(t, "nodes", 200, `{"producers":[]}`)
	hGet(t, l, "/debug").expectV1(t, "debug", 200, `{}`)
	hPost(t, l, "/topic/create?topic=t").expectV1(t, "create", 200, "")
	hGet(t, l, "/lookup?topic=t").expectV1(t, "lookup created", 200, `{"channels":[],"producers":[]}`)
	hGet(t, l, "/debug").expectV1(t, "debug of keys without producers", 200, `{}`)
	p := fakeNSQD(t, l, 4150, 4151)
	hGet(t, l, "/nodes").expectV1(t, "node without topics", 200,
		`{"producers":[{"remote_address":"`+p.localAddr()+`","hostname":"vm","broadcast_address":"127.0.0.1","tcp_port":4150,"http_port":4151,"version":"1.3.0","tombstones":[],"topics":[]}]}`)
}

func TestHTTPManagement(t *testing.T) {
	l := startLookupd(t, testOptions())
	p := fakeNSQD(t, l, 4150, 4151)
	p.cmd("REGISTER orders billing", "OK")
	p.cmd("REGISTER orders audit", "OK")

	ok := func(path string) {
		t.Helper()
		hPost(t, l, path).expectV1(t, path, 200, "")
	}
	get := func(path, want string) {
		t.Helper()
		hGet(t, l, path).expectV1(t, path, 200, want)
	}
	ok("/channel/create?topic=orders&channel=extra")
	ok("/channel/create?topic=new&channel=c&channel=ignored")
	ok("/topic/create?topic=plain&topic=ignored")
	ok("/topic/create?topic=plain")
	get("/topics", `{"topics":["new","orders","plain"]}`)
	get("/channels?topic=orders", `{"channels":["audit","billing","extra"]}`)
	get("/channels?topic=new", `{"channels":["c"]}`)
	ok("/channel/delete?topic=orders&channel=billing")
	get("/channels?topic=orders", `{"channels":["audit","extra"]}`)
	hPost(t, l, "/channel/delete?topic=orders&channel=billing").expectV1(t, "again", 404, `{"message":"CHANNEL_NOT_FOUND"}`)

	// /topic/delete removes the topic and its channels, producers and all
	ok("/topic/delete?topic=orders")
	ok("/topic/delete?topic=orders")
	ok("/topic/delete?topic=bad!name")
	get("/topics", `{"topics":["new","plain"]}`)
	get("/channels?topic=orders", `{"channels":[]}`)
	hGet(t, l, "/lookup?topic=orders").expectV1(t, "deleted", 404, `{"message":"TOPIC_NOT_FOUND"}`)
	// the nsqd comes back on its next REGISTER
	p.cmd("REGISTER orders audit", "OK")
	get("/channels?topic=orders", `{"channels":["audit"]}`)
	if r := hGet(t, l, "/lookup?topic=orders"); r.code != 200 || !strings.Contains(r.body, p.localAddr()) {
		t.Fatalf("re-registered: %d %s", r.code, r.body)
	}
	// disconnect: the topic stays, without producers
	p.conn.Close()
	testutil.Eventually(t, 5*time.Second, "producer gone", func() bool {
		return hGet(t, l, "/lookup?topic=orders").body == `{"channels":["audit"],"producers":[]}`
	})
	get("/topics", `{"topics":["new","orders","plain"]}`)
	get("/nodes", `{"producers":[]}`)
}

// TestHTTPTombstone: a tombstone hides the producer from /lookup for the
// lifetime, /nodes shows it, and it comes back.
func TestHTTPTombstone(t *testing.T) {
	opts := testOptions()
	opts.TombstoneLifetime = 500 * time.Millisecond
	l := startLookupd(t, opts)
	a := fakeNSQD(t, l, 4150, 4151)
	b := fakeNSQD(t, l, 4250, 4251)
	for _, p := range []*peerConn{a, b} {
		p.cmd("REGISTER t c", "OK")
		p.cmd("REGISTER u", "OK")
	}
	producers := func(topic string) []string {
		var v struct{ Producers []PeerInfo }
		unmarshal(t, "lookup", hGet(t, l, "/lookup?topic="+topic).body, &v)
		var out []string
		for _, p := range v.Producers {
			out = append(out, fmt.Sprint(p.HTTPPort))
		}
		return out
	}
	tombstones := func() map[int][]bool {
		var v struct{ Producers []Node }
		unmarshal(t, "nodes", hGet(t, l, "/nodes").body, &v)
		out := map[int][]bool{}
		for _, n := range v.Producers {
			out[n.HTTPPort] = n.Tombstones // topics t, u
		}
		return out
	}
	if got := producers("t"); !slices.Equal(got, []string{"4151", "4251"}) {
		t.Fatalf("before: %q", got)
	}
	hPost(t, l, "/topic/tombstone?topic=t&node=127.0.0.1:4151").expectV1(t, "tombstone", 200, "")
	hPost(t, l, "/topic/tombstone?topic=t&node=nosuch:1").expectV1(t, "no match", 200, "")
	hPost(t, l, "/topic/tombstone?topic=t&node=").expectV1(t, "empty node", 200, "")
	start := time.Now()
	a.cmd("REGISTER t c", "OK") // re-registering keeps the tombstone
	got, nodes := producers("t"), tombstones()
	if time.Since(start) < opts.TombstoneLifetime {
		if !slices.Equal(got, []string{"4251"}) || !reflect.DeepEqual(nodes, map[int][]bool{4151: {true, false}, 4251: {false, false}}) {
			t.Fatalf("tombstoned: lookup %q nodes %v", got, nodes)
		}
		if p := producers("u"); !slices.Equal(p, []string{"4151", "4251"}) {
			t.Fatalf("other topic: %q", p)
		}
	}
	testutil.Eventually(t, 5*time.Second, "tombstone to expire", func() bool {
		return slices.Equal(producers("t"), []string{"4151", "4251"})
	})
	if nodes := tombstones(); !reflect.DeepEqual(nodes, map[int][]bool{4151: {false, false}, 4251: {false, false}}) {
		t.Fatalf("after the lifetime: nodes %v", nodes)
	}
	if !l.DB().Dump()["topic:t:"][0].Tombstoned {
		t.Fatal("/debug shows the flag, not the lifetime")
	}

	// UNREGISTER ends a tombstone: the next REGISTER is a fresh record
	hPost(t, l, "/topic/tombstone?topic=t&node=127.0.0.1:4251").expectV1(t, "tombstone b", 200, "")
	b.cmd("UNREGISTER t", "OK")
	b.cmd("REGISTER t", "OK")
	if got := producers("t"); !slices.Equal(got, []string{"4151", "4251"}) {
		t.Fatalf("after UNREGISTER/REGISTER: %q", got)
	}
}

// TestHTTPInactive: a producer that stops PINGing is hidden from /lookup
// and /nodes (not removed) and comes back with its next PING.
func TestHTTPInactive(t *testing.T) {
	opts := testOptions()
	opts.InactiveProducerTimeout = 300 * time.Millisecond
	l := startLookupd(t, opts)
	a := fakeNSQD(t, l, 4150, 4151)
	a.cmd("REGISTER t", "OK")
	nodes := func() string { return hGet(t, l, "/nodes").body }
	testutil.Eventually(t, 5*time.Second, "producer to go inactive", func() bool {
		return hGet(t, l, "/lookup?topic=t").body == `{"channels":[],"producers":[]}` && nodes() == `{"producers":[]}`
	})
	if d := l.DB().Dump(); len(d["topic:t:"]) != 1 || len(d["client::"]) != 1 {
		t.Fatalf("inactive producer removed: %+v", d)
	}
	hGet(t, l, "/topics").expectV1(t, "topics", 200, `{"topics":["t"]}`)
	a.cmd("PING", "OK")
	if r := hGet(t, l, "/lookup?topic=t"); !strings.Contains(r.body, a.localAddr()) {
		t.Fatalf("after PING: %s", r.body)
	}
	if !strings.Contains(nodes(), a.localAddr()) {
		t.Fatal("/nodes after PING")
	}
}

func TestHTTPRouting(t *testing.T) {
	opts := testOptions()
	log := &testLog{}
	opts.LogOutput = log
	l := startLookupd(t, opts)
	for _, tc := range []struct{ method, path, allow string }{
		{"OPTIONS", "/lookup", "GET, OPTIONS"},
		{"OPTIONS", "/topic/tombstone", "OPTIONS, POST"},
		{"OPTIONS", "/debug/pprof/symbol", "GET, OPTIONS, POST"},
	} {
		r := hDo(t, l, tc.method, tc.path)
		if r.code != 200 || r.body != "" || r.hdr.Get("Allow") != tc.allow {
			t.Fatalf("%s %s: %d %q Allow %q", tc.method, tc.path, r.code, r.body, r.hdr.Get("Allow"))
		}
	}
	r := hPost(t, l, "/nodes")
	r.expectV1(t, "POST /nodes", 405, `{"message":"METHOD_NOT_ALLOWED"}`)
	if r.hdr.Get("Allow") != "GET, OPTIONS" {
		t.Fatalf("Allow %q", r.hdr.Get("Allow"))
	}
	for _, tc := range []struct {
		method, path string
		code         int
		loc          string
	}{
		{"GET", "/lookup/?topic=t", 301, "/lookup?topic=t"},
		{"GET", "/Nodes", 301, "/nodes"},
		{"GET", "/debug/pprof/", 301, "/debug/pprof"},
		{"GET", "/debug/", 301, "/debug"},
		{"POST", "/topic/create/?topic=t", 307, "/topic/create?topic=t"},
		{"POST", "/Topic/Tombstone?topic=t&node=x", 307, "/topic/tombstone?topic=t&node=x"},
	} {
		r := hDo(t, l, tc.method, tc.path)
		if r.code != tc.code || r.hdr.Get("Location") != tc.loc {
			t.Fatalf("%s %s: %d Location %q", tc.method, tc.path, r.code, r.hdr.Get("Location"))
		}
	}
	if r := hGet(t, l, "/debug/pprof"); r.code != 200 || !strings.Contains(r.body, "goroutine") {
		t.Fatalf("pprof index: %d", r.code)
	}
	if r := hGet(t, l, "/debug/pprof/goroutine?debug=1"); r.code != 200 || !strings.Contains(r.body, "goroutine profile") {
		t.Fatalf("pprof goroutine: %d", r.code)
	}
	for _, p := range []string{"/debug/pprof/cmdline", "/debug/pprof/heap", "/debug/pprof/threadcreate", "/debug/pprof/block"} {
		if r := hGet(t, l, p); r.code != 200 {
			t.Fatalf("%s: %d", p, r.code)
		}
	}
	// Accept is not inspected
	req, _ := http.NewRequest("GET", "http://"+l.HTTPAddr().String()+"/topics", nil)
	req.Header.Set("Accept", "application/vnd.nsq; version=1.0")
	resp, err := hClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-NSQ-Content-Type") != "nsq; version=1.0" {
		t.Fatalf("with Accept: %d %v", resp.StatusCode, resp.Header)
	}
	// every request logged
	testutil.Eventually(t, 5*time.Second, "request log lines", func() bool {
		s := log.String()
		return regexp.MustCompile(`(?m)^\[nsqlookupd\] .* INFO: 200 GET /debug/pprof/goroutine\?debug=1 \(127\.0\.0\.1:\d+\) \S+$`).MatchString(s) &&
			strings.Contains(s, "INFO: 405 POST /nodes (127.0.0.1:") && strings.Contains(s, "INFO: 301 GET /Nodes (127.0.0.1:")
	})
}
