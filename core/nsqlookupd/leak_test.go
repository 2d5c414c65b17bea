package nsqlookupd

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestExitLeavesNothing runs a daemon with registered peers, an idle
// connection, a peer mid-IDENTIFY and HTTP traffic, and checks that Exit
// closes everything and leaves no goroutine behind.
func TestExitLeavesNothing(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	l, err := New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Main() }()

	a, b := buildFixtureCluster(t, l)
	idle := dialV1(t, l, false) // never sends the magic
	half := dialV1(t, l, true)  // IDENTIFY with a body still to come
	half.write("IDENTIFY\n\x00\x00\x01\x00{")
	hGet(t, l, "/nodes")
	hGet(t, l, "/debug/pprof/goroutine?debug=1")
	// an HTTP keep-alive connection left open
	keep := &http.Client{Timeout: 5 * time.Second}
	if resp, err := keep.Get("http://" + l.HTTPAddr().String() + "/ping"); err == nil {
		resp.Body.Close()
	}

	l.Exit()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return")
	}
	for _, p := range []*peerConn{a, b, idle, half} {
		p.expectClosed()
	}
	if _, err := net.DialTimeout("tcp", l.TCPAddr().String(), time.Second); err == nil {
		t.Fatal("TCP listener still open")
	}
	if _, err := net.DialTimeout("tcp", l.HTTPAddr().String(), time.Second); err == nil {
		t.Fatal("HTTP listener still open")
	}
	keep.CloseIdleConnections()
	l.Exit() // twice is fine
	goleak.VerifyNone(t, ignore)
}

// TestExitBeforeMain: Exit without Main releases the listeners, and a
// later Main returns at once.
func TestExitBeforeMain(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	l, err := New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	l.Exit()
	if err := l.Main(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
}

func TestNewErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct{ tcp, http string }{
		{taken.Addr().String(), "127.0.0.1:0"},
		{"127.0.0.1:0", taken.Addr().String()},
		{"nonsense", "127.0.0.1:0"},
	} {
		opts := testOptions()
		opts.TCPAddress, opts.HTTPAddress = tc.tcp, tc.http
		if _, err := New(opts); err == nil || !strings.HasPrefix(err.Error(), "listen (") {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}
