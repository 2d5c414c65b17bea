// Package archive is nsq_to_file's engine: it consumes topics and writes
// their messages, one line each, to rotating files, durably.
//
// # Durability
//
// A message is finished (FIN) only after the bytes holding it reached the
// disk: a [TopicWriter] appends bodies to the open file's buffer, keeps the
// messages pending, and syncs in this order: end the gzip member (if any)
// and flush the buffer, fsync the file (and, the first time, its
// directory), then FIN every pending message. Nothing else ever FINs. A
// sync happens when max-in-flight messages are pending, when the consumer
// is starved (nsqd will not send more until some are finished) and nothing
// else waits in the local queue, when the input has been quiet for
// QuietSync (the tail of a burst), every sync interval, before a file is
// rotated or closed, and on shutdown. A crash therefore loses nothing: a
// message not yet synced was not finished, so nsqd delivers it again
// (possibly a duplicate of bytes that did reach the disk).
//
// The price is one fsync per max-in-flight messages, during which nsqd
// sends nothing (every message it may have in flight is unfinished). Only
// more fsyncs per message could hide that wait (syncing half a window
// while the other half arrives), and fsyncs are what costs: a larger
// max-in-flight is what makes archiving faster.
//
// # Files
//
// Names come from a [Namer] (<TOPIC>, <HOST>, <PID>, <DATETIME>, <REV>).
// Files are written in the work directory and, when that differs from the
// output directory, moved there once closed (hard link + unlink, never
// overwriting: a taken name bumps the revision). With gzip every sync ends
// a gzip member, so a file is a concatenation of complete members and the
// data up to the last sync is readable by gunzip even after a crash; files
// a crash left in the work directory are repaired (cut back to the last
// complete record or member) and moved to the output directory on start.
//
// # Goroutines
//
// Per topic: the consumer's handler goroutine writes into the TopicWriter
// (under its mutex) and syncs when a batch is due; a ticker goroutine
// syncs every sync interval and rotates by time. The [Archiver] owns one
// discovery goroutine when topics are found through nsqlookupd. Run
// returns after every consumer stopped and every file was synced, closed
// and moved.
package archive
