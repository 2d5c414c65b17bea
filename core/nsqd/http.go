package nsqd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/httpapi"
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
		srv := httpapi.NewServer(h, n.logger)
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

// httpHandler is the broker's HTTP API.
type httpHandler struct {
	n      *NSQD
	router router
	logged http.Handler // router with request logging and panic recovery
}

// router is the shared router with the lower-case add the tests use.
type router struct{ *httpapi.Router }

func (r router) add(method, pattern string, h httpapi.Handle) { r.Add(method, pattern, h) }

func newHTTPHandler(n *NSQD) *httpHandler {
	s := &httpHandler{n: n, router: router{&httpapi.Router{}}}
	s.logged = httpapi.Logged(n.logger, s.router)
	rt := s.router
	rt.add("GET", "/ping", httpapi.PlainText(s.ping))
	rt.add("GET", "/info", httpapi.V1(s.info))
	rt.add("POST", "/pub", httpapi.V1(s.pub))
	rt.add("POST", "/mpub", httpapi.V1(s.mpub))
	rt.add("GET", "/stats", httpapi.V1(s.stats))

	rt.add("POST", "/topic/create", httpapi.V1(s.topicCreate))
	rt.add("POST", "/topic/delete", httpapi.V1(s.topicDelete))
	rt.add("POST", "/topic/empty", httpapi.V1(s.topicEmpty))
	rt.add("POST", "/topic/pause", httpapi.V1(s.topicPause))
	rt.add("POST", "/topic/unpause", httpapi.V1(s.topicPause))
	rt.add("POST", "/channel/create", httpapi.V1(s.channelCreate))
	rt.add("POST", "/channel/delete", httpapi.V1(s.channelDelete))
	rt.add("POST", "/channel/empty", httpapi.V1(s.channelEmpty))
	rt.add("POST", "/channel/pause", httpapi.V1(s.channelPause))
	rt.add("POST", "/channel/unpause", httpapi.V1(s.channelPause))

	rt.add("GET", "/config/:opt", httpapi.V1(s.config))
	rt.add("PUT", "/config/:opt", httpapi.V1(s.config))

	rt.add("GET", "/metrics", httpapi.Std(newMetricsHandler(n)))

	rt.AddPprof("/debug/pprof/")
	rt.add("PUT", "/debug/setblockrate", httpapi.PlainText(s.setBlockRate))
	rt.add("POST", "/debug/freememory", httpapi.PlainText(s.freeMemory))
	return s
}

// ServeHTTP routes a request (the HTTPS listener's handler), logging it
// and turning a handler panic into 500 INTERNAL_ERROR.
func (s *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.logged.ServeHTTP(w, r)
}

