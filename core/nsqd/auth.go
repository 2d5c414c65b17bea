package nsqd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Auth server support (tcp-protocol.md 1.5.3 and 1.7, daemon-behaviour.md §9).
//
// All of a connection's auth work (AUTH and the gate of SUB/PUB/MPUB/DPUB)
// runs on its ioLoop goroutine, the only writer of client.auth; the writes
// hold metaMu so /stats can read through authInfo.

// authState is a connection's cached answer from the auth server. It is
// immutable once built; a re-query replaces it.
type authState struct {
	secret         string // the AUTH body, kept for re-queries
	identity       string
	identityURL    string
	expires        time.Time
	authorizations []authorization
}

// authorization is one entry of the auth server's answer with its regexes
// compiled.
type authorization struct {
	topic     *regexp.Regexp
	channels  []*regexp.Regexp
	subscribe bool
	publish   bool
}

// authResponse is the JSON the auth server answers with.
type authResponse struct {
	TTL            int    `json:"ttl"`
	Identity       string `json:"identity"`
	IdentityURL    string `json:"identity_url"`
	Authorizations []struct {
		Topic       string   `json:"topic"`
		Channels    []string `json:"channels"`
		Permissions []string `json:"permissions"`
	} `json:"authorizations"`
}

// maxAuthResponseSize bounds what is read of an auth server reply.
const maxAuthResponseSize = 32 << 20

func (n *NSQD) authEnabled() bool { return len(n.opts.AuthHTTPAddresses) > 0 }

// hasAuthorizations reports whether the connection has successfully AUTHed.
func (s *authState) hasAuthorizations() bool { return s != nil && len(s.authorizations) > 0 }

func (s *authState) expired(now time.Time) bool { return s.expires.Before(now) }

// allows reports whether an entry permits the action: the permission that
// the action needs (subscribe when channel != "", else publish), the topic
// regex matching and at least one channel regex matching. Regexes are
// unanchored.
func (a *authorization) allows(topic, channel string) bool {
	if channel != "" {
		if !a.subscribe {
			return false
		}
	} else if !a.publish {
		return false
	}
	if !a.topic.MatchString(topic) {
		return false
	}
	for _, re := range a.channels {
		if re.MatchString(channel) {
			return true
		}
	}
	return false
}

// allowed reports whether any entry permits the action.
func (s *authState) allowed(topic, channel string) bool {
	for i := range s.authorizations {
		if s.authorizations[i].allows(topic, channel) {
			return true
		}
	}
	return false
}

// /stats (stats.go) reads a client's auth status with metaMu read-locked.
func init() { clientAuthStats = (*client).authInfoLocked }

// authInfo is the connection's auth status for /stats: authed once AUTH
// succeeded, and the identity fields of the auth server's last answer.
func (c *client) authInfo() (authed bool, identity, identityURL string) {
	c.metaMu.RLock()
	defer c.metaMu.RUnlock()
	return c.authInfoLocked()
}

// authInfoLocked is authInfo with metaMu already held.
func (c *client) authInfoLocked() (authed bool, identity, identityURL string) {
	if c.auth == nil {
		return false, "", ""
	}
	return c.auth.hasAuthorizations(), c.auth.identity, c.auth.identityURL
}

func (c *client) setAuth(s *authState) {
	c.metaMu.Lock()
	c.auth = s
	c.metaMu.Unlock()
}

// checkAuth is the authorisation gate of SUB/PUB/MPUB/DPUB (channel "" for
// publishing). An expired answer is re-queried first.
func (c *client) checkAuth(cmd, topic, channel string) error {
	n := c.nsqd
	if !n.authEnabled() {
		return nil
	}
	st := c.auth // written only by this goroutine
	if !st.hasAuthorizations() {
		return wire.Fatal(wire.ErrCodeAuthFirst, "AUTH required before "+cmd)
	}
	if st.expired(time.Now()) {
		ns, err := c.queryAuth(st.secret)
		if err != nil {
			n.logger.Warnf("PROTOCOL(V2): [%s] auth failed %s", c.remoteAddr, err)
			return wire.Fatal(wire.ErrCodeAuthFailed, "AUTH failed")
		}
		c.setAuth(ns)
		st = ns
	}
	if !st.allowed(topic, channel) {
		return fatalf(wire.ErrCodeUnauthorized, "AUTH failed for %s on %q %q", cmd, topic, channel)
	}
	return nil
}

