package nsqd

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/wire"
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

// rawConn is a bare V2 protocol connection for tests of exact bytes.
type rawConn struct {
	t    testing.TB
	conn net.Conn
}

func dialRaw(t testing.TB, n *NSQD) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.TCPAddr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawConn) cmd(c *wire.Command) { r.write(c.Append(nil)) }

// frame reads one frame (skipping heartbeats) within 2 s.
func (r *rawConn) frame() (int32, []byte, error) {
	for {
		r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		ft, data, err := wire.ReadFrame(r.conn, 0)
		if err == nil && ft == wire.FrameTypeResponse && wire.IsHeartbeat(data) {
			continue
		}
		return ft, data, err
	}
}

// expect reads one frame and checks its type and data.
func (r *rawConn) expect(ft int32, data string) {
	r.t.Helper()
	gotT, got, err := r.frame()
	if err != nil {
		r.t.Fatalf("reading frame (want %d %q): %v", ft, data, err)
	}
	if gotT != ft || string(got) != data {
		r.t.Fatalf("frame = %d %q, want %d %q", gotT, got, ft, data)
	}
}

// expectClosed checks the server closes the connection without more frames.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := r.conn.Read(buf)
	if err == nil {
		r.t.Fatalf("connection still open, read %q", buf[:n])
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		r.t.Fatalf("connection not closed within 2s")
	}
}
