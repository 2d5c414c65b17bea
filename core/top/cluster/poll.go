package cluster

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// Defaults of Options.
const (
	DefaultHistory    = 60
	DefaultMaxTimeout = 5 * time.Second
)

func newOptions() Options {
	return Options{History: DefaultHistory, IncludeClients: true}
}

// poller is a Poller's state between polls: the nodes it knows and the
// history of every entity, each keyed by what names it (see the key
// types below). Entities not seen for History polls are dropped.
type poller struct {
	polls    int
	prevTime time.Time

	nodes      map[string]*nodeRec // by addrKey
	nodeTopics map[ntKey]*ntRec
	nodeChans  map[ncKey]*ncRec
	topics     map[string]*aggRec
	chans      map[tcKey]*aggRec
	clients    map[clKey]*clRec
	cl         struct{ in, out, depth series }

	byAddr map[string]*nodeRec // this poll's nodes by the address asked (reused)
}

// The keys of the history maps. A node is named by its HTTP address as
// asked (lookup.NodeSnapshot.Addr).
type (
	ntKey struct{ node, topic string }
	ncKey struct{ node, topic, channel string }
	tcKey struct{ topic, channel string }
	clKey struct{ node, remote, id string } // a connection: node + remote_address + client_id
)

// nodeRec is what the poller remembers of one nsqd.
type nodeRec struct {
	key      string
	addr     string // the address asked
	explicit bool   // in Source.NSQDHTTPAddrs
	lookupd  *lookup.Node
	listedBy []string // lookupds whose /nodes list it (or did, and failed since)
	unlisted int      // polls since no lookupd lists it (a crashed nsqd: its registration went with its connection)

	snap      *lookup.NodeSnapshot // the last answer (nil if none or down)
	startTime int64
	epoch     uint32 // restarts seen (start_time changed)
	everUp    bool
	lastSeen  time.Time
	failures  int
	err       string
}

type ntRec struct {
	c    counters
	seen int
}

type ncRec struct {
	c     counters
	trend trend
	seen  int
}

type aggRec struct {
	rate, depth series
	seen        int
}

type clRec struct {
	c     counters
	seen  int
	sig   attrSig
	attrs []string
}

func newPoller(opts Options) *Poller {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	fixed := opts.Timeout > 0
	if !fixed {
		opts.Timeout = timeoutFor(opts.Interval)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = lookup.NewClient(lookup.Options{})
	}
	p := &Poller{opts: opts, fixedTimeout: fixed, impl: &poller{
		nodes:      make(map[string]*nodeRec),
		nodeTopics: make(map[ntKey]*ntRec),
		nodeChans:  make(map[ncKey]*ncRec),
		topics:     make(map[string]*aggRec),
		chans:      make(map[tcKey]*aggRec),
		clients:    make(map[clKey]*clRec),
		byAddr:     make(map[string]*nodeRec),
	}}
	p.timeout.Store(int64(opts.Timeout))
	return p
}

// timeoutFor is the default poll timeout at an interval: 80% of it, at
// most DefaultMaxTimeout.
func timeoutFor(interval time.Duration) time.Duration {
	if interval <= 0 {
		return DefaultMaxTimeout
	}
	return min(interval*8/10, DefaultMaxTimeout)
}

// SetInterval tells the Poller that polls now come every d (nsqtop's +
// and -): the poll timeout follows, unless Options.Timeout fixed it. Safe
// to call while a Poll runs (that poll keeps its timeout).
func (p *Poller) SetInterval(d time.Duration) {
	if !p.fixedTimeout {
		p.timeout.Store(int64(timeoutFor(d)))
	}
}

// currentTimeout is the timeout of the next poll.
func (p *Poller) currentTimeout() time.Duration { return time.Duration(p.timeout.Load()) }