// authCmd runs AUTH<LF>[u32 size][secret].
func (c *client) authCmd(params [][]byte) ([]byte, error) {
	n := c.nsqd
	opts := n.opts
	if c.state.Load() != stateInit {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "cannot AUTH in current state")
	}
	if len(params) != 1 {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "AUTH invalid number of parameters")
	}
	size, err := c.reader.ReadSize()
	if err != nil {
		return nil, wire.Fatal(wire.ErrCodeBadBody, "AUTH failed to read body size")
	}
	if int64(size) > opts.MaxBodySize {
		return nil, fatalf(wire.ErrCodeBadBody, "AUTH body too big %d > %d", size, opts.MaxBodySize)
	}
	if size <= 0 {
		return nil, fatalf(wire.ErrCodeBadBody, "AUTH invalid body size %d", size)
	}
	body, err := c.reader.ReadBody(size)
	if err != nil {
		return nil, wire.Fatal(wire.ErrCodeBadBody, "AUTH failed to read body")
	}
	if c.auth.hasAuthorizations() {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "AUTH already set")
	}
	if !n.authEnabled() {
		return nil, wire.Fatal(wire.ErrCodeAuthDisabled, "AUTH disabled")
	}
	st, err := c.queryAuth(string(body))
	if err != nil {
		// The details may hold the auth server's answer: log only.
		n.logger.Warnf("PROTOCOL(V2): [%s] AUTH failed %s", c.remoteAddr, err)
		return nil, wire.Fatal(wire.ErrCodeAuthFailed, "AUTH failed")
	}
	c.setAuth(st)
	if !st.hasAuthorizations() {
		return nil, wire.Fatal(wire.ErrCodeUnauthorized, "AUTH no authorizations found")
	}
	resp, err := json.Marshal(wire.AuthResponse{
		Identity:        st.identity,
		IdentityURL:     st.identityURL,
		PermissionCount: len(st.authorizations),
	})
	if err != nil {
		return nil, wire.Fatal(wire.ErrCodeAuthError, "AUTH error "+err.Error())
	}
	return resp, nil
}

// queryAuth asks the auth servers about secret for this connection.
func (c *client) queryAuth(secret string) (*authState, error) {
	remoteIP := ""
	if ra := c.conn.RemoteAddr(); ra != nil && ra.Network() == "tcp" {
		if host, _, err := net.SplitHostPort(c.remoteAddr); err == nil {
			remoteIP = host
		}
	}
	c.metaMu.RLock()
	ts := c.tlsState
	c.metaMu.RUnlock()
	commonName := ""
	if ts != nil && len(ts.PeerCertificates) > 0 {
		commonName = ts.PeerCertificates[0].Subject.CommonName
	}
	return c.nsqd.queryAnyAuthd(remoteIP, ts != nil, commonName, secret)
}

// queryAnyAuthd tries the configured auth servers in turn, starting at a
// random one, and returns the first valid answer.
func (n *NSQD) queryAnyAuthd(remoteIP string, tlsEnabled bool, commonName, secret string) (*authState, error) {
	hc, err := n.authHTTP()
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	v.Set("remote_ip", remoteIP)
	v.Set("tls", strconv.FormatBool(tlsEnabled))
	v.Set("secret", secret)
	v.Set("common_name", commonName)
	query := v.Encode()

	addrs := n.opts.AuthHTTPAddresses
	start := rand.IntN(len(addrs))
	var lastErr error
	for i := range addrs {
		addr := addrs[(start+i)%len(addrs)]
		st, err := hc.query(authEndpoint(addr), query, secret)
		if err != nil {
			n.logger.Warnf("failed auth against %s - %s", addr, err)
			lastErr = err
			continue
		}
		return st, nil
	}
	return nil, lastErr
}

// authEndpoint turns an --auth-http-address into the URL to query.
func authEndpoint(addr string) string {
	if strings.Contains(addr, "://") {
		return addr
	}
	return "http://" + addr + "/auth"
}

// authHTTPClient is the HTTP client an NSQD queries its auth servers with.
type authHTTPClient struct {
	client *http.Client
	ctx    context.Context // cancelled when the NSQD exits
	err    error           // building the TLS config failed
}

// authClients holds one client per NSQD, created on first use and dropped
// (idle connections closed) when the NSQD exits.
var authClients struct {
	sync.Mutex
	m map[*NSQD]*authHTTPClient
}

var errAuthExiting = errors.New("nsqd is exiting")

func (n *NSQD) authHTTP() (*authHTTPClient, error) {
	authClients.Lock()
	defer authClients.Unlock()
	if hc := authClients.m[n]; hc != nil {
		return hc, hc.err
	}
	if n.exiting() {
		return nil, errAuthExiting
	}
	hc := newAuthHTTPClient(n.opts)
	if authClients.m == nil {
		authClients.m = make(map[*NSQD]*authHTTPClient)
	}
	authClients.m[n] = hc
	ctx, cancel := context.WithCancel(context.Background())
	hc.ctx = ctx
	// Queries run only on connection goroutines, which Exit waits for
	// (tcpConns) before it waits for background goroutines.
	n.goBackground(func() {
		<-n.exitChan
		cancel()
		n.tcpConns.Wait()
		if hc.client != nil {
			hc.client.CloseIdleConnections()
		}
		authClients.Lock()
		delete(authClients.m, n)
		authClients.Unlock()
	})
	return hc, hc.err
}

