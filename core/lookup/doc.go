// Package lookup is talking HTTP to lookupd and nsqd: lookup, nodes, topics,
// stats, admin actions, and a merged cluster snapshot.
//
// One [Client] serves a whole tool or daemon. Its methods take the address of
// the daemon to ask, either "host:port" or a full "http(s)://host:port" URL,
// and decode both the v1 response format of NSQ ≥ 1.0 and the legacy
// {"status_code":…,"status_txt":…,"data":…} envelope of older releases.
//
// Errors are typed: a non-2xx answer is an [*HTTPError] (which matches
// [ErrTopicNotFound], [ErrChannelNotFound], … under errors.Is); a network or
// timeout failure is wrapped with the method and address it concerned.
//
// The *All methods ask several lookupds at once and merge what they say; one
// lookupd that is down does not make them fail while another answered, its
// failure is listed in the result instead. [Client.Snapshot] turns lookupds
// and nsqd addresses into one [Snapshot] of the cluster: every node's /stats
// merged per topic and channel, with per-node breakdowns and totals, ready
// for a TUI to render.
package lookup
