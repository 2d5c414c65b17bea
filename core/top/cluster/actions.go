package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Daemon names of Call.Daemon.
const (
	DaemonNSQD    = "nsqd"
	DaemonLookupd = "nsqlookupd"
)

// executeConcurrency caps the calls of one step in flight.
const executeConcurrency = 32

// String is the action's verb and object as the plan summary names it:
// "pause channel orders/billing".
func (a Action) String() string {
	return a.verb() + " " + a.object()
}

func (a Action) verb() string {
	switch a.Kind {
	case CreateTopic, CreateChannel:
		return "create"
	case PauseTopic, PauseChannel:
		return "pause"
	case UnpauseTopic, UnpauseChannel:
		return "unpause"
	case EmptyTopic, EmptyChannel:
		return "empty"
	case DeleteTopic, DeleteChannel:
		return "delete"
	case TombstoneTopic:
		return "tombstone"
	}
	return "action " + strconv.Itoa(int(a.Kind))
}

func (a Action) pastVerb() string {
	switch v := a.verb(); v {
	case "empty":
		return "emptied"
	case "pause", "unpause", "create":
		return v + "d"
	case "delete", "tombstone":
		return v + "d"
	default:
		return v
	}
}

func (a Action) isChannel() bool {
	switch a.Kind {
	case CreateChannel, PauseChannel, UnpauseChannel, EmptyChannel, DeleteChannel:
		return true
	}
	return false
}

// name is "topic" or "topic/channel".
func (a Action) name() string {
	if a.isChannel() {
		return a.Topic + "/" + a.Channel
	}
	return a.Topic
}

func (a Action) object() string {
	if a.isChannel() {
		return "channel " + a.name()
	}
	if a.Kind == TombstoneTopic {
		return "topic " + a.Topic + " for " + a.Node
	}
	return "topic " + a.Topic
}

// planAction: see PlanAction. The fan-out is nsqadmin 1.3.0's:
//
//	create topic [+channel]  every lookupd /topic/create (then /channel/create)
//	pause|unpause|empty topic  every nsqd producing the topic
//	delete topic  every lookupd, then every producing nsqd: /topic/delete
//	tombstone  every lookupd /topic/tombstone?topic=&node=, then that nsqd /topic/delete
//	pause|unpause|empty channel  every nsqd producing the topic
//	delete channel  every lookupd, then every producing nsqd: /channel/delete
//
// "Producing the topic": a node a lookupd lists for it (not tombstoned),
// or whose last /stats has it. Like nsqadmin, creating a topic and
// tombstoning need a lookupd.
func planAction(st *State, src Source, a Action) (*Plan, error) {
	if !wire.IsValidTopicName(a.Topic) {
		return nil, fmt.Errorf("invalid topic name %q", a.Topic)
	}
	if a.isChannel() && !wire.IsValidChannelName(a.Channel) {
		return nil, fmt.Errorf("invalid channel name %q", a.Channel)
	}
	if a.Kind < CreateTopic || a.Kind > TombstoneTopic {
		return nil, fmt.Errorf("unknown action kind %d", a.Kind)
	}
	lds := dedupAddrs(src.LookupdHTTPAddrs)
	p := &Plan{Action: a}
	topicQ := "topic=" + url.QueryEscape(a.Topic)
	chanQ := topicQ + "&channel=" + url.QueryEscape(a.Channel)
	add := func(step int, daemon string, addrs []string, path string) {
		for _, addr := range addrs {
			p.Calls = append(p.Calls, Call{Method: "POST", Addr: addr, Path: path, Daemon: daemon, Step: step})
		}
	}
	needLookupd := func(what string) error {
		if len(lds) == 0 {
			return fmt.Errorf("%s needs a lookupd (--lookupd-http-address), as in nsqadmin", what)
		}
		return nil
	}
	if st == nil {
		st = &State{}
	}

	switch a.Kind {
	case CreateTopic, CreateChannel:
		if err := needLookupd("creating a topic or channel"); err != nil {
			return nil, err
		}
		add(0, DaemonLookupd, lds, "/topic/create?"+topicQ)
		if a.Kind == CreateChannel {
			add(1, DaemonLookupd, lds, "/channel/create?"+chanQ)
		}
		p.Summary = a.String() + " on " + targets(p.Calls)

	case PauseTopic, UnpauseTopic, EmptyTopic, PauseChannel, UnpauseChannel, EmptyChannel:
		prod := producers(st, a.Topic)
		if len(prod) == 0 {
			return nil, fmt.Errorf("no nsqd has topic %q", a.Topic)
		}
		if a.isChannel() && !hasChannel(st, a.Topic, a.Channel) {
			return nil, fmt.Errorf("no nsqd has channel %q of topic %q", a.Channel, a.Topic)
		}
		path := "/topic/" + a.verb() + "?" + topicQ
		if a.isChannel() {
			path = "/channel/" + a.verb() + "?" + chanQ
		}
		add(0, DaemonNSQD, prod, path)
		p.Summary = a.String() + " on " + targets(p.Calls)

	case DeleteTopic, DeleteChannel:
		prod := producers(st, a.Topic)
		if len(prod) == 0 && len(lds) == 0 {
			return nil, fmt.Errorf("no nsqd has topic %q", a.Topic)
		}
		path := "/topic/delete?" + topicQ
		if a.Kind == DeleteChannel {
			path = "/channel/delete?" + chanQ
		}
		add(0, DaemonLookupd, lds, path)
		add(1, DaemonNSQD, prod, path)
		p.Summary = a.String() + " on " + targets(p.Calls)

	case TombstoneTopic:
		if err := needLookupd("tombstoning"); err != nil {
			return nil, err
		}
		i := nodeIndex(st, a.Node)
		if i < 0 {
			return nil, fmt.Errorf("unknown nsqd %q", a.Node)
		}
		ns := &st.Nodes[i]
		if !nodeHasTopic(st, i, a.Topic, true) {
			return nil, fmt.Errorf("nsqd %s does not have topic %q", ns.Addr, a.Topic)
		}
		node := tombstoneName(st, i)
		add(0, DaemonLookupd, lds, "/topic/tombstone?"+topicQ+"&node="+url.QueryEscape(node))
		add(1, DaemonNSQD, []string{ns.Addr}, "/topic/delete?"+topicQ)
		p.Summary = fmt.Sprintf("tombstone topic %s for %s on %s, then delete it on nsqd %s",
			a.Topic, node, targets(p.Calls[:len(lds)]), ns.Addr)
	}
	return p, nil
}

