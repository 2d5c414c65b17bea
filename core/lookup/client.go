package lookup

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/version"
)

// Defaults for the zero values of [Options] (those of nsqadmin).
const (
	DefaultConnectTimeout   = 2 * time.Second
	DefaultRequestTimeout   = 5 * time.Second
	DefaultMaxResponseBytes = 64 << 20
	DefaultMaxConcurrency   = 32
)

// AcceptHeader is what NSQ's own tools send; v1.3.0 daemons ignore it,
// older ones use it to choose the v1 format over the legacy envelope.
const AcceptHeader = "application/vnd.nsq; version=1.0"

// v1ContentType is the X-NSQ-Content-Type value marking the v1 format.
const v1ContentType = "nsq; version=1.0"

// Options configure a [Client]. The zero value is usable: every zero field
// takes its default.
type Options struct {
	// ConnectTimeout bounds dialing (and the TLS handshake). Default 2s.
	ConnectTimeout time.Duration
	// RequestTimeout bounds a whole request: dial, headers and body.
	// Default 5s. The context passed to each call can shorten it further.
	RequestTimeout time.Duration
	// TLSConfig is used for https:// addresses and for the retry over
	// HTTPS when nsqd answers TLS_REQUIRED. Nil means Go's defaults.
	TLSConfig *tls.Config
	// DisableTLSUpgrade turns the TLS_REQUIRED retry off: the 403 is then
	// returned as an [*HTTPError] matching [ErrTLSRequired].
	DisableTLSUpgrade bool
	// UserAgent defaults to "nsqkit/<version>".
	UserAgent string
	// MaxResponseBytes caps a response body. Default 64 MiB.
	MaxResponseBytes int64
	// MaxConcurrency caps the requests in flight of one multi-address call
	// (the *All methods, Snapshot). Default 32.
	MaxConcurrency int
	// HTTPClient replaces the client built from the options above (its own
	// transport and timeouts then apply). For tests and special transports.
	HTTPClient *http.Client
}

// Client talks HTTP to nsqd and nsqlookupd. It is safe for concurrent use;
// make one per tool or daemon and Close it when done.
type Client struct {
	hc        *http.Client
	ua        string
	maxBody   int64
	maxConc   int
	tlsConfig *tls.Config
	noUpgrade bool

	mu       sync.Mutex
	upgraded map[string]*url.URL // http base URL → https base URL (TLS_REQUIRED)
}

