// Package bench is load generation and measurement for nsq_bench:
// publishers, consumers, a fixed-rate schedule, HDR latency histograms and
// reports (text, JSON, CSV).
//
// # Connections
//
// Each client is one TCP connection to one nsqd (clients are spread over
// the given addresses round-robin). Plain connections are raw: magic, an
// IDENTIFY without feature negotiation (the reply is OK, as with NSQ's
// bench_writer), then commands written straight to the socket and frames
// read from one reusable buffer with no allocation per frame. When TLS,
// snappy, deflate, AUTH or client options are asked for, the connection is
// a core/client Conn, which does the upgrades; frames then reach the worker
// through a channel (one hop per frame: the upgrades cost far more).
//
// # Publishers
//
// A publisher encodes its MPUB (or PUB, for --batch-size 1) command once and
// writes the same bytes for every batch, one batch outstanding per
// connection like bench_writer: write, wait for OK, record the round trip.
// For end-to-end latency the first 8 bytes of each body hold the send time
// (big-endian Unix nanoseconds), patched in place before each write.
//
// # Schedule
//
// Without a rate, publishers send as fast as nsqd answers (a closed loop).
// With a rate, batch n of the whole run has an intended send time
// start + n×batch/rate and publisher i sends batches i, i+clients, …. A
// publisher that is late sends at once (never skips), and latency is
// measured from the intended time, so a stall shows in the percentiles
// instead of silently lowering the load (no coordinated omission). How late
// sends were is reported separately (send lag), and a run that fell behind
// says so.
//
// # Consumers
//
// A consumer SUBs, sets RDY and counts message frames; FINs are appended
// to a buffer and written in one write whenever no more frames are
// buffered (or half of RDY is pending), like bench_reader flushing its
// buffer. In pubsub mode each message's latency is now − the timestamp in
// its body.
//
// # Measurement
//
// Latencies go to one HDR histogram per client (nanoseconds, 3 significant
// digits, 1 ns … 1 h), merged for the totals. Rates are messages over the
// measured time: from the start (after --warmup) to the last acknowledged
// batch (publishers) or the last received message (consumers). MB is
// 1024×1024 bytes of message bodies, as in bench_writer.
package bench
