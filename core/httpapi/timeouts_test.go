package httpapi

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// TestServerDropsStalledClients: a client that sends half the headers,
// half a body, or nothing more after a response loses its connection
// after the matching timeout (NSQ 1.3.0's servers would keep all three).
func TestServerDropsStalledClients(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return
		}
		io.WriteString(w, "OK")
	})
	srv := NewServerTimeouts(h, logger.New(io.Discard, "", logger.Info), Timeouts{
		ReadHeader: 200 * time.Millisecond,
		Read:       400 * time.Millisecond,
		Write:      time.Second,
		Idle:       300 * time.Millisecond,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	for _, tc := range []struct{ name, send string }{
		{"half the headers", "GET /ping HTTP/1.1\r\nHost: x\r\n"},
		{"half a body", "POST /pub HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"},
		{"idle after a response", "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			began := time.Now()
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadAll(conn) // until the server closes
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("connection still open after %s", time.Since(began))
			}
			t.Logf("closed after %s", time.Since(began).Round(time.Millisecond))
		})
	}
}

// TestDefaultTimeouts: the daemons' servers get every timeout.
func TestDefaultTimeouts(t *testing.T) {
	srv := NewServer(http.NotFoundHandler(), logger.New(io.Discard, "", logger.Info))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts: read header %s, read %s, write %s, idle %s",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	// a 30 s CPU profile (pprof's default) must fit in the write timeout
	if srv.WriteTimeout <= 30*time.Second {
		t.Fatalf("write timeout %s leaves no room for a 30 s profile", srv.WriteTimeout)
	}
}
