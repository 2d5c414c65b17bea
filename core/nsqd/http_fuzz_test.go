package nsqd

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// Fuzz targets for the HTTP API's parsing (http-api.md §2.4–2.7): query
// parameters, topic and channel names, defer, /mpub bodies in text and
// binary mode. Each input is one request served by the real handler of a
// running broker (in process, no socket); the expected answer and the
// broker's state afterwards come from a model written from the spec.

// Limits of the fuzzed broker: small, so that inputs reach them.
const (
	fzMaxMsg  = 100
	fzMaxBody = 1000
)

// fzName is the spec's name rule (tcp-protocol.md 1.10), independently
// of core/wire.
var fzName = regexp.MustCompile(`^[.a-zA-Z0-9_-]+(#ephemeral)?$`)

func fzValidName(s string) bool { return len(s) <= 64 && fzName.MatchString(s) }

type fzBroker struct {
	n *NSQD
	h *httpHandler
}

func startFuzzBroker(f *testing.F) *fzBroker {
	opts := testOptions(f)
	// Every input creates and deletes a topic, which fsyncs metadata:
	// on a memory file system when there is one, for speed.
	if dir, err := os.MkdirTemp("/dev/shm", "nsqd-fuzz-"); err == nil {
		f.Cleanup(func() { os.RemoveAll(dir) })
		opts.DataPath = dir
	}
	opts.MaxMsgSize = fzMaxMsg
	opts.MaxBodySize = fzMaxBody
	opts.LogLevel = logger.Error
	opts.LogOutput = io.Discard
	n := startNSQD(f, opts)
	return &fzBroker{n: n, h: newHTTPHandler(n)}
}

// fzResp is an answer: status and body.
type fzResp struct {
	code int
	body string
}

func v1Err(code int, msg string) fzResp { return fzResp{code, `{"message":"` + msg + `"}`} }

// serve sends one request to the handler; chunked leaves Content-Length
// unknown.
func (z *fzBroker) serve(t *testing.T, method, p, rawQuery string, body []byte, chunked bool) fzResp {
	t.Helper()
	req := &http.Request{
		Method: method, URL: &url.URL{Path: p, RawQuery: rawQuery},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), RemoteAddr: "127.0.0.1:1", Host: "nsqd",
	}
	if chunked {
		req.ContentLength = -1
	}
	w := httptest.NewRecorder()
	z.h.ServeHTTP(w, req)
	if w.Code != http.StatusOK && w.Header().Get("X-NSQ-Content-Type") != "nsq; version=1.0" {
		t.Fatalf("%s %s?%q: %d without X-NSQ-Content-Type", method, p, rawQuery, w.Code)
	}
	return fzResp{w.Code, w.Body.String()}
}

