// Package pipe sits between byte streams and NSQ for the small tools:
// splitting input into records and batching them (to_nsq), formatting
// messages as lines (nsq_tail).
//
// The stdin side (to_nsq) is three pieces:
//
//   - [Splitter] cuts a stream, fed to it chunk by chunk as reads return,
//     into records at a delimiter of one or more bytes (a delimiter may
//     straddle two reads); it skips and counts empty records and records
//     longer than the message limit, and hands out the last record even
//     when the input does not end with a delimiter. [ParseDelimiter]
//     reads the --delimiter syntax.
//   - [Publisher] reads an io.Reader, splits it and publishes the records
//     as MPUB batches to one or more [PublishTarget]s (core/client
//     producers): every batch to every target (fan-out), or to a single
//     producer that spreads them over its nsqd. Batches are pipelined with
//     a bounded number outstanding, and a partial batch goes out as soon
//     as the input has nothing more ready, so a slow trickle is never held
//     back while a fast stream fills whole batches.
//   - [PublishProgress] draws a live progress line on a terminal and
//     [PublishSummary] is the one-line report at the end.
//
// The stdout side (nsq_tail) formats consumed messages as lines: see
// [Formatter] and [Tail].
package pipe
