package pipe

import (
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"
)

// tailAnswerer is the part of a client.Message the writer uses: how it
// answers nsqd.
type tailAnswerer interface {
	Finish()
	RequeueWithoutBackoff(delay time.Duration)
	Touch()
}

// tailDelivery is a message on its way from a consumer's handler to the
// writer.
type tailDelivery struct {
	topic int // index in TailOptions.Topics
	rec   *Record
	msg   tailAnswerer
}

// Timings of the writer's watch over a pipe's reader.
const (
	// tailPollMin and tailPollMax bound the interval at which the writer
	// asks how much of the pipe was read while messages wait there: short
	// while the reader keeps up, longer while it does not.
	tailPollMin = time.Millisecond
	tailPollMax = 50 * time.Millisecond
	// tailSettleTimeout is how long a stop waits for a live reader to read
	// what is in the pipe before finishing it anyway.
	tailSettleTimeout = time.Second
	// tailTouchEvery is how often a message still waiting in the pipe
	// is touched, so that nsqd does not time it out and send it again.
	tailTouchEvery = 15 * time.Second
)

// errReaderClosed is the writer's end when the pipe's reader went away
// without a failed write.
var errReaderClosed = fmt.Errorf("reader closed the output: %w", syscall.EPIPE)

// tailWriter owns the output. Only its run goroutine touches the fields
// above mu; quit and done are how it and Tail tell each other to stop.
//
// Each message is rendered into buf, written with the rest of its batch,
// and then answered: FIN once written — or, for a pipe (tracker set),
// once the reader has read it; REQ 0 when it could not be written or the
// reader closed the pipe before reading it.
type tailWriter struct {
	out        io.Writer
	tracker    ReadTracker // nil: a message is done once written
	format     Formatter
	count      int // TailOptions.Count
	maxBatch   int
	touchEvery time.Duration // TOUCH period of messages waiting in the pipe
	settleWait time.Duration // how long a stop waits for the pipe to be read
	in         chan tailDelivery
	// readerClosed is closed when the tracker saw the reader go (nil
	// without a tracker).
	readerClosed chan struct{}
	// pause, when set, is called once, before the first message is
	// requeued because the output ends: it sets the consumers' RDY to 0,
	// so that nsqd does not hand the requeued messages straight back.
	pause func()

	buf        []byte
	batch      []tailEntry // rendered into buf; end is relative to buf
	unread     []tailEntry // in the pipe, not yet read; end is an output offset
	offset     int64       // bytes written to out so far
	counts     []int       // messages written per topic
	stopped    bool        // no more output: everything further is requeued
	halted     bool        // pause was called
	readerGone bool

	quitOnce sync.Once
	quitCh   chan struct{} // closed by quit: Tail is stopping
	doneOnce sync.Once
	done     chan struct{} // closed when the writer wants Tail to stop
	mu       sync.Mutex
	err      error // why the writer stopped on its own (nil for -n)
}

// tailEntry is a message rendered or written, ending at offset end.
type tailEntry struct {
	msg     tailAnswerer
	end     int64
	touched time.Time
}

func newTailWriter(out io.Writer, tracker ReadTracker, format Formatter, topics, count, maxBatch int) *tailWriter {
	w := &tailWriter{
		out:        out,
		tracker:    tracker,
		format:     format,
		count:      count,
		maxBatch:   maxBatch,
		touchEvery: tailTouchEvery,
		settleWait: tailSettleTimeout,
		counts:     make([]int, topics),
		quitCh:     make(chan struct{}),
		done:       make(chan struct{}),
	}
	if tracker != nil {
		w.readerClosed = make(chan struct{})
	}
	return w
}

// quit tells the writer to write nothing more. Safe from any goroutine.
func (w *tailWriter) quit() { w.quitOnce.Do(func() { close(w.quitCh) }) }

// result is the error Tail returns: a write or format error, but not a
// broken pipe. Safe from any goroutine.
func (w *tailWriter) result() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil && IsBrokenPipe(w.err) {
		return nil
	}
	return w.err
}

// halt pauses the consumers, once.
func (w *tailWriter) halt() {
	if !w.halted {
		w.halted = true
		if w.pause != nil {
			w.pause()
		}
	}
}

// end records why the writer stopped (the first reason wins) and asks
// Tail to stop.
func (w *tailWriter) end(err error) {
	w.stopped = true
	w.doneOnce.Do(func() {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		close(w.done)
	})
}

// run processes deliveries until the consumers have stopped (after which
// no handler sends any more), answering every message.
func (w *tailWriter) run(consumersStopped <-chan struct{}) {
	quit := w.quitCh
	readerClosed := w.readerClosed
	poll := time.NewTimer(tailPollMin)
	poll.Stop()
	polling := false
	interval := tailPollMin
	for {
		var tick <-chan time.Time
		if len(w.unread) > 0 {
			if !polling {
				poll.Reset(interval)
				polling = true
			}
			tick = poll.C
		} else if polling {
			poll.Stop()
			polling = false
		}
		select {
		case d := <-w.in:
			w.add(d)
			w.drain()
			w.flush()
			interval = tailPollMin // fresh output: look again soon
		case <-tick:
			polling = false
			if w.checkRead() {
				interval = tailPollMin
			} else {
				interval = min(2*interval, tailPollMax)
			}
			w.touch()
		case <-readerClosed:
			readerClosed = nil
			w.closedByReader()
		case <-quit:
			quit = nil
			w.stop(nil)
		case <-consumersStopped:
			poll.Stop()
			for {
				select {
				case d := <-w.in:
					w.add(d) // stopped by now: requeued
				default:
					w.settle()
					return
				}
			}
		}
	}
}

