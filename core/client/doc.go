// Package client is a producer and a consumer that speak TCP to nsqd:
// IDENTIFY, TLS, snappy, deflate, RDY, backoff, discovery, failover.
//
// It speaks the same wire protocol as go-nsq (tcp-protocol.md Part 1) and
// behaves like it by default (client-behaviour.md), with the weaknesses of
// client-behaviour.md §10 fixed:
//
//   - A [Producer] publishes over one or several nsqd (given directly and/or
//     discovered through nsqlookupd's /nodes). Each node keeps its own
//     connection alive in the background (exponential backoff with jitter),
//     publishes fail over to another node when a connection is lost, and a
//     failed publish is retried within a bounded number of attempts and a
//     deadline, so a caller sees no error while some node accepts it.
//     Empty bodies, bad topic names and oversized messages are refused
//     locally without touching a connection.
//   - A [Consumer] reconnects a dropped nsqd with its own reconnect policy
//     (reconnect_* options), independent of lookupd_poll_interval, also for
//     nsqd discovered through lookupd; lookupd answers of several lookupds
//     are merged; heartbeats are answered by the reader goroutine even while
//     every handler is busy.
//
// Options have the names of client-behaviour.md §9 and can be set from
// strings ([Config.Set]) so that every tool's --producer-opt and
// --consumer-opt work the same way.
//
// Goroutines: a [Conn] owns a reader and a writer goroutine that end when
// the connection closes. A Producer owns one connection loop per node and
// an optional lookupd poller; a Consumer owns its handler goroutines, an
// RDY redistribution loop, an optional lookupd poller and one reconnect
// loop per dropped nsqd. Producer.Stop and the end of Consumer.Stop
// (StopChan) leave no goroutine behind.
package client
