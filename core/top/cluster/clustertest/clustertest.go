// Package clustertest serves a fake NSQ 1.3.0 cluster over HTTP on
// loopback for tests of nsqtop (core/top/cluster and the UI in core/top):
// one nsqlookupd and two nsqd answering with the responses captured from
// a real NSQ 1.3.0 cluster (embedded, see testdata/README.md), with
// knobs to make counters move, nodes fail or answer slowly, and a record
// of the admin calls made.
//
// The quickest start:
//
//	src := clustertest.ServeFixtures(t) // lookupd-discovered cluster
//	p := cluster.NewPoller(cluster.Options{Source: src, IncludeClients: true, Now: clustertest.NewClock().Now})
//	st := p.Poll(ctx)
//
// For more control:
//
//	c := clustertest.Start(t)
//	clock := clustertest.NewClock()
//	p := cluster.NewPoller(cluster.Options{Source: c.Source(), IncludeClients: true, Now: clock.Now})
//	p.Poll(ctx)                                  // baseline
//	c.SetTraffic(clustertest.Traffic{Published: 10, Consumed: 8})
//	c.Advance(1); clock.Add(time.Second)         // one second of traffic
//	st := p.Poll(ctx)                            // rates: 10/s in per node and topic, 8/s out per channel
//	c.SetDown(c.NSQDB, true)                     // B refuses connections: stale, then down
//
// # The cluster
//
// As captured (see testdata/README.md for how it was made), all on
// 127.0.0.1 with the test servers' ports in place of the original ones:
//
//	nsqd A (c.NSQDA; captured as :4151)
//	  events#ephemeral  depth 0, 5 msgs
//	    live#ephemeral    depth 0, in-flight 5, requeued 1, 1 client
//	  orders            depth 0, 49 msgs
//	    archive           depth 48, deferred 1, 49 msgs, no client
//	    audit             depth 48, deferred 1, 49 msgs, PAUSED
//	    billing           depth 32, in-flight 10, deferred 1, requeued 1, 1 client (6 finished)
//	  paused_topic      PAUSED, depth 3, 3 msgs, no channel
//	  producers: 1 (fixture-producer, 9 messages to orders)
//	nsqd B (c.NSQDB; captured as :4251, --mem-queue-size=10)
//	  clicks            depth 0, 105 msgs
//	    analytics         depth 96 (87 on disk), in-flight 3, deferred 5, requeued 1, 1 client
//	  orders            depth 0, 3 msgs
//	    archive, audit, billing  depth 3 each, no client
//	    tail#ephemeral    depth 0, 1 client (nsq_tail, 3 finished)
//
// Both nsqd report version 1.3.0 and start_time 1795422048
// (2026-11-23T08:20:48Z); [Epoch] is the capture time, 5 s later. The
// lookupd lists both nodes with their topics (none tombstoned) and
// answers /topics, /channels, /lookup, /nodes, /info, /ping from the
// nodes' current state, plus what was created on it directly.
//
// # What changes it
//
//   - [Cluster.Advance] moves counters by the [Traffic] set with
//     [Cluster.SetTraffic], [Cluster.SetTopicTraffic] and
//     [Cluster.SetChannelTraffic] (nothing moves by default).
//   - [Cluster.SetDown] closes a daemon's listener (connections are
//     refused) until set up again; [Cluster.SetDelay] makes it answer
//     every request only after a delay (or when the request is
//     canceled); [Cluster.SetListed] makes the lookupd stop (or resume)
//     listing an nsqd, as when it disconnects.
//   - [Cluster.Restart] puts a node back to its captured counters with a
//     new start_time (counters go backwards, as after a restart).
//   - Admin POSTs are applied: nsqd /topic/{create,delete,empty,pause,
//     unpause} and /channel/{create,delete,empty,pause,unpause}; lookupd
//     /topic/{create,delete,tombstone} and /channel/{create,delete}.
//     [Cluster.Calls] lists them.
//
// Every method is safe for concurrent use. Everything stops when the test
// ends.
package clustertest

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
)

//go:embed testdata/*.json
var fixtures embed.FS

// Epoch is when the fixtures were captured (2026-11-23T08:20:53Z): a good
// start for a test clock, so uptimes and connection ages are those of
// the captured cluster (nodes up 5s, clients connected 3–4s).
var Epoch = time.Unix(1795422053, 0).UTC()

