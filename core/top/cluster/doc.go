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
package cluster
