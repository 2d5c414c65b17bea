package nsqd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
	"go.uber.org/goleak"

	"github.com/nsqkit/nsqkit/core/wire"
)

// ---- test auth server -------------------------------------------------------

// azReq is what the test auth server saw of one request.
type azReq struct {
	Method   string
	Path     string
	RawQuery string
	Query    url.Values
	Accept   string
}

// azServer is an auth server on 127.0.0.1 whose answer tests can change.
type azServer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	status   int
	body     string
	reqs     []azReq
	newConns atomic.Int64
}

func newAzServer(t testing.TB, status int, body string) *azServer {
	t.Helper()
	a := &azServer{status: status, body: body}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			a.newConns.Add(1)
		}
	}
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a
}

func (a *azServer) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.reqs = append(a.reqs, azReq{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Query:    r.URL.Query(),
		Accept:   r.Header.Get("Accept"),
	})
	status, body := a.status, a.body
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (a *azServer) set(status int, body string) {
	a.mu.Lock()
	a.status, a.body = status, body
	a.mu.Unlock()
}

func (a *azServer) requests() []azReq {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]azReq(nil), a.reqs...)
}

// addr is the host:port form of the server's address.
func (a *azServer) addr() string { return a.srv.Listener.Addr().String() }

// azJSON builds an auth server answer.
func azJSON(ttl int, authz string) string {
	return fmt.Sprintf(`{"ttl":%d,"identity":"user","identity_url":"http://x/u","authorizations":%s}`, ttl, authz)
}

const (
	azAll      = `[{"topic":".*","channels":[".*"],"permissions":["subscribe","publish"]}]`
	azOrdersRW = `[{"topic":"^orders$","channels":[".*"],"permissions":["publish"]},` +
		`{"topic":"^orders$","channels":["^billing$"],"permissions":["subscribe"]}]`
)

// startAzNSQD starts nsqd with the given auth addresses and log capture.
func startAzNSQD(t testing.TB, addrs ...string) (*NSQD, *testLog) {
	t.Helper()
	opts := testOptions(t)
	opts.AuthHTTPAddresses = addrs
	opts.HTTPClientConnectTimeout = time.Second
	opts.HTTPClientRequestTimeout = 2 * time.Second
	log := &testLog{t: t}
	opts.LogOutput = log
	return startNSQD(t, opts), log
}

// azDeadAddr is a 127.0.0.1 address that refuses connections.
func azDeadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// ---- raw V2 client ----------------------------------------------------------

type azConn struct {
	t    testing.TB
	conn net.Conn
}

func azDial(t testing.TB, n *NSQD) *azConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.TCPAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &azConn{t: t, conn: conn}
	c.write(wire.MagicV2)
	return c
}

func (c *azConn) write(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *azConn) send(cmd *wire.Command) {
	c.t.Helper()
	c.write(cmd.Append(nil))
}

// frame reads the next non-heartbeat frame.
func (c *azConn) frame() (int32, []byte, error) {
	for {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		ft, data, err := wire.ReadFrame(c.conn, 1<<20)
		if err != nil || ft != wire.FrameTypeResponse || !wire.IsHeartbeat(data) {
			return ft, data, err
		}
	}
}

func (c *azConn) expectResponse(want string) {
	c.t.Helper()
	got := c.response()
	if string(got) != want {
		c.t.Fatalf("response %q, want %q", got, want)
	}
}

func (c *azConn) response() []byte {
	c.t.Helper()
	ft, data, err := c.frame()
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	if ft != wire.FrameTypeResponse {
		c.t.Fatalf("frame type %d %q, want a response", ft, data)
	}
	return data
}

// expectFatal reads an error frame with the exact text, then expects the
// server to have closed the connection.
func (c *azConn) expectFatal(want string) {
	c.t.Helper()
	ft, data, err := c.frame()
	if err != nil {
		c.t.Fatalf("reading error frame %q: %v", want, err)
	}
	if ft != wire.FrameTypeError || string(data) != want {
		c.t.Fatalf("frame type %d %q, want error %q", ft, data, want)
	}
	c.expectClosed()
}

func (c *azConn) expectClosed() {
	c.t.Helper()
	ft, data, err := c.frame()
	if err == nil {
		c.t.Fatalf("connection still open: frame type %d %q", ft, data)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection not closed: %v", err)
	}
}

// identify sends IDENTIFY with feature negotiation and returns the reply.
func (c *azConn) identify(extra map[string]any) wire.IdentifyResponse {
	c.t.Helper()
	req := map[string]any{"feature_negotiation": true, "client_id": "test"}
	for k, v := range extra {
		req[k] = v
	}
	js, _ := json.Marshal(req)
	c.send(wire.Identify(js))
	data := c.response()
	var resp wire.IdentifyResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		c.t.Fatalf("IDENTIFY reply %q: %v", data, err)
	}
	return resp
}

