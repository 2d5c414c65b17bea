package nsqd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// The HTTP API of http-api.md §1 and §2: one handler serves the plain
// listener and the HTTPS listener; the plain one first applies the
// TLS-required gate.

// httpServers holds each broker's running servers so shutdownHTTP can
// close them (kept here rather than in NSQD so this file owns it).
var httpServers sync.Map // *NSQD -> []*http.Server

// serveHTTP starts the HTTP and HTTPS servers; fail is called with a fatal
// listener error.
func (n *NSQD) serveHTTP(fail func(error)) {
	var servers []*http.Server
	start := func(l net.Listener, h http.Handler, name string) {
		srv := &http.Server{
			Handler:  h,
			ErrorLog: log.New(logWriter{n}, "", 0),
		}
		servers = append(servers, srv)
		n.logger.Infof("%s: listening on %s", name, l.Addr())
		n.goBackground(func() {
			err := srv.Serve(l)
			if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) && !n.exiting() {
				fail(fmt.Errorf("%s.Serve() error - %w", strings.ToLower(name), err))
			}
			n.logger.Infof("%s: closing %s", name, l.Addr())
		})
	}
	h := newHTTPHandler(n)
	if n.httpListener != nil {
		start(n.httpListener, h.plain(), "HTTP")
	}
	if n.httpsListener != nil && n.tlsConfig != nil {
		start(tls.NewListener(n.httpsListener, n.tlsConfig), h, "HTTPS")
	}
	httpServers.Store(n, servers)
	if n.exiting() {
		// Exit ran before the servers were recorded
		n.shutdownHTTP()
	}
}

// shutdownHTTP closes the HTTP and HTTPS listeners and servers, letting
// requests being handled finish for a short while.
func (n *NSQD) shutdownHTTP() {
	if v, ok := httpServers.LoadAndDelete(n); ok {
		servers := v.([]*http.Server)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var wg sync.WaitGroup
		for _, srv := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := srv.Shutdown(ctx); err != nil {
					srv.Close()
				}
			}()
		}
		wg.Wait()
		cancel()
	}
	if n.httpListener != nil {
		n.httpListener.Close()
	}
	if n.httpsListener != nil {
		n.httpsListener.Close()
	}
}

// logWriter sends net/http's own error log lines to the broker's log.
type logWriter struct{ n *NSQD }

func (w logWriter) Write(p []byte) (int, error) {
	w.n.logger.Warnf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// httpError is a handler's failure: the status and the message of the
// V1 error body (or the plain-text body).
type httpError struct {
	code int
	text string
}

func (e httpError) Error() string { return e.text }

func errf(code int, text string) error { return httpError{code, text} }

// apiFunc is an endpoint: its result is rendered by the v1 or plain
// wrapper. param is the route's :param value, if any.
type apiFunc func(w http.ResponseWriter, r *http.Request, param string) (any, error)

// respondV1 writes a V1 response (http-api.md §1.1).
func respondV1(w http.ResponseWriter, code int, data any) {
	var body []byte
	ctype := ""
	if code == http.StatusOK {
		switch d := data.(type) {
		case string:
			body = []byte(d)
			ctype = "text/plain; charset=utf-8"
		case []byte:
			body = d
			ctype = "text/plain; charset=utf-8"
		case nil:
		default:
			js, err := json.Marshal(d)
			if err != nil {
				code, data = http.StatusInternalServerError, "INTERNAL_ERROR"
			} else {
				body = js
				ctype = "application/json; charset=utf-8"
			}
		}
	}
	if code != http.StatusOK {
		body, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{fmt.Sprint(data)})
		ctype = "application/json; charset=utf-8"
	}
	if len(body) > 0 || code != http.StatusOK {
		w.Header().Set("Content-Type", ctype)
	}
	w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
	w.WriteHeader(code)
	w.Write(body)
}

func v1(f apiFunc) routeHandler {
	return func(w http.ResponseWriter, r *http.Request, param string) {
		data, err := f(w, r, param)
		if err != nil {
			var he httpError
			if !errors.As(err, &he) {
				he = httpError{http.StatusInternalServerError, "INTERNAL_ERROR"}
			}
			respondV1(w, he.code, he.text)
			return
		}
		respondV1(w, http.StatusOK, data)
	}
}

