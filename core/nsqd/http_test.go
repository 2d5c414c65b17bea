package nsqd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// ---- helpers ----

// hResp is a whole HTTP response.
type hResp struct {
	code int
	hdr  http.Header
	body string
}

// hClient neither follows redirects nor keeps connections open.
func hClient(tlsCfg *tls.Config) *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsCfg},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// hDo sends a request; hdr are header name/value pairs.
func hDo(t testing.TB, c *http.Client, method, url, body string, hdr ...string) hResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = hClient(nil)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return hResp{resp.StatusCode, resp.Header, string(b)}
}

// hURL is the plain HTTP URL of path on n.
func hURL(n *NSQD, path string) string { return "http://" + n.HTTPAddr().String() + path }

// hGet and hPost are hDo on n's plain listener.
func hGet(t testing.TB, n *NSQD, path string) hResp {
	t.Helper()
	return hDo(t, nil, "GET", hURL(n, path), "")
}

func hPost(t testing.TB, n *NSQD, path, body string) hResp {
	t.Helper()
	return hDo(t, nil, "POST", hURL(n, path), body)
}

// hRaw sends a request head (no body, whatever Content-Length says) and
// reads the response: for checks made before the body is read.
func hRaw(t testing.TB, n *NSQD, head string) hResp {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.HTTPAddr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, strings.ReplaceAll(head, "\n", "\r\n")+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", head, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return hResp{resp.StatusCode, resp.Header, string(b)}
}

// expect checks status and body.
func (r hResp) expect(t testing.TB, what string, code int, body string) {
	t.Helper()
	if r.code != code || r.body != body {
		t.Fatalf("%s: got %d %q, want %d %q", what, r.code, r.body, code, body)
	}
}

// expectV1 also checks the V1 headers: X-NSQ-Content-Type always,
// Content-Type JSON for errors and objects, text for strings, none when
// the body is empty.
func (r hResp) expectV1(t testing.TB, what string, code int, body string) {
	t.Helper()
	r.expect(t, what, code, body)
	if got := r.hdr.Get("X-NSQ-Content-Type"); got != "nsq; version=1.0" {
		t.Fatalf("%s: X-NSQ-Content-Type %q", what, got)
	}
	want := "application/json; charset=utf-8"
	switch {
	case code == 200 && body == "":
		want = ""
	case code == 200 && !json.Valid([]byte(body)):
		want = "text/plain; charset=utf-8"
	}
	if got := r.hdr.Get("Content-Type"); got != want {
		t.Fatalf("%s: Content-Type %q, want %q", what, got, want)
	}
}

// fixtureHeaders reads testdata/NAME.headers.
func fixtureHeaders(t testing.TB, name string) (int, http.Header) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".headers"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatalf("%s.headers: %v", name, err)
	}
	return resp.StatusCode, resp.Header
}