// targets describes where calls go, daemon by daemon in call order:
// "1 nsqlookupd: a:4161, then 2 nsqd: b:4151, c:4151".
func targets(calls []Call) string {
	type group struct {
		daemon string
		addrs  []string
	}
	var gs []group
	for _, c := range calls {
		if len(gs) == 0 || gs[len(gs)-1].daemon != c.Daemon {
			gs = append(gs, group{daemon: c.Daemon})
		}
		g := &gs[len(gs)-1]
		if !slices.Contains(g.addrs, c.Addr) {
			g.addrs = append(g.addrs, c.Addr)
		}
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = fmt.Sprintf("%d %s: %s", len(g.addrs), g.daemon, strings.Join(g.addrs, ", "))
	}
	return strings.Join(parts, ", then ")
}

// counts is targets without the addresses: "1 nsqlookupd and 2 nsqd".
func counts(calls []Call) string {
	var order []string
	n := map[string]map[string]bool{}
	for _, c := range calls {
		if n[c.Daemon] == nil {
			n[c.Daemon] = map[string]bool{}
			order = append(order, c.Daemon)
		}
		n[c.Daemon][c.Addr] = true
	}
	parts := make([]string, len(order))
	for i, d := range order {
		parts[i] = fmt.Sprintf("%d %s", len(n[d]), d)
	}
	return strings.Join(parts, " and ")
}

// producers are the nodes producing topic, sorted by address: listed
// for it by a lookupd and not tombstoned there, or having it in their
// last /stats (stale nodes included: the call will tell).
func producers(st *State, topic string) []string {
	var out []string
	for i := range st.Nodes {
		if nodeHasTopic(st, i, topic, false) {
			out = append(out, st.Nodes[i].Addr)
		}
	}
	return out
}

func nodeLookupd(st *State, i int) *lookup.Node {
	if st.Snap == nil {
		return nil
	}
	if n := st.Snap.Node(st.Nodes[i].Addr); n != nil {
		return n.Lookupd
	}
	return nil
}

// nodeHasTopic: node i has topic (per lookupd, not tombstoned unless
// tombstoned is true, or per its stats).
func nodeHasTopic(st *State, i int, topic string, tombstoned bool) bool {
	if l := nodeLookupd(st, i); l != nil {
		for j, t := range l.Topics {
			if t == topic {
				if tombstoned || j >= len(l.Tombstones) || !l.Tombstones[j] {
					return true
				}
				return false // tombstoned: not a producer any more
			}
		}
	}
	if s := st.Nodes[i].Snap; s != nil && s.Stats != nil {
		for _, t := range s.Stats.Topics {
			if t.TopicName == topic {
				return true
			}
		}
	}
	return false
}

