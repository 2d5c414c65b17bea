package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// lookupdPoller asks nsqlookupd(s) what to connect to: once right away
// when the first lookupd is added, then every lookupd_poll_interval after
// a random initial jitter, and whenever trigger is called.
type lookupdPoller struct {
	cfg    *Config
	client *lookup.Client
	query  func(ctx context.Context, addrs []string)

	mu      sync.Mutex
	addrs   []string
	running bool

	qmu     sync.Mutex // one query at a time
	trigger chan struct{}
	ctx     context.Context // cancelled by close: ends the loop and any query
	cancel  context.CancelFunc
	done    chan struct{}
}

func newLookupdPoller(cfg *Config, query func(ctx context.Context, addrs []string)) *lookupdPoller {
	ctx, cancel := context.WithCancel(context.Background())
	return &lookupdPoller{
		cfg:     cfg,
		client:  newLookupClient(cfg),
		query:   query,
		trigger: make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
}

// newLookupClient is a lookup.Client bounded by lookupd_poll_timeout that
// sends "Authorization: Bearer <auth_secret>" when auth_secret is set and
// skip_lookupd_authorization keeps its (inverted) default true.
func newLookupClient(cfg *Config) *lookup.Client {
	timeout := cfg.LookupdPollTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		ResponseHeaderTimeout: timeout,
		TLSHandshakeTimeout:   timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	if cfg.TLSConfig != nil {
		tr.TLSClientConfig = cfg.TLSConfig.Clone()
	}
	var rt http.RoundTripper = tr
	if cfg.AuthSecret != "" && cfg.SkipLookupdAuthorization {
		rt = bearer{base: tr, token: "Bearer " + cfg.AuthSecret}
	}
	return lookup.NewClient(lookup.Options{
		UserAgent:  cfg.UserAgent,
		HTTPClient: &http.Client{Transport: rt, Timeout: timeout},
	})
}

type bearer struct {
	base  *http.Transport
	token string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", b.token)
	return b.base.RoundTrip(r)
}

func (b bearer) CloseIdleConnections() { b.base.CloseIdleConnections() }

// normalizeLookupdAddr checks a lookupd address: "host:port" (port
// mandatory) or an http(s) URL; a trailing "/lookup" path is dropped since
// the lookup client adds it.
func normalizeLookupdAddr(addr string) (string, error) {
	a := strings.TrimSpace(addr)
	if strings.Contains(a, "://") {
		a = strings.TrimSuffix(strings.TrimRight(a, "/"), "/lookup")
	}
	if _, err := lookup.ParseAddr(a); err != nil {
		return "", fmt.Errorf("invalid lookupd address: %w", err)
	}
	return a, nil
}

// add registers a lookupd; the first one starts the poll loop after one
// synchronous query. Duplicates are ignored.
func (l *lookupdPoller) add(addrs ...string) error {
	var norm []string
	for _, a := range addrs {
		n, err := normalizeLookupdAddr(a)
		if err != nil {
			return err
		}
		norm = append(norm, n)
	}
	l.mu.Lock()
	if l.ctx.Err() != nil {
		l.mu.Unlock()
		return ErrStopped
	}
	for _, n := range norm {
		dup := false
		for _, have := range l.addrs {
			if have == n {
				dup = true
			}
		}
		if !dup {
			l.addrs = append(l.addrs, n)
		}
	}
	start := !l.running && len(l.addrs) > 0
	l.running = l.running || start
	l.mu.Unlock()
	if start {
		l.queryNow()
		go l.loop()
	} else {
		l.kick()
	}
	return nil
}

// remove drops a lookupd address.
func (l *lookupdPoller) remove(addr string) bool {
	n, err := normalizeLookupdAddr(addr)
	if err != nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, a := range l.addrs {
		if a == n {
			l.addrs = append(l.addrs[:i], l.addrs[i+1:]...)
			return true
		}
	}
	return false
}

func (l *lookupdPoller) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.addrs...)
}

// kick asks for a query as soon as possible.
func (l *lookupdPoller) kick() {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

func (l *lookupdPoller) queryNow() {
	addrs := l.list()
	if len(addrs) == 0 {
		return
	}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if l.ctx.Err() != nil {
		return
	}
	l.query(l.ctx, addrs)
}

func (l *lookupdPoller) loop() {
	defer close(l.done)
	stop := l.ctx.Done()
	// First a random part of one interval (lookupd_poll_jitter), so that
	// many clients started together do not poll together; a trigger
	// meanwhile is served at once.
	jitter := time.Duration(rand.Float64() * l.cfg.LookupdPollJitter * float64(l.cfg.LookupdPollInterval))
	t := time.NewTimer(jitter)
	for waiting := true; waiting; {
		select {
		case <-t.C:
			waiting = false
		case <-l.trigger:
			l.queryNow()
		case <-stop:
			t.Stop()
			return
		}
	}
	ticker := time.NewTicker(l.cfg.LookupdPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
		case <-l.trigger:
		case <-stop:
			return
		}
		l.queryNow()
	}
}

// close stops the loop, waits for it and releases idle HTTP connections.
func (l *lookupdPoller) close() {
	l.mu.Lock()
	l.cancel()
	running := l.running
	l.mu.Unlock()
	if running {
		<-l.done
	}
	l.client.Close()
}