// fresh makes sure topic name does not exist (valid names only).
func (z *fzBroker) fresh(name string) {
	if !fzValidName(name) {
		return
	}
	z.n.DeleteExistingTopic(name)
	// an ephemeral topic's own deletion (its last channel left) may be
	// under way: the name is free once it is out of the topic map
	for deadline := time.Now().Add(5 * time.Second); z.exists(name) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

func (z *fzBroker) exists(name string) bool {
	_, err := z.n.GetExistingTopic(name)
	return err == nil
}

// fzQuery is the model's view of a query: url.ParseQuery (NSQ 1.3.0
// parses with it too) and the first value of each parameter.
type fzQuery struct {
	ok   bool
	vals url.Values
}

func parseFzQuery(raw string) fzQuery {
	v, err := url.ParseQuery(raw)
	return fzQuery{err == nil, v}
}

func (q fzQuery) first(k string) (string, bool) {
	vs, ok := q.vals[k]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// fzExpectPublished waits (briefly) until topic name shows count more
// messages of bytes more body bytes than before, and they sit where the
// spec puts them: at the topic without channels, else in channel "c",
// held deferred when published with a long defer.
func (z *fzBroker) expectPublished(t *testing.T, name string, withChannel bool, count, nbytes int, deferred time.Duration) {
	t.Helper()
	var last string
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := z.n.GetStats(name, "", false)
		if len(st.Topics) != 1 {
			t.Fatalf("topic %q: stats %+v", name, st.Topics)
		}
		ts := st.Topics[0]
		ok := ts.MessageCount == uint64(count) && ts.MessageBytes == uint64(nbytes)
		if withChannel {
			if len(ts.Channels) != 1 {
				t.Fatalf("topic %q: channels %+v", name, ts.Channels)
			}
			cs := ts.Channels[0]
			ok = ok && ts.Depth == 0 && cs.Depth+int64(cs.DeferredCount) == int64(count)
			if deferred > time.Minute {
				ok = ok && cs.DeferredCount == count
			}
			last = fmt.Sprintf("topic count %d bytes %d depth %d, channel depth %d deferred %d",
				ts.MessageCount, ts.MessageBytes, ts.Depth, cs.Depth, cs.DeferredCount)
		} else {
			ok = ok && ts.Depth == int64(count)
			last = fmt.Sprintf("topic count %d bytes %d depth %d", ts.MessageCount, ts.MessageBytes, ts.Depth)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %q: want %d messages (%d bytes, defer %s); %s", name, count, nbytes, deferred, last)
		}
		time.Sleep(time.Millisecond)
	}
}

// FuzzHTTPPub checks POST /pub: the checks of http-api.md §2.4 in their
// order (size before topic, topic created before the defer check), defer
// as 1.3.0 computes it (ms × 1e6 in int64, wrapping, then 0 … max-req-
// timeout), and on 200 exactly one message of exactly the body's bytes,
// deferred in the channel when defer is long.
func FuzzHTTPPub(f *testing.F) {
	for _, s := range []struct {
		q       string
		body    string
		channel bool
		chunked bool
	}{
		{"topic=t", "hello", false, false},
		{"topic=t", "hello", true, false},
		{"topic=t&defer=0", "x", true, false},
		{"topic=t&defer=3600000", "x", true, false},
		{"topic=t&defer=3600001", "x", true, false},
		{"topic=t&defer=-1", "x", true, false},
		{"topic=t&defer=1e3", "x", true, false},
		{"topic=t&defer=+5", "x", true, false},
		{"topic=t&defer=", "x", false, false},
		{"topic=t&defer=9223372036855", "x", true, false},  // wraps to a negative
		{"topic=t&defer=18446744073710", "x", true, false}, // out of int64
		{"topic=t&defer=9223372036854775807", "x", true, false},
		{"topic=t&defer=10&defer=x", "x", true, false},
		{"topic=t#ephemeral", "x", true, false},
		{"topic=a%23ephemeral", "x", true, false},
		{"topic=", "x", false, false},
		{"", "x", false, false},
		{"topic=bad!name", "x", false, false},
		{"topic=t&topic=bad!", "x", false, false},
		{"topic=%zz", "x", false, false},
		{"topic=t;x", "x", false, false},
		{"topic=t", "", false, false},
		{"", "", false, false},
		{"topic=t", strings.Repeat("m", fzMaxMsg), true, false},
		{"topic=t", strings.Repeat("m", fzMaxMsg+1), true, false},
		{"topic=t", strings.Repeat("m", fzMaxMsg+1), true, true},
		{"topic=t", strings.Repeat("m", fzMaxMsg), true, true},
		{"topic=" + strings.Repeat("a", 64), "x", false, false},
		{"topic=" + strings.Repeat("a", 65), "x", false, false},
	} {
		f.Add(s.q, []byte(s.body), s.channel, s.chunked)
	}
	z := startFuzzBroker(f)
	maxReq := z.n.opts.MaxReqTimeout
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte, withChannel, chunked bool) {
		q := parseFzQuery(rawQuery)
		name, hasName := q.first("topic")
		z.fresh(name)
		if withChannel && fzValidName(name) {
			z.n.GetTopic(name).GetChannel("c")
		} else {
			withChannel = false
		}
		defer z.fresh(name)

		// the model
		var want fzResp
		created := withChannel
		var deferred time.Duration
		switch {
		case len(body) > fzMaxMsg: // by Content-Length, or once read
			want = v1Err(413, "MSG_TOO_BIG")
		case len(body) == 0:
			want = v1Err(400, "MSG_EMPTY")
		case !q.ok:
			want = v1Err(400, "INVALID_REQUEST")
		case !hasName:
			want = v1Err(400, "MISSING_ARG_TOPIC")
		case !fzValidName(name):
			want = v1Err(400, "INVALID_TOPIC")
		default:
			created = true
			want = fzResp{200, "OK"}
			if ds, ok := q.first("defer"); ok {
				ms, err := strconv.ParseInt(ds, 10, 64)
				deferred = time.Duration(ms) * time.Millisecond // wraps like 1.3.0's
				if err != nil || deferred < 0 || deferred > maxReq {
					want = v1Err(400, "INVALID_DEFER")
				}
			}
		}

		got := z.serve(t, "POST", "/pub", rawQuery, body, chunked)
		if got != want {
			t.Fatalf("/pub?%q (%d bytes, chunked %v): got %d %q, want %d %q", rawQuery, len(body), chunked, got.code, got.body, want.code, want.body)
		}
		if fzValidName(name) && z.exists(name) != created {
			t.Fatalf("/pub?%q: topic exists %v, want %v", rawQuery, !created, created)
		}
		if created {
			n := 0
			if want.code == 200 {
				n = 1
			}
			z.expectPublished(t, name, withChannel, n, n*len(body), deferred)
		}
	})
}

