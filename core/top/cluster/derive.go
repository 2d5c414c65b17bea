package cluster

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// derive fills st (whose Snap is this poll's snapshot) from the snapshot
// and the history, and folds the snapshot into the history.
//
// Rates are computed per node (a node's topic, a node's channel) from
// the change of its counters since that node's previous answer, then
// summed: a node that fails or restarts leaves the others' rates intact
// instead of making the merged counters jump.
func (im *poller) derive(st *State, o *Options, timedOut bool) {
	snap := st.Snap
	now := st.Time
	poll := im.polls
	h := o.History

	// Nodes.
	st.Nodes = make([]NodeState, len(snap.Nodes))
	nodeIdx := make(map[string]int, len(snap.Nodes))
	for i := range snap.Nodes {
		sn := &snap.Nodes[i]
		rec := im.byAddr[sn.Addr]
		if rec == nil { // cannot happen: every node asked has a record
			rec = &nodeRec{addr: sn.Addr}
			im.byAddr[sn.Addr] = rec
		}
		if sn.Err == nil {
			if rec.everUp && sn.StartTime != rec.startTime {
				rec.epoch++ // restarted: no deltas across it
			}
			rec.snap, rec.startTime, rec.everUp = sn, sn.StartTime, true
			rec.lastSeen, rec.failures, rec.err = now, 0, ""
		} else {
			rec.failures++
			rec.err = errText(sn.Err)
			if timedOut && lookup.IsTimeout(sn.Err) {
				rec.err = "timeout: no answer within " + o.Timeout.String()
			}
		}
		ns := NodeState{
			Addr:     sn.Addr,
			Hostname: sn.Hostname,
			Err:      rec.err,
			LastSeen: rec.lastSeen,
			Failures: rec.failures,
			Explicit: rec.explicit,
			Version:  sn.Version,
			RateIn:   Unknown,
		}
		switch {
		case sn.Err == nil:
			ns.Status = NodeUp
			st.Cluster.NodesUp++
		case rec.everUp && rec.failures < h:
			ns.Status = NodeStale
			st.Cluster.NodesStale++
		default:
			ns.Status = NodeDown
			st.Cluster.NodesDown++
			rec.snap = nil
		}
		ns.Snap = rec.snap
		if ns.Snap != nil {
			if ns.Version == "" {
				ns.Version = ns.Snap.Version
			}
			if ns.Hostname == "" {
				ns.Hostname = ns.Snap.Hostname
			}
			if ns.Snap.StartTime > 0 {
				ns.Uptime = now.Sub(time.Unix(ns.Snap.StartTime, 0))
			}
			ns.Depth = ns.Snap.Totals.Depth + ns.Snap.Totals.ChannelDepth
		}
		ns.Lookupds = rec.listedBy
		if l := sn.Lookupd; l != nil {
			for j, t := range l.Topics {
				if j < len(l.Tombstones) && l.Tombstones[j] {
					ns.Tombstoned = append(ns.Tombstoned, t)
				}
			}
		}
		nodeIdx[sn.Addr] = i
		st.Nodes[i] = ns
	}
	markVersionMismatch(st.Nodes)
	nodeRate := make([]sum, len(st.Nodes))
	epoch := func(addr string) uint32 {
		if rec := im.byAddr[addr]; rec != nil {
			return rec.epoch
		}
		return 0
	}

	// Slabs for the per-topic slices: one allocation each per poll.
	var nNT, nCh, nNC, nCl int
	for i := range snap.Topics {
		t := &snap.Topics[i]
		nNT += len(t.Nodes)
		nCh += len(t.Channels)
		for j := range t.Channels {
			nNC += len(t.Channels[j].Nodes)
			nCl += len(t.Channels[j].Clients)
		}
	}
	ntSlab := make([]NodeTopicState, nNT)
	chSlab := make([]ChannelState, nCh)
	ncSlab := make([]NodeChannelState, nNC)
	clSlab := make([]ClientState, nCl)
	carve := func(n int, slab *[]NodeTopicState) []NodeTopicState {
		s := (*slab)[:n:n]
		*slab = (*slab)[n:]
		return s
	}

	var clusterIn, clusterOut sum
	st.Topics = make([]TopicState, len(snap.Topics))
	for i := range snap.Topics {
		t := &snap.Topics[i]
		ts := &st.Topics[i]
		ts.Snap = t

		var in sum
		ts.Nodes = carve(len(t.Nodes), &ntSlab)
		for j := range t.Nodes {
			nt := &t.Nodes[j]
			r := im.nodeTopics[ntKey{nt.Node, t.Name}]
			if r == nil {
				r = &ntRec{}
				im.nodeTopics[ntKey{nt.Node, t.Name}] = r
			}
			r.seen = poll
			rate := Unknown
			if d, ok := r.c.next(now, epoch(nt.Node), [4]int64{nt.MessageCount}, 1); ok {
				rate = d[0]
			}
			ts.Nodes[j] = NodeTopicState{Snap: nt, RateIn: rate}
			in.add(rate)
			if k, ok := nodeIdx[nt.Node]; ok {
				nodeRate[k].add(rate)
			}
		}
		ts.RateIn = in.value(poll)
		clusterIn.add(ts.RateIn)

		ts.Channels = chSlab[:len(t.Channels):len(t.Channels)]
		chSlab = chSlab[len(t.Channels):]
		depth := t.Depth
		slowest, unknown := math.Inf(-1), false
		for j := range t.Channels {
			c := &t.Channels[j]
			cs := &ts.Channels[j]
			im.channel(cs, c, t.Name, now, epoch, &ncSlab, &clSlab, h)
			depth += c.Depth
			clusterOut.add(cs.RateOut)
			if math.IsNaN(cs.ETA) {
				unknown = true
			} else {
				slowest = max(slowest, cs.ETA)
			}
		}
		// The slowest is known when every channel's ETA is, or one is
		// infinite.
		ts.SlowestETA = slowest
		if (unknown && !math.IsInf(slowest, 1)) || len(t.Channels) == 0 {
			ts.SlowestETA = Unknown
		}

		ar := im.topics[t.Name]
		if ar == nil {
			ar = &aggRec{}
			im.topics[t.Name] = ar
		}
		ar.seen = poll
		if !math.IsNaN(ts.RateIn) {
			ar.rate.push(ts.RateIn, h)
		}
		ar.depth.push(float64(depth), h)
		ts.RateHist, ts.DepthHist = ar.rate.view(h), ar.depth.view(h)
	}

	for k := range st.Nodes {
		if st.Nodes[k].Status == NodeUp {
			st.Nodes[k].RateIn = nodeRate[k].value(poll)
		}
	}

	// Cluster.
	c := &st.Cluster
	c.Totals = snap.Totals
	c.RateIn, c.RateOut = clusterIn.value(poll), clusterOut.value(poll)
	for i := range snap.Topics {
		for j := range snap.Topics[i].Channels {
			c.Processed += snap.Topics[i].Channels[j].MessageCount
		}
	}
	if !math.IsNaN(c.RateIn) {
		im.cl.in.push(c.RateIn, h)
	}
	if !math.IsNaN(c.RateOut) {
		im.cl.out.push(c.RateOut, h)
	}
	im.cl.depth.push(float64(snap.Totals.Depth+snap.Totals.ChannelDepth), h)
	c.RateInHist, c.RateOutHist, c.DepthHist = im.cl.in.view(h), im.cl.out.view(h), im.cl.depth.view(h)
}

