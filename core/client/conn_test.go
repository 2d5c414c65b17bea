package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testcerts"
	"github.com/nsqkit/nsqkit/core/wire"
)

// recorder is a ConnHandler that records what it gets.
type recorder struct {
	mu        sync.Mutex
	responses []string
	errs      []*wire.Error
	messages  int
	closed    chan error
}

func newRecorder() *recorder { return &recorder{closed: make(chan error, 1)} }

func (r *recorder) OnResponse(_ *Conn, data []byte) {
	r.mu.Lock()
	r.responses = append(r.responses, string(data))
	r.mu.Unlock()
}

func (r *recorder) OnError(_ *Conn, e *wire.Error) {
	r.mu.Lock()
	r.errs = append(r.errs, e)
	r.mu.Unlock()
}

func (r *recorder) OnMessage(*Conn, []byte) {
	r.mu.Lock()
	r.messages++
	r.mu.Unlock()
}

func (r *recorder) OnClose(_ *Conn, err error) { r.closed <- err }

func (r *recorder) responseCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.responses)
}

// tlsDaemonOptions are nsqd options with the test PKI.
func tlsDaemon(t *testing.T) (*daemon, *testcerts.Certs) {
	certs := testcerts.New(t)
	o := nsqdOptions(t)
	o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
	return startDaemon(t, o), certs
}