func hasChannel(st *State, topic, channel string) bool {
	for i := range st.Nodes {
		s := st.Nodes[i].Snap
		if s == nil || s.Stats == nil {
			continue
		}
		for _, t := range s.Stats.Topics {
			if t.TopicName != topic {
				continue
			}
			for _, c := range t.Channels {
				if c.ChannelName == channel {
					return true
				}
			}
		}
	}
	return false
}

// nodeIndex finds a node by its address (as any spelling addrKey agrees
// with), -1 if unknown.
func nodeIndex(st *State, addr string) int {
	k := addrKey(addr)
	for i := range st.Nodes {
		if addrKey(st.Nodes[i].Addr) == k {
			return i
		}
	}
	return -1
}

// tombstoneName is the node parameter lookupd's /topic/tombstone matches:
// the literal "broadcast_address:http_port" (no brackets around IPv6).
func tombstoneName(st *State, i int) string {
	if l := nodeLookupd(st, i); l != nil {
		return l.BroadcastAddress + ":" + strconv.Itoa(l.HTTPPort)
	}
	a := st.Nodes[i].Addr
	if u, err := lookup.ParseAddr(a); err == nil {
		return u.Hostname() + ":" + u.Port()
	}
	return a
}

// execute runs the plan step by step, the calls of a step concurrently;
// every call is tried whatever the others did.
func execute(ctx context.Context, c *lookup.Client, p *Plan) *Result {
	r := &Result{Plan: p, Calls: make([]CallResult, len(p.Calls))}
	for i, call := range p.Calls {
		r.Calls[i].Call = call
	}
	sem := make(chan struct{}, executeConcurrency)
	for lo := 0; lo < len(p.Calls); {
		hi := lo
		for hi < len(p.Calls) && p.Calls[hi].Step == p.Calls[lo].Step {
			hi++
		}
		var wg sync.WaitGroup
		for i := lo; i < hi; i++ {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				r.Calls[i].Err = doCall(ctx, c, p.Calls[i])
			})
		}
		wg.Wait()
		lo = hi
	}
	var fails []string
	for _, cr := range r.Calls {
		if cr.Err != nil {
			r.Failed++
			if f := cr.Call.Addr + ": " + errText(cr.Err); !slices.Contains(fails, f) {
				fails = append(fails, f)
			}
		}
	}
	a := p.Action
	switch {
	case len(p.Calls) == 0:
		r.Summary = a.verb() + " " + a.name() + ": nothing to do"
	case r.Failed == 0 && a.Kind == TombstoneTopic:
		r.Summary = fmt.Sprintf("tombstoned %s for %s on %s and deleted it there", a.Topic, p.Calls[len(p.Calls)-1].Addr, counts(p.Calls[:len(p.Calls)-1]))
	case r.Failed == 0:
		r.Summary = a.pastVerb() + " " + a.name() + " on " + counts(p.Calls)
	default:
		r.Summary = a.verb() + " " + a.name() + ": failed on " + strings.Join(fails, "; ")
	}
	return r
}

// doCall runs one call through the client's method for its path.
func doCall(ctx context.Context, c *lookup.Client, call Call) error {
	if call.Method != "" && call.Method != "POST" {
		return fmt.Errorf("unsupported method %s", call.Method)
	}
	path, rawq, _ := strings.Cut(call.Path, "?")
	q, err := url.ParseQuery(rawq)
	if err != nil {
		return fmt.Errorf("bad query %q: %w", rawq, err)
	}
	t, ch := q.Get("topic"), q.Get("channel")
	switch path {
	case "/topic/create":
		return c.CreateTopic(ctx, call.Addr, t)
	case "/topic/delete":
		return c.DeleteTopic(ctx, call.Addr, t)
	case "/topic/empty":
		return c.EmptyTopic(ctx, call.Addr, t)
	case "/topic/pause":
		return c.PauseTopic(ctx, call.Addr, t)
	case "/topic/unpause":
		return c.UnpauseTopic(ctx, call.Addr, t)
	case "/topic/tombstone":
		return c.TombstoneTopicProducer(ctx, call.Addr, t, q.Get("node"))
	case "/channel/create":
		return c.CreateChannel(ctx, call.Addr, t, ch)
	case "/channel/delete":
		return c.DeleteChannel(ctx, call.Addr, t, ch)
	case "/channel/empty":
		return c.EmptyChannel(ctx, call.Addr, t, ch)
	case "/channel/pause":
		return c.PauseChannel(ctx, call.Addr, t, ch)
	case "/channel/unpause":
		return c.UnpauseChannel(ctx, call.Addr, t, ch)
	}
	return errors.New("unsupported path " + path)
}
