package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nsqkit/nsqkit/core/logger"
)

type result struct {
	code  int
	hdr   http.Header
	body  string
	ctype string
}

func serve(h http.Handler, method, target string) result {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return result{w.Code, w.Header(), w.Body.String(), w.Header().Get("Content-Type")}
}

func TestRespondV1(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  int
		data  any
		want  int
		body  string
		ctype string
	}{
		{"string", 200, "OK", 200, "OK", ContentTypeText},
		{"bytes", 200, []byte("1"), 200, "1", ContentTypeText},
		{"empty string", 200, "", 200, "", ""},
		{"nil", 200, nil, 200, "", ""},
		{"object", 200, struct {
			B int    `json:"b"`
			A string `json:"a"`
		}{1, "x"}, 200, `{"b":1,"a":"x"}`, ContentTypeJSON},
		{"map sorted", 200, map[string]int{"z": 1, "a": 2}, 200, `{"a":2,"z":1}`, ContentTypeJSON},
		{"empty slice", 200, []string{}, 200, `[]`, ContentTypeJSON},
		{"number", 200, 3, 200, `3`, ContentTypeJSON},
		{"unmarshalable", 200, make(chan int), 500, `{"message":"INTERNAL_ERROR"}`, ContentTypeJSON},
		{"error", 404, "TOPIC_NOT_FOUND", 404, `{"message":"TOPIC_NOT_FOUND"}`, ContentTypeJSON},
		{"error quoting", 400, `a "b"`, 400, `{"message":"a \"b\""}`, ContentTypeJSON},
	} {
		w := httptest.NewRecorder()
		RespondV1(w, tc.code, tc.data)
		if w.Code != tc.want || w.Body.String() != tc.body || w.Header().Get("Content-Type") != tc.ctype ||
			w.Header().Get("X-NSQ-Content-Type") != "nsq; version=1.0" {
			t.Errorf("%s: %d %q %v", tc.name, w.Code, w.Body.String(), w.Header())
		}
	}
}

func TestV1AndPlainText(t *testing.T) {
	rt := &Router{}
	rt.Add("GET", "/ok", V1(func(http.ResponseWriter, *http.Request, string) (any, error) { return "OK", nil }))
	rt.Add("GET", "/err", V1(func(http.ResponseWriter, *http.Request, string) (any, error) {
		return nil, Err(400, "MISSING_ARG_TOPIC")
	}))
	rt.Add("GET", "/wrapped", V1(func(http.ResponseWriter, *http.Request, string) (any, error) {
		return nil, errors.Join(errors.New("x"), Err(413, "MSG_TOO_BIG"))
	}))
	rt.Add("GET", "/other", V1(func(http.ResponseWriter, *http.Request, string) (any, error) { return nil, errors.New("disk on fire") }))
	rt.Add("GET", "/plain", PlainText(func(http.ResponseWriter, *http.Request, string) (any, error) { return "OK", nil }))
	rt.Add("GET", "/plainbytes", PlainText(func(http.ResponseWriter, *http.Request, string) (any, error) { return []byte("b"), nil }))
	rt.Add("GET", "/plainnil", PlainText(func(http.ResponseWriter, *http.Request, string) (any, error) { return nil, nil }))
	rt.Add("GET", "/plainerr", PlainText(func(http.ResponseWriter, *http.Request, string) (any, error) { return nil, Err(400, "bad rate") }))
	rt.Add("GET", "/plainother", PlainText(func(http.ResponseWriter, *http.Request, string) (any, error) { return nil, errors.New("NOK - x") }))
	rt.Add("GET", "/param/:opt", V1(func(_ http.ResponseWriter, _ *http.Request, p string) (any, error) { return p, nil }))
	for _, tc := range []struct {
		path string
		code int
		body string
		v1   bool
	}{
		{"/ok", 200, "OK", true},
		{"/err", 400, `{"message":"MISSING_ARG_TOPIC"}`, true},
		{"/wrapped", 413, `{"message":"MSG_TOO_BIG"}`, true},
		{"/other", 500, `{"message":"INTERNAL_ERROR"}`, true},
		{"/plain", 200, "OK", false},
		{"/plainbytes", 200, "b", false},
		{"/plainnil", 200, "", false},
		{"/plainerr", 400, "bad rate", false},
		{"/plainother", 500, "NOK - x", false},
		{"/param/log_level", 200, "log_level", true},
	} {
		r := serve(rt, "GET", tc.path)
		if r.code != tc.code || r.body != tc.body || (r.hdr.Get("X-NSQ-Content-Type") != "") != tc.v1 {
			t.Errorf("%s: %d %q %v", tc.path, r.code, r.body, r.hdr)
		}
	}
	if got := (Error{404, "X"}).Error(); got != "X" {
		t.Fatal(got)
	}
}

