package client

import (
	"io"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/nsqd"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogger writes to stderr with -v, nowhere otherwise.
func testLogger() *logger.Logger {
	if testing.Verbose() && os.Getenv("CLIENT_TEST_LOG") != "" {
		return logger.New(os.Stderr, "[client] ", logger.Debug)
	}
	return logger.Discard()
}

// testConfig is NewConfig with quiet logs and short timeouts.
func testConfig() *Config {
	cfg := NewConfig()
	cfg.Logger = testLogger()
	cfg.StopTimeout = 10 * time.Second
	return cfg
}

// daemon is an in-process nsqd that a test can kill and restart on the
// same address and data directory.
type daemon struct {
	t    testing.TB
	opts *nsqd.Options
	n    *nsqd.NSQD
	done chan error
	mu   sync.Mutex
}

func nsqdOptions(t testing.TB) *nsqd.Options {
	o := nsqd.NewOptions()
	o.TCPAddress = "127.0.0.1:0"
	o.HTTPAddress = "127.0.0.1:0"
	o.HTTPSAddress = ""
	o.DataPath = t.TempDir()
	o.BroadcastAddress = "127.0.0.1"
	o.LogLevel = logger.Warn
	o.LogOutput = io.Discard
	if testing.Verbose() && os.Getenv("NSQD_TEST_LOG") != "" {
		o.LogOutput = os.Stderr
	}
	return o
}

// startDaemon runs an nsqd with opts (nil: nsqdOptions) until the end of
// the test.
func startDaemon(t testing.TB, opts *nsqd.Options) *daemon {
	t.Helper()
	if opts == nil {
		opts = nsqdOptions(t)
	}
	d := &daemon{t: t, opts: opts}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	n, err := nsqd.New(d.opts)
	if err != nil {
		d.t.Fatalf("nsqd.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Main() }()
	d.mu.Lock()
	d.n, d.done = n, done
	d.mu.Unlock()
	// Later restarts reuse the same ports.
	d.opts.TCPAddress = n.TCPAddr().String()
	d.opts.HTTPAddress = n.HTTPAddr().String()
}

// stop shuts the nsqd down (clean exit: messages in memory go to disk).
func (d *daemon) stop() {
	d.mu.Lock()
	n, done := d.n, d.done
	d.n = nil
	d.mu.Unlock()
	if n == nil {
		return
	}
	n.Exit()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.t.Errorf("nsqd Main did not return after Exit")
	}
}

// restart kills the nsqd and starts a new one on the same address and
// data directory.
func (d *daemon) restart() {
	d.t.Helper()
	d.stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := nsqd.New(d.opts)
		if err == nil {
			done := make(chan error, 1)
			go func() { done <- n.Main() }()
			d.mu.Lock()
			d.n, d.done = n, done
			d.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("restart nsqd: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) nsqd() *nsqd.NSQD {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

func (d *daemon) tcp() string { return d.opts.TCPAddress }

// channelClients is the channel's client stats (nil if it does not exist).
func (d *daemon) channelStats(topic, channel string) *nsqd.ChannelStats {
	n := d.nsqd()
	if n == nil {
		return nil
	}
	st := n.GetStats(topic, channel, true)
	for _, ts := range st.Topics {
		for _, cs := range ts.Channels {
			if cs.ChannelName == channel {
				return &cs
			}
		}
	}
	return nil
}

// depth is the channel's depth plus its in-flight and deferred messages.
func (d *daemon) pending(topic, channel string) int64 {
	cs := d.channelStats(topic, channel)
	if cs == nil {
		return -1
	}
	return cs.Depth + int64(cs.InFlightCount) + int64(cs.DeferredCount)
}

func (d *daemon) topicCount(topic string) uint64 {
	st := d.nsqd().GetStats(topic, "", false)
	for _, ts := range st.Topics {
		if ts.TopicName == topic {
			return ts.MessageCount
		}
	}
	return 0
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, timeout, what, cond)
}

// stopConsumer stops c and waits for StopChan.
func stopConsumer(t testing.TB, c *Consumer) {
	t.Helper()
	c.Stop()
	select {
	case <-c.StopChan:
	case <-time.After(15 * time.Second):
		t.Fatalf("consumer did not stop")
	}
}

func body(i int) []byte { return []byte("msg-" + strconv.Itoa(i)) }
