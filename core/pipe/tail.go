package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
)

// TailOptions configure Tail (nsq_tail).
type TailOptions struct {
	// Topics are read each by its own consumer, all on Channel.
	Topics []string
	// Channel is the channel to read; empty means RandomTailChannel().
	Channel string

	// NSQDTCPAddresses and LookupdHTTPAddresses say where the topics are:
	// nsqd to connect to directly, or (when no nsqd is given) lookupds to
	// discover them from.
	NSQDTCPAddresses     []string
	LookupdHTTPAddresses []string

	// MaxInFlight is each consumer's max_in_flight (0 means 200). When
	// 0 < Count < MaxInFlight it is lowered to Count.
	MaxInFlight int
	// Count, when positive, ends Tail (with nil) once Count messages of
	// any one topic were written.
	Count int

	// Config is the client configuration (nil: client.NewConfig()); Tail
	// sets max_in_flight on a copy.
	Config *client.Config
	// Format renders the messages (nil: Raw{}).
	Format Formatter
	// Out receives the output.
	Out io.Writer
	// MaxBatch bounds the bytes written to Out in one write (0: 64 KiB):
	// messages that are immediately available are rendered together and
	// written at once, then finished.
	MaxBatch int
	// Log receives diagnostics (nil: discarded).
	Log *logger.Logger
}

// tailWriterGrace is how long Tail waits, once the consumers have
// stopped, for a writer blocked on its output.
const tailWriterGrace = 5 * time.Second

// DefaultMaxInFlight is nsq_tail's --max-in-flight default.
const DefaultMaxInFlight = 200

// defaultTailMaxBatch is TailOptions.MaxBatch's default.
const defaultTailMaxBatch = 64 << 10

// A ReadTracker is an output whose reader's progress can be observed: a
// pipe. Tail then finishes a message only once the reader has read it —
// not as soon as it sits in the pipe's buffer — and when the reader
// closes its end (nsq_tail | head), requeues the messages it never read.
type ReadTracker interface {
	io.Writer
	// Unread is how many of the bytes written still wait to be read.
	Unread() (int, error)
	// WaitReaderClosed blocks until the reader has closed its end (true)
	// or done is closed (false).
	WaitReaderClosed(done <-chan struct{}) bool
}

// RandomTailChannel is NSQ's default nsq_tail channel:
// "tail<6 digits>#ephemeral".
func RandomTailChannel() string {
	return fmt.Sprintf("tail%06d#ephemeral", rand.IntN(1000000))
}

// IsBrokenPipe reports whether err means the reader of the output went
// away (EPIPE): a clean end for a tool whose output is piped into head.
func IsBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe)
}