// newAuthHTTPClient builds the client: the connect and request timeouts,
// and for https the --tls-min-version and --tls-root-ca-file root CAs.
func newAuthHTTPClient(opts *Options) *authHTTPClient {
	tlsCfg := &tls.Config{MinVersion: opts.TLSMinVersion}
	if opts.TLSRootCAFile != "" {
		pool, err := loadCAPool(opts.TLSRootCAFile)
		if err != nil {
			return &authHTTPClient{err: fmt.Errorf("--tls-root-ca-file: %w", err)}
		}
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   opts.HTTPClientConnectTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ResponseHeaderTimeout: opts.HTTPClientRequestTimeout,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		TLSClientConfig:       tlsCfg,
	}
	return &authHTTPClient{client: &http.Client{Transport: tr, Timeout: opts.HTTPClientRequestTimeout}}
}

// query GETs endpoint?query, following a 403 {"https_port":N} once to
// https on port N, and validates the answer.
func (hc *authHTTPClient) query(endpoint, query, secret string) (*authState, error) {
	u := endpoint + "?" + query
	for {
		status, body, err := hc.get(u)
		if err != nil {
			return nil, err
		}
		if status == http.StatusOK {
			return parseAuthResponse(body, secret)
		}
		if status == http.StatusForbidden && !strings.HasPrefix(u, "https") {
			if u, err = httpsEndpoint(u, body); err != nil {
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("got response %d %s %q", status, http.StatusText(status), clip(body))
	}
}

func (hc *authHTTPClient) get(u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(hc.ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, redactURLError(err)
	}
	req.Header.Set("Accept", "application/vnd.nsq; version=1.0")
	resp, err := hc.client.Do(req)
	if err != nil {
		return 0, nil, redactURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthResponseSize+1))
	if err != nil {
		return 0, nil, redactURLError(err)
	}
	if len(body) > maxAuthResponseSize {
		return 0, nil, fmt.Errorf("response larger than %d bytes", maxAuthResponseSize)
	}
	return resp.StatusCode, body, nil
}

// clip shortens an auth server reply for the log.
func clip(b []byte) []byte {
	if len(b) > 512 {
		return b[:512]
	}
	return b
}

// redactURLError keeps the secret in the query string out of the logs.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %q: %w", ue.Op, stripQuery(ue.URL), ue.Err)
	}
	return err
}

func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// httpsEndpoint rewrites u to https on the port a 403 reply names.
func httpsEndpoint(u string, body []byte) (string, error) {
	var forbidden struct {
		HTTPSPort int `json:"https_port"`
	}
	if err := json.Unmarshal(body, &forbidden); err != nil {
		return "", fmt.Errorf("got response 403 %q", clip(body))
	}
	pu, err := url.Parse(u)
	if err != nil {
		return "", redactURLError(err)
	}
	host := pu.Hostname()
	pu.Scheme = "https"
	pu.Host = net.JoinHostPort(host, strconv.Itoa(forbidden.HTTPSPort))
	return pu.String(), nil
}

// parseAuthResponse validates a 200 answer and compiles its regexes.
func parseAuthResponse(body []byte, secret string) (*authState, error) {
	var r authResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("invalid response %q - %w", clip(body), err)
	}
	st := &authState{
		secret:         secret,
		identity:       r.Identity,
		identityURL:    r.IdentityURL,
		authorizations: make([]authorization, 0, len(r.Authorizations)),
	}
	for _, a := range r.Authorizations {
		var az authorization
		for _, p := range a.Permissions {
			switch p {
			case "subscribe":
				az.subscribe = true
			case "publish":
				az.publish = true
			default:
				return nil, fmt.Errorf("unknown permission %s", p)
			}
		}
		re, err := regexp.Compile(a.Topic)
		if err != nil {
			return nil, fmt.Errorf("unable to compile topic %q %s", a.Topic, err)
		}
		az.topic = re
		az.channels = make([]*regexp.Regexp, 0, len(a.Channels))
		for _, ch := range a.Channels {
			re, err := regexp.Compile(ch)
			if err != nil {
				return nil, fmt.Errorf("unable to compile channel %q %s", ch, err)
			}
			az.channels = append(az.channels, re)
		}
		st.authorizations = append(st.authorizations, az)
	}
	if r.TTL <= 0 {
		return nil, fmt.Errorf("invalid TTL %d (must be >0)", r.TTL)
	}
	ttl := time.Duration(math.MaxInt64)
	if int64(r.TTL) < int64(ttl/time.Second) {
		ttl = time.Duration(r.TTL) * time.Second
	}
	st.expires = time.Now().Add(ttl)
	return st, nil
}