// mpubModel is /mpub's body handling (http-api.md §2.5): the messages it
// publishes or the error.
func mpubModel(body []byte, binaryMode bool) ([][]byte, *fzResp) {
	if binaryMode {
		// [u32 count]([u32 size][bytes])*count, TCP MPUB's limits,
		// trailing bytes ignored; errors are 413 with the code minus E_
		bad := func(msg string) ([][]byte, *fzResp) { r := v1Err(413, msg); return nil, &r }
		if len(body) < 4 {
			return bad("BAD_BODY")
		}
		count := int32(binary.BigEndian.Uint32(body))
		if count <= 0 || int64(count) > (fzMaxBody-4)/5 {
			return bad("BAD_BODY")
		}
		rest := body[4:]
		var msgs [][]byte
		for range count {
			if len(rest) < 4 {
				return bad("BAD_MESSAGE")
			}
			size := int32(binary.BigEndian.Uint32(rest))
			rest = rest[4:]
			if size <= 0 || size > fzMaxMsg || int(size) > len(rest) {
				return bad("BAD_MESSAGE")
			}
			msgs = append(msgs, rest[:size])
			rest = rest[size:]
		}
		return msgs, nil
	}
	// text: lines split on \n (a \r stays), empty ones skipped; the body
	// is read up to max-body-size+1 bytes: reaching that is BODY_TOO_BIG,
	// found at the line that reaches it, after the earlier lines' checks
	readMax := fzMaxBody + 1
	read := body[:min(len(body), readMax)]
	var msgs [][]byte
	total := 0
	for len(read) > 0 {
		line := read
		if i := bytes.IndexByte(read, '\n'); i >= 0 {
			line = read[:i+1]
		}
		read = read[len(line):]
		total += len(line)
		if total == readMax {
			r := v1Err(413, "BODY_TOO_BIG")
			return nil, &r
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 {
			continue
		}
		if len(line) > fzMaxMsg {
			r := v1Err(413, "MSG_TOO_BIG")
			return nil, &r
		}
		msgs = append(msgs, line)
	}
	return msgs, nil
}

// FuzzHTTPMPub checks POST /mpub: Content-Length against max-body-size
// first, then the topic checks (topic created before the body is read),
// the binary parameter (absent/false/0 text, true/1 binary, anything
// else binary), then text or binary parsing; on 200 exactly the model's
// messages are queued (count and bytes).
func FuzzHTTPMPub(f *testing.F) {
	bin := func(msgs ...string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(msgs)))
		for _, m := range msgs {
			b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
			b = append(b, m...)
		}
		return b
	}
	for _, s := range []struct {
		q       string
		body    []byte
		channel bool
		chunked bool
	}{
		{"topic=t", []byte("a\nb\n"), true, false},
		{"topic=t", []byte("a\r\n\n\nb"), true, false},
		{"topic=t", []byte("\n\n"), true, false},
		{"topic=t", []byte(""), false, false},
		{"topic=t", []byte(strings.Repeat("m", fzMaxMsg+1) + "\n"), true, false},
		{"topic=t", []byte(strings.Repeat("m\n", fzMaxBody/2) + "x"), true, false},
		{"topic=t", []byte(strings.Repeat("m\n", fzMaxBody/2)), true, true},
		{"topic=t", []byte(strings.Repeat("m\n", fzMaxBody/2-1) + "m"), true, true},
		{"topic=t", append([]byte(strings.Repeat("m", fzMaxMsg+1)+"\n"), strings.Repeat("x", fzMaxBody)...), true, true},
		{"topic=t&binary=true", bin("a", "bc"), true, false},
		{"topic=t&binary=1", append(bin("a"), "trailing"...), true, false},
		{"topic=t&binary=yes", bin("a"), true, false},
		{"topic=t&binary=0", bin("a"), true, false},
		{"topic=t&binary=false&binary=true", []byte("a\nb"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\x00"), true, false},
		{"topic=t&binary=true", []byte("\xff\xff\xff\xff"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\xc7"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\xc6"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\xc8"), true, false}, // over (max-body-size - 4) / 5
		{"topic=t&binary=true", []byte("\x00\x00\x00\x01\x00\x00\x00\x00"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\x01\xff\xff\xff\xff"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\x01\x00\x00\x00\x65"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\x01\x00\x00\x00\x05ab"), true, false},
		{"topic=t&binary=true", []byte("\x00\x00\x00\x02\x00\x00\x00\x01a"), true, false},
		{"topic=bad!&binary=true", bin("a"), false, false},
		{"binary=true", bin("a"), false, false},
		{"topic=t&x=%", bin("a"), false, false},
		{"topic=t#ephemeral", []byte("a\nb"), true, false},
		{"topic=t", []byte(strings.Repeat("m", fzMaxBody+1)), false, false},
	} {
		f.Add(s.q, s.body, s.channel, s.chunked)
	}
	z := startFuzzBroker(f)
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte, withChannel, chunked bool) {
		q := parseFzQuery(rawQuery)
		name, hasName := q.first("topic")
		z.fresh(name)
		if withChannel && fzValidName(name) {
			z.n.GetTopic(name).GetChannel("c")
		} else {
			withChannel = false
		}
		defer z.fresh(name)

		var want fzResp
		var msgs [][]byte
		created := withChannel
		switch {
		case !chunked && len(body) > fzMaxBody:
			want = v1Err(413, "BODY_TOO_BIG")
		case !q.ok:
			want = v1Err(400, "INVALID_REQUEST")
		case !hasName:
			want = v1Err(400, "MISSING_ARG_TOPIC")
		case !fzValidName(name):
			want = v1Err(400, "INVALID_TOPIC")
		default:
			created = true
			binaryMode := false
			if v, ok := q.first("binary"); ok {
				binaryMode = v != "false" && v != "0"
			}
			var bad *fzResp
			if msgs, bad = mpubModel(body, binaryMode); bad != nil {
				want = *bad
			} else {
				want = fzResp{200, "OK"}
			}
		}

		got := z.serve(t, "POST", "/mpub", rawQuery, body, chunked)
		if got != want {
			t.Fatalf("/mpub?%q (%q, chunked %v): got %d %q, want %d %q", rawQuery, body, chunked, got.code, got.body, want.code, want.body)
		}
		if fzValidName(name) && z.exists(name) != created {
			t.Fatalf("/mpub?%q: topic exists %v, want %v", rawQuery, !created, created)
		}
		if created {
			nbytes := 0
			for _, m := range msgs {
				nbytes += len(m)
			}
			if want.code != 200 {
				msgs, nbytes = nil, 0
			}
			z.expectPublished(t, name, withChannel, len(msgs), nbytes, 0)
		}
	})
}

// fzEndpoints are the management endpoints and /stats, by number.
var fzEndpoints = []string{
	"/topic/create", "/topic/delete", "/topic/empty", "/topic/pause", "/topic/unpause",
	"/channel/create", "/channel/delete", "/channel/empty", "/channel/pause", "/channel/unpause",
	"/stats",
}

// FuzzHTTPParams checks the topic and channel parameters of the
// management endpoints (http-api.md §2.6: the order of the checks, the
// two spellings INVALID_TOPIC / INVALID_ARG_TOPIC, which endpoints do not
// validate names, the state each success leaves) and /stats' filters
// (§2.7: format, topic, channel, include_mem; null topics for a missing
// topic).
func FuzzHTTPParams(f *testing.F) {
	for i := range fzEndpoints {
		for _, q := range []string{"topic=t&channel=c", "topic=t", "channel=c", "", "topic=bad!&channel=c",
			"topic=t&channel=bad!", "topic=t&channel=", "topic=&channel=c", "topic=t&channel=c%", "topic=t#ephemeral&channel=c#ephemeral"} {
			f.Add(uint8(i), q, true, true, false)
			f.Add(uint8(i), q, true, false, true)
			f.Add(uint8(i), q, false, false, false)
		}
	}
	for _, q := range []string{"format=json", "format=json&include_mem=false", "format=json&include_mem=0&include_clients=0",
		"format=json&topic=t&channel=c", "format=json&topic=missing", "format=text", "format=json&format=text",
		"format=json&channel=c", "format=json&include_mem=x", "topic=t", "format=json&topic="} {
		f.Add(uint8(len(fzEndpoints)-1), q, true, true, false)
		f.Add(uint8(len(fzEndpoints)-1), q, true, false, false)
	}
	z := startFuzzBroker(f)
	f.Fuzz(func(t *testing.T, endpoint uint8, rawQuery string, preTopic, preChannel, prePaused bool) {
		ep := fzEndpoints[int(endpoint)%len(fzEndpoints)]
		q := parseFzQuery(rawQuery)
		topic, hasTopic := q.first("topic")
		channel, hasChannel := q.first("channel")
		z.fresh(topic)
		defer z.fresh(topic)
		topicThere := preTopic && fzValidName(topic)
		channelThere := topicThere && preChannel && fzValidName(channel)
		if topicThere {
			tp := z.n.GetTopic(topic)
			if channelThere {
				c := tp.GetChannel(channel)
				if prePaused {
					c.Pause()
				}
			}
			if prePaused {
				tp.Pause()
			}
		}

		method := "POST"
		if ep == "/stats" {
			method = "GET"
		}
		got := z.serve(t, method, ep, rawQuery, nil, false)
		if ep == "/stats" {
			checkFuzzStats(t, z, rawQuery, q, got, topicThere)
			return
		}

		want := fzResp{200, ""}
		isChannel := strings.HasPrefix(ep, "/channel/")
		switch {
		case !q.ok:
			want = v1Err(400, "INVALID_REQUEST")
		case !hasTopic:
			want = v1Err(400, "MISSING_ARG_TOPIC")
		case isChannel && !fzValidName(topic):
			want = v1Err(400, "INVALID_ARG_TOPIC")
		case isChannel && !hasChannel:
			want = v1Err(400, "MISSING_ARG_CHANNEL")
		case isChannel && !fzValidName(channel):
			want = v1Err(400, "INVALID_ARG_CHANNEL")
		case (ep == "/topic/create" || ep == "/topic/empty") && !fzValidName(topic):
			want = v1Err(400, "INVALID_TOPIC")
		case ep != "/topic/create" && !topicThere:
			// delete, pause and unpause do not validate the name: an
			// invalid one is a topic that is not there
			want = v1Err(404, "TOPIC_NOT_FOUND")
		case isChannel && ep != "/channel/create" && !channelThere:
			want = v1Err(404, "CHANNEL_NOT_FOUND")
		}
		if got != want {
			t.Fatalf("%s?%q (topic there %v, channel there %v): got %d %q, want %d %q",
				ep, rawQuery, topicThere, channelThere, got.code, got.body, want.code, want.body)
		}
		if want.code != 200 {
			if fzValidName(topic) && z.exists(topic) != topicThere {
				t.Fatalf("%s?%q failed (%d) but changed whether the topic exists", ep, rawQuery, got.code)
			}
			return
		}
		// the state a success leaves
		tp, err := z.n.GetExistingTopic(topic)
		if ep == "/topic/delete" {
			if err == nil {
				t.Fatalf("%s?%q: topic still there", ep, rawQuery)
			}
			return
		}
		if err != nil {
			if ep == "/channel/delete" && strings.HasSuffix(topic, "#ephemeral") {
				return // an ephemeral topic goes with its last channel
			}
			t.Fatalf("%s?%q: topic gone", ep, rawQuery)
		}
		switch ep {
		case "/topic/pause", "/topic/unpause":
			if tp.Paused() != (ep == "/topic/pause") {
				t.Fatalf("%s?%q: paused %v", ep, rawQuery, tp.Paused())
			}
		case "/channel/create", "/channel/pause", "/channel/unpause", "/channel/empty":
			c, err := tp.GetExistingChannel(channel)
			if err != nil {
				t.Fatalf("%s?%q: channel not there", ep, rawQuery)
			}
			if ep == "/channel/pause" || ep == "/channel/unpause" {
				if c.Paused() != (ep == "/channel/pause") {
					t.Fatalf("%s?%q: channel paused %v", ep, rawQuery, c.Paused())
				}
			}
		case "/channel/delete":
			if _, err := tp.GetExistingChannel(channel); err == nil {
				t.Fatalf("%s?%q: channel still there", ep, rawQuery)
			}
		}
	})
}

// checkFuzzStats checks a /stats answer against its query.
func checkFuzzStats(t *testing.T, z *fzBroker, rawQuery string, q fzQuery, got fzResp, topicThere bool) {
	t.Helper()
	if !q.ok {
		if want := v1Err(400, "INVALID_REQUEST"); got != want {
			t.Fatalf("/stats?%q: got %d %q, want %d %q", rawQuery, got.code, got.body, want.code, want.body)
		}
		return
	}
	if got.code != 200 {
		t.Fatalf("/stats?%q: %d %q", rawQuery, got.code, got.body)
	}
	format, _ := q.first("format")
	if format != "json" {
		if !strings.Contains(got.body, "\nHealth: OK\n") || json.Valid([]byte(got.body)) {
			t.Fatalf("/stats?%q: not the text format: %q", rawQuery, got.body)
		}
		return
	}
	var st struct {
		Health string           `json:"health"`
		Topics *[]TopicStats    `json:"topics"`
		Memory *json.RawMessage `json:"memory"`
	}
	if err := json.Unmarshal([]byte(got.body), &st); err != nil {
		t.Fatalf("/stats?%q: %v: %q", rawQuery, err, got.body)
	}
	if st.Health != "OK" {
		t.Fatalf("/stats?%q: health %q", rawQuery, st.Health)
	}
	includeMem := q.vals.Get("include_mem")
	if (st.Memory != nil) == (includeMem == "false" || includeMem == "0") {
		t.Fatalf("/stats?%q: memory present %v", rawQuery, st.Memory != nil)
	}
	topic := q.vals.Get("topic")
	channel := q.vals.Get("channel")
	switch {
	case topic != "" && !z.exists(topic):
		if st.Topics != nil {
			t.Fatalf("/stats?%q: topics %v for a missing topic, want null", rawQuery, *st.Topics)
		}
	case st.Topics == nil:
		t.Fatalf("/stats?%q: topics null", rawQuery)
	default:
		for _, ts := range *st.Topics {
			if topic != "" && ts.TopicName != topic {
				t.Fatalf("/stats?%q: topic %q listed", rawQuery, ts.TopicName)
			}
			if channel != "" && (len(ts.Channels) != 1 || ts.Channels[0].ChannelName != channel) {
				t.Fatalf("/stats?%q: channels %+v of %q listed", rawQuery, ts.Channels, ts.TopicName)
			}
		}
		if topic != "" && channel == "" && len(*st.Topics) != 1 {
			t.Fatalf("/stats?%q: %d topics", rawQuery, len(*st.Topics))
		}
	}
}