// channel fills cs for one merged channel c of topic.
func (im *poller) channel(cs *ChannelState, c *lookup.ChannelSnapshot, topic string, now time.Time,
	epoch func(string) uint32, ncSlab *[]NodeChannelState, clSlab *[]ClientState, h int) {
	poll := im.polls
	cs.Snap = c
	cs.Nodes = (*ncSlab)[:len(c.Nodes):len(c.Nodes)]
	*ncSlab = (*ncSlab)[len(c.Nodes):]
	var out, req, tmo, lag sum
	for k := range c.Nodes {
		nc := &c.Nodes[k]
		key := ncKey{nc.Node, topic, c.Name}
		r := im.nodeChans[key]
		if r == nil {
			r = &ncRec{}
			im.nodeChans[key] = r
		}
		r.seen = poll
		ep := epoch(nc.Node)
		if r.c.has && r.c.epoch != ep {
			r.trend.reset()
		}
		rOut, rReq, rTmo := Unknown, Unknown, Unknown
		// message_count, depth, requeue_count, timeout_count; all but
		// depth only grow.
		if d, ok := r.c.next(now, ep, [4]int64{nc.MessageCount, nc.Depth, nc.RequeueCount, nc.TimeoutCount}, 0b1101); ok {
			rOut, rReq, rTmo = max(0, d[0]-d[1]), d[2], d[3]
		}
		r.trend.add(now, nc.Depth)
		cs.Nodes[k] = NodeChannelState{Snap: nc, RateOut: rOut}
		out.add(rOut)
		req.add(rReq)
		tmo.add(rTmo)
		lag.add(r.trend.slope())
	}
	cs.RateOut, cs.RequeueRate, cs.TimeoutRate = out.value(poll), req.value(poll), tmo.value(poll)
	cs.Lag = lag.value(poll)
	cs.ETA = eta(c.Depth, cs.Lag)

	cs.Clients = (*clSlab)[:len(c.Clients):len(c.Clients)]
	*clSlab = (*clSlab)[len(c.Clients):]
	for k := range c.Clients {
		cl := &c.Clients[k]
		key := clKey{cl.Node, cl.RemoteAddress, cl.ClientID}
		r := im.clients[key]
		if r == nil {
			r = &clRec{}
			im.clients[key] = r
		}
		r.seen = poll
		fin := Unknown
		if d, ok := r.c.next(now, epoch(cl.Node), [4]int64{cl.FinishCount}, 1); ok {
			fin = d[0]
		}
		if sig := signature(&cl.ClientStats); r.attrs == nil || sig != r.sig {
			r.sig, r.attrs = sig, Attributes(&cl.ClientStats)
		}
		var conn time.Duration
		if cl.ConnectTs > 0 {
			conn = max(0, now.Sub(time.Unix(cl.ConnectTs, 0)))
		}
		cs.Clients[k] = ClientState{Snap: cl, FinishRate: fin, ConnectedFor: conn, Attributes: r.attrs}
	}

	ar := im.chans[tcKey{topic, c.Name}]
	if ar == nil {
		ar = &aggRec{}
		im.chans[tcKey{topic, c.Name}] = ar
	}
	ar.seen = poll
	if !math.IsNaN(cs.RateOut) {
		ar.rate.push(cs.RateOut, h)
	}
	ar.depth.push(float64(c.Depth), h)
	cs.RateHist, cs.DepthHist = ar.rate.view(h), ar.depth.view(h)
}