// StartTime is the captured nodes' start_time (Unix seconds).
const StartTime = 1795422048

// Clock is a settable clock for cluster.Options.Now, safe for concurrent
// use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at Epoch.
func NewClock() *Clock { return &Clock{t: Epoch} }

// Now is the clock's time (pass the method value as Options.Now).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set sets the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// ServeFixtures starts the fixture cluster (see [Start]) and returns its
// lookupd as a Source: the Poller discovers both nsqd through it.
func ServeFixtures(t testing.TB) cluster.Source {
	return Start(t).Source()
}

// Traffic is how counters move per Advance step, on every node that has
// the topic (or channel). The zero Traffic moves nothing.
type Traffic struct {
	// Published is added to the topic's message_count (and 10 bytes each
	// to message_bytes) and, unless the topic is paused, to each of its
	// channels' message_count and depth. A paused topic, or one without
	// channels, keeps them in its own depth.
	Published int64
	// Consumed is taken off each unpaused channel's depth (at most what
	// it holds) and added to its first client's message_count and
	// finish_count: nsq_stat's egress.
	Consumed int64
	// Requeued and TimedOut are added to each channel's requeue_count
	// and timeout_count (and to its first client's requeue_count).
	Requeued, TimedOut int64
}

// Stable stand-ins for the servers' addresses in golden files; see
// [Cluster.Normalize].
const (
	StableLookupd = "127.0.0.1:14161"
	StableNSQDA   = "127.0.0.1:14151"
	StableNSQDB   = "127.0.0.1:14251"
)

// Normalize replaces the cluster's real addresses in s with StableLookupd,
// StableNSQDA and StableNSQDB, for comparing output with a golden file.
// The stand-ins have 5-digit ports like the kernel's ephemeral ones, so
// aligned columns stay aligned; StableAddrs reports whether that holds.
func (c *Cluster) Normalize(s string) string {
	return strings.NewReplacer(c.Lookupd, StableLookupd, c.NSQDA, StableNSQDA, c.NSQDB, StableNSQDB).Replace(s)
}

// StableAddrs reports whether every real address has the length of its
// stand-in (so Normalize keeps column widths). When not, compare golden
// output loosely or skip.
func (c *Cluster) StableAddrs() bool {
	return len(c.Lookupd) == len(StableLookupd) && len(c.NSQDA) == len(StableNSQDA) && len(c.NSQDB) == len(StableNSQDB)
}

// Cluster is a running fake cluster. Node arguments are the nsqd (or
// lookupd) HTTP addresses: c.NSQDA, c.NSQDB, c.Lookupd.
type Cluster struct {
	// Lookupd is the lookupd's HTTP address; NSQDA and NSQDB the two nsqd
	// (127.0.0.1:port each). Lookupd < NSQDA < NSQDB as strings, so
	// node-ordered lists (State.Nodes, a channel's Nodes and Clients)
	// always have A first, as in the capture.
	Lookupd, NSQDA, NSQDB string

	t    testing.TB
	quit chan struct{}

	mu       sync.Mutex
	servers  map[string]*server
	nodes    map[string]*node // by HTTP address
	traffic  Traffic
	topicTr  map[string]Traffic
	chanTr   map[[2]string]Traffic
	steps    int
	calls    []string
	ldTopics map[string]map[string]bool // created on lookupd: topic → channels
	tombs    map[string]map[string]bool // node → topic → tombstoned
}

// node is one fake nsqd.
type node struct {
	name     string // "A" or "B"
	addr     string
	tcpPort  int
	remote   string // its connection to lookupd, as /nodes says
	hostname string
	version  string
	listed   bool
	base     []byte // captured /stats
	stats    *lookup.NodeStats
	info     map[string]any
}

