// Package cluster is what nsqtop knows about an NSQ cluster over time:
// it polls the cluster (core/lookup's Snapshot, every node concurrently,
// each bounded so a slow node cannot hold a poll up), keeps a short
// history per cluster, node, topic, channel and client, and derives what
// one snapshot cannot say — rates, lag, drain ETAs, node up/down/stale —
// plus what each lookupd has registered; it plans and runs nsqadmin's
// admin actions (the same fan-out of HTTP calls), and prints a State as
// aligned tables or JSON for nsqtop --once. It knows nothing of terminals:
// core/top renders its States.
//
// Concurrency: a Poller is used by one goroutine at a time (nsqtop runs
// each Poll inside a bubbletea command and never two at once); a State it
// returns is immutable and safe to read from any goroutine.
//
// # One poll
//
// Poll asks every lookupd's /nodes itself (concurrently, within half of
// Options.Timeout) to know which lookupds list which node, then makes one
// lookup.Client.Snapshot of the known nodes by address (IncludeClients as
// set, IncludeMem always), the whole bounded by Options.Timeout: a node
// that has not answered by then is recorded with a timeout error. The
// known nodes are those some answering lookupd lists, the explicit
// Source.NSQDHTTPAddrs, and those listed by a lookupd that failed this
// time (so a lookupd outage does not hide the cluster). A node no
// answering lookupd lists any more is forgotten unless explicit.
//
// A node is up when it answered this poll; stale when it answered before
// but failed fewer than History polls in a row (its last data is kept in
// NodeState.Snap); down when it never answered or failed History polls in
// a row (its data is dropped).
//
// # History and derived numbers
//
// Rates are computed per node — a node's topic (node + topic), a node's
// channel (node + topic + channel), a client (node + remote_address +
// client_id) — from the change of its counters since that entity's
// previous sample divided by the time between the two polls
// (Options.Now), then summed over nodes; an aggregate is Unknown only
// when none of its parts is known. A part is Unknown on its first sample,
// when a counter went down, or when its node's start_time changed (a
// restart). So a failing or restarting node leaves the other nodes' rates
// intact. Formulas:
//
//	topic RateIn        Δmessage_count/Δt (topic level)
//	channel RateOut     max(0, Δmessage_count − Δdepth)/Δt   (nsq_stat's egress)
//	RequeueRate         Δrequeue_count/Δt;  TimeoutRate Δtimeout_count/Δt
//	client FinishRate   Δfinish_count/Δt
//	Lag                 least-squares slope of depth over time, last 5 polls
//	ETA                 0 if depth = 0; depth/−Lag if Lag < 0; +Inf otherwise
//	Processed           Σ channel message_count (nsqadmin's Counter)
//
// Aggregates (topics, channels, the cluster) come from the nodes that
// answered this poll (Snap), stale nodes' last data excluded. Sparkline
// series (RateHist, DepthHist) hold at most History points, oldest first;
// a rate point is added only when the rate is known. Series share
// append-only buffers: a State's slices never change after Poll returns.
// Entities not seen for History polls are dropped.
package cluster