// auth sends AUTH and returns the response frame's data.
func (c *azConn) auth(secret string) string {
	c.t.Helper()
	c.send(wire.Auth(secret))
	return string(c.response())
}

// azSession dials, IDENTIFYs and AUTHs successfully.
func azSession(t testing.TB, n *NSQD, secret string) *azConn {
	t.Helper()
	c := azDial(t, n)
	c.identify(nil)
	c.auth(secret)
	return c
}

func azSize(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

func azHalfClose(t testing.TB, c *azConn) {
	t.Helper()
	if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// ---- tests ------------------------------------------------------------------

func TestAuthIdentifyAuthRequired(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	n, _ := startAzNSQD(t, a.addr())
	if resp := azDial(t, n).identify(nil); !resp.AuthRequired {
		t.Fatalf("auth_required false with an auth server configured")
	}
	plain := startNSQD(t, testOptions(t))
	if resp := azDial(t, plain).identify(nil); resp.AuthRequired {
		t.Fatalf("auth_required true without an auth server")
	}
}

func TestAuthSuccess(t *testing.T) {
	a := newAzServer(t, 200, `{"ttl":3600,"identity":"user","identity_url":"https://example/users/user",`+
		`"authorizations":[{"topic":"^orders$","channels":[".*"],"permissions":["subscribe","publish"]},`+
		`{"topic":"x","channels":[],"permissions":[]}]}`)
	n, _ := startAzNSQD(t, a.addr())
	c := azDial(t, n)
	if resp := c.identify(nil); !resp.AuthRequired {
		t.Fatal("auth_required false")
	}
	got := c.auth("secret")
	if want := `{"identity":"user","identity_url":"https://example/users/user","permission_count":2}`; got != want {
		t.Fatalf("AUTH reply %s, want %s", got, want)
	}

	// /stats accessor
	n.clientsMu.RLock()
	var infos [][3]any
	for _, cl := range n.clients {
		authed, id, idURL := cl.authInfo()
		infos = append(infos, [3]any{authed, id, idURL})
	}
	n.clientsMu.RUnlock()
	if len(infos) != 1 || infos[0] != [3]any{true, "user", "https://example/users/user"} {
		t.Fatalf("authInfo %v", infos)
	}

	c.send(wire.Publish("orders", []byte("a")))
	c.expectResponse("OK")
	c.send(wire.MultiPublish("orders", [][]byte{[]byte("b"), []byte("c")}))
	c.expectResponse("OK")
	c.send(wire.DeferredPublish("orders", 10, []byte("d")))
	c.expectResponse("OK")
	c.send(wire.Subscribe("orders", "ch"))
	c.expectResponse("OK")
	if reqs := a.requests(); len(reqs) != 1 {
		t.Fatalf("auth server queried %d times, want 1 (cached)", len(reqs))
	}
}

// /stats shows authed, auth_identity and auth_identity_url of a client.
func TestAuthStats(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	n, _ := startAzNSQD(t, a.addr())
	sub := azSession(t, n, "s")
	sub.send(wire.Subscribe("st", "ch"))
	sub.expectResponse("OK")
	pub := azSession(t, n, "s")
	pub.send(wire.Publish("st", []byte("x")))
	pub.expectResponse("OK")
	unauthed := azDial(t, n)
	unauthed.send(wire.Subscribe("st", "ch2"))
	unauthed.expectFatal("E_AUTH_FIRST AUTH required before SUB")

	resp, err := http.Get("http://" + n.HTTPAddr().String() + "/stats?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Topics []struct {
			Channels []struct {
				Clients []map[string]any `json:"clients"`
			} `json:"channels"`
		} `json:"topics"`
		Producers []map[string]any `json:"producers"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/stats %s: %v", body, err)
	}
	var clients []map[string]any
	for _, tp := range st.Topics {
		for _, ch := range tp.Channels {
			clients = append(clients, ch.Clients...)
		}
	}
	clients = append(clients, st.Producers...)
	if len(clients) != 2 {
		t.Fatalf("/stats clients %v, want the subscriber and the producer", clients)
	}
	for _, cl := range clients {
		if cl["authed"] != true || cl["auth_identity"] != "user" || cl["auth_identity_url"] != "http://x/u" {
			t.Fatalf("/stats client %v", cl)
		}
	}
}

func TestAuthCommandErrors(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	opts := testOptions(t)
	opts.AuthHTTPAddresses = []string{a.addr()}
	opts.MaxBodySize = 100
	n := startNSQD(t, opts)
	plain := startNSQD(t, testOptions(t))

	tests := []struct {
		name string
		nsqd *NSQD
		run  func(t *testing.T, c *azConn)
		want string
	}{
		{"state not init", n, func(t *testing.T, c *azConn) {
			c.identify(nil)
			c.auth("s")
			c.send(wire.Subscribe("t", "c"))
			c.expectResponse("OK")
			c.send(wire.Auth("s"))
		}, "E_INVALID cannot AUTH in current state"},
		{"extra parameter", n, func(t *testing.T, c *azConn) {
			c.write([]byte("AUTH x\n"))
		}, "E_INVALID AUTH invalid number of parameters"},
		{"empty extra parameter", n, func(t *testing.T, c *azConn) {
			c.write([]byte("AUTH \n"))
		}, "E_INVALID AUTH invalid number of parameters"},
		{"size unreadable", n, func(t *testing.T, c *azConn) {
			c.write([]byte("AUTH\n\x00\x00"))
			azHalfClose(t, c)
		}, "E_BAD_BODY AUTH failed to read body size"},
		{"body too big", n, func(t *testing.T, c *azConn) {
			c.write(append([]byte("AUTH\n"), azSize(101)...))
		}, "E_BAD_BODY AUTH body too big 101 > 100"},
		{"body size zero", n, func(t *testing.T, c *azConn) {
			c.write(append([]byte("AUTH\n"), azSize(0)...))
		}, "E_BAD_BODY AUTH invalid body size 0"},
		{"body size negative", n, func(t *testing.T, c *azConn) {
			c.write(append([]byte("AUTH\n"), azSize(-1)...))
		}, "E_BAD_BODY AUTH invalid body size -1"},
		{"body unreadable", n, func(t *testing.T, c *azConn) {
			c.write(append(append([]byte("AUTH\n"), azSize(10)...), "abc"...))
			azHalfClose(t, c)
		}, "E_BAD_BODY AUTH failed to read body"},
		{"already set", n, func(t *testing.T, c *azConn) {
			c.auth("s")
			c.send(wire.Auth("s"))
		}, "E_INVALID AUTH already set"},
		{"disabled", plain, func(t *testing.T, c *azConn) {
			c.send(wire.Auth("s"))
		}, "E_AUTH_DISABLED AUTH disabled"},
		{"disabled checks body first", plain, func(t *testing.T, c *azConn) {
			c.write(append([]byte("AUTH\n"), azSize(0)...))
		}, "E_BAD_BODY AUTH invalid body size 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := azDial(t, tc.nsqd)
			tc.run(t, c)
			c.expectFatal(tc.want)
		})
	}

	t.Run("no authorizations", func(t *testing.T) {
		for _, authz := range []string{`[]`, `null`} {
			a.set(200, azJSON(60, authz))
			c := azDial(t, n)
			c.send(wire.Auth("s"))
			c.expectFatal("E_UNAUTHORIZED AUTH no authorizations found")
		}
	})
}

func TestAuthServerFailures(t *testing.T) {
	const secret = "top-secret-value"
	tests := []struct {
		name   string
		status int
		body   string
		logged string
	}{
		{"500", 500, `{"message":"internal"}`, "got response 500"},
		{"404", 404, `not found`, "got response 404"},
		{"403 without json", 403, `forbidden`, "got response 403"},
		{"bad json", 200, `{"ttl":60,`, "invalid response"},
		{"ttl not an integer", 200, `{"ttl":1.5,"authorizations":` + azAll + `}`, "invalid response"},
		{"unknown permission", 200, azJSON(60, `[{"topic":".*","channels":[".*"],"permissions":["publish","admin"]}]`), "unknown permission admin"},
		{"bad topic regex", 200, azJSON(60, `[{"topic":"(","channels":[".*"],"permissions":["publish"]}]`), "unable to compile topic"},
		{"non-RE2 topic regex", 200, azJSON(60, `[{"topic":"(?=x)","channels":[".*"],"permissions":["publish"]}]`), "unable to compile topic"},
		{"bad channel regex", 200, azJSON(60, `[{"topic":".*","channels":[".*","[a-"],"permissions":["publish"]}]`), "unable to compile channel"},
		{"ttl zero", 200, azJSON(0, azAll), "invalid TTL 0"},
		{"ttl negative", 200, azJSON(-5, azAll), "invalid TTL -5"},
		{"ttl missing", 200, `{"identity":"u","authorizations":` + azAll + `}`, "invalid TTL 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAzServer(t, tc.status, tc.body)
			n, log := startAzNSQD(t, a.addr())
			c := azDial(t, n)
			c.identify(nil)
			c.send(wire.Auth(secret))
			c.expectFatal("E_AUTH_FAILED AUTH failed")
			eventually(t, 5*time.Second, "logged reason", func() bool { return strings.Contains(log.String(), tc.logged) })
			if strings.Contains(log.String(), secret) {
				t.Fatalf("secret in the log:\n%s", log.String())
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		n, log := startAzNSQD(t, azDeadAddr(t))
		c := azDial(t, n)
		c.send(wire.Auth(secret))
		c.expectFatal("E_AUTH_FAILED AUTH failed")
		eventually(t, 5*time.Second, "logged reason", func() bool { return strings.Contains(log.String(), "connection refused") })
		if strings.Contains(log.String(), secret) {
			t.Fatalf("secret in the log:\n%s", log.String())
		}
	})
}

func TestAuthGate(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azOrdersRW))
	n, _ := startAzNSQD(t, a.addr())

	// Not authed (with and without IDENTIFY).
	first := []struct {
		cmd  *wire.Command
		want string
	}{
		{wire.Subscribe("orders", "billing"), "E_AUTH_FIRST AUTH required before SUB"},
		{wire.Publish("orders", []byte("x")), "E_AUTH_FIRST AUTH required before PUB"},
		// MPUB is checked before its body is read: send the line only.
		{&wire.Command{Name: []byte("MPUB"), Params: [][]byte{[]byte("orders")}}, "E_AUTH_FIRST AUTH required before MPUB"},
		{wire.DeferredPublish("orders", 100, []byte("x")), "E_AUTH_FIRST AUTH required before DPUB"},
	}
	for _, tc := range first {
		for _, identify := range []bool{false, true} {
			t.Run(fmt.Sprintf("first %s identify=%v", tc.cmd.Name, identify), func(t *testing.T) {
				c := azDial(t, n)
				if identify {
					c.identify(nil)
				}
				c.send(tc.cmd)
				c.expectFatal(tc.want)
			})
		}
	}

	// A failed AUTH does not count as authed either.
	t.Run("first after failed AUTH", func(t *testing.T) {
		b := newAzServer(t, 200, azJSON(60, `[]`))
		n2, _ := startAzNSQD(t, b.addr())
		c := azDial(t, n2)
		c.send(wire.Auth("s"))
		c.expectFatal("E_UNAUTHORIZED AUTH no authorizations found")
	})

	denied := []struct {
		cmd  *wire.Command
		want string
	}{
		{wire.Subscribe("orders", "shipping"), `E_UNAUTHORIZED AUTH failed for SUB on "orders" "shipping"`},
		{wire.Subscribe("orders2", "billing"), `E_UNAUTHORIZED AUTH failed for SUB on "orders2" "billing"`},
		{wire.Publish("events", []byte("x")), `E_UNAUTHORIZED AUTH failed for PUB on "events" ""`},
		{&wire.Command{Name: []byte("MPUB"), Params: [][]byte{[]byte("events")}}, `E_UNAUTHORIZED AUTH failed for MPUB on "events" ""`},
		{wire.DeferredPublish("events", 100, []byte("x")), `E_UNAUTHORIZED AUTH failed for DPUB on "events" ""`},
		{wire.Subscribe("orders", "billing#ephemeral"), `E_UNAUTHORIZED AUTH failed for SUB on "orders" "billing#ephemeral"`},
	}
	for _, tc := range denied {
		t.Run("denied "+tc.cmd.String(), func(t *testing.T) {
			c := azSession(t, n, "s")
			c.send(tc.cmd)
			c.expectFatal(tc.want)
		})
	}

	t.Run("allowed", func(t *testing.T) {
		c := azSession(t, n, "s")
		c.send(wire.Publish("orders", []byte("x")))
		c.expectResponse("OK")
		c.send(wire.MultiPublish("orders", [][]byte{[]byte("x")}))
		c.expectResponse("OK")
		c.send(wire.DeferredPublish("orders", 1, []byte("x")))
		c.expectResponse("OK")
		c.send(wire.Subscribe("orders", "billing"))
		c.expectResponse("OK")
	})
}

func azMustState(t *testing.T, authz string) *authState {
	t.Helper()
	st, err := parseAuthResponse([]byte(azJSON(60, authz)), "s")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// azMatchCases is shared by the pure and the end-to-end matching tests.
var azMatchCases = []struct {
	name    string
	authz   string
	topic   string
	channel string // "" = publish
	allowed bool
}{
	{"publish all", azAll, "t", "", true},
	{"subscribe all", azAll, "t", "c", true},
	{"publish needs publish", `[{"topic":".*","channels":[".*"],"permissions":["subscribe"]}]`, "t", "", false},
	{"subscribe needs subscribe", `[{"topic":".*","channels":[".*"],"permissions":["publish"]}]`, "t", "c", false},
	{"no permissions", `[{"topic":".*","channels":[".*"],"permissions":[]}]`, "t", "c", false},
	{"unanchored topic matches substring", `[{"topic":"rde","channels":[".*"],"permissions":["publish"]}]`, "orders", "", true},
	{"anchored topic", `[{"topic":"^orders$","channels":[".*"],"permissions":["publish"]}]`, "orders2", "", false},
	{"anchored topic exact", `[{"topic":"^orders$","channels":[".*"],"permissions":["publish"]}]`, "orders", "", true},
	{"topic mismatch", `[{"topic":"^a","channels":[".*"],"permissions":["subscribe"]}]`, "b", "c", false},
	{"unanchored channel", `[{"topic":".*","channels":["ill"],"permissions":["subscribe"]}]`, "t", "billing", true},
	{"second channel regex matches", `[{"topic":".*","channels":["^x$","^billing$"],"permissions":["subscribe"]}]`, "t", "billing", true},
	{"no channel regex matches", `[{"topic":".*","channels":["^x$","^y$"],"permissions":["subscribe"]}]`, "t", "billing", false},
	{"empty channels never allow subscribe", `[{"topic":".*","channels":[],"permissions":["subscribe","publish"]}]`, "t", "c", false},
	{"empty channels never allow publish", `[{"topic":".*","channels":[],"permissions":["subscribe","publish"]}]`, "t", "", false},
	{"publish needs a channel regex matching empty", `[{"topic":".*","channels":["^billing$"],"permissions":["publish"]}]`, "t", "", false},
	{"publish with channel regex matching empty", `[{"topic":".*","channels":["^$"],"permissions":["publish"]}]`, "t", "", true},
	{"channel regex x* matches empty", `[{"topic":".*","channels":["x*"],"permissions":["publish"]}]`, "t", "", true},
	{"second entry allows", `[{"topic":"^a$","channels":[".*"],"permissions":["publish"]},{"topic":"^b$","channels":[".*"],"permissions":["publish"]}]`, "b", "", true},
	{"permission and match split across entries", `[{"topic":"^a$","channels":[".*"],"permissions":["subscribe"]},{"topic":"^b$","channels":[".*"],"permissions":["publish"]}]`, "a", "", false},
	{"ephemeral suffix", `[{"topic":".*","channels":["#ephemeral$"],"permissions":["subscribe"]}]`, "t", "c#ephemeral", true},
	{"case sensitive", `[{"topic":"^Orders$","channels":[".*"],"permissions":["publish"]}]`, "orders", "", false},
	{"case-insensitive flag", `[{"topic":"(?i)^Orders$","channels":[".*"],"permissions":["publish"]}]`, "orders", "", true},
	{"duplicate permissions", `[{"topic":".*","channels":[".*"],"permissions":["publish","publish"]}]`, "t", "", true},
}

func TestAuthMatchingRules(t *testing.T) {
	for _, tc := range azMatchCases {
		t.Run(tc.name, func(t *testing.T) {
			st := azMustState(t, tc.authz)
			if got := st.allowed(tc.topic, tc.channel); got != tc.allowed {
				t.Fatalf("allowed(%q, %q) = %v, want %v", tc.topic, tc.channel, got, tc.allowed)
			}
		})
	}
}

func TestAuthMatchingRulesE2E(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	n, _ := startAzNSQD(t, a.addr())
	for _, tc := range azMatchCases {
		t.Run(tc.name, func(t *testing.T) {
			a.set(200, azJSON(60, tc.authz))
			c := azSession(t, n, "s")
			cmd, name := wire.Publish(tc.topic, []byte("x")), "PUB"
			if tc.channel != "" {
				cmd, name = wire.Subscribe(tc.topic, tc.channel), "SUB"
			}
			c.send(cmd)
			if tc.allowed {
				c.expectResponse("OK")
			} else {
				c.expectFatal(fmt.Sprintf("E_UNAUTHORIZED AUTH failed for %s on %q %q", name, tc.topic, tc.channel))
			}
		})
	}
}

func TestAuthTTLRequery(t *testing.T) {
	a := newAzServer(t, 200, azJSON(1, azAll))
	n, _ := startAzNSQD(t, a.addr())
	c := azSession(t, n, "ttl-secret")
	c.send(wire.Publish("t", []byte("x")))
	c.expectResponse("OK")
	if got := len(a.requests()); got != 1 {
		t.Fatalf("%d queries before expiry, want 1", got)
	}
	// Publishing keeps working; once the second has passed a PUB re-queries.
	eventually(t, 5*time.Second, "re-query after ttl", func() bool {
		c.send(wire.Publish("t", []byte("x")))
		c.expectResponse("OK")
		return len(a.requests()) == 2
	})
	reqs := a.requests()
	if reqs[1].RawQuery != reqs[0].RawQuery || reqs[1].Query.Get("secret") != "ttl-secret" {
		t.Fatalf("re-query %q, want the first query %q", reqs[1].RawQuery, reqs[0].RawQuery)
	}
	// Fresh answer cached again.
	c.send(wire.Publish("t", []byte("x")))
	c.expectResponse("OK")
	if got := len(a.requests()); got != 2 {
		t.Fatalf("%d queries right after the re-query, want 2", got)
	}
}

func TestAuthTTLRequeryFailure(t *testing.T) {
	a := newAzServer(t, 200, azJSON(1, azAll))
	n, _ := startAzNSQD(t, a.addr())
	c := azSession(t, n, "s")
	c.send(wire.Subscribe("t", "c"))
	c.expectResponse("OK")
	a.set(500, "down")
	time.Sleep(1100 * time.Millisecond)
	c.send(wire.Publish("t", []byte("x")))
	c.expectFatal("E_AUTH_FAILED AUTH failed")
	if got := len(a.requests()); got != 2 {
		t.Fatalf("%d queries, want 2", got)
	}
}

func TestAuthTTLRequeryChangedAnswer(t *testing.T) {
	a := newAzServer(t, 200, azJSON(1, azAll))
	n, _ := startAzNSQD(t, a.addr())
	c := azSession(t, n, "s")
	a.set(200, azJSON(60, `[{"topic":"^other$","channels":[".*"],"permissions":["publish"]}]`))
	time.Sleep(1100 * time.Millisecond)
	c.send(wire.Publish("t", []byte("x")))
	c.expectFatal(`E_UNAUTHORIZED AUTH failed for PUB on "t" ""`)

	// An answer with no authorizations at re-query denies too.
	a.set(200, azJSON(1, azAll))
	c = azSession(t, n, "s")
	a.set(200, azJSON(60, `[]`))
	time.Sleep(1100 * time.Millisecond)
	c.send(wire.Subscribe("t", "c"))
	c.expectFatal(`E_UNAUTHORIZED AUTH failed for SUB on "t" "c"`)
}

func TestAuthQueryParameters(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	n, _ := startAzNSQD(t, a.addr())
	secret := "s3cr&t =+/%é?#x"
	c := azDial(t, n)
	c.identify(nil)
	c.auth(secret)
	reqs := a.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodGet || r.Path != "/auth" {
		t.Fatalf("request %s %s, want GET /auth", r.Method, r.Path)
	}
	if r.Accept != "application/vnd.nsq; version=1.0" {
		t.Fatalf("Accept %q", r.Accept)
	}
	want := "common_name=&remote_ip=127.0.0.1&secret=" + url.QueryEscape(secret) + "&tls=false"
	if r.RawQuery != want {
		t.Fatalf("query %q, want %q", r.RawQuery, want)
	}
	if got := r.Query.Get("secret"); got != secret {
		t.Fatalf("secret %q, want %q", got, secret)
	}
}

func TestAuthFullURL(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	n, _ := startAzNSQD(t, "http://"+a.addr()+"/v1/check-auth")
	c := azDial(t, n)
	c.auth("s")
	reqs := a.requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/check-auth" {
		t.Fatalf("requests %+v, want one to /v1/check-auth", reqs)
	}
	if reqs[0].Query.Get("secret") != "s" || reqs[0].Query.Get("tls") != "false" {
		t.Fatalf("query %q", reqs[0].RawQuery)
	}
}

func TestAuthMultipleAddresses(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	dead := azDeadAddr(t)
	n, _ := startAzNSQD(t, dead, a.addr(), "http://"+azDeadAddr(t)+"/auth")
	for i := 0; i < 12; i++ {
		c := azDial(t, n)
		c.auth("s")
		c.send(wire.Publish("t", []byte("x")))
		c.expectResponse("OK")
		c.conn.Close()
	}
	if got := len(a.requests()); got != 12 {
		t.Fatalf("live server got %d queries, want 12", got)
	}

	// The start is random: two live servers both get queries.
	b := newAzServer(t, 200, azJSON(60, azAll))
	n2, _ := startAzNSQD(t, a.addr(), b.addr())
	before := len(a.requests())
	for i := 0; i < 40; i++ {
		azDial(t, n2).auth("s")
	}
	if na, nb := len(a.requests())-before, len(b.requests()); na+nb != 40 || na == 0 || nb == 0 {
		t.Fatalf("queries split %d/%d, want both servers used, 40 in all", na, nb)
	}

	// All failing: the answer is a failure, each server was tried.
	bad := newAzServer(t, 500, "x")
	n3, _ := startAzNSQD(t, dead, bad.addr())
	c := azDial(t, n3)
	c.send(wire.Auth("s"))
	c.expectFatal("E_AUTH_FAILED AUTH failed")
	if got := len(bad.requests()); got != 1 {
		t.Fatalf("failing server got %d queries, want 1", got)
	}
}

// azWriteCertPEM writes a certificate to a PEM file in dir.
func azWriteCertPEM(t testing.TB, dir, name string, der []byte) string {
	t.Helper()
	fn := filepath.Join(dir, name)
	if err := os.WriteFile(fn, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return fn
}

func TestAuthHTTPSRedirect(t *testing.T) {
	var tlsReqs atomic.Int64
	var lastQuery atomic.Value
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsReqs.Add(1)
		lastQuery.Store(r.URL.Path + "?" + r.URL.RawQuery)
		io.WriteString(w, azJSON(60, azAll))
	}))
	t.Cleanup(tlsSrv.Close)
	_, tlsPort, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	a := newAzServer(t, 403, `{"https_port":`+tlsPort+`}`)
	caFile := azWriteCertPEM(t, t.TempDir(), "ca.pem", tlsSrv.Certificate().Raw)

	t.Run("root CA file", func(t *testing.T) {
		opts := testOptions(t)
		opts.AuthHTTPAddresses = []string{a.addr()}
		opts.TLSRootCAFile = caFile
		n := startNSQD(t, opts)
		c := azDial(t, n)
		c.auth("s")
		if tlsReqs.Load() != 1 {
			t.Fatalf("https server got %d queries", tlsReqs.Load())
		}
		q := lastQuery.Load().(string)
		if want := "/auth?common_name=&remote_ip=127.0.0.1&secret=s&tls=false"; q != want {
			t.Fatalf("https request %q, want %q", q, want)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		n, log := startAzNSQD(t, a.addr())
		c := azDial(t, n)
		c.send(wire.Auth("s"))
		c.expectFatal("E_AUTH_FAILED AUTH failed")
		eventually(t, 5*time.Second, "logged x509 error", func() bool {
			return strings.Contains(log.String(), "certificate")
		})
	})
	t.Run("bad root CA file", func(t *testing.T) {
		opts := testOptions(t)
		opts.AuthHTTPAddresses = []string{a.addr()}
		opts.TLSRootCAFile = filepath.Join(t.TempDir(), "missing.pem")
		log := &testLog{t: t}
		opts.LogOutput = log
		n, err := New(opts)
		if err != nil {
			return // rejected at start-up: fine as well
		}
		done := make(chan error, 1)
		go func() { done <- n.Main() }()
		defer func() { n.Exit(); <-done }()
		c := azDial(t, n)
		c.send(wire.Auth("s"))
		c.expectFatal("E_AUTH_FAILED AUTH failed")
		eventually(t, 5*time.Second, "logged CA file error", func() bool {
			return strings.Contains(log.String(), "--tls-root-ca-file")
		})
	})
}

// azSelfSigned makes a self-signed certificate for 127.0.0.1 with the CN.
func azSelfSigned(t testing.TB, cn string) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM, keyPEM
}

func TestAuthTLSCommonName(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	dir := t.TempDir()
	_, srvCert, srvKey := azSelfSigned(t, "nsqd")
	clientCert, _, _ := azSelfSigned(t, "client-cn")
	opts := testOptions(t)
	opts.AuthHTTPAddresses = []string{a.addr()}
	opts.TLSCert = filepath.Join(dir, "cert.pem")
	opts.TLSKey = filepath.Join(dir, "key.pem")
	os.WriteFile(opts.TLSCert, srvCert, 0o600)
	os.WriteFile(opts.TLSKey, srvKey, 0o600)
	opts.TLSClientAuthPolicy = "require"
	n := startNSQD(t, opts)

	c := azDial(t, n)
	if resp := c.identify(map[string]any{"tls_v1": true}); !resp.TLSv1 || !resp.AuthRequired {
		t.Fatalf("IDENTIFY reply %+v", resp)
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{clientCert}})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn = tc
	c.expectResponse("OK")
	c.auth("s")
	reqs := a.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d queries", len(reqs))
	}
	if want := "common_name=client-cn&remote_ip=127.0.0.1&secret=s&tls=true"; reqs[0].RawQuery != want {
		t.Fatalf("query %q, want %q", reqs[0].RawQuery, want)
	}
	c.send(wire.Publish("t", []byte("x")))
	c.expectResponse("OK")
}

// One HTTP client per nsqd: its connections to the auth server are reused,
// and dropped when nsqd exits.
func TestAuthHTTPClientLifecycle(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	n, _ := startAzNSQD(t, a.addr())
	for i := 0; i < 5; i++ {
		c := azDial(t, n)
		c.auth("s")
		c.conn.Close()
	}
	if got := a.newConns.Load(); got != 1 {
		t.Fatalf("%d connections to the auth server for 5 sequential queries, want 1", got)
	}
	hc1, _ := n.authHTTP()
	hc2, _ := n.authHTTP()
	if hc1 != hc2 {
		t.Fatal("a second HTTP client was built")
	}
	n.Exit()
	authClients.Lock()
	_, ok := authClients.m[n]
	authClients.Unlock()
	if ok {
		t.Fatal("HTTP client still registered after Exit")
	}
	if _, err := n.authHTTP(); err == nil {
		t.Fatal("auth client built after Exit")
	}
}

// Auth queries (kept-alive connections to the auth server, https included)
// leave no goroutine behind after Exit.
func TestAuthNoGoroutineLeak(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60, azAll))
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, azJSON(60, azAll))
	}))
	t.Cleanup(tlsSrv.Close)
	caFile := azWriteCertPEM(t, t.TempDir(), "ca.pem", tlsSrv.Certificate().Raw)
	ignore := goleak.IgnoreCurrent()

	opts := testOptions(t)
	opts.AuthHTTPAddresses = []string{a.addr(), tlsSrv.URL + "/auth"}
	opts.TLSRootCAFile = caFile
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Main() }()
	for i := 0; i < 10; i++ {
		c := azSession(t, n, "s")
		c.send(wire.Publish("t", []byte("x")))
		c.expectResponse("OK")
	}
	n.Exit()
	<-done
	goleak.VerifyNone(t, ignore)
}

// Exit does not wait for a hanging auth server.
func TestAuthExitDuringQuery(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	opts := testOptions(t)
	opts.AuthHTTPAddresses = []string{srv.Listener.Addr().String()}
	opts.HTTPClientRequestTimeout = 30 * time.Second
	n := startNSQD(t, opts)
	c := azDial(t, n)
	c.send(wire.Auth("s"))
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("auth query not started")
	}
	t0 := time.Now()
	n.Exit()
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("Exit took %s with an auth query in flight", d)
	}
	// The cancelled query may still get its error frame out before the
	// connection is closed.
	ft, data, err := c.frame()
	if err == nil {
		if ft != wire.FrameTypeError || string(data) != "E_AUTH_FAILED AUTH failed" {
			t.Fatalf("frame type %d %q after Exit", ft, data)
		}
		c.expectClosed()
	}
}

func TestAuthGoNSQ(t *testing.T) {
	a := newAzServer(t, 200, azJSON(60,
		`[{"topic":"^gonsq$","channels":[".*"],"permissions":["publish"]},`+
			`{"topic":"^gonsq$","channels":["^ch$"],"permissions":["subscribe"]}]`))
	n, _ := startAzNSQD(t, a.addr())
	addr := n.TCPAddr().String()

	cfg := nsq.NewConfig()
	cfg.AuthSecret = "go-nsq-secret"
	p, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLoggerLevel(nsq.LogLevelError)
	defer p.Stop()
	const total = 50
	for i := 0; i < total; i++ {
		if err := p.Publish("gonsq", []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}

	c, err := nsq.NewConsumer("gonsq", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLoggerLevel(nsq.LogLevelError)
	var mu sync.Mutex
	seen := map[string]bool{}
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		mu.Lock()
		seen[string(m.Body)] = true
		mu.Unlock()
		return nil
	}))
	if err := c.ConnectToNSQD(addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "all messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == total
	})
	c.Stop()
	<-c.StopChan

	for _, r := range a.requests() {
		if r.Query.Get("secret") != "go-nsq-secret" {
			t.Fatalf("query %q", r.RawQuery)
		}
	}

	// Not permitted: the producer gets the protocol error.
	p2, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p2.SetLoggerLevel(nsq.LogLevelError + 1)
	defer p2.Stop()
	err = p2.Publish("other", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), `E_UNAUTHORIZED AUTH failed for PUB on "other" ""`) {
		t.Fatalf("publish to a forbidden topic: %v", err)
	}

	// Without a secret go-nsq refuses to go on.
	p3, err := nsq.NewProducer(addr, nsq.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	p3.SetLoggerLevel(nsq.LogLevelError + 1)
	defer p3.Stop()
	if err := p3.Publish("gonsq", []byte("x")); err == nil {
		t.Fatal("publish without a secret succeeded")
	}
}
