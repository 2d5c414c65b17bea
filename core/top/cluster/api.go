package cluster

// This file is the contract between the data side (this package) and the
// UI (core/top). Names and meanings here are what core/top relies on;
// fields may be added.

import (
	"context"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// Source is where the cluster is: lookupds to discover every nsqd from,
// and/or nsqd HTTP addresses given directly.
type Source struct {
	LookupdHTTPAddrs []string
	NSQDHTTPAddrs    []string
}

// Options configure a Poller.
type Options struct {
	Source Source
	// Client does the HTTP requests (its own connect/request timeouts).
	Client *lookup.Client
	// Timeout bounds one poll; a node that has not answered by then is
	// reported with a timeout error (and its last data kept as stale).
	// Default: 80% of Interval, at most 5s (5s without an Interval).
	// Discovery (lookupd /nodes) gets at most half of it.
	Timeout time.Duration
	// Interval is how often the caller polls; only used for the default
	// Timeout (added to the contract: the Poller cannot guess it).
	Interval time.Duration
	// History is how many polls of history are kept (sparklines, trends).
	// Default 60.
	History int
	// IncludeClients asks nsqd for per-client detail (channel and node
	// views need it). Default true through NewOptions.
	IncludeClients bool
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// NewOptions returns Options with every default filled in (History 60,
// IncludeClients true, a default lookup.Client made by NewPoller); set
// Source (and Interval or Timeout) before use.
func NewOptions() Options { return newOptions() }

// Poller polls a cluster and folds each snapshot into its history.
type Poller struct {
	opts         Options
	fixedTimeout bool         // Options.Timeout was given
	timeout      atomic.Int64 // the next poll's timeout (SetInterval)
	impl         *poller
}

// NewPoller makes a Poller; it polls nothing until Poll is called.
func NewPoller(opts Options) *Poller { return newPoller(opts) }

// Poll takes one snapshot of the cluster and returns the new State (the
// history updated). It never fails as a whole: unreachable lookupds and
// nodes are recorded in the State. ctx cancels it.
func (p *Poller) Poll(ctx context.Context) *State { return p.poll(ctx) }

// PollLookupds asks every lookupd what it has registered (topics, their
// channels, producers with tombstones): the lookup view's data, fetched
// only when that view is shown (it costs one request per topic).
func (p *Poller) PollLookupds(ctx context.Context) []LookupdState { return p.pollLookupds(ctx) }

// Unknown is the value of a rate or trend that cannot be computed yet (a
// first poll, a counter reset by a restarted nsqd).
var Unknown = math.NaN()

// NodeStatus is how a node answered the last poll.
type NodeStatus int

const (
	NodeUp    NodeStatus = iota // answered the last poll
	NodeStale                   // failed the last poll; its last data is shown, greyed
	NodeDown                    // failed for longer than the history keeps, or never answered
)

// State is the cluster at one poll, with what history adds. Immutable.
type State struct {
	Time     time.Time     // when the poll started
	Took     time.Duration // how long it took
	Interval time.Duration // since the previous poll (0 on the first)
	Polls    int           // polls so far, this one included

	// Snap is the poll's snapshot as core/lookup merged it (answering
	// nodes only).
	Snap *lookup.Snapshot

	Cluster ClusterState
	Nodes   []NodeState  // every node known (answering or not), sorted by Addr
	Topics  []TopicState // sorted by name; same order as Snap.Topics

	// LookupdErrors are lookupds that failed /nodes this poll.
	LookupdErrors []AddrError
}

// AddrError is a failure of one daemon.
type AddrError struct {
	Addr string
	Err  string
}

// ClusterState is the header: totals and rates over the whole cluster.
type ClusterState struct {
	NodesUp, NodesStale, NodesDown int
	Totals                         lookup.Totals
	RateIn                         float64   // msgs/s published to topics
	RateOut                        float64   // msgs/s taken off channels (egress)
	Processed                      int64     // nsqadmin's Counter: Σ channel message_count
	RateInHist, RateOutHist        []float64 // oldest first, len ≤ History
	DepthHist                      []float64 // Σ topic+channel depth
}

// NodeState is one nsqd.
type NodeState struct {
	Addr     string // the HTTP address (lookup.NodeSnapshot.Addr)
	Hostname string
	Status   NodeStatus
	Err      string    // the last error, when not up
	LastSeen time.Time // the last poll it answered (zero if never)
	// Failures counts the polls it failed in a row (0 when up).
	Failures int
	// Explicit: given in Source.NSQDHTTPAddrs (stays known whatever the
	// lookupds say); otherwise found through a lookupd's /nodes.
	Explicit bool
	// Snap is the node's last answered data (from this poll when up, an
	// older one when stale; nil if it never answered, and nil once down:
	// a down node's data is dropped).
	Snap *lookup.NodeSnapshot
	// Version, and whether it differs from the most common version among
	// the nodes (nsqadmin flags such nodes).
	Version         string
	VersionMismatch bool
	Uptime          time.Duration // since the node's start_time
	// Lookupds lists the lookupds that list this node in /nodes;
	// Tombstoned the topics tombstoned for it there.
	Lookupds   []string
	Tombstoned []string
	RateIn     float64 // msgs/s published to this node's topics
	Depth      int64   // Σ topic + channel depth on the node
}

// TopicState is one topic over the cluster.
type TopicState struct {
	Snap      *lookup.TopicSnapshot
	RateIn    float64   // msgs/s published (Σ nodes)
	RateHist  []float64 // RateIn over the history, oldest first
	DepthHist []float64 // topic depth + Σ channel depth over the history
	Nodes     []NodeTopicState
	Channels  []ChannelState // same order as Snap.Channels
	// SlowestETA is the largest drain ETA of its channels (Inf when one
	// grows; Unknown while some channel's is unknown and none grows, or
	// when the topic has no channel).
	SlowestETA float64 // seconds
}

// NodeTopicState is one node's share of a topic.
type NodeTopicState struct {
	Snap   *lookup.NodeTopicStats
	RateIn float64
}

// ChannelState is one channel of a topic over the cluster.
type ChannelState struct {
	Snap        *lookup.ChannelSnapshot
	RateOut     float64 // msgs/s consumed: (Δmessage_count − Δdepth)/Δt, as nsq_stat's egress
	RequeueRate float64 // requeued/s
	TimeoutRate float64 // timed out/s
	// Lag is the depth trend in msgs/s over the last few polls: > 0
	// growing, < 0 draining.
	Lag float64
	// ETA is seconds until the depth reaches 0 at the current net drain
	// rate (depth ÷ −Lag): 0 when empty (from the first poll on),
	// math.Inf(1) when growing or not draining, Unknown before two polls.
	ETA       float64
	RateHist  []float64 // RateOut over the history
	DepthHist []float64
	Nodes     []NodeChannelState
	Clients   []ClientState // same order as Snap.Clients
}

// NodeChannelState is one node's share of a channel.
type NodeChannelState struct {
	Snap    *lookup.NodeChannelStats
	RateOut float64
}

// ClientState is one consumer connection.
type ClientState struct {
	Snap         *lookup.ClientSnapshot
	FinishRate   float64       // finished/s
	ConnectedFor time.Duration // since connect_ts
	// Attributes in nsqadmin's words, in this order: "TLS" with the
	// version when known ("TLS 1.3"), "snappy", "deflate", "auth" or
	// "auth: <identity>", "sample: <n>%".
	Attributes []string
}

// LookupdState is what one lookupd has registered.
type LookupdState struct {
	Addr   string
	Err    string // non-empty when it could not be asked
	Topics []LookupdTopic
	// Producers is its /nodes list (with tombstones per topic).
	Producers []lookup.Node
}

// LookupdTopic is a topic a lookupd knows, with its channels and the
// nsqd producing it (none for a topic created on lookupd only).
type LookupdTopic struct {
	Name      string
	Channels  []string
	Producers []string // broadcast_address:http_port
}

// ActionKind is an nsqadmin action.
type ActionKind int

const (
	CreateTopic ActionKind = iota
	CreateChannel
	PauseTopic
	UnpauseTopic
	EmptyTopic
	DeleteTopic
	PauseChannel
	UnpauseChannel
	EmptyChannel
	DeleteChannel
	TombstoneTopic // tombstone Topic for Node in every lookupd, delete it on that node
)

// Action is one admin action; Channel for channel actions, Node (an
// nsqd HTTP address) for TombstoneTopic.
type Action struct {
	Kind    ActionKind
	Topic   string
	Channel string
	Node    string
}

// Call is one HTTP request of a plan.
type Call struct {
	Method string // "POST"
	Addr   string // daemon HTTP address
	Path   string // with its query, e.g. "/channel/pause?topic=t&channel=c"
	Daemon string // "nsqd" or "nsqlookupd", for display
	// Step orders the calls: Execute runs the calls of one step
	// concurrently and the steps one after the other, lowest first (e.g.
	// lookupd tombstones before the nsqd delete). Calls are listed in
	// step order.
	Step int
}

// Plan is what an action will do: the calls, in order, and a one-line
// summary for the confirm dialog ("pause channel orders/billing on 2
// nsqd: a:4151, b:4151").
type Plan struct {
	Action  Action
	Summary string
	Calls   []Call
}

// PlanAction works out nsqadmin's fan-out for a on the cluster as st
// knows it (lookupds from the Source, producer nodes from st). An action
// that cannot apply (unknown topic, no node has it) is an error.
func PlanAction(st *State, src Source, a Action) (*Plan, error) { return planAction(st, src, a) }

// CallResult is how one call went.
type CallResult struct {
	Call Call
	Err  error
}

// Result is how a plan went: every call's outcome, and a one-line
// summary for the status line ("paused orders/billing on 2 nsqd" or
// "pause orders/billing: failed on b:4151: connection refused").
type Result struct {
	Plan    *Plan
	Calls   []CallResult
	Failed  int
	Summary string
}

// Execute runs a plan's calls (concurrently where nsqadmin would; every
// call is tried even when some fail).
func Execute(ctx context.Context, c *lookup.Client, p *Plan) *Result { return execute(ctx, c, p) }

// WriteText prints st as aligned tables for nsqtop --once: a header line
// (nodes up/down, totals), then per topic its totals and a row per
// channel (like nsq_stat's columns: depth, mem, disk, in-flight,
// deferred, requeued, timed out, messages, clients; rates when st has
// them), then failed nodes/lookupds.
func WriteText(w io.Writer, st *State) error { return writeText(w, st) }

// WriteJSON prints st as one JSON document for nsqtop --once --json
// (stable field names in snake_case; NaN rates as null, Inf as null with
// the ETA explained by a "growing" flag).
func WriteJSON(w io.Writer, st *State) error { return writeJSON(w, st) }