// drain adds the deliveries that are immediately available, up to a
// batch.
func (w *tailWriter) drain() {
	for len(w.buf) < w.maxBatch && !w.stopped {
		select {
		case d := <-w.in:
			w.add(d)
		default:
			return
		}
	}
}

// add renders one delivery into the batch, or requeues it when the
// output is finished.
func (w *tailWriter) add(d tailDelivery) {
	if !w.stopped {
		select {
		case <-w.quitCh:
			w.stop(nil)
		default:
		}
	}
	if w.stopped || (w.count > 0 && w.counts[d.topic] >= w.count) {
		w.halt()
		d.msg.RequeueWithoutBackoff(0)
		return
	}
	buf, err := w.format.Format(w.buf, d.rec)
	if err != nil {
		w.halt()
		d.msg.RequeueWithoutBackoff(0)
		w.stop(fmt.Errorf("formatting message %s of topic %s: %w", d.rec.ID, d.rec.Topic, err))
		return
	}
	w.buf = buf
	w.batch = append(w.batch, tailEntry{msg: d.msg, end: int64(len(buf))})
	w.counts[d.topic]++
	if w.count > 0 && w.counts[d.topic] == w.count {
		w.stop(nil)
	}
}

// flush writes the batch. Messages written completely are finished (or,
// for a pipe, wait until they are read); the others are requeued. A
// write error ends the output.
func (w *tailWriter) flush() {
	if len(w.batch) == 0 {
		return
	}
	n, err := w.out.Write(w.buf)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.halt()
	}
	base := w.offset
	w.offset += int64(n)
	now := time.Now()
	for _, e := range w.batch {
		switch {
		case e.end > int64(n):
			e.msg.RequeueWithoutBackoff(0)
		case w.tracker != nil:
			w.unread = append(w.unread, tailEntry{msg: e.msg, end: base + e.end, touched: now})
		default:
			e.msg.Finish()
		}
	}
	clear(w.batch)
	w.batch = w.batch[:0]
	w.buf = w.buf[:0]
	switch {
	case err != nil && IsBrokenPipe(err):
		w.closedByReader()
		w.end(fmt.Errorf("writing output: %w", err))
	case err != nil:
		w.stopped = true
		w.settle()
		w.end(fmt.Errorf("writing output: %w", err))
	case w.tracker != nil:
		w.checkRead()
	}
}

// checkRead finishes the messages the pipe's reader has read, reporting
// whether there were any.
func (w *tailWriter) checkRead() bool {
	if len(w.unread) == 0 {
		return false
	}
	unread, err := w.tracker.Unread()
	if err != nil {
		unread = 0 // cannot tell: count everything as read
	}
	read := w.offset - int64(unread)
	i := 0
	for i < len(w.unread) && w.unread[i].end <= read {
		w.unread[i].msg.Finish()
		i++
	}
	if i == 0 {
		return false
	}
	k := copy(w.unread, w.unread[i:])
	clear(w.unread[k:])
	w.unread = w.unread[:k]
	return true
}

// touch extends the timeout of messages waiting in the pipe for long.
func (w *tailWriter) touch() {
	now := time.Now()
	for i := range w.unread {
		if now.Sub(w.unread[i].touched) >= w.touchEvery {
			w.unread[i].msg.Touch()
			w.unread[i].touched = now
		}
	}
}

// closedByReader handles the reader's going away: what it read is
// finished, what it left in the pipe requeued, and the output ends.
func (w *tailWriter) closedByReader() {
	if w.readerGone {
		return
	}
	w.readerGone = true
	w.halt()
	if w.tracker != nil {
		w.checkRead()
	}
	for _, e := range w.unread {
		e.msg.RequeueWithoutBackoff(0)
	}
	clear(w.unread)
	w.unread = w.unread[:0]
	w.end(errReaderClosed)
}

// stop ends the output for err (nil: a clean end): the batch is written,
// and what waits in the pipe is settled.
func (w *tailWriter) stop(err error) {
	if w.stopped {
		return
	}
	w.halt()
	w.flush()
	if w.stopped { // the write failed
		return
	}
	w.stopped = true
	w.settle()
	w.end(err)
}

// settle answers the messages waiting in the pipe before the writer
// stops: it gives a live reader up to settleWait to read them, then
// finishes the rest (they are in the pipe: the reader will get them),
// unless the reader closes it meanwhile (then they are requeued).
func (w *tailWriter) settle() {
	if len(w.unread) == 0 || w.readerGone {
		return
	}
	deadline := time.Now().Add(w.settleWait)
	for w.checkRead(); len(w.unread) > 0; w.checkRead() {
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-w.readerClosed:
			w.closedByReader()
			return
		case <-time.After(tailPollMin):
		}
	}
	for _, e := range w.unread {
		e.msg.Finish()
	}
	clear(w.unread)
	w.unread = w.unread[:0]
}