func TestConnFeatureNegotiation(t *testing.T) {
	d, certs := tlsDaemon(t)
	modes := []struct {
		name                 string
		tls, snappy, deflate bool
	}{
		{"plain", false, false, false},
		{"tls", true, false, false},
		{"snappy", false, true, false},
		{"deflate", false, false, true},
		{"tls+snappy", true, true, false},
		{"tls+deflate", true, false, true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.TLSV1, cfg.Snappy, cfg.Deflate = m.tls, m.snappy, m.deflate
			cfg.TLSRootCAFile = certs.CAFile
			cfg.ClientID = "conn-" + m.name
			rec := newRecorder()
			c, err := Dial(context.Background(), d.tcp(), cfg, rec)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			id := c.Identify()
			if id == nil || id.TLSv1 != m.tls || id.Snappy != m.snappy || id.Deflate != m.deflate {
				t.Fatalf("negotiated %+v", id)
			}
			// Pipelined publishes through the upgraded stream.
			for i := 0; i < 50; i++ {
				if err := c.Write(wire.Publish("conn_"+strings.ReplaceAll(m.name, "+", "_"), body(i))); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 5*time.Second, "50 OKs", func() bool { return rec.responseCount() == 50 })
			// nsqd sees the same features.
			st := d.nsqd().GetStats("", "", true)
			found := false
			for _, p := range st.Producers {
				if p.ClientID == cfg.ClientID {
					found = true
					if p.TLS != m.tls || p.Snappy != m.snappy || p.Deflate != m.deflate {
						t.Errorf("nsqd sees tls=%v snappy=%v deflate=%v", p.TLS, p.Snappy, p.Deflate)
					}
				}
			}
			if !found {
				t.Errorf("producer %s not in nsqd stats", cfg.ClientID)
			}
			c.Close()
			select {
			case err := <-rec.closed:
				if err != nil {
					t.Errorf("OnClose(%v) after Close", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no OnClose")
			}
			<-c.Done()
		})
	}
}

func TestConnHeartbeatsAnswered(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.HeartbeatInterval = time.Second
	cfg.ReadTimeout = 1500 * time.Millisecond
	rec := newRecorder()
	c, err := Dial(context.Background(), d.tcp(), cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); <-c.Done() }()
	// nsqd drops a client that misses two heartbeats (2 s) and we drop a
	// server silent for 1.5 s: both stay up only if heartbeats flow and
	// are answered.
	time.Sleep(3500 * time.Millisecond)
	select {
	case err := <-rec.closed:
		t.Fatalf("connection closed: %v", err)
	default:
	}
	if n := rec.responseCount(); n != 0 {
		t.Fatalf("heartbeats reached the handler: %v", rec.responses)
	}
	if err := c.Write(wire.Publish("hb", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "OK", func() bool { return rec.responseCount() == 1 })
}

func TestConnIdentifyRejected(t *testing.T) {
	d := startDaemon(t, nil)
	cfg := testConfig()
	cfg.HeartbeatInterval = 500 * time.Millisecond // nsqd accepts ≥ 1000 ms
	_, err := Dial(context.Background(), d.tcp(), cfg, newRecorder())
	if err == nil || !strings.Contains(err.Error(), "failed to IDENTIFY - E_BAD_BODY IDENTIFY heartbeat interval (500) is invalid") {
		t.Fatalf("err = %v", err)
	}
	cfg = testConfig()
	cfg.Snappy, cfg.Deflate = true, true // bypassing Validate
	_, err = Dial(context.Background(), d.tcp(), cfg, newRecorder())
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.ErrCodeIdentifyFailed {
		t.Fatalf("err = %v", err)
	}
}

func TestConnTLSVerification(t *testing.T) {
	d, _ := tlsDaemon(t)
	cfg := testConfig()
	cfg.TLSV1 = true
	cfg.TLSRootCAFile = testcerts.Other(t).CAFile
	if _, err := Dial(context.Background(), d.tcp(), cfg, newRecorder()); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("untrusted CA accepted: %v", err)
	}
	cfg.TLSRootCAFile = ""
	cfg.TLSInsecureSkipVerify = true
	c, err := Dial(context.Background(), d.tcp(), cfg, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-c.Done()
}

// authServer answers nsqd's /auth: everything allowed for secret "s3cret".
func authServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("secret") != "s3cret" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"NOT_AUTHORIZED"}`)
			return
		}
		fmt.Fprint(w, `{"ttl":3600,"identity":"tester","identity_url":"http://example.com/tester",
			"authorizations":[{"topic":".*","channels":[".*"],"permissions":["subscribe","publish"]}]}`)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestConnAuth(t *testing.T) {
	o := nsqdOptions(t)
	o.AuthHTTPAddresses = []string{authServer(t)}
	d := startDaemon(t, o)

	cfg := testConfig()
	if _, err := Dial(context.Background(), d.tcp(), cfg, newRecorder()); err == nil || err.Error() != "Auth Required" {
		t.Fatalf("without secret: %v", err)
	}
	cfg.AuthSecret = "wrong"
	if _, err := Dial(context.Background(), d.tcp(), cfg, newRecorder()); err == nil || !strings.Contains(err.Error(), "E_AUTH_FAILED") {
		t.Fatalf("wrong secret: %v", err)
	}
	cfg.AuthSecret = "s3cret"
	rec := newRecorder()
	c, err := Dial(context.Background(), d.tcp(), cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.AuthIdentity(); a == nil || a.Identity != "tester" || a.PermissionCount != 1 {
		t.Fatalf("auth %+v", a)
	}
	c.Write(wire.Publish("authed", []byte("x")))
	eventually(t, 2*time.Second, "OK", func() bool { return rec.responseCount() == 1 })
	c.Close()
	<-c.Done()

	// The producer too.
	p, err := NewProducer(cfg, d.tcp())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if err := p.Publish("authed", []byte("y")); err != nil {
		t.Fatal(err)
	}
}

func TestConnDialCancelled(t *testing.T) {
	// A server that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, ln.Addr().String(), testConfig(), newRecorder())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("cancel took %s", time.Since(start))
	}
	// read_timeout bounds the handshake too.
	cfg := testConfig()
	cfg.ReadTimeout = 300 * time.Millisecond
	cfg.HeartbeatInterval = 200 * time.Millisecond
	_, err = Dial(context.Background(), ln.Addr().String(), cfg, newRecorder())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v", err)
	}
}

func TestConnServerGone(t *testing.T) {
	d := startDaemon(t, nil)
	rec := newRecorder()
	c, err := Dial(context.Background(), d.tcp(), testConfig(), rec)
	if err != nil {
		t.Fatal(err)
	}
	d.stop()
	select {
	case err := <-rec.closed:
		if err == nil {
			t.Fatal("OnClose(nil) after the server went away")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
	}
	<-c.Done()
	if err := c.Write(wire.Nop()); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Write after close: %v", err)
	}
}