// plainText renders a result or an error as a bare text body.
func plainText(f apiFunc) routeHandler {
	return func(w http.ResponseWriter, r *http.Request, param string) {
		data, err := f(w, r, param)
		code := http.StatusOK
		if err != nil {
			code = http.StatusInternalServerError
			var he httpError
			if errors.As(err, &he) {
				code = he.code
			}
			data = err.Error()
		}
		w.WriteHeader(code)
		switch d := data.(type) {
		case string:
			io.WriteString(w, d)
		case []byte:
			w.Write(d)
		}
	}
}

// stdHandler adapts a net/http handler (pprof, promhttp).
func stdHandler(h http.Handler) routeHandler {
	return func(w http.ResponseWriter, r *http.Request, _ string) { h.ServeHTTP(w, r) }
}

// httpHandler is the broker's HTTP API.
type httpHandler struct {
	n      *NSQD
	router *router
}

func newHTTPHandler(n *NSQD) *httpHandler {
	s := &httpHandler{n: n, router: &router{}}
	rt := s.router
	rt.add("GET", "/ping", plainText(s.ping))
	rt.add("GET", "/info", v1(s.info))
	rt.add("POST", "/pub", v1(s.pub))
	rt.add("POST", "/mpub", v1(s.mpub))
	rt.add("GET", "/stats", v1(s.stats))

	rt.add("POST", "/topic/create", v1(s.topicCreate))
	rt.add("POST", "/topic/delete", v1(s.topicDelete))
	rt.add("POST", "/topic/empty", v1(s.topicEmpty))
	rt.add("POST", "/topic/pause", v1(s.topicPause))
	rt.add("POST", "/topic/unpause", v1(s.topicPause))
	rt.add("POST", "/channel/create", v1(s.channelCreate))
	rt.add("POST", "/channel/delete", v1(s.channelDelete))
	rt.add("POST", "/channel/empty", v1(s.channelEmpty))
	rt.add("POST", "/channel/pause", v1(s.channelPause))
	rt.add("POST", "/channel/unpause", v1(s.channelPause))

	rt.add("GET", "/config/:opt", v1(s.config))
	rt.add("PUT", "/config/:opt", v1(s.config))

	rt.add("GET", "/metrics", stdHandler(newMetricsHandler(n)))

	rt.add("GET", "/debug/pprof/", stdHandler(http.HandlerFunc(pprof.Index)))
	rt.add("GET", "/debug/pprof/cmdline", stdHandler(http.HandlerFunc(pprof.Cmdline)))
	rt.add("GET", "/debug/pprof/symbol", stdHandler(http.HandlerFunc(pprof.Symbol)))
	rt.add("POST", "/debug/pprof/symbol", stdHandler(http.HandlerFunc(pprof.Symbol)))
	rt.add("GET", "/debug/pprof/profile", stdHandler(http.HandlerFunc(pprof.Profile)))
	rt.add("GET", "/debug/pprof/trace", stdHandler(http.HandlerFunc(pprof.Trace)))
	for _, p := range []string{"heap", "goroutine", "block", "threadcreate", "allocs", "mutex"} {
		rt.add("GET", "/debug/pprof/"+p, stdHandler(pprof.Handler(p)))
	}
	rt.add("PUT", "/debug/setblockrate", plainText(s.setBlockRate))
	rt.add("POST", "/debug/freememory", plainText(s.freeMemory))
	return s
}

// ServeHTTP routes a request (the HTTPS listener's handler), logging it
// and turning a handler panic into 500 INTERNAL_ERROR.
func (s *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, s.router.ServeHTTP)
}

// plain is the plain listener's handler: with --tls-required=true every
// request gets 403 TLS_REQUIRED.
func (s *httpHandler) plain() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.n.opts.TLSRequired != TLSRequired {
			s.ServeHTTP(w, r)
			return
		}
		s.serve(w, r, func(w http.ResponseWriter, r *http.Request) {
			port := 0
			if s.n.httpsListener != nil {
				port = portOf(s.n.httpsListener)
			}
			w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message": "TLS_REQUIRED", "https_port": %d}`, port)
		})
	})
}

func (s *httpHandler) serve(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			buf := make([]byte, 4096)
			buf = buf[:runtime.Stack(buf, false)]
			s.n.logger.Errorf("ERROR: panic in HTTP handler - %v\n%s", p, buf)
			if !sw.wroteHeader {
				respondV1(sw, http.StatusInternalServerError, "INTERNAL_ERROR")
			}
		}
		s.n.logger.Infof("%d %s %s (%s) %s", sw.status(), r.Method, r.URL.RequestURI(), r.RemoteAddr, time.Since(start))
	}()
	h(sw, r)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.code = http.StatusOK
		w.wroteHeader = true
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wroteHeader {
			w.code, w.wroteHeader = http.StatusOK, true
		}
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.code
}

