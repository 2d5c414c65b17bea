package archive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/nsqd"
	"github.com/nsqkit/nsqkit/core/nsqlookupd"
)

// testLogger writes to stderr with ARCHIVE_TEST_LOG set and -v.
func testLogger() *logger.Logger {
	if testing.Verbose() && os.Getenv("ARCHIVE_TEST_LOG") != "" {
		return logger.New(os.Stderr, "[archive] ", logger.Debug)
	}
	return logger.Discard()
}

func publish(t testing.TB, addr, topic string, bodies []string) {
	t.Helper()
	cfg := client.NewConfig()
	cfg.Logger = logger.Discard()
	p, err := client.NewProducer(cfg, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for len(bodies) > 0 {
		n := min(len(bodies), 1000)
		batch := make([][]byte, n)
		for i := range batch {
			batch[i] = []byte(bodies[i])
		}
		if err := p.MultiPublish(topic, batch); err != nil {
			t.Fatal(err)
		}
		bodies = bodies[n:]
	}
}

// drained reports whether nsqd's channel has nothing queued or in flight.
func drained(n *nsqd.NSQD, topic, channel string) bool {
	tp, err := n.GetExistingTopic(topic)
	if err != nil {
		return false
	}
	ch, err := tp.GetExistingChannel(channel)
	return err == nil && tp.Depth() == 0 && ch.Depth() == 0 && ch.InFlightCount() == 0
}

type runningArchiver struct {
	a       *Archiver
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

func runArchiver(t *testing.T, o *Options) *runningArchiver {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningArchiver{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if r.stopped {
			return
		}
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return")
		}
	})
	return r
}

func (r *runningArchiver) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	r.stopped = true
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func testArchiverOptions(t *testing.T) *Options {
	o := NewOptions()
	o.OutputDir = filepath.Join(t.TempDir(), "out")
	o.Logger = testLogger()
	o.Hostname = "host"
	// the last batch of a burst (nsqd not starved, nothing more coming)
	// waits for the sync interval
	o.SyncInterval = 100 * time.Millisecond
	cfg := client.NewConfig()
	cfg.Logger = o.Logger
	cfg.MaxAttempts = 0
	o.Client = cfg
	return o
}

func sameMultiset(t *testing.T, got, want []string) {
	t.Helper()
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if len(g) != len(w) {
		t.Fatalf("%d lines, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("line %q, want %q", g[i], w[i])
		}
	}
}

// TestArchiveFromNSQD drains a topic from a real nsqd, gzip and rotation
// on, and checks that nsqd only ever saw FINs for synced bytes: the
// channel's finished count never runs ahead of what the syncs covered.
func TestArchiveFromNSQD(t *testing.T) {
	n := testdaemon.NSQD(t)
	want := bodies(20000, "line-")
	publish(t, n.TCPAddr().String(), "arch", want)

	o := testArchiverOptions(t)
	o.Topics = []string{"arch"}
	o.NSQDTCPAddresses = []string{n.TCPAddr().String()}
	o.WorkDir = filepath.Join(filepath.Dir(o.OutputDir), "work")
	o.GZIP = true
	o.RotateSize = 50000
	o.MaxInFlight = 50
	var mu sync.Mutex
	var synced int64
	o.afterSync = func(string, []Acker) {
		mu.Lock()
		synced++
		mu.Unlock()
	}
	r := runArchiver(t, o)
	testutil.Eventually(t, 30*time.Second, "channel drained", func() bool { return drained(n, "arch", o.Channel) })
	r.stop(t)

	got := allLines(t, o.OutputDir)
	sameMultiset(t, got, want)
	if left := files(t, o.WorkDir); len(left) != 0 {
		t.Errorf("left in work dir: %v", left)
	}
	if nf := len(files(t, o.OutputDir)); nf < 3 {
		t.Errorf("%d files, want several (rotate-size)", nf)
	}
	if synced < int64(len(want)/o.MaxInFlight) {
		t.Errorf("%d syncs for %d messages with max-in-flight %d", synced, len(want), o.MaxInFlight)
	}
}

// TestFinishOnlyAfterSync checks against a real nsqd that no message is
// finished before an fsync covering its bytes.
func TestFinishOnlyAfterSync(t *testing.T) {
	n := testdaemon.NSQD(t)
	publish(t, n.TCPAddr().String(), "order", bodies(500, "x"))
	o := testArchiverOptions(t)
	o.Topics = []string{"order"}
	o.NSQDTCPAddresses = []string{n.TCPAddr().String()}
	o.MaxInFlight = 20
	rec := newRecorder()
	o.openFile = rec.open
	var violations atomic.Int64
	var checks atomic.Int64
	o.afterSync = func(_ string, acks []Acker) {
		// after the fsync, before the FINs: every message of the batch
		// is inside the synced prefix of its file
		for _, a := range acks {
			if !inSyncedPrefix(rec, string(a.(*client.Message).Body)) {
				violations.Add(1)
			}
		}
		checks.Add(1)
	}
	r := runArchiver(t, o)
	testutil.Eventually(t, 30*time.Second, "channel drained", func() bool { return drained(n, "order", o.Channel) })
	r.stop(t)
	if checks.Load() == 0 || violations.Load() != 0 {
		t.Fatalf("%d syncs, %d with unsynced bytes", checks.Load(), violations.Load())
	}
	sameMultiset(t, allLines(t, o.OutputDir), bodies(500, "x"))
}

// TestTopicDiscovery finds topics through lookupd at once (not after one
// --topic-refresh) and keeps only those matching --topic-pattern.
func TestTopicDiscovery(t *testing.T) {
	l := testdaemon.Lookupd(t)
	n := testdaemon.NSQD(t, testdaemon.RegisteredWith(l))
	publish(t, n.TCPAddr().String(), "logs_a", []string{"a1", "a2"})
	publish(t, n.TCPAddr().String(), "other", []string{"o1"})
	o := testArchiverOptions(t)
	o.TopicPattern = "^logs_"
	o.TopicRefresh = time.Hour
	o.LookupdHTTPAddresses = []string{l.HTTPAddr().String()}
	o.SyncInterval = 50 * time.Millisecond
	cfg := o.Client
	cfg.LookupdPollInterval = 50 * time.Millisecond
	testutil.Eventually(t, 10*time.Second, "topics registered", func() bool {
		return len(n.Topics()) == 2
	})
	waitLookupd(t, l, 2)
	r := runArchiver(t, o)
	testutil.Eventually(t, 20*time.Second, "logs_a drained", func() bool { return drained(n, "logs_a", o.Channel) })
	if got := r.a.Topics(); len(got) != 1 || got[0] != "logs_a" {
		t.Errorf("topics = %v", got)
	}
	r.stop(t)
	sameMultiset(t, allLines(t, o.OutputDir), []string{"a1", "a2"})
}

func waitLookupd(t *testing.T, l *nsqlookupd.NSQLookupd, topics int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d topics in lookupd", topics), func() bool {
		c := lookup.NewClient(lookup.Options{})
		defer c.Close()
		ts, err := c.Topics(context.Background(), l.HTTPAddr().String())
		return err == nil && len(ts) >= topics
	})
}

// TestUnreachableNSQD fails Run with a clear error instead of hanging.
func TestUnreachableNSQD(t *testing.T) {
	o := testArchiverOptions(t)
	o.Topics = []string{"t"}
	o.NSQDTCPAddresses = []string{"127.0.0.1:1"}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run succeeded against a closed port")
		}
		t.Logf("Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Run hangs on an unreachable nsqd")
	}
}
