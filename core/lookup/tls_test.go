package lookup

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// tlsRequiredServer answers every request like nsqd with --tls-required on
// its plain HTTP listener.
func tlsRequiredServer(t *testing.T, httpsPort int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-NSQ-Content-Type", "nsq; version=1.0")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"message": "TLS_REQUIRED", "https_port": %d}`, httpsPort)
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

func TestTLSRequiredRetry(t *testing.T) {
	stats := fixture(t, "nsqd-a.stats.json")
	var tlsHits atomic.Int32
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsHits.Add(1)
		if r.URL.Path != "/stats" || r.URL.Query().Get("format") != "json" {
			http.NotFound(w, r)
			return
		}
		for k, v := range stats.header {
			w.Header()[k] = v
		}
		w.Write(stats.body)
	}))
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the unverified client's handshake error
	secure.StartTLS()
	t.Cleanup(secure.Close)
	httpsPort := secure.Listener.Addr().(*net.TCPAddr).Port
	plain, plainHits := tlsRequiredServer(t, httpsPort)
	addr := plain.Listener.Addr().String()

	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())
	tc := &tls.Config{RootCAs: pool}

	c := newClient(t, Options{TLSConfig: tc})
	for i := range 2 {
		st, err := c.Stats(t.Context(), addr, StatsQuery{IncludeClients: true, IncludeMem: true})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(st.Topics) != 3 {
			t.Fatalf("topics %d", len(st.Topics))
		}
	}
	// The upgrade is remembered: the plain listener was asked once.
	if plainHits.Load() != 1 || tlsHits.Load() != 2 {
		t.Errorf("plain hits %d, tls hits %d", plainHits.Load(), tlsHits.Load())
	}

	// Without the CA the retry fails on verification, naming the address.
	bad := newClient(t, Options{})
	if _, err := bad.Stats(t.Context(), addr, StatsQuery{}); err == nil {
		t.Error("unverified TLS accepted")
	}

	// Upgrade disabled: the 403 is an ErrTLSRequired with the port.
	off := newClient(t, Options{TLSConfig: tc, DisableTLSUpgrade: true})
	_, err := off.Stats(t.Context(), addr, StatsQuery{})
	var he *HTTPError
	if !errors.Is(err, ErrTLSRequired) || !errors.As(err, &he) || he.Status != 403 || he.HTTPSPort != httpsPort {
		t.Errorf("disabled upgrade: %v", err)
	}

	// No HTTPS listener announced (port 0): nothing to retry.
	zero, _ := tlsRequiredServer(t, 0)
	if err := c.Ping(t.Context(), zero.URL); !errors.Is(err, ErrTLSRequired) {
		t.Errorf("https_port 0: %v", err)
	}

	// A direct https:// address works too.
	if _, err := c.Stats(t.Context(), secure.URL, StatsQuery{}); err != nil {
		t.Errorf("https address: %v", err)
	}
}