// Start serves the fixture cluster until the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{
		t:        t,
		quit:     make(chan struct{}),
		servers:  make(map[string]*server),
		nodes:    make(map[string]*node),
		topicTr:  make(map[string]Traffic),
		chanTr:   make(map[[2]string]Traffic),
		ldTopics: make(map[string]map[string]bool),
		tombs:    make(map[string]map[string]bool),
	}
	var captured struct {
		Producers []lookup.Node `json:"producers"`
	}
	mustJSON(t, "lookupd.nodes.json", &captured)
	listeners := make([]net.Listener, 3)
	for i := range listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("clustertest: %v", err)
		}
		listeners[i] = ln
	}
	// In address order, so that A sorts before B as in the capture.
	slices.SortFunc(listeners, func(a, b net.Listener) int {
		return strings.Compare(a.Addr().String(), b.Addr().String())
	})
	c.Lookupd = listeners[0].Addr().String()
	c.NSQDA = listeners[1].Addr().String()
	c.NSQDB = listeners[2].Addr().String()
	for i, name := range []string{"A", "B"} {
		addr := listeners[i+1].Addr().String()
		p := captured.Producers[i] // A (4151), B (4251), in captured order
		n := &node{name: name, addr: addr, tcpPort: p.TCPPort, remote: p.RemoteAddress,
			hostname: p.Hostname, version: p.Version, listed: true}
		n.base = mustRead(t, "nsqd-"+lower(name)+".stats.json")
		mustJSON(t, "nsqd-"+lower(name)+".info.json", &n.info)
		n.reset(0)
		c.nodes[addr] = n
	}
	c.servers[c.Lookupd] = newServer(c, c.Lookupd, http.HandlerFunc(c.serveLookupd))
	c.servers[c.NSQDA] = newServer(c, c.NSQDA, c.nsqdHandler(c.nodes[c.NSQDA]))
	c.servers[c.NSQDB] = newServer(c, c.NSQDB, c.nsqdHandler(c.nodes[c.NSQDB]))
	for i, a := range []string{c.Lookupd, c.NSQDA, c.NSQDB} {
		c.servers[a].serve(listeners[i])
	}
	t.Cleanup(c.stop)
	return c
}

func lower(s string) string {
	if s == "A" {
		return "a"
	}
	return "b"
}

func mustRead(t testing.TB, name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return b
}

func mustJSON(t testing.TB, name string, v any) {
	if err := json.Unmarshal(mustRead(t, name), v); err != nil {
		t.Fatalf("clustertest: %s: %v", name, err)
	}
}

// reset puts the node back to its captured stats, started startShift
// seconds after the capture's start_time.
func (n *node) reset(startShift int64) {
	var s lookup.NodeStats
	if err := json.Unmarshal(n.base, &s); err != nil {
		panic(err)
	}
	s.StartTime += startShift
	n.stats = &s
}

// Source is the lookupd as a Source (nodes discovered through it).
func (c *Cluster) Source() cluster.Source {
	return cluster.Source{LookupdHTTPAddrs: []string{c.Lookupd}}
}

// NSQDSource is both nsqd given directly (no lookupd), as
// --nsqd-http-address would.
func (c *Cluster) NSQDSource() cluster.Source {
	return cluster.Source{NSQDHTTPAddrs: []string{c.NSQDA, c.NSQDB}}
}

// SetDown takes a daemon (nsqd or the lookupd) down: its listener closes
// and its connections drop, so requests fail with "connection refused";
// down=false listens again on the same address. The lookupd keeps listing
// a down nsqd (as when only nsqtop cannot reach it); see SetListed.
func (c *Cluster) SetDown(addr string, down bool) {
	c.mu.Lock()
	s := c.servers[addr]
	c.mu.Unlock()
	if s == nil {
		c.t.Errorf("clustertest: SetDown: no daemon at %s", addr)
		return
	}
	if err := s.setDown(down); err != nil {
		c.t.Errorf("clustertest: SetDown(%s, %v): %v", addr, down, err)
	}
}

// SetDelay makes a daemon answer every request d late (0: at once). A
// request canceled meanwhile (a Poll's timeout) ends at once.
func (c *Cluster) SetDelay(addr string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.servers[addr]; s != nil {
		s.delay = d
		return
	}
	c.t.Errorf("clustertest: SetDelay: no daemon at %s", addr)
}

// SetListed makes the lookupd list an nsqd in /nodes and /lookup or not
// (as when the nsqd disconnects from it).
func (c *Cluster) SetListed(addr string, listed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[addr]; n != nil {
		n.listed = listed
		return
	}
	c.t.Errorf("clustertest: SetListed: no nsqd at %s", addr)
}

