// Package testdaemon runs our nsqd and nsqlookupd in process for other
// packages' tests: on 127.0.0.1 port 0, data in the test's temp dir,
// quiet, stopped (and waited for) when the test ends.
package testdaemon

import (
	"io"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/nsqd"
	"github.com/nsqkit/nsqkit/core/nsqlookupd"
)

// NSQD starts an nsqd; each edit may change the options first (e.g. set
// NSQLookupdTCPAddresses or MemQueueSize).
func NSQD(t testing.TB, edits ...func(*nsqd.Options)) *nsqd.NSQD {
	t.Helper()
	o := nsqd.NewOptions()
	o.TCPAddress = "127.0.0.1:0"
	o.HTTPAddress = "127.0.0.1:0"
	o.HTTPSAddress = ""
	o.DataPath = t.TempDir()
	o.BroadcastAddress = "127.0.0.1"
	o.LogOutput = io.Discard
	for _, edit := range edits {
		edit(o)
	}
	n, err := nsqd.New(o)
	if err != nil {
		t.Fatalf("nsqd.New: %v", err)
	}
	serve(t, "nsqd", n.Main, n.Exit)
	return n
}

// RegisteredWith is an NSQD edit registering the nsqd with a lookupd.
func RegisteredWith(l *nsqlookupd.NSQLookupd) func(*nsqd.Options) {
	return func(o *nsqd.Options) {
		o.NSQLookupdTCPAddresses = append(o.NSQLookupdTCPAddresses, l.TCPAddr().String())
	}
}

// Lookupd starts an nsqlookupd; each edit may change the options first.
func Lookupd(t testing.TB, edits ...func(*nsqlookupd.Options)) *nsqlookupd.NSQLookupd {
	t.Helper()
	o := nsqlookupd.NewOptions()
	o.TCPAddress = "127.0.0.1:0"
	o.HTTPAddress = "127.0.0.1:0"
	o.BroadcastAddress = "127.0.0.1"
	o.LogOutput = io.Discard
	for _, edit := range edits {
		edit(o)
	}
	l, err := nsqlookupd.New(o)
	if err != nil {
		t.Fatalf("nsqlookupd.New: %v", err)
	}
	serve(t, "nsqlookupd", l.Main, l.Exit)
	return l
}

// serve runs main until the test ends, then exits the daemon and waits
// for main to return.
func serve(t testing.TB, name string, main func() error, exit func()) {
	done := make(chan error, 1)
	go func() { done <- main() }()
	t.Cleanup(func() {
		exit()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not exit within 10s", name)
		}
	})
}