// attrSig is what a client's attributes depend on.
type attrSig struct {
	tls, snappy, deflate, authed bool
	tlsVersion, identity         string
	sample                       int
}

func signature(c *lookup.ClientStats) attrSig {
	return attrSig{c.TLS, c.Snappy, c.Deflate, c.Authed, c.TLSVersion, c.AuthIdentity, c.SampleRate}
}

// Attributes are a client's connection attributes in nsqadmin's words,
// as ClientState.Attributes lists them (nil when it has none).
func Attributes(c *lookup.ClientStats) []string {
	var a []string
	if c.TLS {
		v := strings.TrimSpace(strings.TrimPrefix(c.TLSVersion, "TLS"))
		if v == "" {
			a = append(a, "TLS")
		} else {
			a = append(a, "TLS "+v)
		}
	}
	if c.Snappy {
		a = append(a, "snappy")
	}
	if c.Deflate {
		a = append(a, "deflate")
	}
	if c.Authed || c.AuthIdentity != "" {
		if c.AuthIdentity != "" {
			a = append(a, "auth: "+c.AuthIdentity)
		} else {
			a = append(a, "auth")
		}
	}
	if c.SampleRate > 0 {
		a = append(a, "sample: "+strconv.Itoa(c.SampleRate)+"%")
	}
	if a == nil {
		return []string{}
	}
	return a
}

// markVersionMismatch flags the nodes whose version differs from the most
// common one (ties go to the newest version). Nodes without a version
// are not counted or flagged.
func markVersionMismatch(nodes []NodeState) {
	counts := make(map[string]int)
	for i := range nodes {
		if v := nodes[i].Version; v != "" {
			counts[v]++
		}
	}
	if len(counts) < 2 {
		return
	}
	var common string
	for v, n := range counts {
		if common == "" || n > counts[common] || (n == counts[common] && compareVersions(v, common) > 0) {
			common = v
		}
	}
	for i := range nodes {
		if v := nodes[i].Version; v != "" && v != common {
			nodes[i].VersionMismatch = true
		}
	}
}

// compareVersions compares dotted versions numerically ("1.10.0" >
// "1.9.1"); build metadata after '+' and pre-release after '-' are
// compared as text when the numbers are equal.
func compareVersions(a, b string) int {
	na, ra := versionNums(a)
	nb, rb := versionNums(b)
	for i := range max(len(na), len(nb)) {
		var x, y int
		if i < len(na) {
			x = na[i]
		}
		if i < len(nb) {
			y = nb[i]
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(ra, rb)
}

func versionNums(v string) ([]int, string) {
	v = strings.TrimPrefix(v, "v")
	core, rest := v, ""
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		core, rest = v[:i], v[i:]
	}
	var out []int
	for _, p := range strings.Split(core, ".") {
		n, _ := strconv.Atoi(p)
		out = append(out, n)
	}
	return out, rest
}

// sortStrings returns s sorted (a copy).
func sortStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