// ---- router (http-api.md §1.2) ----

type routeHandler func(w http.ResponseWriter, r *http.Request, param string)

type route struct {
	method  string
	pattern string
	segs    []string // path segments; ":name" matches one non-empty segment
	h       routeHandler
}

// router matches exact paths and methods. Unknown paths get 404, known
// paths with another method 405 with Allow, OPTIONS 200 with Allow, and a
// path that only differs by a trailing slash, letter case or unclean
// elements is redirected to the route (301 for GET, 307 otherwise).
type router struct {
	routes []*route
}

func (rt *router) add(method, pattern string, h routeHandler) {
	rt.routes = append(rt.routes, &route{method: method, pattern: pattern, segs: strings.Split(pattern[1:], "/"), h: h})
}

// match reports whether p matches the route, its :param value, and (for
// a case-insensitive match) the canonical path.
func (r *route) match(p string, foldCase bool) (param, canonical string, ok bool) {
	if !strings.HasPrefix(p, "/") {
		return "", "", false
	}
	segs := strings.Split(p[1:], "/")
	if len(segs) != len(r.segs) {
		return "", "", false
	}
	for i, want := range r.segs {
		got := segs[i]
		switch {
		case strings.HasPrefix(want, ":"):
			if got == "" {
				return "", "", false
			}
			param = got
			segs[i] = got
		case want == got:
		case foldCase && strings.EqualFold(want, got):
			segs[i] = want
		default:
			return "", "", false
		}
	}
	return param, "/" + strings.Join(segs, "/"), true
}

func (rt *router) lookup(method, p string) (*route, string) {
	for _, r := range rt.routes {
		if r.method != method {
			continue
		}
		if param, _, ok := r.match(p, false); ok {
			return r, param
		}
	}
	return nil, ""
}

// allowed lists, sorted, the methods that p answers to other than
// reqMethod, plus OPTIONS; "" when p is not a route.
func (rt *router) allowed(p, reqMethod string) string {
	set := map[string]bool{}
	for _, r := range rt.routes {
		if r.method == reqMethod {
			continue
		}
		if _, _, ok := r.match(p, false); ok {
			set[r.method] = true
		}
	}
	if len(set) == 0 {
		return ""
	}
	set[http.MethodOptions] = true
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func toggleSlash(p string) string {
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		return p[:len(p)-1]
	}
	return p + "/"
}

// cleanPath is path.Clean keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// redirectTarget finds the canonical path for a near-miss of a route
// answering method.
func (rt *router) redirectTarget(method, p string) (string, bool) {
	if r, _ := rt.lookup(method, toggleSlash(p)); r != nil {
		return toggleSlash(p), true
	}
	c := cleanPath(p)
	for _, cand := range []string{c, toggleSlash(c)} {
		for _, r := range rt.routes {
			if r.method != method {
				continue
			}
			if _, canonical, ok := r.match(cand, true); ok {
				return canonical, true
			}
		}
	}
	return "", false
}

func (rt *router) hasMethod(method string) bool {
	for _, r := range rt.routes {
		if r.method == method {
			return true
		}
	}
	return false
}

