package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
)

func newTestConsumer(t *testing.T, topic, channel string, cfg *Config) *Consumer {
	t.Helper()
	if cfg == nil {
		cfg = testConfig()
	}
	c, err := NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopConsumer(t, c) })
	return c
}

func publishN(t *testing.T, addr, topic string, from, n int) {
	t.Helper()
	p, err := NewProducer(testConfig(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	const batch = 200
	for i := from; i < from+n; i += batch {
		var bodies [][]byte
		for j := i; j < min(i+batch, from+n); j++ {
			bodies = append(bodies, body(j))
		}
		if err := p.MultiPublish(topic, bodies); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConsumerBasics(t *testing.T) {
	d := startDaemon(t, nil)
	if _, err := NewConsumer("bad topic", "c", testConfig()); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("bad topic: %v", err)
	}
	if _, err := NewConsumer("t", "", testConfig()); !errors.Is(err, ErrInvalidChannel) {
		t.Fatalf("bad channel: %v", err)
	}
	cfg := testConfig()
	cfg.MaxInFlight = 5
	c := newTestConsumer(t, "basics", "ch", cfg)
	if err := c.ConnectToNSQD(d.tcp()); !errors.Is(err, ErrNoHandlers) {
		t.Fatalf("connect without handlers: %v", err)
	}
	var (
		mu       sync.Mutex
		seen     = map[string]int{}
		deferred = make(chan *Message, 1)
	)
	c.AddHandler(HandlerFunc(func(m *Message) error {
		mu.Lock()
		seen[string(m.Body)]++
		mu.Unlock()
		if m.NSQDAddress != d.tcp() || m.Attempts < 1 || m.Timestamp == 0 {
			t.Errorf("message fields %+v", m)
		}
		switch string(m.Body) {
		case "msg-3":
			if m.Attempts == 1 {
				m.RequeueWithoutBackoff(0)
			}
		case "msg-4":
			m.DisableAutoResponse()
			m.Touch()
			deferred <- m
		}
		return nil
	}))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	if err := c.ConnectToNSQD(d.tcp()); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatalf("second connect: %v", err)
	}
	publishN(t, d.tcp(), "basics", 0, 10)
	m := <-deferred
	time.Sleep(50 * time.Millisecond)
	if m.HasResponded() {
		t.Fatal("auto-responded despite DisableAutoResponse")
	}
	m.Finish()
	m.Finish()   // answered once only
	m.Requeue(0) // ignored
	m.Touch()    // ignored
	eventually(t, 5*time.Second, "all finished", func() bool { return d.pending("basics", "ch") == 0 })
	st := c.Stats()
	if st.MessagesReceived != 11 || st.MessagesFinished != 10 || st.MessagesRequeued != 1 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < 10; i++ {
		want := 1
		if i == 3 {
			want = 2
		}
		if seen[string(body(i))] != want {
			t.Errorf("msg-%d seen %d times", i, seen[string(body(i))])
		}
	}
	cs := d.channelStats("basics", "ch")
	if cs.RequeueCount != 1 || cs.TimeoutCount != 0 {
		t.Fatalf("nsqd channel %+v", cs)
	}
}

type failingHandler struct {
	failed chan *Message
}

func (h *failingHandler) HandleMessage(m *Message) error { return errors.New("always fails") }
func (h *failingHandler) LogFailedMessage(m *Message)    { h.failed <- m }

func TestConsumerMaxAttempts(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.MaxAttempts = 3
	cfg.DefaultRequeueDelay = 0
	cfg.MaxBackoffDuration = 0 // no backoff
	c := newTestConsumer(t, "attempts", "ch", cfg)
	h := &failingHandler{failed: make(chan *Message, 1)}
	hooked := make(chan *Message, 1)
	c.SetFailedMessageHook(func(m *Message) { hooked <- m })
	c.AddHandler(h)
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	publishN(t, d.tcp(), "attempts", 0, 1)
	for _, ch := range []chan *Message{h.failed, hooked} {
		select {
		case m := <-ch:
			if m.Attempts != 4 {
				t.Fatalf("given up at attempt %d", m.Attempts)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("message not given up")
		}
	}
	eventually(t, 5*time.Second, "finished", func() bool { return d.pending("attempts", "ch") == 0 })
	if st := c.Stats(); st.MessagesRequeued != 3 || st.MessagesFinished != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConsumerDefaultRequeueDelay(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.DefaultRequeueDelay = 2 * time.Second
	cfg.MaxRequeueDelay = 3 * time.Second
	cfg.MaxBackoffDuration = 0
	c := newTestConsumer(t, "reqdelay", "ch", cfg)
	got := make(chan time.Time, 10)
	c.AddHandler(HandlerFunc(func(m *Message) error {
		got <- time.Now()
		if m.Attempts == 1 {
			return errors.New("again") // REQ with 2 s × 1
		}
		return nil
	}))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	publishN(t, d.tcp(), "reqdelay", 0, 1)
	first := <-got
	eventually(t, 2*time.Second, "deferred on nsqd", func() bool {
		cs := d.channelStats("reqdelay", "ch")
		return cs != nil && cs.DeferredCount == 1
	})
	select {
	case second := <-got:
		if dt := second.Sub(first); dt < 1800*time.Millisecond {
			t.Fatalf("redelivered after %s", dt)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not redelivered")
	}
}

// rdySampler polls nsqd's ready_count of the channel's clients.
type rdySampler struct {
	mu      sync.Mutex
	samples []int64
	stop    chan struct{}
	done    chan struct{}
}

func sampleRDY(d *daemon, topic, channel string) *rdySampler {
	s := &rdySampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			cs := d.channelStats(topic, channel)
			if cs == nil || len(cs.Clients) == 0 {
				continue
			}
			var sum int64
			for _, cl := range cs.Clients {
				sum += cl.ReadyCount
			}
			s.mu.Lock()
			if n := len(s.samples); n == 0 || s.samples[n-1] != sum {
				s.samples = append(s.samples, sum)
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *rdySampler) finish() []int64 {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.samples...)
}

// containsSeq reports whether want appears in got in order (not
// necessarily contiguously).
func containsSeq(got, want []int64) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestConsumerBackoff is acceptance 4 (backoff part): a failure lowers
// RDY to 0, after the backoff one connection gets RDY 1 (one test
// message), and a success restores the full RDY, as nsqd reports it.
func TestConsumerBackoff(t *testing.T) {
	for _, strategy := range []string{BackoffExponential, BackoffFullJitter} {
		t.Run(strategy, func(t *testing.T) {
			d := startDaemon(t, nil)
			cfg := testConfig()
			cfg.MaxInFlight = 8
			cfg.BackoffStrategy = strategy
			cfg.BackoffMultiplier = 100 * time.Millisecond
			cfg.MaxBackoffDuration = time.Second
			cfg.DefaultRequeueDelay = 0
			c := newTestConsumer(t, "backoff", "ch", cfg)
			var fails atomic.Int32
			var handled atomic.Int32
			c.AddHandler(HandlerFunc(func(m *Message) error {
				handled.Add(1)
				time.Sleep(50 * time.Millisecond) // long enough to see RDY 1
				if string(m.Body) == "fail" && m.Attempts <= 2 {
					fails.Add(1)
					return errors.New("fail")
				}
				return nil
			}))
			if err := c.ConnectToNSQD(d.tcp()); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "RDY 8", func() bool {
				cs := d.channelStats("backoff", "ch")
				return cs != nil && len(cs.Clients) == 1 && cs.Clients[0].ReadyCount == 8
			})
			s := sampleRDY(d, "backoff", "ch")
			p := newTestProducer(t, nil, d.tcp())
			if err := p.Publish("backoff", []byte("fail")); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "first failure", func() bool { return fails.Load() >= 1 })
			eventually(t, 2*time.Second, "in backoff", func() bool { return c.BackoffLevel() >= 1 })
			for i := 0; i < 10; i++ {
				if err := p.Publish("backoff", body(i)); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 15*time.Second, "everything handled", func() bool { return d.pending("backoff", "ch") == 0 })
			eventually(t, 5*time.Second, "backoff left", func() bool { return c.BackoffLevel() == 0 })
			eventually(t, 5*time.Second, "RDY restored", func() bool {
				cs := d.channelStats("backoff", "ch")
				return cs != nil && cs.Clients[0].ReadyCount == 8
			})
			samples := s.finish()
			t.Logf("nsqd ready_count over time: %v", samples)
			want := []int64{8, 0, 1, 8}
			if strategy == BackoffFullJitter {
				// A jittered pause can be too short for the sampler to see
				// the 0; the single test message (RDY 1) is always seen.
				want = []int64{8, 1, 8}
			}
			if !containsSeq(samples, want) {
				t.Fatalf("RDY did not go %v: %v", want, samples)
			}
			if fails.Load() != 2 {
				t.Fatalf("%d failures", fails.Load())
			}
		})
	}
}

func TestConsumerBackoffLevels(t *testing.T) {
	// The state machine alone, without connections.
	cfg := testConfig()
	cfg.BackoffMultiplier = 10 * time.Minute // timers never fire during the test
	cfg.MaxBackoffDuration = 50 * time.Minute
	c, err := NewConsumer("levels", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Stop(); <-c.StopChan }()
	release := func() {
		c.mu.Lock()
		c.backoffPending = false
		c.backoffTimer.Stop()
		c.mu.Unlock()
	}
	c.signal(signalBackoff) // 20m ≤ 50m → level 1
	if c.BackoffLevel() != 1 {
		t.Fatalf("level %d", c.BackoffLevel())
	}
	c.signal(signalBackoff) // ignored: timer pending
	if c.BackoffLevel() != 1 {
		t.Fatalf("signal during pending timer counted")
	}
	release()
	c.signal(signalBackoff) // 40m ≤ 50m → 2
	release()
	c.signal(signalBackoff) // 80m > 50m → stays 2
	if c.BackoffLevel() != 2 {
		t.Fatalf("level %d, want 2 (capped)", c.BackoffLevel())
	}
	release()
	c.signal(signalContinue)
	if c.BackoffLevel() != 2 {
		t.Fatalf("continue changed the level")
	}
	release()
	c.signal(signalResume)
	release()
	c.signal(signalResume)
	if c.BackoffLevel() != 0 || c.backoffActive.Load() {
		t.Fatalf("level %d after two successes", c.BackoffLevel())
	}
	// max_backoff_duration 0 disables backoff.
	cfg2 := testConfig()
	cfg2.MaxBackoffDuration = 0
	c2, _ := NewConsumer("levels", "ch", cfg2)
	c2.signal(signalBackoff)
	if c2.BackoffLevel() != 0 {
		t.Fatal("backoff with max_backoff_duration 0")
	}
	c2.Stop()
	<-c2.StopChan
}

// TestConsumerRDYThreeNSQDs is acceptance 4 (RDY part): with 3 nsqd and
// max_in_flight 2 every nsqd is drained (the third one is never starved)
// and the consumer never gives out more than 2 RDY in total.
func TestConsumerRDYThreeNSQDs(t *testing.T) {
	ds := []*daemon{startDaemon(t, nil), startDaemon(t, nil), startDaemon(t, nil)}
	for i, d := range ds {
		publishN(t, d.tcp(), "rdy3", i*1000, 30)
	}
	cfg := testConfig()
	cfg.MaxInFlight = 2
	cfg.LowRdyIdleTimeout = time.Second
	cfg.LowRdyTimeout = time.Second
	cfg.RDYRedistributeInterval = 50 * time.Millisecond
	c := newTestConsumer(t, "rdy3", "ch", cfg)
	var got atomic.Int64
	var overMax atomic.Bool
	c.AddConcurrentHandlers(HandlerFunc(func(m *Message) error {
		c.mu.Lock()
		if c.totalRdy > c.maxInFlight {
			overMax.Store(true)
		}
		c.mu.Unlock()
		got.Add(1)
		time.Sleep(5 * time.Millisecond)
		return nil
	}), 2)
	for _, d := range ds {
		if err := c.ConnectToNSQD(d.tcp()); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	eventually(t, 30*time.Second, "all three nsqd drained", func() bool {
		for _, d := range ds {
			if d.pending("rdy3", "ch") != 0 {
				return false
			}
		}
		return true
	})
	t.Logf("drained 3×30 messages in %s", time.Since(start))
	if got.Load() != 90 {
		t.Fatalf("handled %d", got.Load())
	}
	if overMax.Load() {
		t.Fatal("total RDY exceeded max_in_flight")
	}
}

// TestConsumerReconnect is acceptance 3: the consumer's nsqd is restarted;
// consumption resumes within 3 s although lookupd_poll_interval is 60 s,
// for an nsqd found through lookupd and for one given directly.
func TestConsumerReconnect(t *testing.T) {
	for _, viaLookupd := range []bool{true, false} {
		t.Run(fmt.Sprintf("lookupd=%v", viaLookupd), func(t *testing.T) {
			o := nsqdOptions(t)
			var lookupdHTTP string
			if viaLookupd {
				l := testdaemon.Lookupd(t)
				lookupdHTTP = l.HTTPAddr().String()
				o.NSQLookupdTCPAddresses = []string{l.TCPAddr().String()}
			}
			d := startDaemon(t, o)
			publishN(t, d.tcp(), "reconn", 0, 1) // creates the topic (and its registration)
			cfg := testConfig()
			cfg.LookupdPollInterval = 60 * time.Second
			c := newTestConsumer(t, "reconn", "ch", cfg)
			received := make(chan string, 100)
			c.AddHandler(HandlerFunc(func(m *Message) error {
				received <- string(m.Body)
				return nil
			}))
			if viaLookupd {
				waitRegistered(t, lookupdHTTP, 1)
				if err := c.ConnectToNSQLookupd(lookupdHTTP); err != nil {
					t.Fatal(err)
				}
			} else if err := c.ConnectToNSQD(d.tcp()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-received:
			case <-time.After(5 * time.Second):
				t.Fatal("nothing consumed before the restart")
			}
			eventually(t, 2*time.Second, "FIN processed", func() bool { return d.pending("reconn", "ch") == 0 })

			d.restart()
			restarted := time.Now()
			publishN(t, d.tcp(), "reconn", 1, 1)
			select {
			case b := <-received:
				if b != "msg-1" {
					t.Fatalf("got %q", b)
				}
				dt := time.Since(restarted)
				t.Logf("consumption resumed %s after the restart", dt)
				if dt > 3*time.Second {
					t.Fatalf("resumed after %s, want < 3s", dt)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("consumption did not resume within 3s")
			}
			if st := c.Stats(); st.Connections != 1 {
				t.Fatalf("connections %d", st.Connections)
			}
		})
	}
}

func TestConsumerLookupdUnion(t *testing.T) {
	l1, l2 := testdaemon.Lookupd(t), testdaemon.Lookupd(t)
	o1, o2 := nsqdOptions(t), nsqdOptions(t)
	o1.NSQLookupdTCPAddresses = []string{l1.TCPAddr().String()}
	o2.NSQLookupdTCPAddresses = []string{l2.TCPAddr().String()}
	d1, d2 := startDaemon(t, o1), startDaemon(t, o2)
	publishN(t, d1.tcp(), "union", 0, 10)
	publishN(t, d2.tcp(), "union", 10, 10)
	waitRegistered(t, l1.HTTPAddr().String(), 1)
	waitRegistered(t, l2.HTTPAddr().String(), 1)

	cfg := testConfig()
	cfg.MaxInFlight = 10
	c := newTestConsumer(t, "union", "ch", cfg)
	var got atomic.Int64
	c.AddHandler(HandlerFunc(func(*Message) error { got.Add(1); return nil }))
	// One lookupd that is down does not matter; duplicates are ignored.
	err := c.ConnectToNSQLookupds([]string{"127.0.0.1:1", l1.HTTPAddr().String(), "http://" + l2.HTTPAddr().String() + "/lookup", l1.HTTPAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "20 messages from both nsqd", func() bool { return got.Load() == 20 })
	if st := c.Stats(); st.Connections != 2 {
		t.Fatalf("connections %d", st.Connections)
	}
	if err := c.ConnectToNSQLookupd("nope"); err == nil {
		t.Fatal("address without port accepted")
	}
	if err := c.DisconnectFromNSQLookupd("127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
}

// Graceful Stop: CLS, the in-flight messages are finished, then the
// connection closes; nothing is left in flight or requeued on nsqd.
func TestConsumerGracefulStop(t *testing.T) {
	d := startDaemon(t, nil)
	publishN(t, d.tcp(), "graceful", 0, 50)
	cfg := testConfig()
	cfg.MaxInFlight = 10
	c, err := NewConsumer("graceful", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 100)
	var finished atomic.Int64
	c.AddConcurrentHandlers(HandlerFunc(func(m *Message) error {
		started <- struct{}{}
		time.Sleep(100 * time.Millisecond)
		finished.Add(1)
		return nil
	}), 5)
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	<-started
	c.Stop()
	select {
	case <-c.StopChan:
	case <-time.After(10 * time.Second):
		t.Fatal("StopChan not closed")
	}
	st := c.Stats()
	if st.MessagesFinished != st.MessagesReceived || uint64(finished.Load()) != st.MessagesReceived || st.Connections != 0 {
		t.Fatalf("stats %+v, handlers finished %d", st, finished.Load())
	}
	// nsqd reads the last FINs and the disconnect a moment later.
	eventually(t, 2*time.Second, "nsqd saw every FIN and the disconnect", func() bool {
		cs := d.channelStats("graceful", "ch")
		return cs.InFlightCount == 0 && len(cs.Clients) == 0
	})
	cs := d.channelStats("graceful", "ch")
	if cs.RequeueCount != 0 || cs.TimeoutCount != 0 {
		t.Fatalf("nsqd channel after stop %+v", cs)
	}
	if cs.Depth != int64(50-st.MessagesReceived) {
		t.Fatalf("depth %d, received %d", cs.Depth, st.MessagesReceived)
	}
	if err := c.ConnectToNSQD(d.tcp()); !errors.Is(err, ErrStopped) {
		t.Fatalf("connect after stop: %v", err)
	}
	c.Stop() // idempotent
}

func TestConsumerStopTimeout(t *testing.T) {
	d := startDaemon(t, nil)
	publishN(t, d.tcp(), "stuck", 0, 1)
	cfg := testConfig()
	cfg.StopTimeout = 300 * time.Millisecond
	c, err := NewConsumer("stuck", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	inHandler := make(chan struct{})
	c.AddHandler(HandlerFunc(func(m *Message) error {
		close(inHandler)
		<-release
		return nil
	}))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	<-inHandler
	start := time.Now()
	c.Stop()
	select {
	case <-c.StopChan:
		if dt := time.Since(start); dt < 250*time.Millisecond || dt > 3*time.Second {
			t.Fatalf("stopped after %s", dt)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StopChan not closed after stop_timeout")
	}
	close(release)
	time.Sleep(50 * time.Millisecond) // let the handler return
}

// Heartbeats are answered by the reader goroutine even while every
// handler is busy for longer than two heartbeat intervals.
func TestConsumerHeartbeatsWhileHandlersBusy(t *testing.T) {
	d := startDaemon(t, nil)
	publishN(t, d.tcp(), "busy", 0, 3)
	cfg := testConfig()
	cfg.HeartbeatInterval = time.Second
	cfg.ReadTimeout = 1500 * time.Millisecond
	cfg.MaxInFlight = 3
	c := newTestConsumer(t, "busy", "ch", cfg)
	var handled atomic.Int64
	c.AddHandler(HandlerFunc(func(m *Message) error {
		if handled.Add(1) == 1 {
			time.Sleep(3500 * time.Millisecond)
		}
		return nil
	}))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "all handled", func() bool { return handled.Load() == 3 })
	eventually(t, 2*time.Second, "drained", func() bool { return d.pending("busy", "ch") == 0 })
	cs := d.channelStats("busy", "ch")
	if cs.TimeoutCount != 0 || cs.RequeueCount != 0 || c.Stats().MessagesReceived != 3 {
		t.Fatalf("connection was lost while handlers were busy: %+v", cs)
	}
}

func TestConsumerChangeMaxInFlightAndStarved(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.MaxInFlight = 4
	c := newTestConsumer(t, "mif", "ch", cfg)
	block := make(chan struct{})
	c.AddConcurrentHandlers(HandlerFunc(func(m *Message) error { <-block; return nil }), 4)
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	rdy := func() int64 {
		cs := d.channelStats("mif", "ch")
		if cs == nil || len(cs.Clients) == 0 {
			return -1
		}
		return cs.Clients[0].ReadyCount
	}
	eventually(t, 2*time.Second, "RDY 4", func() bool { return rdy() == 4 })
	c.ChangeMaxInFlight(0)
	eventually(t, 2*time.Second, "RDY 0", func() bool { return rdy() == 0 })
	c.ChangeMaxInFlight(4)
	eventually(t, 2*time.Second, "RDY 4 again", func() bool { return rdy() == 4 })
	if c.IsStarved() {
		t.Fatal("starved with nothing in flight")
	}
	publishN(t, d.tcp(), "mif", 0, 4)
	eventually(t, 2*time.Second, "starved", c.IsStarved)
	close(block)
	if got := strings.Join(c.Connections(), ","); got != d.tcp() {
		t.Fatalf("connections %q", got)
	}
}

func TestConsumerDisconnectFromNSQD(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.ReconnectInitialInterval = 20 * time.Millisecond
	c := newTestConsumer(t, "disc", "ch", cfg)
	c.AddHandler(HandlerFunc(func(*Message) error { return nil }))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	if err := c.DisconnectFromNSQD("127.0.0.1:1"); err == nil {
		t.Fatal("unknown address disconnected")
	}
	if err := c.DisconnectFromNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "disconnected", func() bool { return c.Stats().Connections == 0 })
	time.Sleep(200 * time.Millisecond)
	if c.Stats().Connections != 0 {
		t.Fatal("reconnected after DisconnectFromNSQD")
	}
}

// A lookupd answering in the legacy envelope (pre-1.0 format, no
// X-NSQ-Content-Type header) works too, and gets the Bearer token when
// auth_secret is set (skip_lookupd_authorization keeps its default).
func TestConsumerLegacyLookupdAndBearer(t *testing.T) {
	d := startDaemon(t, nil)
	publishN(t, d.tcp(), "legacy", 0, 5)
	host, port, _ := strings.Cut(d.tcp(), ":")
	var auth atomic.Value
	var queries atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		if r.URL.Path != "/lookup" || r.URL.Query().Get("topic") != "legacy" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"status_code":200,"status_txt":"OK","data":{"channels":["ch"],"producers":[{"broadcast_address":%q,"tcp_port":%s,"http_port":1,"version":"0.3.8"}]}}`, host, port)
	}))
	defer srv.Close()

	cfg := testConfig()
	cfg.AuthSecret = "tok"
	cfg.LookupdPollInterval = 50 * time.Millisecond
	c := newTestConsumer(t, "legacy", "ch", cfg)
	var got atomic.Int64
	c.AddHandler(HandlerFunc(func(*Message) error { got.Add(1); return nil }))
	if err := c.ConnectToNSQLookupd(srv.URL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "5 messages via the legacy lookupd", func() bool { return got.Load() == 5 })
	if a, _ := auth.Load().(string); a != "Bearer tok" {
		t.Fatalf("Authorization %q", a)
	}
	// Polling goes on (jittered, every lookupd_poll_interval).
	n := queries.Load()
	eventually(t, 5*time.Second, "more polls", func() bool { return queries.Load() >= n+2 })
	if st := c.Stats(); st.Connections != 1 {
		t.Fatalf("connections %d", st.Connections)
	}
}

// Pending counts the messages received and not yet taken by a handler.
func TestConsumerPending(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.MaxInFlight = 10
	c := newTestConsumer(t, "pending", "ch", cfg)
	if n := c.Pending(); n != 0 {
		t.Fatalf("Pending before connecting = %d", n)
	}
	taken := make(chan struct{})
	release := make(chan struct{})
	c.AddHandler(HandlerFunc(func(m *Message) error {
		taken <- struct{}{}
		<-release
		return nil
	}))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	publishN(t, d.tcp(), "pending", 0, 10)
	<-taken // the handler holds one message, nine wait
	eventually(t, 5*time.Second, "nine pending", func() bool { return c.Pending() == 9 })
	for want := 8; want >= 0; want-- {
		release <- struct{}{}
		<-taken
		if n := c.Pending(); n != want {
			t.Fatalf("Pending = %d, want %d", n, want)
		}
	}
	release <- struct{}{}
	eventually(t, 5*time.Second, "all finished", func() bool { return d.pending("pending", "ch") == 0 })
	if n := c.Pending(); n != 0 {
		t.Fatalf("Pending after all were handled = %d", n)
	}
	if st := c.Stats(); st.MessagesReceived != 10 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConsumerReconnectAfterLongOutage: after an outage long enough for the
// reconnect policy's wait to have grown well past a second, a returning
// nsqd is re-dialled within about a probe interval, not at the policy's
// next attempt (without the probe this test waits ~3 s longer and fails).
func TestConsumerReconnectAfterLongOutage(t *testing.T) {
	d := startDaemon(t, nil)
	publishN(t, d.tcp(), "outage", 0, 1)
	cfg := testConfig()
	cfg.LookupdPollInterval = 60 * time.Second
	// attempts 0.2, 0.6, 1.4, 3.0, then 6.2 s after the drop
	cfg.ReconnectInitialInterval = 200 * time.Millisecond
	cfg.ReconnectMaxInterval = 30 * time.Second
	cfg.ReconnectJitter = 0
	cfg.probeInterval = 100 * time.Millisecond
	c := newTestConsumer(t, "outage", "ch", cfg)
	received := make(chan string, 100)
	c.AddHandler(HandlerFunc(func(m *Message) error {
		received <- string(m.Body)
		return nil
	}))
	if err := c.ConnectToNSQD(d.tcp()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-received:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing consumed before the outage")
	}
	eventually(t, 2*time.Second, "FIN processed", func() bool { return d.pending("outage", "ch") == 0 })

	d.stop()
	time.Sleep(3300 * time.Millisecond)
	d.restart()
	restarted := time.Now()
	publishN(t, d.tcp(), "outage", 1, 1)
	select {
	case b := <-received:
		if b != "msg-1" {
			t.Fatalf("got %q", b)
		}
		dt := time.Since(restarted)
		t.Logf("consumption resumed %s after the nsqd came back", dt)
		if dt > 1500*time.Millisecond {
			t.Fatalf("resumed %s after the nsqd came back, want within ~1 s", dt)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("consumption did not resume within 5 s")
	}
}
