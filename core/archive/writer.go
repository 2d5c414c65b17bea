package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// Acker answers a message once its fate is known: *client.Message.
type Acker interface {
	Finish()
	RequeueWithoutBackoff(delay time.Duration)
}

// Feed describes the consumer a TopicWriter serves, to decide when a batch
// is due before max-in-flight messages are pending.
type Feed interface {
	// Starved reports that nsqd will send little or nothing more until
	// messages are finished.
	Starved() bool
	// Backlog is how many received messages wait to be written.
	Backlog() int
}

// TopicWriter writes one topic's messages into its current file and
// finishes them once they are synced (see the package comment). It is safe
// for concurrent use.
type TopicWriter struct {
	topic   string
	o       *Options
	namer   *Namer
	log     *logger.Logger
	now     func() time.Time
	open    func(name string, flag int, perm os.FileMode) (fileHandle, error)
	onFatal func(error)
	feed    Feed

	mu       sync.Mutex
	f        *outFile
	pending  []Acker
	lastSync time.Time
	lastMsg  time.Time // when the last message was written
	revDT    string    // the datetime rev counts for
	rev      int       // next revision to try
	stopping bool
	closed   bool
	err      error // sticky: after a fatal I/O error nothing is written

	syncs int64 // batches synced

	dtSec int64 // the second dtStr was computed for
	dtStr string

	// totals
	messages    int64
	redelivered int64
	files       int64
}

