package archive

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/lookup"
)

// Archiver consumes topics (given, or discovered through nsqlookupd) and
// archives each into its own files through a TopicWriter.
type Archiver struct {
	o       *Options
	namer   *Namer
	log     *logger.Logger
	cfg     *client.Config
	pattern *regexp.Regexp
	lookup  *lookup.Client

	mu       sync.Mutex
	topics   map[string]*topicArchiver
	order    []string
	stopping bool

	fatalMu  sync.Mutex
	fatalErr error
	fatal    chan struct{}
}

// topicArchiver is one topic: its consumer, writer and ticker.
type topicArchiver struct {
	topic    string
	c        *client.Consumer
	w        *TopicWriter
	stopTick chan struct{}
	tickDone chan struct{}
}

// New checks o and prepares an Archiver.
func New(o *Options) (*Archiver, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	namer, err := NewNamer(o)
	if err != nil {
		return nil, err
	}
	a := &Archiver{
		o:      o,
		namer:  namer,
		log:    o.Logger,
		topics: make(map[string]*topicArchiver),
		fatal:  make(chan struct{}),
	}
	if a.log == nil {
		a.log = logger.Discard()
	}
	if o.TopicPattern != "" {
		a.pattern = regexp.MustCompile(o.TopicPattern) // checked by Validate
	}
	cfg := o.Client
	if cfg == nil {
		cfg = client.NewConfig()
		cfg.Logger = a.log
	}
	cfg = cfg.Clone()
	cfg.MaxInFlight = o.MaxInFlight
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("consumer options: %w", err)
	}
	a.cfg = cfg
	if len(o.LookupdHTTPAddresses) > 0 {
		a.lookup = lookup.NewClient(lookup.Options{
			ConnectTimeout: o.HTTPConnectTimeout,
			RequestTimeout: o.HTTPRequestTimeout,
			UserAgent:      cfg.UserAgent,
		})
	}
	return a, nil
}

// Run archives until ctx is done (a clean stop: consumers stop, every
// message received is written, synced and finished, files are closed and
// moved) or a fatal error happens (connecting to a given nsqd at start,
// an I/O error), which it returns after the same clean-up.
func (a *Archiver) Run(ctx context.Context) error {
	if a.lookup != nil {
		defer a.lookup.Close()
	}
	discoverCtx, stopDiscover := context.WithCancel(ctx)
	var discoverWG sync.WaitGroup
	var startErr error
	if len(a.o.Topics) > 0 {
		for _, t := range a.o.Topics {
			if a.pattern != nil && !a.pattern.MatchString(t) {
				a.log.Warnf("topic %s does not match --topic-pattern %q, skipped", t, a.o.TopicPattern)
				continue
			}
			if err := a.addTopic(t); err != nil {
				startErr = err
				break
			}
		}
		if startErr == nil && len(a.Topics()) == 0 {
			startErr = fmt.Errorf("no --topic matches --topic-pattern %q", a.o.TopicPattern)
		}
	} else {
		discoverWG.Add(1)
		go func() {
			defer discoverWG.Done()
			a.discover(discoverCtx)
		}()
	}
	if startErr == nil {
		select {
		case <-ctx.Done():
		case <-a.fatal:
		}
	}
	stopDiscover()
	discoverWG.Wait()
	err := a.shutdown()
	if startErr != nil {
		return startErr
	}
	if ferr := a.fatalError(); ferr != nil {
		return ferr
	}
	return err
}

// Hup closes every topic's current file (SIGHUP); the next message of a
// topic opens a new one.
func (a *Archiver) Hup() {
	for _, ta := range a.snapshot() {
		if err := ta.w.CloseFile("SIGHUP"); err != nil {
			a.failed(err)
		}
	}
}

// Topics lists the topics being archived, in the order they were added.
func (a *Archiver) Topics() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.order...)
}

// Stats returns one topic's writer totals (false if it is not archived).
func (a *Archiver) Stats(topic string) (WriterStats, bool) {
	a.mu.Lock()
	ta := a.topics[topic]
	a.mu.Unlock()
	if ta == nil {
		return WriterStats{}, false
	}
	return ta.w.Stats(), true
}

func (a *Archiver) snapshot() []*topicArchiver {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*topicArchiver, 0, len(a.order))
	for _, t := range a.order {
		out = append(out, a.topics[t])
	}
	return out
}

// failed records the first fatal error and ends Run.
func (a *Archiver) failed(err error) {
	a.fatalMu.Lock()
	defer a.fatalMu.Unlock()
	if a.fatalErr == nil {
		a.fatalErr = err
		close(a.fatal)
	}
}

// fatalError is the first fatal error, if any.
func (a *Archiver) fatalError() error {
	a.fatalMu.Lock()
	defer a.fatalMu.Unlock()
	return a.fatalErr
}