// SetTraffic sets the Traffic of every topic and channel without one of
// their own.
func (c *Cluster) SetTraffic(tr Traffic) {
	c.mu.Lock()
	c.traffic = tr
	c.mu.Unlock()
}

// SetTopicTraffic sets the Traffic of one topic and its channels (those
// without one of their own).
func (c *Cluster) SetTopicTraffic(topic string, tr Traffic) {
	c.mu.Lock()
	c.topicTr[topic] = tr
	c.mu.Unlock()
}

// SetChannelTraffic sets Consumed, Requeued and TimedOut of one channel
// (Published comes from its topic's Traffic).
func (c *Cluster) SetChannelTraffic(topic, channel string, tr Traffic) {
	c.mu.Lock()
	c.chanTr[[2]string{topic, channel}] = tr
	c.mu.Unlock()
}

// Advance moves every node's counters by steps steps of Traffic.
func (c *Cluster) Advance(steps int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range steps {
		c.steps++
		for _, n := range c.nodes {
			c.step(n)
		}
	}
}

func (c *Cluster) step(n *node) {
	for ti := range n.stats.Topics {
		t := &n.stats.Topics[ti]
		tt, ok := c.topicTr[t.TopicName]
		if !ok {
			tt = c.traffic
		}
		t.MessageCount += tt.Published
		t.MessageBytes += 10 * tt.Published
		if t.Paused || len(t.Channels) == 0 {
			t.Depth += tt.Published
			continue
		}
		for ci := range t.Channels {
			ch := &t.Channels[ci]
			ct, ok := c.chanTr[[2]string{t.TopicName, ch.ChannelName}]
			if !ok {
				ct = tt
			}
			ch.MessageCount += tt.Published
			ch.Depth += tt.Published
			consumed := int64(0)
			if !ch.Paused {
				consumed = min(ct.Consumed, ch.Depth)
			}
			ch.Depth -= consumed
			ch.BackendDepth = min(ch.BackendDepth, ch.Depth)
			ch.RequeueCount += ct.Requeued
			ch.TimeoutCount += ct.TimedOut
			if len(ch.Clients) > 0 {
				cl := &ch.Clients[0]
				cl.MessageCount += consumed
				cl.FinishCount += consumed
				cl.RequeueCount += ct.Requeued
			}
		}
	}
}

// Restart makes an nsqd look restarted: its captured counters again and
// a start_time one second later per restart.
func (c *Cluster) Restart(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[addr]
	if n == nil {
		c.t.Errorf("clustertest: Restart: no nsqd at %s", addr)
		return
	}
	n.reset(n.stats.StartTime - StartTime + 1)
}

// Calls lists the admin requests the daemons got, in arrival order, as
// "POST 127.0.0.1:port/channel/pause?channel=billing&topic=orders" (the
// query with its parameters sorted).
func (c *Cluster) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// ResetCalls forgets the calls recorded so far.
func (c *Cluster) ResetCalls() {
	c.mu.Lock()
	c.calls = nil
	c.mu.Unlock()
}

// Stats is a copy of an nsqd's current /stats (nil for an unknown
// address).
func (c *Cluster) Stats(addr string) *lookup.NodeStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[addr]
	if n == nil {
		return nil
	}
	b, _ := json.Marshal(n.stats)
	var s lookup.NodeStats
	_ = json.Unmarshal(b, &s)
	return &s
}

// Topics is the sorted topic names an nsqd has now.
func (c *Cluster) Topics(addr string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[addr]
	if n == nil {
		return nil
	}
	var out []string
	for _, t := range n.stats.Topics {
		out = append(out, t.TopicName)
	}
	return out
}

func (c *Cluster) record(r *http.Request) {
	q := r.URL.Query()
	enc := url.Values{}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		enc[k] = q[k]
	}
	s := r.Method + " " + r.Host + r.URL.Path
	if len(enc) > 0 {
		s += "?" + enc.Encode()
	}
	c.calls = append(c.calls, s)
}

func (c *Cluster) stop() {
	close(c.quit)
	c.mu.Lock()
	servers := slices.Collect(maps.Values(c.servers))
	c.mu.Unlock()
	for _, s := range servers {
		s.close()
	}
}

// httpPort is the port of an address.
func httpPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (n *node) String() string { return fmt.Sprintf("nsqd %s (%s)", n.name, n.addr) }