func (p *Poller) poll(ctx context.Context) *State {
	opts := p.opts // a copy: this poll's timeout stays put
	opts.Timeout = p.currentTimeout()
	o := &opts
	im := p.impl
	start := o.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	im.polls++
	answered, lerrs := im.discover(ctx, o)
	list := im.nodeList()

	addrs := make([]string, len(list))
	clear(im.byAddr)
	for i, n := range list {
		addrs[i] = n.addr
		im.byAddr[n.addr] = n
	}
	var snap *lookup.Snapshot
	if len(addrs) > 0 {
		snap, _ = o.Client.Snapshot(ctx, lookup.SnapshotRequest{
			NSQDHTTPAddrs:  addrs,
			IncludeClients: o.IncludeClients,
			IncludeMem:     true,
		})
	}
	if snap == nil {
		snap = &lookup.Snapshot{Time: time.Now(), Nodes: []lookup.NodeSnapshot{}, Topics: []lookup.TopicSnapshot{},
			Producers: []lookup.ClientSnapshot{}, NodeErrors: map[string]error{}}
	}
	snap.Lookupds, snap.LookupdErrors = answered, lerrs
	im.patch(snap)

	st := &State{Time: start, Polls: im.polls, Snap: snap}
	if !im.prevTime.IsZero() {
		st.Interval = start.Sub(im.prevTime)
	}
	for _, e := range lerrs {
		msg := errText(e.Err)
		if lookup.IsTimeout(e.Err) {
			msg = "timeout: no answer within " + (o.Timeout / 2).String()
		}
		st.LookupdErrors = append(st.LookupdErrors, AddrError{Addr: e.Addr, Err: msg})
	}
	timedOut := ctx.Err() != nil
	im.derive(st, o, timedOut)
	im.sweep(o.History)
	im.prevTime = start
	st.Took = o.Now().Sub(start)
	return st
}

// discover asks every lookupd for /nodes (bounded by half the poll's
// time) and updates the known nodes: a node some answering lookupd lists
// is known; one no answering lookupd lists any more is still asked by
// its address for History polls (an nsqd that crashed left lookupd with
// its connection: it shows stale, then down, with its error, rather than
// vanishing), then forgotten unless it is explicit. A node whose lookupd
// failed this time keeps its last record.
func (im *poller) discover(ctx context.Context, o *Options) (answered []string, lerrs []*lookup.AddrError) {
	lds := dedupAddrs(o.Source.LookupdHTTPAddrs)
	lists := make([][]lookup.Node, len(lds))
	errs := make([]error, len(lds))
	if len(lds) > 0 {
		dctx, cancel := context.WithTimeout(ctx, o.Timeout/2)
		var wg sync.WaitGroup
		for i, a := range lds {
			wg.Go(func() { lists[i], errs[i] = o.Client.Nodes(dctx, a) })
		}
		wg.Wait()
		cancel()
	}
	failed := make(map[string]bool)
	var ok [][]lookup.Node
	for i, a := range lds {
		if errs[i] != nil {
			lerrs = append(lerrs, &lookup.AddrError{Addr: a, Err: errs[i]})
			failed[a] = true
			continue
		}
		answered = append(answered, a)
		ok = append(ok, lists[i])
	}

	// Who lists whom now.
	listers := make(map[string][]string)
	for i, a := range lds {
		if errs[i] != nil {
			continue
		}
		for _, n := range lists[i] {
			k := addrKey(n.HTTPAddress())
			if l := listers[k]; len(l) == 0 || l[len(l)-1] != a {
				listers[k] = append(l, a)
			}
		}
	}
	merged := lookup.MergeNodes(ok...)
	for i := range merged {
		n := &merged[i]
		k := addrKey(n.HTTPAddress())
		rec := im.nodes[k]
		if rec == nil {
			rec = &nodeRec{key: k}
			im.nodes[k] = rec
		}
		rec.lookupd = n
		rec.addr = n.HTTPAddress()
	}
	for k, rec := range im.nodes {
		now := listers[k]
		for _, l := range rec.listedBy {
			if failed[l] && !slices.Contains(now, l) {
				now = append(now, l) // its lookupd failed: keep it
			}
		}
		rec.listedBy = orderLike(now, lds)
		if len(rec.listedBy) == 0 {
			rec.lookupd = nil
			rec.unlisted++
		} else {
			rec.unlisted = 0
		}
		rec.explicit = false
	}
	for _, a := range dedupAddrs(o.Source.NSQDHTTPAddrs) {
		k := addrKey(a)
		rec := im.nodes[k]
		if rec == nil {
			rec = &nodeRec{key: k, addr: a}
			im.nodes[k] = rec
		}
		rec.explicit = true
		if rec.lookupd == nil {
			rec.addr = a
		}
	}
	for k, rec := range im.nodes {
		if !rec.explicit && len(rec.listedBy) == 0 && (rec.unlisted >= o.History || !rec.everUp) {
			delete(im.nodes, k)
		}
	}
	return answered, lerrs
}

