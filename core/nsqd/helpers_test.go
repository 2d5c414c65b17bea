package nsqd

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// testLog collects a daemon's log lines for a test.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   testing.TB
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testOptions are defaults on 127.0.0.1 port 0 in a temp dir.
func testOptions(t testing.TB) *Options {
	o := NewOptions()
	o.TCPAddress = "127.0.0.1:0"
	o.HTTPAddress = "127.0.0.1:0"
	o.HTTPSAddress = "127.0.0.1:0"
	o.DataPath = t.TempDir()
	o.BroadcastAddress = "127.0.0.1"
	o.LogLevel = logger.Debug
	if testing.Verbose() {
		o.LogOutput = nil
	} else {
		o.LogOutput = io.Discard
	}
	return o
}

// startNSQD starts a broker with opts and stops it at the end of the test.
func startNSQD(t testing.TB, opts *Options) *NSQD {
	t.Helper()
	n, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Main() }()
	t.Cleanup(func() {
		n.Exit()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("Main did not return after Exit")
		}
	})
	return n
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