func TestRouter(t *testing.T) {
	rt := &Router{}
	ok := func(w http.ResponseWriter, r *http.Request, p string) {
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+p)
	}
	rt.Add("GET", "/ping", ok)
	rt.Add("POST", "/pub", ok)
	rt.Add("GET", "/config/:opt", ok)
	rt.Add("PUT", "/config/:opt", ok)
	rt.Add("GET", "/debug", ok)
	rt.AddPprof("/debug/pprof")
	for _, tc := range []struct {
		method, target string
		code           int
		body, allow    string
		loc            string
	}{
		{"GET", "/ping", 200, "GET /ping ", "", ""},
		{"GET", "/config/x", 200, "GET /config/x x", "", ""},
		{"PUT", "/config/x", 200, "PUT /config/x x", "", ""},
		{"GET", "/nosuch", 404, `{"message":"NOT_FOUND"}`, "", ""},
		{"GET", "/", 404, `{"message":"NOT_FOUND"}`, "", ""},
		{"GET", "/config/", 404, `{"message":"NOT_FOUND"}`, "", ""},
		{"GET", "/config/a/b", 404, `{"message":"NOT_FOUND"}`, "", ""},
		{"DELETE", "/nosuch", 404, `{"message":"NOT_FOUND"}`, "", ""},
		{"GET", "/pub", 405, `{"message":"METHOD_NOT_ALLOWED"}`, "OPTIONS, POST", ""},
		{"POST", "/config/x", 405, `{"message":"METHOD_NOT_ALLOWED"}`, "GET, OPTIONS, PUT", ""},
		{"OPTIONS", "/ping", 200, "", "GET, OPTIONS", ""},
		{"OPTIONS", "/debug/pprof/symbol", 200, "", "GET, OPTIONS, POST", ""},
		{"OPTIONS", "/nosuch", 404, `{"message":"NOT_FOUND"}`, "", ""},
		{"GET", "/ping/", 301, "", "", "/ping"},
		{"GET", "/PING?x=1", 301, "", "", "/ping?x=1"},
		{"GET", "/debug/pprof/", 301, "", "", "/debug/pprof"},
		{"GET", "/Config/Log_Level", 301, "", "", "/config/Log_Level"},
		{"GET", "//ping", 301, "", "", "/ping"},
		{"POST", "/pub/?topic=x", 307, "", "", "/pub?topic=x"},
		{"POST", "/a/../PUB", 307, "", "", "/pub"},
		{"GET", "/PUB", 404, `{"message":"NOT_FOUND"}`, "", ""}, // a near miss of a route without GET
	} {
		r := serve(rt, tc.method, tc.target)
		if r.code != tc.code || (tc.body != "" && r.body != tc.body) || r.hdr.Get("Allow") != tc.allow || r.hdr.Get("Location") != tc.loc {
			t.Errorf("%s %s: %d %q Allow %q Location %q", tc.method, tc.target, r.code, r.body, r.hdr.Get("Allow"), r.hdr.Get("Location"))
		}
		if tc.code >= 400 && r.hdr.Get("X-NSQ-Content-Type") != "nsq; version=1.0" {
			t.Errorf("%s %s: not a V1 error", tc.method, tc.target)
		}
	}
	if r := serve(rt, "GET", "/debug/pprof"); r.code != 200 || !strings.Contains(r.body, "goroutine") {
		t.Errorf("pprof index %d", r.code)
	}
	if r := serve(rt, "GET", "/debug/pprof/heap?debug=1"); r.code != 200 || !strings.Contains(r.body, "heap profile") {
		t.Errorf("pprof heap %d", r.code)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogged(t *testing.T) {
	var buf syncBuf
	lg := logger.New(&buf, "[x] ", logger.Info)
	rt := &Router{}
	rt.Add("GET", "/ok", V1(func(http.ResponseWriter, *http.Request, string) (any, error) { return "OK", nil }))
	rt.Add("GET", "/panic", func(http.ResponseWriter, *http.Request, string) { panic("boom") })
	rt.Add("GET", "/late", func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.WriteHeader(202)
		panic("after the header")
	})
	rt.Add("GET", "/abort", func(http.ResponseWriter, *http.Request, string) { panic(http.ErrAbortHandler) })
	rt.Add("GET", "/flush", func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.(http.Flusher).Flush()
		if _, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok {
			t.Error("no Unwrap")
		}
	})
	h := Logged(lg, rt)
	if r := serve(h, "GET", "/ok?a=b"); r.code != 200 || r.body != "OK" {
		t.Fatalf("ok: %+v", r)
	}
	if r := serve(h, "GET", "/panic"); r.code != 500 || r.body != `{"message":"INTERNAL_ERROR"}` || r.ctype != ContentTypeJSON {
		t.Fatalf("panic: %+v", r)
	}
	if r := serve(h, "GET", "/late"); r.code != 202 {
		t.Fatalf("panic after the header: %+v", r)
	}
	serve(h, "GET", "/flush")
	serve(h, "GET", "/nosuch")
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("ErrAbortHandler not re-raised: %v", p)
			}
		}()
		serve(h, "GET", "/abort")
	}()
	log := buf.String()
	for _, re := range []string{
		`(?m)^\[x\] \S+ \S+ INFO: 200 GET /ok\?a=b \(192\.0\.2\.1:1234\) \S+$`,
		`(?m)^\[x\] \S+ \S+ ERROR: panic in HTTP handler - boom$`,
		`(?m)INFO: 500 GET /panic \(`,
		`(?m)INFO: 202 GET /late \(`,
		`(?m)INFO: 200 GET /flush \(`,
		`(?m)INFO: 404 GET /nosuch \(`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("no %s in\n%s", re, log)
		}
	}
	ErrorLog(lg).Printf("http: TLS handshake error")
	if !strings.Contains(buf.String(), "WARNING: http: TLS handshake error\n") {
		t.Errorf("ErrorLog: %s", buf.String())
	}
	if srv := NewServer(h, lg); srv.Handler == nil || srv.ErrorLog == nil {
		t.Error("NewServer")
	}
}

func TestParams(t *testing.T) {
	r := httptest.NewRequest("POST", "/x?topic=a&topic=b&empty=&flag", strings.NewReader("topic=body"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	v, err := QueryParams(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{{"topic", "a", true}, {"empty", "", true}, {"flag", "", true}, {"missing", "", false}} {
		if got, ok := First(v, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("First(%s) = %q %v", tc.key, got, ok)
		}
	}
	_, err = QueryParams(httptest.NewRequest("GET", "/x?a=%zz", nil))
	var he Error
	if !errors.As(err, &he) || he.Code != 400 || he.Text != "INVALID_REQUEST" {
		t.Fatalf("bad query: %v", err)
	}
	for s, want := range map[string][2]bool{"true": {true, true}, "1": {true, true}, "false": {false, true}, "0": {false, true},
		"": {false, false}, "True": {false, false}, "yes": {false, false}} {
		if v, ok := ParseBool(s); v != want[0] || ok != want[1] {
			t.Errorf("ParseBool(%q) = %v %v", s, v, ok)
		}
	}
}