// Tail consumes opts.Topics and writes every message to opts.Out with
// opts.Format until ctx is done, opts.Count messages of a topic were
// written, or the output is closed (a broken pipe); these are clean ends
// and return nil. It returns an error when it cannot start (bad names, an
// nsqd refusing the first connection, a bad lookupd address), when
// writing fails otherwise, or when a message cannot be formatted.
//
// A message is finished (FIN) only after it was written to opts.Out —
// and when opts.Out is a pipe (a ReadTracker, or an *os.File that
// TrackPipe accepts), only once the pipe's reader has read it. Whatever
// was received and not written (or left unread in the pipe by a reader
// that closed it) is requeued at once (REQ 0) so another consumer gets
// it. On the way out every consumer is stopped gracefully (CLS, then
// each connection closes once its messages are answered).
//
// Goroutines: each consumer has one handler goroutine that only passes
// messages on; a single writer goroutine renders, writes and answers
// them, in batches of what is immediately available (so output is
// written in large chunks when busy and at once when idle); for a pipe,
// a watcher goroutine notices the reader closing even while no message
// arrives. Tail itself waits for the end, stops the consumers (the
// writer answers what they still deliver), then the writer and the
// watcher.
func Tail(ctx context.Context, opts TailOptions) error {
	if len(opts.Topics) == 0 {
		return errors.New("no topic to tail")
	}
	if opts.Out == nil {
		return errors.New("no output")
	}
	if len(opts.NSQDTCPAddresses) == 0 && len(opts.LookupdHTTPAddresses) == 0 {
		return errors.New("no nsqd or nsqlookupd address")
	}
	channel := opts.Channel
	if channel == "" {
		channel = RandomTailChannel()
	}
	cfg := opts.Config
	if cfg == nil {
		cfg = client.NewConfig()
	}
	cfg = cfg.Clone()
	maxInFlight := opts.MaxInFlight
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	if opts.Count > 0 && opts.Count < maxInFlight {
		maxInFlight = opts.Count
	}
	cfg.MaxInFlight = maxInFlight
	lg := opts.Log
	if lg == nil {
		lg = logger.Discard()
	}
	format := opts.Format
	if format == nil {
		format = Raw{}
	}
	maxBatch := opts.MaxBatch
	if maxBatch <= 0 {
		maxBatch = defaultTailMaxBatch
	}

	tracker, _ := opts.Out.(ReadTracker)
	if f, ok := opts.Out.(*os.File); ok && tracker == nil {
		tracker = TrackPipe(f)
	}
	w := newTailWriter(opts.Out, tracker, format, len(opts.Topics), opts.Count, maxBatch)
	w.in = make(chan tailDelivery, min(len(opts.Topics)*maxInFlight, 4096))
	if cfg.MsgTimeout > 0 {
		w.touchEvery = min(w.touchEvery, cfg.MsgTimeout/2)
	}

	consumers := make([]*client.Consumer, 0, len(opts.Topics))
	stopAll := func() {
		for _, c := range consumers {
			c.Stop()
		}
		for _, c := range consumers {
			<-c.StopChan
		}
	}
	for i, topic := range opts.Topics {
		c, err := client.NewConsumer(topic, channel, cfg)
		if err != nil {
			stopAll()
			return fmt.Errorf("consumer of topic %q, channel %q: %w", topic, channel, err)
		}
		c.AddHandler(w.handler(i, topic, channel))
		consumers = append(consumers, c)
	}

	pause := func() {
		for _, c := range consumers {
			c.ChangeMaxInFlight(0)
		}
	}
	w.pause = pause
	writerDone := make(chan struct{})
	consumersStopped := make(chan struct{})
	go func() {
		defer close(writerDone)
		w.run(consumersStopped)
	}()
	watcherDone := make(chan struct{})
	if tracker != nil {
		go func() {
			defer close(watcherDone)
			if tracker.WaitReaderClosed(writerDone) {
				close(w.readerClosed)
			}
		}()
	} else {
		close(watcherDone)
	}
	finish := func() error {
		pause()
		w.quit()
		stopAll()
		close(consumersStopped)
		select {
		case <-writerDone:
		case <-time.After(tailWriterGrace):
			// Stuck in a write nobody reads (the consumers are stopped
			// and their messages answered or timed out by now): give up
			// on the output, leaving the writer to the process's exit.
			return errors.New("output blocked: nothing reads it")
		}
		<-watcherDone
		return w.result()
	}

	for i, c := range consumers {
		topic := opts.Topics[i]
		var err error
		if len(opts.NSQDTCPAddresses) > 0 {
			err = c.ConnectToNSQDs(opts.NSQDTCPAddresses)
			if err != nil {
				err = fmt.Errorf("topic %s: connecting to nsqd: %w", topic, err)
			}
		} else {
			err = c.ConnectToNSQLookupds(opts.LookupdHTTPAddresses)
			if err != nil {
				err = fmt.Errorf("topic %s: using nsqlookupd: %w", topic, err)
			} else if len(c.Connections()) == 0 {
				lg.Warnf("topic %s: no nsqd found through nsqlookupd yet, polling every %s",
					topic, cfg.LookupdPollInterval)
			}
		}
		if err != nil {
			if werr := finish(); werr != nil {
				lg.Errorf("%s", werr)
			}
			return err
		}
	}

	select {
	case <-ctx.Done():
		lg.Debugf("stopping: %s", context.Cause(ctx))
	case <-w.done:
	}
	return finish()
}

// handler passes each message of topic (index i) to the writer, which
// answers it.
func (w *tailWriter) handler(i int, topic, channel string) client.Handler {
	return client.HandlerFunc(func(m *client.Message) error {
		m.DisableAutoResponse()
		w.in <- tailDelivery{topic: i, rec: NewRecord(topic, channel, m), msg: m}
		return nil
	})
}
