package nsqd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// runDependent are the values a fixture run cannot fix.
var runDependent = regexp.MustCompile(`^\$\.(version|start_time|memory\..*)$|\.(remote_address|connect_ts)$|e2e_processing_latency\.percentiles\[\d+\]\.value$`)

// compareStatsJSON compares shape and the state-fixed values.
func compareStatsJSON(t testing.TB, what string, got, want []byte) {
	t.Helper()
	testutil.CompareJSONShape(t, what, got, want, testutil.Values(runDependent.MatchString))
}

// ---- the state of fixture node A (testdata/README: "How the state was made") ----

// fxClient is the fixtures' raw-protocol client.
type fxClient struct {
	t    testing.TB
	conn net.Conn
	mu   sync.Mutex
	done chan struct{}
}

func fxDial(t testing.TB, n *NSQD, clientID, extra string) *fxClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.TCPAddr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &fxClient{t: t, conn: conn}
	t.Cleanup(func() {
		conn.Close()
		if c.done != nil {
			<-c.done
		}
	})
	conn.Write(wire.MagicV2)
	c.send(wire.Identify([]byte(fmt.Sprintf(
		`{"client_id":%q,"hostname":"fixture-host","user_agent":"fixture/1.0","feature_negotiation":true%s}`, clientID, extra))))
	if js := c.response(); !bytes.HasPrefix(js, []byte("{")) {
		t.Fatalf("IDENTIFY response %q", js)
	}
	return c
}

func (c *fxClient) send(cmd *wire.Command) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	cmd.WriteTo(c.conn)
}

func (c *fxClient) response() []byte {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	ft, data, err := wire.ReadFrame(c.conn, 1<<20)
	if err != nil || ft != wire.FrameTypeResponse {
		c.t.Fatalf("frame %d %q %v", ft, data, err)
	}
	return data
}

// consume subscribes with RDY rdy, FINs the first fin messages, REQs the
// next one with delay 0 and holds every later one.
func (c *fxClient) consume(topic, channel string, rdy, fin int) {
	c.send(wire.Subscribe(topic, channel))
	if r := c.response(); string(r) != "OK" {
		c.t.Fatalf("SUB %q", r)
	}
	c.send(wire.Ready(rdy))
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		c.conn.SetReadDeadline(time.Time{})
		for i := 0; ; {
			ft, data, err := wire.ReadFrame(c.conn, 1<<20)
			if err != nil {
				return
			}
			switch {
			case ft == wire.FrameTypeResponse && wire.IsHeartbeat(data):
				c.send(wire.Nop())
			case ft == wire.FrameTypeMessage:
				m, err := wire.DecodeMessage(data)
				if err != nil {
					return
				}
				i++
				if i <= fin {
					c.send(wire.Finish(m.ID))
				} else if i == fin+1 {
					c.send(wire.Requeue(m.ID, 0))
				}
			}
		}
	}()
}