// orderLike returns the members of s in the order they have in ref.
func orderLike(s, ref []string) []string {
	if len(s) < 2 {
		return s
	}
	out := make([]string, 0, len(s))
	for _, r := range ref {
		if slices.Contains(s, r) {
			out = append(out, r)
		}
	}
	return out
}

// nodeList is the known nodes sorted by address.
func (im *poller) nodeList() []*nodeRec {
	list := make([]*nodeRec, 0, len(im.nodes))
	for _, n := range im.nodes {
		list = append(list, n)
	}
	slices.SortFunc(list, func(a, b *nodeRec) int { return cmp.Compare(a.addr, b.addr) })
	return list
}

// patch adds to the snapshot what discovery knows and /stats does not say
// (the snapshot was asked by address only): each node's lookupd record,
// hostname and ports, also in the per-node breakdowns.
func (im *poller) patch(s *lookup.Snapshot) {
	hosts := false
	for i := range s.Nodes {
		n := &s.Nodes[i]
		rec := im.byAddr[n.Addr]
		if rec == nil || rec.lookupd == nil {
			continue
		}
		l := rec.lookupd
		n.Lookupd = l
		n.Hostname = l.Hostname
		n.BroadcastAddress = l.BroadcastAddress
		n.TCPPort = l.TCPPort
		n.HTTPPort = l.HTTPPort
		if n.Version == "" {
			n.Version = l.Version
		}
		hosts = hosts || l.Hostname != ""
	}
	if !hosts {
		return
	}
	host := func(addr string) string {
		if rec := im.byAddr[addr]; rec != nil && rec.lookupd != nil {
			return rec.lookupd.Hostname
		}
		return ""
	}
	for i := range s.Topics {
		t := &s.Topics[i]
		for j := range t.Nodes {
			t.Nodes[j].Hostname = host(t.Nodes[j].Node)
		}
		for j := range t.Channels {
			c := &t.Channels[j]
			for k := range c.Nodes {
				c.Nodes[k].Hostname = host(c.Nodes[k].Node)
			}
		}
	}
}

// sweep drops the history of entities not seen for n polls.
func (im *poller) sweep(n int) {
	old := im.polls - n
	for k, r := range im.nodeTopics {
		if r.seen < old {
			delete(im.nodeTopics, k)
		}
	}
	for k, r := range im.nodeChans {
		if r.seen < old {
			delete(im.nodeChans, k)
		}
	}
	for k, r := range im.topics {
		if r.seen < old {
			delete(im.topics, k)
		}
	}
	for k, r := range im.chans {
		if r.seen < old {
			delete(im.chans, k)
		}
	}
	for k, r := range im.clients {
		if r.seen < old {
			delete(im.clients, k)
		}
	}
}

// addrKey is the identity of an nsqd or lookupd address (as core/lookup
// de-duplicates them): host:port for plain http, the URL otherwise.
func addrKey(addr string) string {
	u, err := lookup.ParseAddr(addr)
	if err != nil {
		return strings.TrimSpace(addr)
	}
	if u.Scheme == "http" && u.Path == "" {
		return u.Host
	}
	return u.String()
}

// dedupAddrs drops repeated addresses, keeping the first spelling.
func dedupAddrs(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		if k := addrKey(a); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}