// addTopic starts archiving topic: recovers what a crash left in the work
// directory, then connects its consumer.
func (a *Archiver) addTopic(topic string) error {
	ta := &topicArchiver{
		topic:    topic,
		w:        NewTopicWriter(topic, a.o, a.namer, a.failed),
		stopTick: make(chan struct{}),
		tickDone: make(chan struct{}),
	}
	ta.w.SetFeed(ta)
	a.mu.Lock()
	if a.stopping || a.topics[topic] != nil {
		a.mu.Unlock()
		return nil
	}
	a.topics[topic] = ta
	a.order = append(a.order, topic)
	a.mu.Unlock()

	if a.o.separateWorkDir() {
		if err := ta.w.recoverWorkDir(); err != nil {
			a.forget(topic)
			return err
		}
	}
	c, err := client.NewConsumer(topic, a.o.Channel, a.cfg)
	if err != nil {
		a.forget(topic)
		return fmt.Errorf("topic %s: %w", topic, err)
	}
	ta.c = c
	c.AddHandler(client.HandlerFunc(ta.handle))
	go ta.tick(a.o)
	if len(a.o.NSQDTCPAddresses) > 0 {
		err = c.ConnectToNSQDs(a.o.NSQDTCPAddresses)
		if err != nil {
			err = fmt.Errorf("topic %s: connecting to nsqd: %w", topic, err)
		}
	} else {
		err = c.ConnectToNSQLookupds(a.o.LookupdHTTPAddresses)
		if err != nil {
			err = fmt.Errorf("topic %s: adding lookupd: %w", topic, err)
		}
	}
	if err != nil {
		return err // shutdown stops it
	}
	a.log.Infof("[%s/%s] archiving to %s", topic, a.o.Channel, a.o.OutputDir)
	return nil
}

// forget drops a topic that failed before its consumer existed.
func (a *Archiver) forget(topic string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.topics, topic)
	for i, t := range a.order {
		if t == topic {
			a.order = append(a.order[:i], a.order[i+1:]...)
			break
		}
	}
}

// handle is the consumer's handler: write, and leave the answer to the
// writer's sync.
func (ta *topicArchiver) handle(m *client.Message) error {
	m.DisableAutoResponse()
	ta.w.Write(m.Body, m.Attempts, m) // on error the message is requeued and Run ends
	return nil
}

// Starved implements Feed.
func (ta *topicArchiver) Starved() bool { return ta.c.IsStarved() }

// Backlog implements Feed: received but not yet taken by the handler.
func (ta *topicArchiver) Backlog() int { return ta.c.Pending() }

// tick runs the writer's timed work until stopTick closes.
func (ta *topicArchiver) tick(o *Options) {
	defer close(ta.tickDone)
	period := min(o.SyncInterval, QuietSync)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ta.stopTick:
			return
		case <-t.C:
			ta.w.Tick() // a fatal error reaches Run through onFatal
		}
	}
}

// discover adds a consumer for every topic lookupd lists that matches
// --topic-pattern: at once, then every --topic-refresh (sooner after a
// failure).
func (a *Archiver) discover(ctx context.Context) {
	for {
		wait := a.o.TopicRefresh
		if err := a.discoverOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(wait, 5*time.Second)
			a.log.Errorf("topic discovery: %s (retrying in %s)", err, wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (a *Archiver) discoverOnce(ctx context.Context) error {
	res, err := a.lookup.TopicsAll(ctx, a.o.LookupdHTTPAddresses)
	if err != nil {
		return fmt.Errorf("asking lookupd for topics: %w", err)
	}
	if perr := res.Err(); perr != nil {
		a.log.Warnf("topic discovery: some lookupds failed: %s", perr)
	}
	topics := append([]string(nil), res.Topics...)
	sort.Strings(topics)
	for _, t := range topics {
		if a.pattern != nil && !a.pattern.MatchString(t) {
			continue
		}
		if err := a.addTopic(t); err != nil {
			a.log.Errorf("%s", err)
		}
	}
	return nil
}

// shutdown stops every consumer, lets the messages already received be
// written and finished, then closes (and moves) the files.
func (a *Archiver) shutdown() error {
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	all := a.snapshot()
	for _, ta := range all {
		ta.w.SetStopping()
		if ta.c != nil {
			ta.c.Stop()
		}
	}
	for _, ta := range all {
		if ta.c != nil {
			<-ta.c.StopChan
		}
	}
	var errs []error
	for _, ta := range all {
		close(ta.stopTick)
		<-ta.tickDone
		if err := ta.w.Close(); err != nil && !errors.Is(err, errClosed) && !errors.Is(err, a.fatalError()) {
			errs = append(errs, fmt.Errorf("topic %s: %w", ta.topic, err))
		}
		st := ta.w.Stats()
		if st.Redelivered > 0 {
			a.log.Infof("[%s/%s] %d of %d messages archived were redeliveries (attempts > 1), likely duplicates",
				ta.topic, a.o.Channel, st.Redelivered, st.Messages)
		}
	}
	return errors.Join(errs...)
}
