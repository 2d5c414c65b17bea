package diskqueue

import (
	"errors"
	"runtime"
	"sync"
	"time"

	godq "github.com/nsqio/go-diskqueue"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Backend is the queue behind a topic or channel once its memory queue is
// full. It has the shape of go-diskqueue's Interface.
//
// Put appends one encoded message (wire header + body) and returns when it
// is written (not fsync'd). ReadChan yields stored messages in order; it is
// unbuffered, and a value received from it counts as consumed. Depth is the
// number of messages written and not yet received. Empty drops every stored
// message and removes the queue's files. Close stops the queue and persists
// its state; Delete stops it and removes its files. After Close or Delete,
// Put, Empty and a second Close or Delete return an error.
type Backend interface {
	Put([]byte) error
	ReadChan() <-chan []byte
	Close() error
	Delete() error
	Depth() int64
	Empty() error
}

// Defaults used by New for zero-valued Options fields (nsqd's defaults).
const (
	DefaultMaxBytesPerFile = 100 * 1024 * 1024
	DefaultMaxMsgBody      = 1024 * 1024
	DefaultSyncTimeout     = 2 * time.Second
)

// Options configure a disk queue. They map one to one onto nsqd's flags.
type Options struct {
	// DataPath is the directory holding the queue files (--data-path);
	// empty means the current directory.
	DataPath string
	// MaxBytesPerFile is --max-bytes-per-file: the size at which writing
	// rolls to the next data file. Zero means DefaultMaxBytesPerFile.
	MaxBytesPerFile int64
	// MinMsgSize and MaxMsgSize bound a record's payload length. nsqd passes
	// MinMsgSize = wire.MsgHeaderLength and
	// MaxMsgSize = --max-msg-size + wire.MsgHeaderLength; records outside the
	// range are rejected by Put and, when read, make the whole data file be
	// set aside as .bad. Zero means wire.MsgHeaderLength and
	// DefaultMaxMsgBody + wire.MsgHeaderLength respectively.
	MinMsgSize, MaxMsgSize int32
	// SyncEvery is --sync-every: fsync and rewrite metadata after this many
	// reads+writes. It is used as given (0 syncs after every operation).
	SyncEvery int64
	// SyncTimeout is --sync-timeout: fsync at least this often when anything
	// happened. Zero or negative means DefaultSyncTimeout.
	SyncTimeout time.Duration
	// Logf receives the queue's log lines; level is 1 debug, 2 info,
	// 3 warn, 4 error, 5 fatal. Nil discards them.
	Logf func(level int, format string, args ...any)
}

// ChannelQueueName is the disk queue name of channel channel of topic
// topic: "topic:channel", or "topic;channel" on Windows, as nsqd names it.
// A topic's queue is named after the topic alone.
func ChannelQueueName(topic, channel string) string {
	sep := ":"
	if runtime.GOOS == "windows" {
		sep = ";"
	}
	return topic + sep + channel
}

// New opens (or creates) the go-diskqueue named name in o.DataPath, with
// the same files as nsqd 1.3.0: name.diskqueue.NNNNNN.dat and
// name.diskqueue.meta.dat. Unread messages left by a previous run (of this
// program or of an original nsqd) are picked up. Problems reading existing
// state are reported through o.Logf, never returned.
//
// Before go-diskqueue opens the files, metadata that does not agree with
// them (a crash after unsynced writes, truncated or missing files,
// damaged metadata) is corrected from the files (see check in repair.go),
// and writing resumes in a new data file when the last one still holds
// unread records, so nothing written now shares a file with records that
// were never checked.
//
// Delete differs from go-diskqueue's, which only stops the queue: here it
// empties the queue first, so its files are removed, as nsqd does when it
// deletes a topic or channel.
func New(name string, o Options) Backend {
	if o.MaxBytesPerFile == 0 {
		o.MaxBytesPerFile = DefaultMaxBytesPerFile
	}
	if o.MinMsgSize == 0 {
		o.MinMsgSize = wire.MsgHeaderLength
	}
	if o.MaxMsgSize == 0 {
		o.MaxMsgSize = DefaultMaxMsgBody + wire.MsgHeaderLength
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = DefaultSyncTimeout
	}
	if o.Logf == nil {
		o.Logf = func(int, string, ...any) {}
	}
	check(name, o, o.Logf)
	logf := func(l godq.LogLevel, f string, args ...interface{}) {
		o.Logf(int(l), f, args...)
	}
	dq := godq.New(name, o.DataPath, o.MaxBytesPerFile, o.MinMsgSize,
		o.MaxMsgSize, o.SyncEvery, o.SyncTimeout, logf)
	return &diskBackend{dq: dq}
}

// ErrClosed is returned by Close or Delete on a queue already closed or
// deleted (go-diskqueue itself would panic).
var ErrClosed = errors.New("diskqueue: already closed")

type diskBackend struct {
	dq     godq.Interface
	mu     sync.Mutex
	closed bool
}

func (b *diskBackend) Put(data []byte) error   { return b.dq.Put(data) }
func (b *diskBackend) ReadChan() <-chan []byte { return b.dq.ReadChan() }
func (b *diskBackend) Empty() error            { return b.dq.Empty() }

// Depth is go-diskqueue's depth, never below 0: its count goes negative
// while it reads more records than its metadata said were there, until
// it reaches the end of the queue and resets to 0.
func (b *diskBackend) Depth() int64 {
	if d := b.dq.Depth(); d > 0 {
		return d
	}
	return 0
}

func (b *diskBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.closed = true
	return b.dq.Close()
}

func (b *diskBackend) Delete() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.closed = true
	err := b.dq.Empty()
	if derr := b.dq.Delete(); err == nil {
		err = derr
	}
	return err
}

// NewDiscard returns the backend of an ephemeral topic or channel, which has
// no disk queue: Put drops the message and returns nil, Depth is 0, and
// Close, Delete and Empty do nothing and return nil. ReadChan returns a nil
// channel, which never yields; in a select its case is simply never chosen.
func NewDiscard() Backend { return discard{} }

type discard struct{}

func (discard) Put([]byte) error        { return nil }
func (discard) ReadChan() <-chan []byte { return nil }
func (discard) Close() error            { return nil }
func (discard) Delete() error           { return nil }
func (discard) Depth() int64            { return 0 }
func (discard) Empty() error            { return nil }