// plain is the plain listener's handler: with --tls-required=true every
// request gets 403 TLS_REQUIRED.
func (s *httpHandler) plain() http.Handler {
	gate := httpapi.Logged(s.n.logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		port := 0
		if s.n.httpsListener != nil {
			port = portOf(s.n.httpsListener)
		}
		w.Header().Set(httpapi.HeaderNSQContentType, httpapi.NSQContentTypeV1)
		w.Header().Set("Content-Type", httpapi.ContentTypeJSON)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"message": "TLS_REQUIRED", "https_port": %d}`, port)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.n.opts.TLSRequired != TLSRequired {
			s.ServeHTTP(w, r)
			return
		}
		gate.ServeHTTP(w, r)
	})
}

// errf is an endpoint error: status and V1 message.
func errf(code int, text string) error { return httpapi.Err(code, text) }

// topicFromQuery is the topic of /pub, /mpub and /topic/create, created
// if needed.
func (s *httpHandler) topicFromQuery(r *http.Request) (url.Values, *Topic, error) {
	params, err := httpapi.QueryParams(r)
	if err != nil {
		s.n.logger.Errorf("failed to parse request params - %s", r.URL.RawQuery)
		return nil, nil, err
	}
	name, ok := httpapi.First(params, "topic")
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
	params, err := httpapi.QueryParams(r)
	if err != nil {
		return nil, "", err
	}
	topicName, ok := httpapi.First(params, "topic")
	if !ok {
		return nil, "", errf(http.StatusBadRequest, "MISSING_ARG_TOPIC")
	}
	if !wire.IsValidTopicName(topicName) {
		return nil, "", errf(http.StatusBadRequest, "INVALID_ARG_TOPIC")
	}
	channelName, ok := httpapi.First(params, "channel")
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
	if ds, ok := httpapi.First(params, "defer"); ok {
		ms, err := strconv.ParseInt(ds, 10, 64)
		if err != nil {
			return nil, errf(http.StatusBadRequest, "INVALID_DEFER")
		}
		// 1.3.0's arithmetic, overflow included (as DPUB on TCP): the
		// product wraps and is judged, and used, as it wrapped.
		deferred = time.Duration(ms) * time.Millisecond
		if deferred < 0 || deferred > s.n.opts.MaxReqTimeout {
			return nil, errf(http.StatusBadRequest, "INVALID_DEFER")
		}
	}
	ps := pubScratchPool.Get().(*pubScratch)
	err = t.publish([][]byte{body}, deferred, ps)
	pubScratchPool.Put(ps)
	if err != nil {
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
	if v, ok := httpapi.First(params, "binary"); ok {
		if binary, ok = httpapi.ParseBool(v); !ok {
			binary = true
			s.n.logger.Warnf("deprecated value '%s' used for /mpub binary param", v)
		}
	}
	var msgs [][]byte
	if binary {
		// Read like TCP MPUB and like 1.3.0: straight from the request body,
		// bounded by the count and per-message limits; bytes after the last
		// message are left unread.
		var mr wire.MPUBReader
		bodies, err := mr.Read(r.Body, opts.MaxMsgSize, opts.MaxBodySize)
		if err != nil {
			code := "BAD_BODY"
			var we *wire.Error
			if errors.As(err, &we) {
				code = strings.TrimPrefix(we.Code, "E_")
			}
			return nil, errf(http.StatusRequestEntityTooLarge, code)
		}
		msgs = bodies
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
			msgs = append(msgs, line)
		}
	}
	ps := pubScratchPool.Get().(*pubScratch)
	err = t.publish(msgs, 0, ps)
	pubScratchPool.Put(ps)
	if err != nil {
		return nil, errf(http.StatusServiceUnavailable, "EXITING")
	}
	return "OK", nil
}

func (s *httpHandler) stats(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	params, err := httpapi.QueryParams(r)
	if err != nil {
		return nil, err
	}
	format, _ := httpapi.First(params, "format")
	topic, _ := httpapi.First(params, "topic")
	channel, _ := httpapi.First(params, "channel")
	includeClients, ok := httpapi.ParseBool(params.Get("include_clients"))
	if !ok {
		includeClients = true
	}
	includeMem, ok := httpapi.ParseBool(params.Get("include_mem"))
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
	params, err := httpapi.QueryParams(r)
	if err != nil {
		return "", err
	}
	name, ok := httpapi.First(params, "topic")
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
	return nil, s.applyPause(r, t)
}

// applyPause pauses or unpauses p (by the request path) and rewrites the
// metadata.
func (s *httpHandler) applyPause(r *http.Request, p interface {
	Pause()
	Unpause()
}) error {
	if strings.Contains(r.URL.Path, "unpause") {
		p.Unpause()
	} else {
		p.Pause()
	}
	if err := s.n.PersistMetadata(); err != nil {
		s.n.logger.Errorf("failed to persist metadata - %s", err)
		return errf(http.StatusInternalServerError, "INTERNAL_ERROR")
	}
	return nil
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
	return nil, s.applyPause(r, c)
}

func (s *httpHandler) setBlockRate(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
	params, err := httpapi.QueryParams(r)
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
