package top

import (
	"time"

	"github.com/nsqkit/nsqkit/core/top/cluster"
)

// Messages: everything that reaches Update from outside a key press.

// pollMsg carries a finished Poll. more says a lookupd fetch follows in
// the same cycle (the Poller is used by one goroutine at a time, so the
// lookupds are asked after the poll, never beside it).
type pollMsg struct {
	st   *cluster.State
	more bool
}

// lookupdMsg carries a finished PollLookupds.
type lookupdMsg struct {
	ls []cluster.LookupdState
	at time.Time
}

// tickMsg says the interval is up; gen tells a live tick from one
// scheduled before the interval changed or a poll was forced.
type tickMsg struct{ gen int }

// clockMsg refreshes the footer (poll age) and expires the status line.
type clockMsg struct{}

// actionMsg carries the result of an executed plan.
type actionMsg struct{ res *cluster.Result }