// waitStats polls GetStats until cond holds.
func waitStats(t testing.TB, n *NSQD, what string, cond func(s Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(n.GetStats("", "", true)) {
		if time.Now().After(deadline) {
			b, _ := json.Marshal(n.GetStats("", "", true))
			t.Fatalf("timed out waiting for %s: %s", what, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func findChannel(s Stats, topic, channel string) *ChannelStats {
	for _, t := range s.Topics {
		if t.TopicName != topic {
			continue
		}
		for i := range t.Channels {
			if t.Channels[i].ChannelName == channel {
				return &t.Channels[i]
			}
		}
	}
	return nil
}

// buildFixtureA makes node A's state.
func buildFixtureA(t testing.TB) *NSQD {
	t.Helper()
	n := startNSQD(t, fixtureOptions(t))
	ok := func(path, body string) {
		t.Helper()
		r := hPost(t, n, path, body)
		if r.code != 200 {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
	}
	ok("/topic/create?topic=orders", "")
	for _, ch := range []string{"billing", "audit", "archive"} {
		ok("/channel/create?topic=orders&channel="+ch, "")
	}
	ok("/channel/pause?topic=orders&channel=audit", "")
	for i := 1; i <= 40; i++ {
		ok("/pub?topic=orders", fmt.Sprintf("order-%d", i))
	}
	ok("/topic/create?topic=paused_topic", "")
	for i := 1; i <= 3; i++ {
		ok("/pub?topic=paused_topic", fmt.Sprintf("held-%d", i))
	}
	ok("/topic/pause?topic=paused_topic", "")

	fxDial(t, n, "fixture-consumer", "").consume("events#ephemeral", "live#ephemeral", 5, 0)
	for i := 1; i <= 5; i++ {
		ok("/pub?topic=events%23ephemeral", fmt.Sprintf("event-%d", i))
	}
	waitStats(t, n, "events consumer settled", func(s Stats) bool {
		c := findChannel(s, "events#ephemeral", "live#ephemeral")
		return c != nil && c.InFlightCount == 5 && c.RequeueCount == 1 && len(c.Clients) == 1 && c.Clients[0].MessageCount == 6
	})

	fxDial(t, n, "fixture-consumer", "").consume("orders", "billing", 10, 6)
	waitStats(t, n, "billing consumer settled", func(s Stats) bool {
		c := findChannel(s, "orders", "billing")
		return c.InFlightCount == 10 && c.RequeueCount == 1 && len(c.Clients) == 1 &&
			c.Clients[0].FinishCount == 6 && c.Clients[0].MessageCount == 17
	})

	// 9 messages of 61 bytes in all, as in the fixture
	p := fxDial(t, n, "fixture-producer", `,"heartbeat_interval":-1`)
	for i := 1; i <= 5; i++ {
		p.send(wire.Publish("orders", []byte(fmt.Sprintf("pub-%d", i))))
		p.response()
	}
	p.send(wire.MultiPublish("orders", [][]byte{[]byte("mpub-1"), []byte("mpub-2"), []byte("mpub-3")}))
	p.response()
	p.send(wire.DeferredPublish("orders", 600000, []byte("deferred-message-1")))
	p.response()
	waitStats(t, n, "orders settled", func(s Stats) bool {
		// (the deferred counts are compared with the fixture below)
		for _, ch := range []string{"billing", "audit", "archive"} {
			c := findChannel(s, "orders", ch)
			if c.MessageCount != 49 || c.Depth+int64(c.DeferredCount)+int64(c.InFlightCount) < 49-6 {
				return false
			}
		}
		return true
	})
	// a DPUB is deferred in every channel of the topic
	st := n.GetStats("orders", "", false)
	for _, c := range st.Topics[0].Channels {
		if c.DeferredCount != 1 {
			t.Errorf("orders/%s: deferred_count %d after one DPUB, want 1", c.ChannelName, c.DeferredCount)
		}
	}
	if testing.Verbose() {
		b, _ := json.Marshal(n.GetStats("", "", true))
		t.Logf("%s", b)
	}
	return n
}

// TestStatsFixtureA compares every /stats answer of node A with the
// captured one: headers, keys, key order, types and the values the state
// fixes.
func TestStatsFixtureA(t *testing.T) {
	n := buildFixtureA(t)
	for _, f := range []struct{ file, query string }{
		{"nsqd-a.stats.json", "format=json"},
		{"nsqd-a.stats.no-clients.json", "format=json&include_clients=false"},
		{"nsqd-a.stats.no-mem.json", "format=json&include_mem=false"},
		{"nsqd-a.stats.topic-orders-channel-billing.json", "format=json&topic=orders&channel=billing"},
		{"nsqd-a.stats.topic-missing.json", "format=json&topic=nosuch"},
	} {
		r := hGet(t, n, "/stats?"+f.query)
		sameHeadersAsFixture(t, r, f.file)
		compareStatsJSON(t, f.file, []byte(r.body), readTestdata(t, f.file))
		var top struct {
			Version string `json:"version"`
		}
		json.Unmarshal([]byte(r.body), &top)
		if top.Version != version.Reported {
			t.Fatalf("%s: version %q", f.file, top.Version)
		}
	}
	for _, f := range []struct{ file, query string }{
		{"nsqd-a.stats.txt", ""},
		{"nsqd-a.stats.topic-orders.txt", "?topic=orders"},
	} {
		r := hGet(t, n, "/stats"+f.query)
		sameHeadersAsFixture(t, r, f.file)
		compareStatsText(t, f.file, r.body, string(readTestdata(t, f.file)))
	}
	// include_* values other than false/0 mean true; 0 means false
	r := hGet(t, n, "/stats?format=json&include_clients=no&include_mem=0")
	if !strings.Contains(r.body, `"clients":[{`) || strings.Contains(r.body, `"memory"`) {
		t.Fatalf("include_clients=no&include_mem=0: %s", r.body)
	}
	// a channel filter keeps only the topics that have it
	r = hGet(t, n, "/stats?format=json&channel=live%23ephemeral&include_clients=false")
	var st struct {
		Topics []TopicStats `json:"topics"`
	}
	json.Unmarshal([]byte(r.body), &st)
	if len(st.Topics) != 1 || st.Topics[0].TopicName != "events#ephemeral" || len(st.Topics[0].Channels) != 1 {
		t.Fatalf("channel filter: %s", r.body)
	}
	r = hGet(t, n, "/stats?format=json&channel=nosuch")
	if !strings.Contains(r.body, `"topics":[],`) {
		t.Fatalf("channel filter matching nothing: %s", r.body)
	}
	// the producer filtered to a topic it never published to
	r = hGet(t, n, "/stats?format=json&topic=paused_topic")
	if !strings.Contains(r.body, `"client_id":"fixture-producer"`) || strings.Contains(r.body, "pub_counts") {
		t.Fatalf("producer with another topic filter: %s", r.body)
	}
}

// compareStatsText compares the text stats with the run-dependent parts
// (version, times, memory figures, ports, latencies) masked.
func compareStatsText(t testing.TB, what, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, version.String("nsqd")+"\n") {
		t.Fatalf("%s: first line of %q", what, got)
	}
	m := regexp.MustCompile(`^start_time (\S+)$`).FindStringSubmatch(strings.Split(got, "\n")[1])
	if m == nil {
		t.Fatalf("%s: start_time line in %q", what, got)
	}
	if _, err := time.Parse(time.RFC3339, m[1]); err != nil {
		t.Fatalf("%s: start_time %v", what, err)
	}
	mask := func(s string) string {
		lines := strings.Split(s, "\n")
		lines[0] = "VERSION"
		s = strings.Join(lines, "\n")
		for _, r := range []struct{ re, to string }{
			{`(?m)^start_time .*$`, "start_time T"},
			{`(?m)^uptime .*$`, "uptime U"},
			{`(?m)^(   \S+ +\t)\d+$`, "${1}N"},
			{`(\[V2 [^:\]]+):\d+ `, "${1}:PORT "},
			{`connected: \S+`, "connected: D"},
			{`\d+\.\d(ns|us|ms|s)`, "L"},
		} {
			s = regexp.MustCompile(r.re).ReplaceAllString(s, r.to)
		}
		return s
	}
	g, w := mask(got), mask(want)
	if g != w {
		gl, wl := strings.Split(g, "\n"), strings.Split(w, "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var a, b string
			if i < len(gl) {
				a = gl[i]
			}
			if i < len(wl) {
				b = wl[i]
			}
			if a != b {
				t.Fatalf("%s: line %d\n got  %q\n want %q\nwhole:\n%s", what, i+1, a, b, got)
			}
		}
	}
}

func TestStatsEmptyBroker(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	r := hGet(t, n, "/stats?format=json&include_mem=false")
	r.expectV1(t, "empty stats", 200, fmt.Sprintf(`{"version":%q,"health":"OK","start_time":%d,"topics":[],"producers":null}`,
		version.Reported, n.startTime.Unix()))
	r = hGet(t, n, "/stats?include_mem=false")
	if !strings.HasSuffix(r.body, "\nHealth: OK\n\nTopics: None\n\nProducers: None\n") || strings.Contains(r.body, "Memory:") {
		t.Fatalf("empty text stats %q", r.body)
	}
	r = hGet(t, n, "/stats?topic=nosuch")
	if !strings.Contains(r.body, "\nTopics: None\n") || !strings.Contains(r.body, "\nMemory:\n   heap_objects             \t") {
		t.Fatalf("text stats for a missing topic %q", r.body)
	}
	// no percentiles configured
	n.GetTopic("a").GetChannel("b")
	r = hGet(t, n, "/stats?format=json&include_mem=false")
	if strings.Count(r.body, `"e2e_processing_latency":{"count":0,"percentiles":null}`) != 2 {
		t.Fatalf("latency without percentiles: %s", r.body)
	}
	n.setHealth(errors.New("full disk"))
	defer n.setHealth(nil)
	if r := hGet(t, n, "/stats?format=json"); !strings.Contains(r.body, `"health":"NOK - full disk"`) {
		t.Fatalf("unhealthy stats %s", r.body)
	}
}

func TestStatsMemoryPercentiles(t *testing.T) {
	if got := percentileOf(99, nil); got != 0 {
		t.Fatalf("no GC: %d", got)
	}
	pauses := make([]uint64, 10)
	for i := range pauses {
		pauses[i] = uint64(i+1) * 1000
	}
	// index floor(p/100*n + 0.5), clamped to n-1
	for p, want := range map[float64]uint64{100: 10000, 99: 10000, 95: 10000, 50: 6000, 10: 2000} {
		if got := percentileOf(p, pauses); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	ms := getMemStats()
	if ms.GCPauseUsec100 < ms.GCPauseUsec99 || ms.GCPauseUsec99 < ms.GCPauseUsec95 {
		t.Fatalf("pause percentiles not ordered: %+v", ms)
	}
}

func TestStatsTextLines(t *testing.T) {
	now := time.Unix(1000, 0)
	consumer := ClientStats{Version: "V2", Hostname: "h", RemoteAddress: "1.2.3.4:555", UserAgent: "ua",
		State: 3, InFlightCount: 2, ReadyCount: 5, FinishCount: 7, RequeueCount: 1, MessageCount: 10, ConnectTime: 990}
	if got, want := consumer.text(now), "[V2 h:555 ua             ] state: 3 inflt: 2    rdy: 5    fin: 7        re-q: 1        msgs: 10       connected: 10s"; got != want {
		t.Fatalf("consumer line\n %q\nwant\n %q", got, want)
	}
	producer := consumer
	producer.PubCounts = []PubCount{{"a", 2}, {"b", 3}}
	if got, want := producer.text(now), "[V2 h:555 ua             ] msgs: 5        topics: a=2,b=3 connected: 10s"; got != want {
		t.Fatalf("producer line\n %q\nwant\n %q", got, want)
	}
	l := LatencyStats{Percentiles: []Percentile{{1, 2.5e9}, {0.99, 1.5e6}, {0.95, 830200}, {0.5, 999}, {0.1, 0}}}
	if got, want := l.String(), "2.5s, 1.5ms, 830.2us, 999.0ns, 0.0ns"; got != want {
		t.Fatalf("latencies %q, want %q", got, want)
	}
}

func TestStatsCipherSuiteNames(t *testing.T) {
	if got := cipherSuiteName(0xc02f); got != "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" {
		t.Fatal(got)
	}
	if got := cipherSuiteName(0x1301); got != "Unknown 4865" {
		t.Fatal(got)
	}
}

// ---- fixture node B: --mem-queue-size=10, no percentiles, a go-nsq tail ----

// runDependentB adds B's disk/memory split (it depends on which queue the
// consumer's pump happened to read) and the go-nsq client's hostname.
var runDependentB = regexp.MustCompile(runDependent.String() +
	`|\.channels\[0\]\.backend_depth$|tail#ephemeral.*\.clients\[0\]\.(client_id|hostname)$|^\$\.topics\[1\]\.channels\[3\]\.clients\[0\]\.(client_id|hostname)$`)

func buildFixtureB(t testing.TB) *NSQD {
	t.Helper()
	opts := testOptions(t)
	opts.MemQueueSize = 10
	n := startNSQD(t, opts)
	ok := func(path, body string) {
		t.Helper()
		if r := hPost(t, n, path, body); r.code != 200 {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
	}
	ok("/topic/create?topic=clicks", "")
	ok("/channel/create?topic=clicks&channel=analytics", "")
	for i := 1; i <= 100; i++ {
		ok("/pub?topic=clicks", fmt.Sprintf("click-%d", i))
	}
	for i := 1; i <= 5; i++ { // 13 bytes each, as in the capture
		ok("/pub?topic=clicks&defer=60000", fmt.Sprintf("later-click-%d", i))
	}
	waitStats(t, n, "clicks queued", func(s Stats) bool {
		c := findChannel(s, "clicks", "analytics")
		return c.Depth == 100 && c.DeferredCount == 5
	})
	fxDial(t, n, "fixture-consumer", "").consume("clicks", "analytics", 3, 1)
	waitStats(t, n, "analytics consumer settled", func(s Stats) bool {
		c := findChannel(s, "clicks", "analytics")
		return c.InFlightCount == 3 && c.RequeueCount == 1 && len(c.Clients) == 1 && c.Clients[0].MessageCount == 5
	})
	// what lookupd made B create in the capture
	ok("/topic/create?topic=orders", "")
	for _, ch := range []string{"billing", "archive", "audit"} {
		ok("/channel/create?topic=orders&channel="+ch, "")
	}
	cfg := nsq.NewConfig()
	cfg.UserAgent = "nsq_tail/1.3.0 go-nsq/1.1.0"
	cfg.MaxInFlight = 200
	tail, err := nsq.NewConsumer("orders", "tail#ephemeral", cfg)
	if err != nil {
		t.Fatal(err)
	}
	tail.SetLoggerLevel(nsq.LogLevelError)
	tail.AddHandler(nsq.HandlerFunc(func(*nsq.Message) error { return nil }))
	if err := tail.ConnectToNSQD(n.TCPAddr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tail.Stop(); <-tail.StopChan })
	waitStats(t, n, "tail ready", func(s Stats) bool {
		c := findChannel(s, "orders", "tail#ephemeral")
		return c != nil && len(c.Clients) == 1 && c.Clients[0].ReadyCount == 200
	})
	ok("/mpub?topic=orders", "b-order-1\nb-order-2\nb-order-3")
	waitStats(t, n, "orders settled", func(s Stats) bool {
		c := findChannel(s, "orders", "tail#ephemeral")
		return c.Clients[0].FinishCount == 3 && findChannel(s, "orders", "audit").Depth == 3
	})
	return n
}

func TestStatsFixtureB(t *testing.T) {
	n := buildFixtureB(t)
	for _, f := range []struct{ file, query string }{
		{"nsqd-b.stats.json", "format=json"},
		{"nsqd-b.stats.topic-clicks-channel-analytics.json", "format=json&topic=clicks&channel=analytics"},
	} {
		r := hGet(t, n, "/stats?"+f.query)
		sameHeadersAsFixture(t, r, f.file)
		testutil.CompareJSONShape(t, f.file, []byte(r.body), readTestdata(t, f.file), testutil.Values(runDependentB.MatchString))
	}
	// the disk part: 100 - 1 finished - 3 in flight wait, at most 10 of them in memory
	if c := findChannel(n.GetStats("clicks", "analytics", false), "clicks", "analytics"); c.BackendDepth < 86 || c.BackendDepth > 96 {
		t.Fatalf("analytics backend_depth %d", c.BackendDepth)
	}
	r := hGet(t, n, "/stats")
	sameHeadersAsFixture(t, r, "nsqd-b.stats.txt")
	host, _ := os.Hostname()
	got := regexp.MustCompile(`be-depth: \d+ +inflt: 3 `).ReplaceAllString(r.body, "be-depth: 87    inflt: 3 ")
	got = strings.ReplaceAll(got, "[V2 "+host+":", "[V2 vm:")
	compareStatsText(t, "nsqd-b.stats.txt", got, string(readTestdata(t, "nsqd-b.stats.txt")))
	r = hGet(t, n, "/info")
	sameHeadersAsFixture(t, r, "nsqd-b.info.json")
	testutil.CompareJSONShape(t, "/info B", []byte(r.body), readTestdata(t, "nsqd-b.info.json"))
}
