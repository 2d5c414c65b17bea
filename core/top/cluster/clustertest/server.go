package clustertest

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// server is one fake daemon's HTTP listener, which can go down and come
// back on the same address.
type server struct {
	c       *Cluster
	addr    string
	handler http.Handler
	delay   time.Duration // guarded by c.mu

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{} // closed when the current Serve returns
}

func newServer(c *Cluster, addr string, h http.Handler) *server {
	s := &server{c: c, addr: addr}
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		d := s.delay
		c.mu.Unlock()
		if d > 0 {
			tm := time.NewTimer(d)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-r.Context().Done():
				return
			case <-c.quit:
				return
			}
		}
		h.ServeHTTP(w, r)
	})
	return s
}

// serve starts serving on ln.
func (s *server) serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	srv, done := s.srv, s.done
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
}

func (s *server) setDown(down bool) error {
	if down {
		s.close()
		return nil
	}
	s.mu.Lock()
	up := s.srv != nil
	s.mu.Unlock()
	if up {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

// close stops the listener and every connection, and waits for Serve to
// return.
func (s *server) close() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
}

// writeJSON answers 200 with v as JSON and the v1 header.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeErr(w, 500, "INTERNAL_ERROR")
		return
	}
	w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
	w.WriteHeader(200)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"message":"` + msg + `"}`))
}

// errNotFound and friends carry the status of an admin call's failure.
type apiErr struct {
	status int
	msg    string
}

func (e *apiErr) Error() string { return e.msg }

var (
	errTopicNotFound   = &apiErr{404, "TOPIC_NOT_FOUND"}
	errChannelNotFound = &apiErr{404, "CHANNEL_NOT_FOUND"}
	errMissingTopic    = &apiErr{400, "MISSING_ARG_TOPIC"}
	errMissingChannel  = &apiErr{400, "MISSING_ARG_CHANNEL"}
	errMissingNode     = &apiErr{400, "MISSING_ARG_NODE"}
)

func answer(w http.ResponseWriter, err error) {
	var ae *apiErr
	switch {
	case err == nil:
		writeOK(w)
	case errors.As(err, &ae):
		writeErr(w, ae.status, ae.msg)
	default:
		writeErr(w, 500, "INTERNAL_ERROR")
	}
}

// nsqdHandler serves one fake nsqd.
func (c *Cluster) nsqdHandler(n *node) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method == http.MethodPost {
			c.mu.Lock()
			c.record(r)
			err := c.nsqdAdmin(n, r.URL.Path, q.Get("topic"), q.Get("channel"))
			c.mu.Unlock()
			answer(w, err)
			return
		}
		switch r.URL.Path {
		case "/ping":
			_, _ = w.Write([]byte("OK"))
		case "/info":
			c.mu.Lock()
			info := make(map[string]any, len(n.info))
			for k, v := range n.info {
				info[k] = v
			}
			info["http_port"] = httpPort(n.addr)
			info["start_time"] = n.stats.StartTime
			c.mu.Unlock()
			writeJSON(w, info)
		case "/stats":
			c.mu.Lock()
			s := filterStats(n.stats, q.Get("topic"), q.Get("channel"),
				q.Get("include_clients") != "false" && q.Get("include_clients") != "0",
				q.Get("include_mem") != "false" && q.Get("include_mem") != "0")
			b, err := json.Marshal(s)
			c.mu.Unlock()
			if err != nil {
				writeErr(w, 500, "INTERNAL_ERROR")
				return
			}
			w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(b)
		default:
			writeErr(w, 404, "NOT_FOUND")
		}
	})
}

// filterStats is s as nsqd answers /stats with these parameters (a
// shallow copy; marshal it before releasing the lock).
func filterStats(s *lookup.NodeStats, topic, channel string, clients, mem bool) *lookup.NodeStats {
	out := *s
	if !mem {
		out.Memory = nil
	}
	if !clients {
		out.Producers = nil
	}
	if topic == "" && channel == "" && clients {
		return &out
	}
	out.Topics = nil
	for _, t := range s.Topics {
		if topic != "" && t.TopicName != topic {
			continue
		}
		chans := t.Channels
		if channel != "" || !clients {
			chans = []lookup.ChannelStats{}
			for _, ch := range t.Channels {
				if channel != "" && ch.ChannelName != channel {
					continue
				}
				if !clients {
					ch.Clients = nil
				}
				chans = append(chans, ch)
			}
			if channel != "" && len(chans) == 0 {
				continue
			}
		}
		t.Channels = chans
		out.Topics = append(out.Topics, t)
	}
	if out.Topics == nil && topic == "" {
		out.Topics = []lookup.TopicStats{}
	}
	return &out
}

// nsqdAdmin applies an admin POST to a node (c.mu held).
func (c *Cluster) nsqdAdmin(n *node, path, topic, channel string) error {
	if topic == "" {
		return errMissingTopic
	}
	s := n.stats
	ti := slices.IndexFunc(s.Topics, func(t lookup.TopicStats) bool { return t.TopicName == topic })
	kind, verb, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if kind == "topic" {
		if verb == "create" {
			if ti < 0 {
				s.Topics = append(s.Topics, lookup.TopicStats{TopicName: topic, Channels: []lookup.ChannelStats{}})
				slices.SortFunc(s.Topics, func(a, b lookup.TopicStats) int { return strings.Compare(a.TopicName, b.TopicName) })
			}
			return nil
		}
		if ti < 0 {
			return errTopicNotFound
		}
		t := &s.Topics[ti]
		switch verb {
		case "delete":
			s.Topics = slices.Delete(s.Topics, ti, ti+1)
		case "empty":
			t.Depth, t.BackendDepth = 0, 0
		case "pause", "unpause":
			t.Paused = verb == "pause"
		default:
			return &apiErr{404, "NOT_FOUND"}
		}
		return nil
	}
	if kind != "channel" {
		return &apiErr{404, "NOT_FOUND"}
	}
	if channel == "" {
		return errMissingChannel
	}
	if ti < 0 {
		return errTopicNotFound
	}
	t := &s.Topics[ti]
	ci := slices.IndexFunc(t.Channels, func(c lookup.ChannelStats) bool { return c.ChannelName == channel })
	if verb == "create" {
		if ci < 0 {
			t.Channels = append(t.Channels, lookup.ChannelStats{ChannelName: channel, Clients: []lookup.ClientStats{}})
			slices.SortFunc(t.Channels, func(a, b lookup.ChannelStats) int { return strings.Compare(a.ChannelName, b.ChannelName) })
		}
		return nil
	}
	if ci < 0 {
		return errChannelNotFound
	}
	ch := &t.Channels[ci]
	switch verb {
	case "delete":
		t.Channels = slices.Delete(t.Channels, ci, ci+1)
	case "empty":
		ch.Depth, ch.BackendDepth, ch.InFlightCount, ch.DeferredCount = 0, 0, 0, 0
		for i := range ch.Clients {
			ch.Clients[i].InFlightCount = 0
		}
	case "pause", "unpause":
		ch.Paused = verb == "pause"
	default:
		return &apiErr{404, "NOT_FOUND"}
	}
	return nil
}

// serveLookupd serves the fake lookupd: its registrations are the listed
// nodes' current topics and channels plus what was created on it.
func (c *Cluster) serveLookupd(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	topic, channel := q.Get("topic"), q.Get("channel")
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method == http.MethodPost {
		c.record(r)
		answer(w, c.lookupdAdmin(r.URL.Path, topic, channel, q.Get("node")))
		return
	}
	switch r.URL.Path {
	case "/ping":
		_, _ = w.Write([]byte("OK"))
	case "/info":
		writeJSON(w, map[string]string{"version": "1.3.0"})
	case "/nodes":
		out := []lookup.Node{}
		for _, n := range c.listedNodes() {
			ln := lookup.Node{Producer: c.producer(n), Topics: []string{}, Tombstones: []bool{}}
			for _, t := range n.stats.Topics {
				ln.Topics = append(ln.Topics, t.TopicName)
				ln.Tombstones = append(ln.Tombstones, c.tombs[n.addr][t.TopicName])
			}
			out = append(out, ln)
		}
		writeJSON(w, map[string]any{"producers": out})
	case "/topics":
		writeJSON(w, map[string]any{"topics": slices.Sorted(func(yield func(string) bool) {
			for t := range c.registry() {
				if !yield(t) {
					return
				}
			}
		})})
	case "/channels":
		if topic == "" {
			writeErr(w, 400, "MISSING_ARG_TOPIC")
			return
		}
		writeJSON(w, map[string]any{"channels": sortedKeys(c.registry()[topic])})
	case "/lookup":
		if topic == "" {
			writeErr(w, 400, "MISSING_ARG_TOPIC")
			return
		}
		reg := c.registry()
		chans, ok := reg[topic]
		if !ok {
			writeErr(w, 404, "TOPIC_NOT_FOUND")
			return
		}
		prods := []lookup.Producer{}
		for _, n := range c.listedNodes() {
			if hasTopic(n, topic) && !c.tombs[n.addr][topic] {
				prods = append(prods, c.producer(n))
			}
		}
		writeJSON(w, map[string]any{"channels": sortedKeys(chans), "producers": prods})
	default:
		writeErr(w, 404, "NOT_FOUND")
	}
}

func (c *Cluster) listedNodes() []*node {
	var out []*node
	for _, a := range []string{c.NSQDA, c.NSQDB} {
		if n := c.nodes[a]; n.listed {
			out = append(out, n)
		}
	}
	return out
}

func (c *Cluster) producer(n *node) lookup.Producer {
	return lookup.Producer{RemoteAddress: n.remote, Hostname: n.hostname, BroadcastAddress: "127.0.0.1",
		TCPPort: n.tcpPort, HTTPPort: httpPort(n.addr), Version: n.version}
}

func hasTopic(n *node, topic string) bool {
	return slices.ContainsFunc(n.stats.Topics, func(t lookup.TopicStats) bool { return t.TopicName == topic })
}

// registry is topic → channel set as the lookupd knows them.
func (c *Cluster) registry() map[string]map[string]bool {
	reg := make(map[string]map[string]bool)
	for _, n := range c.listedNodes() {
		for _, t := range n.stats.Topics {
			if reg[t.TopicName] == nil {
				reg[t.TopicName] = make(map[string]bool)
			}
			for _, ch := range t.Channels {
				reg[t.TopicName][ch.ChannelName] = true
			}
		}
	}
	for t, chans := range c.ldTopics {
		if reg[t] == nil {
			reg[t] = make(map[string]bool)
		}
		for ch := range chans {
			reg[t][ch] = true
		}
	}
	return reg
}

func sortedKeys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// lookupdAdmin applies an admin POST to the lookupd (c.mu held).
func (c *Cluster) lookupdAdmin(path, topic, channel, nodeName string) error {
	if topic == "" {
		return errMissingTopic
	}
	switch path {
	case "/topic/create":
		if c.ldTopics[topic] == nil {
			c.ldTopics[topic] = make(map[string]bool)
		}
	case "/topic/delete":
		delete(c.ldTopics, topic)
	case "/channel/create", "/channel/delete":
		if channel == "" {
			return errMissingChannel
		}
		if path == "/channel/create" {
			if c.ldTopics[topic] == nil {
				c.ldTopics[topic] = make(map[string]bool)
			}
			c.ldTopics[topic][channel] = true
			return nil
		}
		if c.ldTopics[topic][channel] {
			delete(c.ldTopics[topic], channel)
			return nil
		}
		if !c.registry()[topic][channel] {
			return errChannelNotFound
		}
		// registered by an nsqd: it goes when the nsqd deletes it
	case "/topic/tombstone":
		if nodeName == "" {
			return errMissingNode
		}
		for _, n := range c.nodes {
			if n.addr == nodeName && hasTopic(n, topic) {
				if c.tombs[n.addr] == nil {
					c.tombs[n.addr] = make(map[string]bool)
				}
				c.tombs[n.addr][topic] = true
			}
		}
	default:
		return &apiErr{404, "NOT_FOUND"}
	}
	return nil
}