func (rt *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	if r, param := rt.lookup(req.Method, p); r != nil {
		r.h(w, req, param)
		return
	}
	if req.Method != http.MethodConnect && p != "/" && rt.hasMethod(req.Method) {
		if target, ok := rt.redirectTarget(req.Method, p); ok {
			code := http.StatusMovedPermanently
			if req.Method != http.MethodGet {
				code = http.StatusTemporaryRedirect
			}
			u := *req.URL
			u.Path, u.RawPath = target, ""
			http.Redirect(w, req, u.String(), code)
			return
		}
	}
	if req.Method == http.MethodOptions {
		if allow := rt.allowed(p, req.Method); allow != "" {
			w.Header().Set("Allow", allow)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	if allow := rt.allowed(p, req.Method); allow != "" {
		w.Header().Set("Allow", allow)
		respondV1(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		return
	}
	respondV1(w, http.StatusNotFound, "NOT_FOUND")
}

// ---- parameters ----

var boolParams = map[string]bool{"true": true, "1": true, "false": false, "0": false}

func queryParams(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "INVALID_REQUEST")
	}
	return v, nil
}

// first is the first value of a parameter and whether it is present.
func first(v url.Values, key string) (string, bool) {
	vals, ok := v[key]
	if !ok || len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// topicFromQuery is the topic of /pub, /mpub and /topic/create, created
// if needed.
func (s *httpHandler) topicFromQuery(r *http.Request) (url.Values, *Topic, error) {
	params, err := queryParams(r)
	if err != nil {
		s.n.logger.Errorf("failed to parse request params - %s", r.URL.RawQuery)
		return nil, nil, err
	}
	name, ok := first(params, "topic")
	if !ok {
		return nil, nil, errf(http.StatusBadRequest, "MISSING_ARG_TOPIC")
	}
	if !wire.IsValidTopicName(name) {
		return nil, nil, errf(http.StatusBadRequest, "INVALID_TOPIC")
	}
	return params, s.n.GetTopic(name), nil
}

// topicChannelArgs checks topic and channel in the order of http-api.md
// §2.6 and returns the existing topic.
func (s *httpHandler) topicChannelArgs(r *http.Request) (*Topic, string, error) {
	params, err := queryParams(r)
	if err != nil {
		return nil, "", err
	}
	topicName, ok := first(params, "topic")
	if !ok {
		return nil, "", errf(http.StatusBadRequest, "MISSING_ARG_TOPIC")
	}
	if !wire.IsValidTopicName(topicName) {
		return nil, "", errf(http.StatusBadRequest, "INVALID_ARG_TOPIC")
	}
	channelName, ok := first(params, "channel")
	if !ok {
		return nil, "", errf(http.StatusBadRequest, "MISSING_ARG_CHANNEL")
	}
	if !wire.IsValidChannelName(channelName) {
		return nil, "", errf(http.StatusBadRequest, "INVALID_ARG_CHANNEL")
	}
	t, err := s.n.GetExistingTopic(topicName)
	if err != nil {
		return nil, "", errf(http.StatusNotFound, "TOPIC_NOT_FOUND")
	}
	return t, channelName, nil
}

// ---- endpoints ----

func (s *httpHandler) ping(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	if h := s.n.Health(); h != "OK" {
		return nil, errf(http.StatusInternalServerError, h)
	}
	return "OK", nil
}

func (s *httpHandler) info(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	hostname, err := os.Hostname()
	if err != nil {
		return nil, errf(http.StatusInternalServerError, err.Error())
	}
	httpPort := 0
	if s.n.httpListener != nil {
		httpPort = portOf(s.n.httpListener)
	}
	o := s.n.opts
	return struct {
		Version                string `json:"version"`
		BroadcastAddress       string `json:"broadcast_address"`
		Hostname               string `json:"hostname"`
		HTTPPort               int    `json:"http_port"`
		TCPPort                int    `json:"tcp_port"`
		StartTime              int64  `json:"start_time"`
		MaxHeartbeatInterval   int64  `json:"max_heartbeat_interval"`
		MaxOutputBufferSize    int64  `json:"max_output_buffer_size"`
		MaxOutputBufferTimeout int64  `json:"max_output_buffer_timeout"`
		MaxDeflateLevel        int    `json:"max_deflate_level"`
	}{
		Version:                version.Reported,
		BroadcastAddress:       o.BroadcastAddress,
		Hostname:               hostname,
		HTTPPort:               httpPort,
		TCPPort:                portOf(s.n.tcpListener),
		StartTime:              s.n.startTime.Unix(),
		MaxHeartbeatInterval:   int64(o.MaxHeartbeatInterval),
		MaxOutputBufferSize:    o.MaxOutputBufferSize,
		MaxOutputBufferTimeout: int64(o.MaxOutputBufferTimeout),
		MaxDeflateLevel:        o.MaxDeflateLevel,
	}, nil
}

func (s *httpHandler) pub(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	maxMsgSize := s.n.opts.MaxMsgSize
	if r.ContentLength > maxMsgSize {
		return nil, errf(http.StatusRequestEntityTooLarge, "MSG_TOO_BIG")
	}
	// read one byte more than allowed to tell "too big" from "just fits"
	readMax := maxMsgSize + 1
	body, err := io.ReadAll(io.LimitReader(r.Body, readMax))
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
	}
	if int64(len(body)) == readMax {
		return nil, errf(http.StatusRequestEntityTooLarge, "MSG_TOO_BIG")
	}
	if len(body) == 0 {
		return nil, errf(http.StatusBadRequest, "MSG_EMPTY")
	}
	params, t, err := s.topicFromQuery(r)
	if err != nil {
		return nil, err
	}
	var deferred time.Duration
	if ds, ok := first(params, "defer"); ok {
		ms, err := strconv.ParseInt(ds, 10, 64)
		maxMS := int64(s.n.opts.MaxReqTimeout / time.Millisecond)
		if err != nil || ms < 0 || ms > maxMS {
			return nil, errf(http.StatusBadRequest, "INVALID_DEFER")
		}
		deferred = time.Duration(ms) * time.Millisecond
		if deferred > s.n.opts.MaxReqTimeout {
			return nil, errf(http.StatusBadRequest, "INVALID_DEFER")
		}
	}
	m := NewMessage(t.NewMessageID(), body)
	m.deferred = deferred
	if err := t.PutMessage(m); err != nil {
		return nil, errf(http.StatusServiceUnavailable, "EXITING")
	}
	return "OK", nil
}

func (s *httpHandler) mpub(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	opts := s.n.opts
	if r.ContentLength > opts.MaxBodySize {
		return nil, errf(http.StatusRequestEntityTooLarge, "BODY_TOO_BIG")
	}
	params, t, err := s.topicFromQuery(r)
	if err != nil {
		return nil, err
	}
	binary := false
	if v, ok := first(params, "binary"); ok {
		if binary, ok = boolParams[v]; !ok {
			binary = true
			s.n.logger.Warnf("deprecated value '%s' used for /mpub binary param", v)
		}
	}
	var msgs []*Message
	if binary {
		readMax := opts.MaxBodySize + 1
		body, err := io.ReadAll(io.LimitReader(r.Body, readMax))
		if err != nil {
			return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
		}
		if int64(len(body)) == readMax {
			return nil, errf(http.StatusRequestEntityTooLarge, "BODY_TOO_BIG")
		}
		bodies, err := wire.ParseMPUB(body, opts.MaxMsgSize, opts.MaxBodySize, nil)
		if err != nil {
			code := "BAD_BODY"
			var we *wire.Error
			if errors.As(err, &we) {
				code = strings.TrimPrefix(we.Code, "E_")
			}
			return nil, errf(http.StatusRequestEntityTooLarge, code)
		}
		msgs = make([]*Message, 0, len(bodies))
		for _, b := range bodies {
			msgs = append(msgs, NewMessage(t.NewMessageID(), b))
		}
	} else {
		readMax := opts.MaxBodySize + 1
		rd := bufio.NewReader(io.LimitReader(r.Body, readMax))
		total := 0
		for done := false; !done; {
			line, err := rd.ReadBytes('\n')
			if err != nil {
				if err != io.EOF {
					return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
				}
				done = true
			}
			total += len(line)
			if int64(total) == readMax {
				return nil, errf(http.StatusRequestEntityTooLarge, "BODY_TOO_BIG")
			}
			line = bytes.TrimSuffix(line, []byte("\n"))
			if len(line) == 0 {
				continue
			}
			if int64(len(line)) > opts.MaxMsgSize {
				return nil, errf(http.StatusRequestEntityTooLarge, "MSG_TOO_BIG")
			}
			msgs = append(msgs, NewMessage(t.NewMessageID(), line))
		}
	}
	if err := t.PutMessages(msgs); err != nil {
		return nil, errf(http.StatusServiceUnavailable, "EXITING")
	}
	return "OK", nil
}

func (s *httpHandler) stats(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	params, err := queryParams(r)
	if err != nil {
		return nil, err
	}
	format, _ := first(params, "format")
	topic, _ := first(params, "topic")
	channel, _ := first(params, "channel")
	includeClients, ok := boolParams[params.Get("include_clients")]
	if !ok {
		includeClients = true
	}
	includeMem, ok := boolParams[params.Get("include_mem")]
	if !ok {
		includeMem = true
	}
	stats := s.n.GetStats(topic, channel, includeClients)
	var ms *MemStats
	if includeMem {
		m := getMemStats()
		ms = &m
	}
	if format != "json" {
		return statsText(stats, ms, s.n.Health(), s.n.startTime, time.Now()), nil
	}
	return struct {
		Version   string        `json:"version"`
		Health    string        `json:"health"`
		StartTime int64         `json:"start_time"`
		Topics    []TopicStats  `json:"topics"`
		Memory    *MemStats     `json:"memory,omitempty"`
		Producers []ClientStats `json:"producers"`
	}{version.Reported, s.n.Health(), s.n.startTime.Unix(), stats.Topics, ms, stats.Producers}, nil
}

func (s *httpHandler) topicCreate(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	_, _, err := s.topicFromQuery(r)
	return nil, err
}

// topicName is the topic parameter of /topic/delete|empty|pause|unpause.
func topicName(r *http.Request) (string, error) {
	params, err := queryParams(r)
	if err != nil {
		return "", err
	}
	name, ok := first(params, "topic")
	if !ok {
		return "", errf(http.StatusBadRequest, "MISSING_ARG_TOPIC")
	}
	return name, nil
}

func (s *httpHandler) topicDelete(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	name, err := topicName(r)
	if err != nil {
		return nil, err
	}
	if err := s.n.DeleteExistingTopic(name); err != nil {
		return nil, errf(http.StatusNotFound, "TOPIC_NOT_FOUND")
	}
	return nil, nil
}

func (s *httpHandler) topicEmpty(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	name, err := topicName(r)
	if err != nil {
		return nil, err
	}
	if !wire.IsValidTopicName(name) {
		return nil, errf(http.StatusBadRequest, "INVALID_TOPIC")
	}
	t, err := s.n.GetExistingTopic(name)
	if err != nil {
		return nil, errf(http.StatusNotFound, "TOPIC_NOT_FOUND")
	}
	if err := t.Empty(); err != nil {
		s.n.logger.Errorf("TOPIC(%s): empty - %s", name, err)
		return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
	}
	return nil, nil
}

func (s *httpHandler) topicPause(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	name, err := topicName(r)
	if err != nil {
		return nil, err
	}
	t, err := s.n.GetExistingTopic(name)
	if err != nil {
		return nil, errf(http.StatusNotFound, "TOPIC_NOT_FOUND")
	}
	if strings.Contains(r.URL.Path, "unpause") {
		t.Unpause()
	} else {
		t.Pause()
	}
	if err := s.n.PersistMetadata(); err != nil {
		s.n.logger.Errorf("failed to persist metadata - %s", err)
		return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
	}
	return nil, nil
}

func (s *httpHandler) channelCreate(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	t, channel, err := s.topicChannelArgs(r)
	if err != nil {
		return nil, err
	}
	t.GetChannel(channel)
	return nil, nil
}

func (s *httpHandler) channelDelete(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	t, channel, err := s.topicChannelArgs(r)
	if err != nil {
		return nil, err
	}
	if err := t.DeleteExistingChannel(channel); err != nil {
		return nil, errf(http.StatusNotFound, "CHANNEL_NOT_FOUND")
	}
	return nil, nil
}

func (s *httpHandler) channelEmpty(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	t, channel, err := s.topicChannelArgs(r)
	if err != nil {
		return nil, err
	}
	c, err := t.GetExistingChannel(channel)
	if err != nil {
		return nil, errf(http.StatusNotFound, "CHANNEL_NOT_FOUND")
	}
	if err := c.Empty(); err != nil {
		s.n.logger.Errorf("TOPIC(%s) CHANNEL(%s): empty - %s", t.name, channel, err)
		return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
	}
	return nil, nil
}

func (s *httpHandler) channelPause(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	t, channel, err := s.topicChannelArgs(r)
	if err != nil {
		return nil, err
	}
	c, err := t.GetExistingChannel(channel)
	if err != nil {
		return nil, errf(http.StatusNotFound, "CHANNEL_NOT_FOUND")
	}
	if strings.Contains(r.URL.Path, "unpause") {
		c.Unpause()
	} else {
		c.Pause()
	}
	if err := s.n.PersistMetadata(); err != nil {
		s.n.logger.Errorf("failed to persist metadata - %s", err)
		return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
	}
	return nil, nil
}

func (s *httpHandler) setBlockRate(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	params, err := queryParams(r)
	if err != nil {
		return nil, err
	}
	rate, err := strconv.Atoi(params.Get("rate"))
	if err != nil {
		return nil, errf(http.StatusBadRequest, "invalid block rate : "+err.Error())
	}
	runtime.SetBlockProfileRate(rate)
	return "", nil
}

func (s *httpHandler) freeMemory(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	debug.FreeOSMemory()
	return "", nil
}