// NewTopicWriter makes the writer of topic. onFatal (may be nil) is called
// once with the first I/O error; from then on messages are requeued.
func NewTopicWriter(topic string, o *Options, namer *Namer, onFatal func(error)) *TopicWriter {
	w := &TopicWriter{
		topic:   topic,
		o:       o,
		namer:   namer,
		log:     o.Logger,
		now:     o.Now,
		open:    o.openFile,
		onFatal: onFatal,
		pending: make([]Acker, 0, o.MaxInFlight),
	}
	if w.log == nil {
		w.log = logger.Discard()
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.open == nil {
		w.open = osOpenFile
	}
	w.lastSync = w.now()
	return w
}

// SetFeed tells the writer about its consumer (before the first Write).
func (w *TopicWriter) SetFeed(f Feed) { w.feed = f }

// Write appends body as one line of the current file (opening or rotating
// files as needed) and keeps ack pending until the line is synced. It
// syncs when a batch is due. After an I/O error the message is requeued
// and the error returned.
func (w *TopicWriter) Write(body []byte, attempts uint16, ack Acker) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkLocked(); err != nil {
		ack.RequeueWithoutBackoff(0)
		return err
	}
	now := w.now()
	if w.f != nil && w.timeToRotate(now) {
		if err := w.closeLocked("rotating"); err != nil {
			ack.RequeueWithoutBackoff(0)
			return w.fail(err)
		}
	}
	if w.f == nil {
		if err := w.openLocked(now); err != nil {
			ack.RequeueWithoutBackoff(0)
			return w.fail(err)
		}
	}
	if err := w.f.write(body); err != nil {
		ack.RequeueWithoutBackoff(0)
		return w.fail(err)
	}
	w.messages++
	w.lastMsg = now
	if attempts > 1 {
		w.f.redelivered++
		w.redelivered++
	}
	w.pending = append(w.pending, ack)
	switch {
	case w.o.RotateSize > 0 && w.f.size > w.o.RotateSize:
		if err := w.closeLocked(fmt.Sprintf("%d bytes > --rotate-size %d", w.f.size, w.o.RotateSize)); err != nil {
			return w.fail(err)
		}
	case w.batchDue():
		if err := w.syncLocked(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// checkLocked returns the sticky error.
func (w *TopicWriter) checkLocked() error { return w.err }

// batchDue reports whether the pending messages should be synced now:
// max-in-flight are pending (nsqd sends no more), or nothing waits to be
// written and nsqd is not sending much either (starved) or we are stopping.
func (w *TopicWriter) batchDue() bool {
	if len(w.pending) >= w.o.MaxInFlight {
		return true
	}
	if w.feed == nil {
		return w.stopping
	}
	if w.feed.Backlog() > 0 {
		return false
	}
	return w.stopping || w.feed.Starved()
}

// timeToRotate reports whether the open file is due for a timed rotation:
// --rotate-interval elapsed or <DATETIME> changed.
func (w *TopicWriter) timeToRotate(now time.Time) bool {
	if w.o.RotateInterval > 0 && now.Sub(w.f.openedAt) >= w.o.RotateInterval {
		return true
	}
	return w.datetime(now) != w.f.datetime
}

// datetime is <DATETIME> at now, computed at most once a second.
func (w *TopicWriter) datetime(now time.Time) string {
	if s := now.Unix(); s != w.dtSec || w.dtStr == "" {
		w.dtSec, w.dtStr = s, w.namer.Datetime(now)
	}
	return w.dtStr
}

// openLocked opens the next file: the first free revision of the current
// name, or (plain files without time rotation) the existing file, appended
// to.
func (w *TopicWriter) openLocked(now time.Time) error {
	dt := w.datetime(now)
	if dt != w.revDT {
		w.revDT, w.rev = dt, 0
	}
	workDir := w.o.workDir()
	for {
		rel := w.namer.Name(w.topic, dt, w.rev)
		path := filepath.Join(workDir, rel)
		if err := os.MkdirAll(dirOf(path), dirMode); err != nil {
			return fmt.Errorf("creating directory for %s: %w", path, err)
		}
		if w.namer.Revisions() && w.o.separateWorkDir() && exists(filepath.Join(w.o.OutputDir, rel)) {
			w.rev++
			continue
		}
		flag := os.O_WRONLY | os.O_CREATE
		if w.o.appendable() {
			flag |= os.O_APPEND
		} else {
			flag |= os.O_EXCL
		}
		fh, err := w.open(path, flag, fileMode)
		if errors.Is(err, fs.ErrExist) && w.namer.Revisions() {
			w.rev++
			continue
		}
		if err != nil {
			return fmt.Errorf("opening %s: %w", path, err)
		}
		locked, err := lockFile(fh)
		if err != nil {
			fh.Close()
			return fmt.Errorf("opening %s: %w", path, err)
		}
		if !locked {
			fh.Close()
			if !w.namer.Revisions() {
				return fmt.Errorf("opening %s: another process is writing it", path)
			}
			w.rev++
			continue
		}
		if w.files == 0 && w.rev > 0 && w.o.GZIP && !w.o.separateWorkDir() {
			w.repairPrevious(filepath.Join(workDir, w.namer.Name(w.topic, dt, w.rev-1)))
		}
		var size int64
		if w.o.appendable() {
			if size, err = repairPlainTail(fh, path); err != nil {
				fh.Close()
				return err
			}
			if w.namer.Revisions() && w.o.RotateSize > 0 && size >= w.o.RotateSize {
				// already full: take the next revision
				fh.Close()
				w.rev++
				continue
			}
		}
		level := 0
		if w.o.GZIP {
			level = w.o.GZIPLevel
		}
		f, err := newOutFile(fh, rel, path, dt, w.rev, size, level, now)
		if err != nil {
			fh.Close()
			return err
		}
		w.f = f
		w.files++
		if size > 0 {
			w.log.Infof("[%s/%s] opening %s (appending to %d bytes)", w.topic, w.o.Channel, path, size)
		} else {
			w.log.Infof("[%s/%s] opening %s", w.topic, w.o.Channel, path)
		}
		return nil
	}
}

// repairPrevious cuts the damaged tail a crash may have left in the last
// gzip file of an earlier run (written in the output directory itself),
// unless another process is writing it. Failures are only logged.
func (w *TopicWriter) repairPrevious(path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if ok, err := lockFile(f); err != nil || !ok {
		return
	}
	st, err := f.Stat()
	if err != nil {
		return
	}
	size, err := repairGzip(path)
	if err != nil {
		w.log.Warnf("[%s/%s] %s", w.topic, w.o.Channel, err)
		return
	}
	if size < st.Size() {
		f.Sync()
		w.log.Infof("[%s/%s] cut %d incomplete bytes at the end of %s (left by a crash)", w.topic, w.o.Channel, st.Size()-size, path)
	}
}

// syncLocked makes what was written durable, then finishes every pending
// message: the only place messages are finished. The order is the
// guarantee: end the gzip member and flush the buffer, fsync the file
// (and once its directory), then FIN.
func (w *TopicWriter) syncLocked() error {
	w.lastSync = w.now()
	if w.f != nil && w.f.dirty {
		if err := w.f.flush(); err != nil {
			return err
		}
		if err := w.f.fsync(); err != nil {
			return err
		}
	}
	if len(w.pending) == 0 {
		return nil
	}
	w.syncs++
	if w.o.afterSync != nil {
		w.o.afterSync(w.topic, w.pending)
	}
	if w.log.Enabled(logger.Debug) {
		w.log.Debugf("[%s/%s] synced %d messages to %s", w.topic, w.o.Channel, len(w.pending), w.f.path)
	}
	for i, a := range w.pending {
		a.Finish()
		w.pending[i] = nil
	}
	w.pending = w.pending[:0]
	return nil
}

// closeLocked syncs (finishing the pending messages), closes the file and
// moves it to the output directory.
func (w *TopicWriter) closeLocked(why string) error {
	if err := w.syncLocked(); err != nil {
		return err
	}
	f := w.f
	w.f = nil
	if w.namer.Revisions() && f.datetime == w.revDT && f.rev >= w.rev {
		w.rev = f.rev + 1
	}
	if err := f.close(); err != nil {
		return err
	}
	where := f.path
	if w.o.separateWorkDir() {
		dst, err := w.moveOut(f.path, f.datetime, f.rev)
		if err != nil {
			return err
		}
		where = f.path + " -> " + dst
	}
	extra := ""
	if f.redelivered > 0 {
		extra = fmt.Sprintf(", %d redelivered (likely duplicates)", f.redelivered)
	}
	w.log.Infof("[%s/%s] closed %s (%s; %d messages, %d bytes%s)", w.topic, w.o.Channel, where, why, f.messages, f.size, extra)
	return nil
}

// moveOut moves a closed file from the work directory to the output
// directory, under the same relative name or, if that is taken, the next
// free revision. It returns the destination.
func (w *TopicWriter) moveOut(src, datetime string, rev int) (string, error) {
	for r := rev; ; r++ {
		rel := w.namer.Name(w.topic, datetime, r)
		dst := filepath.Join(w.o.OutputDir, rel)
		err := moveNoReplace(src, dst)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if datetime == w.revDT && r >= w.rev {
			w.rev = r + 1
		}
		return dst, nil
	}
}

// fail records the first fatal error, requeues the pending messages and
// reports it.
func (w *TopicWriter) fail(err error) error {
	if w.err != nil {
		return w.err
	}
	w.err = err
	w.log.Errorf("[%s/%s] %s", w.topic, w.o.Channel, err)
	for i, a := range w.pending {
		a.RequeueWithoutBackoff(0)
		w.pending[i] = nil
	}
	w.pending = w.pending[:0]
	if w.onFatal != nil {
		w.onFatal(err)
	}
	return err
}

// QuietSync is how long the input must have been quiet (no message
// written, none waiting to be) before Tick syncs a partial batch: the tail
// of a burst is finished at once instead of after --sync-interval.
const QuietSync = 250 * time.Millisecond

// Tick does the timed work: rotation by --rotate-interval or <DATETIME>
// (opening the next file right away unless --skip-empty-files), and a sync
// once --sync-interval passed since the last one, or once the input has
// been quiet for QuietSync with messages pending.
func (w *TopicWriter) Tick() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkLocked(); err != nil {
		return err
	}
	now := w.now()
	if w.f != nil && w.timeToRotate(now) {
		if err := w.closeLocked("rotating"); err != nil {
			return w.fail(err)
		}
		if !w.o.SkipEmptyFiles && !w.stopping {
			if err := w.openLocked(now); err != nil {
				return w.fail(err)
			}
		}
	}
	quiet := len(w.pending) > 0 && now.Sub(w.lastMsg) >= QuietSync && (w.feed == nil || w.feed.Backlog() == 0)
	if quiet || now.Sub(w.lastSync) >= w.o.SyncInterval {
		if err := w.syncLocked(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// Sync syncs and finishes the pending messages now.
func (w *TopicWriter) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkLocked(); err != nil {
		return err
	}
	if err := w.syncLocked(); err != nil {
		return w.fail(err)
	}
	return nil
}

// SetStopping makes every later message synced as soon as nothing else
// waits (the consumer is draining), and syncs what is pending.
func (w *TopicWriter) SetStopping() error {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	return w.Sync()
}

// CloseFile syncs and closes the current file (SIGHUP); the next message
// opens a new one.
func (w *TopicWriter) CloseFile(why string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkLocked(); err != nil {
		return err
	}
	if w.f == nil {
		if err := w.syncLocked(); err != nil {
			return w.fail(err)
		}
		return nil
	}
	if err := w.closeLocked(why); err != nil {
		return w.fail(err)
	}
	return nil
}

// Close syncs, closes and moves the current file; later writes are
// refused.
func (w *TopicWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.stopping = true
	err := w.checkLocked()
	if err == nil {
		if w.f != nil {
			err = w.closeLocked("shutting down")
		} else {
			err = w.syncLocked()
		}
		if err != nil {
			w.fail(err)
		}
	}
	if w.f != nil { // after a failure
		w.f.fh.Close()
		w.f = nil
	}
	if err == nil {
		w.err = errClosed
	}
	return err
}

var errClosed = errors.New("writer closed")

// WriterStats are a TopicWriter's totals.
type WriterStats struct {
	Messages    int64 // written
	Redelivered int64 // written with attempts > 1: likely duplicates
	Files       int64 // opened
}

// Stats returns the totals.
func (w *TopicWriter) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WriterStats{Messages: w.messages, Redelivered: w.redelivered, Files: w.files}
}