// NewClient makes a Client from opts.
func NewClient(opts Options) *Client {
	c := &Client{
		ua:        opts.UserAgent,
		maxBody:   opts.MaxResponseBytes,
		maxConc:   opts.MaxConcurrency,
		tlsConfig: opts.TLSConfig,
		noUpgrade: opts.DisableTLSUpgrade,
		upgraded:  make(map[string]*url.URL),
	}
	if c.ua == "" {
		c.ua = "nsqkit/" + version.Nsqkit
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.maxConc <= 0 {
		c.maxConc = DefaultMaxConcurrency
	}
	if opts.HTTPClient != nil {
		c.hc = opts.HTTPClient
		return c
	}
	connect := opts.ConnectTimeout
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	request := opts.RequestTimeout
	if request <= 0 {
		request = DefaultRequestTimeout
	}
	var tc *tls.Config
	if opts.TLSConfig != nil {
		tc = opts.TLSConfig.Clone()
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: request,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	c.hc = &http.Client{Transport: tr, Timeout: request}
	return c
}

// Close releases the idle connections the client keeps.
func (c *Client) Close() {
	c.hc.CloseIdleConnections()
}

// IsTimeout reports whether err is a timeout: a dial, header or body
// timeout of the client, or an expired context deadline.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ParseAddr turns "host:port" or "http(s)://host[:port][/prefix]" into the
// base URL requests are made against. A port is mandatory without a scheme;
// an empty host means 127.0.0.1.
func ParseAddr(addr string) (*url.URL, error) {
	a := strings.TrimSpace(addr)
	if a == "" {
		return nil, errors.New("empty address")
	}
	if strings.Contains(a, "://") {
		u, err := url.Parse(a)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("address %q: unsupported scheme %q", addr, u.Scheme)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("address %q: missing host", addr)
		}
		return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimRight(u.Path, "/")}, nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if port == "" {
		return nil, fmt.Errorf("address %q: missing port", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, fmt.Errorf("address %q: invalid port %q", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}, nil
}

// addrKey is the identity of an address for de-duplication: "host:port"
// for plain http, the URL otherwise (or the text itself if unparsable).
func addrKey(addr string) string {
	u, err := ParseAddr(addr)
	if err != nil {
		return strings.TrimSpace(addr)
	}
	if u.Scheme == "http" && u.Path == "" {
		return u.Host
	}
	return u.String()
}

// dedupAddrs drops repeated addresses (by addrKey), keeping the first
// spelling and the order.
func dedupAddrs(addrs []string) []string {
	seen := make(map[string]bool, len(addrs))
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		k := addrKey(a)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	return out
}

// request is one call: what to send, where.
type request struct {
	method string
	addr   string // as the caller gave it
	path   string // "/stats"
	query  url.Values
	body   []byte // POST body, nil for none
}

// reply is what came back.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *request) where() string { return r.method + " " + r.addr + r.path }

// do runs req and decodes the answer into out (nil: only check success).
func (c *Client) do(ctx context.Context, req request, out any) error {
	base, err := ParseAddr(req.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", req.where(), err)
	}
	httpBase := base.String()
	if up := c.upgradedBase(httpBase); up != nil {
		base = up
	}
	rep, err := c.roundTrip(ctx, base, req)
	if err != nil {
		return err
	}
	if rep.status == http.StatusForbidden && base.Scheme == "http" && !c.noUpgrade {
		if msg, port := errorMessage(rep.body); msg == "TLS_REQUIRED" && port > 0 {
			up := &url.URL{Scheme: "https", Host: net.JoinHostPort(base.Hostname(), strconv.Itoa(port)), Path: base.Path}
			rep, err = c.roundTrip(ctx, up, req)
			if err != nil {
				return fmt.Errorf("TLS_REQUIRED, retried over https://%s: %w", up.Host, err)
			}
			if rep.status != http.StatusForbidden {
				c.mu.Lock()
				c.upgraded[httpBase] = up
				c.mu.Unlock()
			}
		}
	}
	return c.decode(req, rep, out)
}

func (c *Client) upgradedBase(httpBase string) *url.URL {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.upgraded[httpBase]
}

func (c *Client) roundTrip(ctx context.Context, base *url.URL, req request) (*reply, error) {
	u := *base
	u.Path = base.Path + req.path
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	var body io.Reader = http.NoBody
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.where(), err)
	}
	hreq.Header.Set("Accept", AcceptHeader)
	hreq.Header.Set("User-Agent", c.ua)
	if req.body != nil {
		hreq.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.where(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading response: %w", req.where(), unwrapURLError(err))
	}
	if int64(len(b)) > c.maxBody {
		return nil, fmt.Errorf("%s: response larger than %d bytes", req.where(), c.maxBody)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// unwrapURLError drops *url.Error, whose text repeats the URL we already
// name; the cause (and its Timeout method) stays in the chain.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// decode checks the reply's status and decodes its body into out, with or
// without the legacy envelope.
func (c *Client) decode(req request, rep *reply, out any) error {
	if rep.status < 200 || rep.status > 299 {
		msg, port := errorMessage(rep.body)
		if msg == "" {
			msg = http.StatusText(rep.status)
		}
		return &HTTPError{Addr: req.addr, Method: req.method, Path: req.path, Status: rep.status, Message: msg, HTTPSPort: port}
	}
	body := bytes.TrimSpace(rep.body)
	// The v1 header means no envelope; without it, look for one (a legacy
	// daemon, or a proxy that dropped the header).
	if !isV1(rep.header) {
		if data, code, txt, ok := unwrapLegacy(body); ok {
			if code != 200 {
				if txt == "" {
					txt = http.StatusText(code)
				}
				return &HTTPError{Addr: req.addr, Method: req.method, Path: req.path, Status: code, Message: txt}
			}
			body = bytes.TrimSpace(data)
			if bytes.Equal(body, []byte("null")) {
				body = nil
			}
		}
	}
	if out == nil {
		return nil
	}
	if len(body) == 0 {
		body = []byte("{}") // as go-nsq: an empty answer is an empty object
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: decoding response: %w", req.where(), err)
	}
	return nil
}

func isV1(h http.Header) bool {
	v := strings.TrimSpace(h.Get("X-NSQ-Content-Type"))
	return strings.EqualFold(v, v1ContentType)
}

// unwrapLegacy recognises {"status_code":N,"status_txt":…,"data":…}: an
// object with a numeric status_code, which no v1 answer has at top level.
func unwrapLegacy(body []byte) (data json.RawMessage, code int, txt string, ok bool) {
	if len(body) == 0 || body[0] != '{' || !bytes.Contains(body, []byte(`"status_code"`)) {
		return nil, 0, "", false
	}
	var env struct {
		StatusCode *int            `json:"status_code"`
		StatusTxt  string          `json:"status_txt"`
		Data       json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.StatusCode == nil {
		return nil, 0, "", false
	}
	return env.Data, *env.StatusCode, env.StatusTxt, true
}

// errorMessage extracts the text of an error body: {"message":…} (v1, with
// nsqd's https_port for TLS_REQUIRED), the legacy status_txt, or the body
// as text.
func errorMessage(body []byte) (msg string, httpsPort int) {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '{' {
		var e struct {
			Message   *string `json:"message"`
			HTTPSPort int     `json:"https_port"`
			StatusTxt *string `json:"status_txt"`
		}
		if json.Unmarshal(b, &e) == nil {
			switch {
			case e.Message != nil:
				return *e.Message, e.HTTPSPort
			case e.StatusTxt != nil:
				return *e.StatusTxt, 0
			}
		}
	}
	s := string(b)
	if len(s) > 256 {
		s = s[:256] + "…"
	}
	return s, 0
}