// sameHeadersAsFixture compares status, Content-Type and X-NSQ-Content-Type.
func sameHeadersAsFixture(t testing.TB, r hResp, name string) {
	t.Helper()
	code, hdr := fixtureHeaders(t, name)
	if r.code != code {
		t.Fatalf("%s: status %d, fixture %d", name, r.code, code)
	}
	for _, k := range []string{"Content-Type", "X-Nsq-Content-Type"} {
		if got, want := r.hdr.Get(k), hdr.Get(k); got != want {
			t.Fatalf("%s: %s %q, fixture %q", name, k, got, want)
		}
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureOptions are node A's: e2e percentiles 0.5 and 0.99.
func fixtureOptions(t testing.TB) *Options {
	o := testOptions(t)
	o.E2EProcessingLatencyPercentiles = []float64{0.99, 0.5}
	return o
}

// ---- errors.md ----

type errorRow struct {
	req  string
	code int
	body string
}

// nsqdErrorRows parses the nsqd rows of testdata/errors.md.
func nsqdErrorRows(t testing.TB) []errorRow {
	var rows []errorRow
	re := regexp.MustCompile("^\\| `(nsqd [^`]*)` \\| (\\d+) \\| `(.*)` \\|$")
	for _, line := range strings.Split(string(readTestdata(t, "errors.md")), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var code int
		fmt.Sscan(m[2], &code)
		rows = append(rows, errorRow{m[1], code, strings.ReplaceAll(m[3], "⏎", "\n")})
	}
	return rows
}

func TestHTTPErrorsFixture(t *testing.T) {
	n := startNSQD(t, fixtureOptions(t))
	n.GetTopic("orders").GetChannel("billing")
	big := func(k int) string { return strings.Repeat("x", k) }
	accept := []string{"Accept", "application/vnd.nsq; version=1.0"}
	post := func(path, body string) hResp { return hPost(t, n, path, body) }
	reqs := map[string]func() hResp{
		"nsqd POST /pub?topic=bad!name -d x":        func() hResp { return post("/pub?topic=bad!name", "x") },
		"nsqd POST /pub (no topic) -d x":            func() hResp { return post("/pub", "x") },
		"nsqd POST /pub?topic=t (empty body)":       func() hResp { return post("/pub?topic=t", "") },
		"nsqd POST /pub?topic=t body 1048577 bytes": func() hResp { return hRaw(t, n, "POST /pub?topic=t HTTP/1.1\nHost: x\nContent-Length: 1048577\n") },
		"nsqd POST /pub?topic=t body 1048576 bytes": func() hResp { return post("/pub?topic=t", big(1048576)) },
		"nsqd POST /pub?topic=t&defer=-1 -d x":      func() hResp { return post("/pub?topic=t&defer=-1", "x") },
		"nsqd POST /pub?topic=t&defer=3600001 -d x": func() hResp { return post("/pub?topic=t&defer=3600001", "x") },
		"nsqd POST /pub?topic=t&defer=abc -d x":     func() hResp { return post("/pub?topic=t&defer=abc", "x") },
		"nsqd GET /pub?topic=t":                     func() hResp { return hGet(t, n, "/pub?topic=t") },
		"nsqd PUT /pub?topic=t -d x":                func() hResp { return hDo(t, nil, "PUT", hURL(n, "/pub?topic=t"), "x") },
		"nsqd POST /mpub?topic=t (empty body)":      func() hResp { return post("/mpub?topic=t", "") },
		"nsqd POST /mpub?topic=t&binary=true -d garbage": func() hResp {
			return post("/mpub?topic=t&binary=true", "garbage")
		},
		"nsqd POST /mpub?topic=t 'a⏎⏎b⏎'": func() hResp { return post("/mpub?topic=t", "a\n\nb\n") },
		"nsqd POST /mpub?topic=t body 5242881 bytes": func() hResp {
			return hRaw(t, n, "POST /mpub?topic=t HTTP/1.1\nHost: x\nContent-Length: 5242881\n")
		},
		"nsqd POST /mpub?topic=t 2 lines, the 2nd of 1048577 bytes": func() hResp {
			return post("/mpub?topic=t", "first\n"+big(1048577))
		},
		"nsqd POST /topic/create?topic=bad!name":                func() hResp { return post("/topic/create?topic=bad!name", "") },
		"nsqd POST /topic/create (no topic)":                    func() hResp { return post("/topic/create", "") },
		"nsqd POST /topic/delete?topic=nosuch":                  func() hResp { return post("/topic/delete?topic=nosuch", "") },
		"nsqd POST /topic/empty?topic=nosuch":                   func() hResp { return post("/topic/empty?topic=nosuch", "") },
		"nsqd POST /topic/pause?topic=nosuch":                   func() hResp { return post("/topic/pause?topic=nosuch", "") },
		"nsqd POST /channel/create?topic=t (no channel)":        func() hResp { return post("/channel/create?topic=t", "") },
		"nsqd POST /channel/create?topic=t&channel=bad!ch":      func() hResp { return post("/channel/create?topic=t&channel=bad!ch", "") },
		"nsqd POST /channel/delete?topic=orders&channel=nosuch": func() hResp { return post("/channel/delete?topic=orders&channel=nosuch", "") },
		"nsqd POST /channel/pause?topic=orders&channel=nosuch":  func() hResp { return post("/channel/pause?topic=orders&channel=nosuch", "") },
		"nsqd POST /channel/empty?topic=nosuch&channel=c":       func() hResp { return post("/channel/empty?topic=nosuch&channel=c", "") },
		"nsqd GET /nosuch":                                      func() hResp { return hGet(t, n, "/nosuch") },
		"nsqd GET /topic/create?topic=t":                        func() hResp { return hGet(t, n, "/topic/create?topic=t") },
		"nsqd GET /stats?format=json&topic=bad!name":            func() hResp { return hGet(t, n, "/stats?format=json&topic=bad!name") },
		"nsqd GET /config/nosuch":                               func() hResp { return hGet(t, n, "/config/nosuch") },
		"nsqd PUT /config/log_level -d bogus":                   func() hResp { return hDo(t, nil, "PUT", hURL(n, "/config/log_level"), "bogus") },
		"nsqd GET /pub?topic=t with Accept: application/vnd.nsq; version=1.0": func() hResp {
			return hDo(t, nil, "GET", hURL(n, "/pub?topic=t"), "", accept...)
		},
		"nsqd POST /topic/delete?topic=nosuch with Accept: application/vnd.nsq; version=1.0": func() hResp {
			return hDo(t, nil, "POST", hURL(n, "/topic/delete?topic=nosuch"), "", accept...)
		},
	}
	rows := nsqdErrorRows(t)
	if len(rows) != len(reqs) {
		t.Errorf("errors.md has %d nsqd rows, the test knows %d", len(rows), len(reqs))
	}
	for _, row := range rows {
		do, ok := reqs[row.req]
		if !ok {
			t.Errorf("no request for errors.md row %q", row.req)
			continue
		}
		r := do()
		if strings.HasPrefix(row.req, "nsqd GET /stats") {
			// a cut body with run-dependent numbers: compare the shape
			if r.code != row.code {
				t.Fatalf("%s: status %d, want %d", row.req, r.code, row.code)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			if string(got["topics"]) != "null" || string(got["producers"]) != "null" || !strings.Contains(row.body, `"topics":null,"memory":{`) {
				t.Fatalf("%s: %s", row.req, r.body)
			}
			continue
		}
		r.expectV1(t, row.req, row.code, row.body)
	}
	// the accepted messages: 1 MiB + "a","b"; mpub with an error publishes nothing
	tp, _ := n.GetExistingTopic("t")
	if got := tp.messageCount.Load(); got != 3 {
		t.Errorf("topic t message_count %d, want 3", got)
	}
}

// ---- endpoints as the seeds' curl recipes use them ----

func TestHTTPPubMpubRecipes(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	hPost(t, n, "/pub?topic=recipe", "hello").expectV1(t, "pub", 200, "OK")
	hPost(t, n, "/pub?topic=recipe&defer=1000", "later").expectV1(t, "pub defer", 200, "OK")
	hPost(t, n, "/mpub?topic=recipe", "m1\nm2\r\nm3").expectV1(t, "mpub text", 200, "OK")
	bin := wire.EncodeMPUBBody([][]byte{[]byte("b1"), []byte("b2")})
	hPost(t, n, "/mpub?topic=recipe&binary=1", string(bin)).expectV1(t, "mpub binary", 200, "OK")
	// any other binary value means binary (deprecated)
	hPost(t, n, "/mpub?topic=recipe&binary=yes", string(bin)).expectV1(t, "mpub binary=yes", 200, "OK")
	hPost(t, n, "/mpub?topic=recipe&binary=false", "f1\nf2").expectV1(t, "mpub binary=false", 200, "OK")
	// binary body errors
	bad := wire.EncodeMPUBBody([][]byte{[]byte("b1")})
	hPost(t, n, "/mpub?topic=recipe&binary=true", string(bad[:len(bad)-1])).expectV1(t, "truncated", 413, `{"message":"BAD_MESSAGE"}`)
	hPost(t, n, "/mpub?topic=recipe&binary=true", "\x00\x00\x00\x00").expectV1(t, "count 0", 413, `{"message":"BAD_BODY"}`)
	// repeated parameters: the first value counts
	hPost(t, n, "/pub?topic=first&topic=second", "x").expectV1(t, "repeated", 200, "OK")
	if _, err := n.GetExistingTopic("second"); err == nil {
		t.Fatal("the second topic value was used")
	}
	hPost(t, n, "/pub?topic=", "x").expectV1(t, "empty topic", 400, `{"message":"INVALID_TOPIC"}`)
	hPost(t, n, "/pub?topic=t&defer=", "x").expectV1(t, "empty defer", 400, `{"message":"INVALID_DEFER"}`)
	hPost(t, n, "/pub?topic=t&defer=3600000", "x").expectV1(t, "max defer", 200, "OK")
	hPost(t, n, "/pub?topic=t%zz", "x").expectV1(t, "bad escape", 400, `{"message":"INVALID_REQUEST"}`)
	hPost(t, n, "/pub?topic=t%zz", "").expectV1(t, "body first", 400, `{"message":"MSG_EMPTY"}`)
	hPost(t, n, "/mpub?topic=t%zz", "").expectV1(t, "mpub bad escape", 400, `{"message":"INVALID_REQUEST"}`)

	// consume them all: the bodies, in order per publish, \r kept
	c := dialRaw(t, n)
	c.write(wire.MagicV2)
	c.cmd(wire.Subscribe("recipe", "ch"))
	c.expect(wire.FrameTypeResponse, "OK")
	tp, _ := n.GetExistingTopic("recipe")
	if got := tp.messageCount.Load(); got != 11 {
		t.Fatalf("recipe message_count %d, want 11", got)
	}
	ch, _ := tp.GetExistingChannel("ch")
	eventually(t, 5*time.Second, "messages reach the channel", func() bool { return ch.Depth()+int64(ch.DeferredCount()) == 11 })
	if ch.DeferredCount() != 1 {
		t.Fatalf("deferred %d, want 1", ch.DeferredCount())
	}
	c.cmd(wire.Ready(20))
	var got []string
	for len(got) < 10 {
		ft, data, err := c.frame()
		if err != nil {
			t.Fatal(err)
		}
		if ft != wire.FrameTypeMessage {
			continue
		}
		m, _ := wire.DecodeMessage(data)
		got = append(got, string(m.Body))
		c.cmd(wire.Finish(m.ID))
	}
	want := []string{"hello", "m1", "m2\r", "m3", "b1", "b2", "b1", "b2", "f1", "f2"}
	if !slices.Equal(got, want) {
		t.Fatalf("bodies %q, want %q", got, want)
	}
}

func TestHTTPTopicChannelRecipes(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	ok := func(path string) {
		t.Helper()
		hPost(t, n, path, "").expectV1(t, path, 200, "")
	}
	ok("/topic/create?topic=rt")
	tp, err := n.GetExistingTopic("rt")
	if err != nil {
		t.Fatal(err)
	}
	ok("/channel/create?topic=rt&channel=c1")
	ok("/channel/create?topic=rt&channel=c2")
	c1, err := tp.GetExistingChannel("c1")
	if err != nil {
		t.Fatal(err)
	}
	hPost(t, n, "/channel/create?topic=nosuch&channel=c", "").expectV1(t, "channel create unknown topic", 404, `{"message":"TOPIC_NOT_FOUND"}`)
	hPost(t, n, "/channel/create?channel=c", "").expectV1(t, "no topic", 400, `{"message":"MISSING_ARG_TOPIC"}`)
	hPost(t, n, "/channel/create?topic=bad!&channel=c", "").expectV1(t, "bad topic", 400, `{"message":"INVALID_ARG_TOPIC"}`)
	hPost(t, n, "/channel/create?topic=bad!&channel=bad!", "").expectV1(t, "order", 400, `{"message":"INVALID_ARG_TOPIC"}`)
	hPost(t, n, "/topic/empty?topic=bad!", "").expectV1(t, "empty bad", 400, `{"message":"INVALID_TOPIC"}`)
	hPost(t, n, "/topic/delete?topic=bad!", "").expectV1(t, "delete bad", 404, `{"message":"TOPIC_NOT_FOUND"}`)
	hPost(t, n, "/topic/pause?topic=bad!", "").expectV1(t, "pause bad", 404, `{"message":"TOPIC_NOT_FOUND"}`)
	hPost(t, n, "/topic/delete", "").expectV1(t, "delete none", 400, `{"message":"MISSING_ARG_TOPIC"}`)
	hPost(t, n, "/topic/unpause?topic=t%g", "").expectV1(t, "unpause bad query", 400, `{"message":"INVALID_REQUEST"}`)

	for i := 0; i < 5; i++ {
		hPost(t, n, "/pub?topic=rt", "x").expectV1(t, "pub", 200, "OK")
	}
	eventually(t, 5*time.Second, "messages in c1", func() bool { return c1.Depth() == 5 })

	ok("/channel/pause?topic=rt&channel=c1")
	if !c1.Paused() {
		t.Fatal("c1 not paused")
	}
	meta := func() string {
		b, err := os.ReadFile(filepath.Join(n.dataPath, "nsqd.dat"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.Contains(meta(), `{"name":"c1","paused":true}`) {
		t.Fatalf("nsqd.dat after channel pause: %s", meta())
	}
	ok("/channel/unpause?topic=rt&channel=c1")
	if c1.Paused() || strings.Contains(meta(), `"paused":true`) {
		t.Fatalf("c1 still paused: %s", meta())
	}
	ok("/topic/pause?topic=rt")
	if !tp.Paused() || !strings.Contains(meta(), `"name":"rt","paused":true`) {
		t.Fatalf("topic not paused: %s", meta())
	}
	hPost(t, n, "/pub?topic=rt", "held").expectV1(t, "pub paused", 200, "OK")
	eventually(t, time.Second, "topic depth 1", func() bool { return tp.Depth() == 1 })
	ok("/topic/empty?topic=rt")
	if tp.Depth() != 0 {
		t.Fatalf("topic depth %d after empty", tp.Depth())
	}
	ok("/topic/unpause?topic=rt")
	if tp.Paused() || strings.Contains(meta(), `"paused":true`) {
		t.Fatalf("topic still paused: %s", meta())
	}
	ok("/channel/empty?topic=rt&channel=c1")
	if c1.Depth() != 0 {
		t.Fatalf("c1 depth %d after empty", c1.Depth())
	}
	ok("/channel/delete?topic=rt&channel=c2")
	if _, err := tp.GetExistingChannel("c2"); err == nil {
		t.Fatal("c2 not deleted")
	}
	hPost(t, n, "/channel/delete?topic=rt&channel=c2", "").expectV1(t, "delete again", 404, `{"message":"CHANNEL_NOT_FOUND"}`)
	hPost(t, n, "/channel/empty?topic=rt&channel=c2", "").expectV1(t, "empty deleted", 404, `{"message":"CHANNEL_NOT_FOUND"}`)
	hPost(t, n, "/channel/unpause?topic=rt&channel=c2", "").expectV1(t, "unpause deleted", 404, `{"message":"CHANNEL_NOT_FOUND"}`)
	ok("/topic/delete?topic=rt")
	if _, err := n.GetExistingTopic("rt"); err == nil {
		t.Fatal("topic not deleted")
	}
	hPost(t, n, "/topic/unpause?topic=rt", "").expectV1(t, "unpause deleted", 404, `{"message":"TOPIC_NOT_FOUND"}`)
}

func TestHTTPPingInfo(t *testing.T) {
	opts := testOptions(t)
	log := &testLog{t: t}
	opts.LogOutput = log
	n := startNSQD(t, opts)

	r := hGet(t, n, "/ping")
	r.expect(t, "ping", 200, "OK")
	sameHeadersAsFixture(t, r, "nsqd-a.ping.txt")
	if r.hdr.Get("X-NSQ-Content-Type") != "" {
		t.Fatal("/ping is not a V1 endpoint")
	}
	n.setHealth(fmt.Errorf("disk on fire"))
	hGet(t, n, "/ping").expect(t, "unhealthy ping", 500, "NOK - disk on fire")
	n.setHealth(nil)
	hGet(t, n, "/ping").expect(t, "healthy again", 200, "OK")

	r = hGet(t, n, "/info")
	sameHeadersAsFixture(t, r, "nsqd-a.info.json")
	testutil.CompareJSONShape(t, "/info", []byte(r.body), readTestdata(t, "nsqd-a.info.json"))
	var info map[string]any
	json.Unmarshal([]byte(r.body), &info)
	host, _ := os.Hostname()
	if info["version"] != version.Reported || info["hostname"] != host || info["broadcast_address"] != "127.0.0.1" ||
		int(info["http_port"].(float64)) != portOf(n.httpListener) || int(info["tcp_port"].(float64)) != portOf(n.tcpListener) ||
		int64(info["start_time"].(float64)) != n.startTime.Unix() || info["max_heartbeat_interval"].(float64) != 60e9 ||
		info["max_output_buffer_size"].(float64) != 65536 || info["max_output_buffer_timeout"].(float64) != 30e9 ||
		info["max_deflate_level"].(float64) != 6 {
		t.Fatalf("/info %s", r.body)
	}

	// every request is logged at INFO
	eventually(t, time.Second, "request log line", func() bool {
		return regexp.MustCompile(`INFO: 200 GET /info \(127\.0\.0\.1:\d+\) \S+`).MatchString(log.String()) &&
			strings.Contains(log.String(), "INFO: 500 GET /ping (127.0.0.1:")
	})
}

func TestHTTPRouting(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	r := hGet(t, n, "/pub")
	r.expectV1(t, "GET /pub", 405, `{"message":"METHOD_NOT_ALLOWED"}`)
	if got := r.hdr.Get("Allow"); got != "OPTIONS, POST" {
		t.Fatalf("Allow %q", got)
	}
	r = hPost(t, n, "/config/log_level", "x")
	r.expectV1(t, "POST /config", 405, `{"message":"METHOD_NOT_ALLOWED"}`)
	if got := r.hdr.Get("Allow"); got != "GET, OPTIONS, PUT" {
		t.Fatalf("Allow %q", got)
	}
	r = hDo(t, nil, "OPTIONS", hURL(n, "/stats"), "")
	r.expect(t, "OPTIONS /stats", 200, "")
	if got := r.hdr.Get("Allow"); got != "GET, OPTIONS" {
		t.Fatalf("Allow %q", got)
	}
	hDo(t, nil, "OPTIONS", hURL(n, "/nosuch"), "").expectV1(t, "OPTIONS unknown", 404, `{"message":"NOT_FOUND"}`)
	hDo(t, nil, "DELETE", hURL(n, "/nosuch"), "").expectV1(t, "DELETE unknown", 404, `{"message":"NOT_FOUND"}`)
	hGet(t, n, "/").expectV1(t, "GET /", 404, `{"message":"NOT_FOUND"}`)
	// the removed pre-1.0 endpoints
	for _, p := range []string{"/put", "/mput", "/create_topic", "/delete_channel", "/pause_topic"} {
		hPost(t, n, p+"?topic=x", "x").expectV1(t, p, 404, `{"message":"NOT_FOUND"}`)
	}

	redirect := func(method, path string, code int, loc string) {
		t.Helper()
		r := hDo(t, nil, method, hURL(n, path), "")
		if r.code != code || r.hdr.Get("Location") != loc {
			t.Fatalf("%s %s: %d Location %q, want %d %q", method, path, r.code, r.hdr.Get("Location"), code, loc)
		}
	}
	redirect("GET", "/ping/", 301, "/ping")
	redirect("GET", "/stats/?format=json", 301, "/stats?format=json")
	redirect("GET", "/debug/pprof", 301, "/debug/pprof/")
	redirect("GET", "/PING", 301, "/ping")
	redirect("GET", "/Config/Log_Level", 301, "/config/Log_Level")
	redirect("POST", "/pub/?topic=x", 307, "/pub?topic=x")
	redirect("POST", "/Topic/Create?topic=x", 307, "/topic/create?topic=x")
	redirect("POST", "//topic/../topic/create", 307, "/topic/create")
	// a near miss of a path that does not take the method is not redirected
	hGet(t, n, "/PUB").expectV1(t, "GET /PUB", 404, `{"message":"NOT_FOUND"}`)

	hGet(t, n, "/stats?topic=%zz").expectV1(t, "bad query", 400, `{"message":"INVALID_REQUEST"}`)

	hDo(t, nil, "PUT", hURL(n, "/debug/setblockrate?rate=abc"), "").expect(t, "setblockrate bad", 400,
		`invalid block rate : strconv.Atoi: parsing "abc": invalid syntax`)
	hDo(t, nil, "PUT", hURL(n, "/debug/setblockrate?rate=0"), "").expect(t, "setblockrate", 200, "")
	hPost(t, n, "/debug/freememory", "").expect(t, "freememory", 200, "")
	if r := hGet(t, n, "/debug/pprof/"); r.code != 200 || !strings.Contains(r.body, "goroutine") {
		t.Fatalf("pprof index: %d", r.code)
	}
	if r := hGet(t, n, "/debug/pprof/goroutine?debug=1"); r.code != 200 || !strings.Contains(r.body, "goroutine profile") {
		t.Fatalf("pprof goroutine: %d", r.code)
	}
	if r := hGet(t, n, "/debug/pprof/cmdline"); r.code != 200 {
		t.Fatalf("pprof cmdline: %d", r.code)
	}
}

// A handler panic answers 500 INTERNAL_ERROR and the server keeps going.
func TestHTTPPanicRecovered(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	h := newHTTPHandler(n)
	h.router.add("GET", "/test/panic", func(http.ResponseWriter, *http.Request, string) { panic("boom") })
	srv := httptest.NewServer(h)
	defer srv.Close()
	hDo(t, nil, "GET", srv.URL+"/test/panic", "").expectV1(t, "panic", 500, `{"message":"INTERNAL_ERROR"}`)
	hDo(t, nil, "GET", srv.URL+"/ping", "").expect(t, "after panic", 200, "OK")
}

func TestHTTPConfig(t *testing.T) {
	opts := testOptions(t)
	opts.LogLevel = logger.Info
	opts.NSQLookupdTCPAddresses = []string{"127.0.0.1:4160"}
	n := startNSQD(t, opts)

	r := hGet(t, n, "/config/nsqlookupd_tcp_addresses")
	sameHeadersAsFixture(t, r, "nsqd-a.config-lookupd-addresses.json")
	r.expectV1(t, "lookupd addresses", 200, string(readTestdata(t, "nsqd-a.config-lookupd-addresses.json")))
	r = hGet(t, n, "/config/log_level")
	sameHeadersAsFixture(t, r, "nsqd-a.config-log-level.txt")
	r.expectV1(t, "log_level", 200, string(readTestdata(t, "nsqd-a.config-log-level.txt")))

	put := func(opt, body string) hResp { return hDo(t, nil, "PUT", hURL(n, "/config/"+opt), body) }
	put("log_level", "DEBUG").expectV1(t, "PUT log_level", 200, "1")
	if n.logger.Level() != logger.Debug {
		t.Fatalf("logger level %v", n.logger.Level())
	}
	hGet(t, n, "/config/log_level").expectV1(t, "log_level after PUT", 200, "1")
	put("log_level", "warn").expectV1(t, "PUT warn", 200, "3")
	put("log_level", "").expectV1(t, "PUT empty", 413, `{"message":"INVALID_VALUE"}`)
	put("log_level", strings.Repeat("x", int(opts.MaxMsgSize)+1)).expectV1(t, "PUT too long", 413, `{"message":"INVALID_VALUE"}`)
	put("nsqlookupd_tcp_addresses", `["a:4160","b:4160"]`).expectV1(t, "PUT lookupd", 200, `["a:4160","b:4160"]`)
	if got := n.lookupdAddresses(); !slices.Equal(got, []string{"a:4160", "b:4160"}) {
		t.Fatalf("lookupd addresses %q", got)
	}
	put("nsqlookupd_tcp_addresses", `[]`).expectV1(t, "PUT no lookupd", 200, `[]`)
	put("nsqlookupd_tcp_addresses", `"a:4160"`).expectV1(t, "PUT not an array", 400, `{"message":"INVALID_VALUE"}`)
	put("mem_queue_size", "5").expectV1(t, "PUT read-only", 400, `{"message":"INVALID_OPTION"}`)
	put("nosuch", "5").expectV1(t, "PUT unknown", 400, `{"message":"INVALID_OPTION"}`)
	hGet(t, n, "/config/queue_scan_interval").expectV1(t, "no flag", 400, `{"message":"INVALID_OPTION"}`)
	hGet(t, n, "/config/max-msg-size").expectV1(t, "flag spelling", 400, `{"message":"INVALID_OPTION"}`)
	hGet(t, n, "/config/node_id").expectV1(t, "node_id is id", 400, `{"message":"INVALID_OPTION"}`)

	// every option with a flag: raw strings, JSON for the rest
	want := map[string]string{
		"log_prefix": "[nsqd] ", "id": fmt.Sprint(opts.NodeID),
		"tcp_address": "127.0.0.1:0", "http_address": "127.0.0.1:0", "https_address": "127.0.0.1:0",
		"broadcast_address": "127.0.0.1", "broadcast_tcp_port": fmt.Sprint(portOf(n.tcpListener)),
		"broadcast_http_port": fmt.Sprint(portOf(n.httpListener)),
		"auth_http_addresses": "[]", "http_client_connect_timeout": "2000000000", "http_client_request_timeout": "5000000000",
		"data_path": opts.DataPath, "mem_queue_size": "10000", "max_bytes_per_file": "104857600", "sync_every": "2500",
		"sync_timeout": "2000000000", "queue_scan_worker_pool_max": "4", "queue_scan_selection_count": "20",
		"msg_timeout": "60000000000", "max_msg_timeout": "900000000000", "max_msg_size": "1048576",
		"max_req_timeout": "3600000000000", "max_body_size": "5242880", "max_heartbeat_interval": "60000000000",
		"max_rdy_count": "2500", "max_output_buffer_size": "65536", "max_output_buffer_timeout": "30000000000",
		"min_output_buffer_timeout": "25000000", "output_buffer_timeout": "250000000", "max_channel_consumers": "0",
		"statsd_address": "", "statsd_interval": "60000000000", "statsd_mem_stats": "true",
		"statsd_prefix": "nsq.127_0_0_1_" + fmt.Sprint(portOf(n.httpListener)) + ".", "statsd_udp_packet_size": "508",
		"statsd_exclude_ephemeral": "false", "e2e_processing_latency_percentiles": "[]",
		"e2e_processing_latency_window_time": "600000000000", "tls_cert": "", "tls_key": "", "tls_client_auth_policy": "",
		"tls_root_ca_file": "", "tls_required": "0", "tls_min_version": "769", "deflate": "true", "max_deflate_level": "6",
		"snappy": "true", "log_level": "3", "nsqlookupd_tcp_addresses": "[]",
	}
	var names []string
	for k := range configOptions {
		names = append(names, k)
	}
	var wantNames []string
	for k := range want {
		wantNames = append(wantNames, k)
	}
	sort.Strings(names)
	sort.Strings(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Fatalf("config options %q\nwant %q", names, wantNames)
	}
	for opt, body := range want {
		hGet(t, n, "/config/"+opt).expectV1(t, opt, 200, body)
	}
}

func TestHTTPTLSRequired(t *testing.T) {
	certs := makeTestCerts(t)
	for _, tc := range []struct {
		level int
		gated bool
	}{{TLSRequired, true}, {TLSRequiredExceptHTTP, false}} {
		opts := testOptions(t)
		opts.TLSCert, opts.TLSKey = certs.ServerCert, certs.ServerKey
		opts.TLSRequired = tc.level
		n := startNSQD(t, opts)
		https := "https://" + n.HTTPSAddr().String()
		tlsClient := hClient(certs.ClientTLS(t, false))
		hDo(t, tlsClient, "GET", https+"/ping", "").expect(t, "https ping", 200, "OK")
		hDo(t, tlsClient, "POST", https+"/pub?topic=s", "x").expectV1(t, "https pub", 200, "OK")
		if !tc.gated {
			hGet(t, n, "/ping").expect(t, "tcp-https plain ping", 200, "OK")
			continue
		}
		body := fmt.Sprintf(`{"message": "TLS_REQUIRED", "https_port": %d}`, portOf(n.httpsListener))
		for _, r := range []hResp{
			hGet(t, n, "/ping"),
			hPost(t, n, "/pub?topic=s", "x"),
			hGet(t, n, "/nosuch"),
			hDo(t, nil, "OPTIONS", hURL(n, "/stats"), ""),
		} {
			r.expectV1(t, "TLS required", 403, body)
		}
	}
}

func TestHTTPOnlyHTTPS(t *testing.T) {
	// --http-address empty: no plain listener, HTTPS still served
	certs := makeTestCerts(t)
	opts := testOptions(t)
	opts.HTTPAddress = ""
	opts.TLSCert, opts.TLSKey = certs.ServerCert, certs.ServerKey
	n := startNSQD(t, opts)
	if n.HTTPAddr() != nil {
		t.Fatal("plain HTTP listener exists")
	}
	r := hDo(t, hClient(certs.ClientTLS(t, false)), "GET", "https://"+n.HTTPSAddr().String()+"/info", "")
	var info map[string]any
	if err := json.Unmarshal([]byte(r.body), &info); err != nil || info["http_port"].(float64) != 0 {
		t.Fatalf("/info without HTTP: %s", r.body)
	}
}

func TestHTTPMetrics(t *testing.T) {
	n := startNSQD(t, fixtureOptions(t))
	hPost(t, n, "/topic/create?topic=mt", "").expectV1(t, "create", 200, "")
	hPost(t, n, "/channel/create?topic=mt&channel=mc", "").expectV1(t, "create", 200, "")
	hPost(t, n, "/pub?topic=mt", "x").expectV1(t, "pub", 200, "OK")
	ch, _ := n.GetTopic("mt").GetExistingChannel("mc")
	eventually(t, 5*time.Second, "message in mc", func() bool { return ch.Depth() == 1 })
	r := hGet(t, n, "/metrics")
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics %d %q", r.code, r.hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		`nsq_topic_depth{topic="mt"} 0`,
		`nsq_topic_messages_total{topic="mt"} 1`,
		`nsq_channel_depth{channel="mc",topic="mt"} 1`,
		`nsq_channel_in_flight{channel="mc",topic="mt"} 0`,
		`nsq_channel_deferred{channel="mc",topic="mt"} 0`,
		`nsq_channel_messages_total{channel="mc",topic="mt"} 1`,
		`nsq_channel_requeued_total{channel="mc",topic="mt"} 0`,
		`nsq_channel_timed_out_total{channel="mc",topic="mt"} 0`,
		`nsq_channel_clients{channel="mc",topic="mt"} 0`,
		`nsq_channel_e2e_processing_latency_seconds{channel="mc",quantile="0.99",topic="mt"} 0`,
		`nsq_topic_e2e_processing_latency_seconds{quantile="0.5",topic="mt"} 0`,
		`nsq_healthy 1`,
		`# TYPE nsq_topic_messages_total counter`,
		`# TYPE nsq_channel_depth gauge`,
		`go_goroutines `,
	} {
		if !strings.Contains(r.body, want+"\n") && !strings.Contains(r.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(r.body)
	}
	n.setHealth(fmt.Errorf("x"))
	if r := hGet(t, n, "/metrics"); !strings.Contains(r.body, "nsq_healthy 0\n") {
		t.Fatal("nsq_healthy not 0 when unhealthy")
	}
	n.setHealth(nil)
}
