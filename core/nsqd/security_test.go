package nsqd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Issue 11, SECURITY: --tls-required (TCP and HTTP), client certificate
// policies, and the auth server gate (ordering, no trace left by a refused
// command, revocation after the TTL, HTTP never authorised). Every expected
// answer was checked against NSQ 1.3.0's nsqd.

// ---- helpers ----------------------------------------------------------------

// secAuthServer is an auth server on 127.0.0.1 that answers each secret on
// its own: a revoked secret gets 401, any other the same authorizations.
type secAuthServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answer  string          // 200 body for a valid secret
	revoked map[string]bool // secrets answered with 401
	queries map[string]int  // queries per secret
	tls     []string        // the tls parameter of each query
}

func newSecAuthServer(t testing.TB, answer string) *secAuthServer {
	t.Helper()
	a := &secAuthServer{answer: answer, revoked: map[string]bool{}, queries: map[string]int{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		secret := q.Get("secret")
		a.mu.Lock()
		a.queries[secret]++
		a.tls = append(a.tls, q.Get("tls"))
		revoked, answer := a.revoked[secret], a.answer
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if revoked {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"revoked"}`)
			return
		}
		io.WriteString(w, answer)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *secAuthServer) addr() string { return a.srv.Listener.Addr().String() }

func (a *secAuthServer) revoke(secret string) {
	a.mu.Lock()
	a.revoked[secret] = true
	a.mu.Unlock()
}

func (a *secAuthServer) count(secret string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.queries[secret]
}

func (a *secAuthServer) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.queries {
		n += c
	}
	return n
}

func (a *secAuthServer) tlsParams() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.tls...)
}

// secNoTopic fails the test if any of the topics exists: a refused command
// must not have created (or published to) it.
func secNoTopic(t testing.TB, n *NSQD, topics ...string) {
	t.Helper()
	for _, name := range topics {
		if tp, err := n.GetExistingTopic(name); err == nil {
			t.Errorf("topic %q exists (depth %d) after a refused command", name, tp.Depth())
		}
	}
}

// secDepth is the depth of an existing topic.
func secDepth(t testing.TB, n *NSQD, topic string) int64 {
	t.Helper()
	tp, err := n.GetExistingTopic(topic)
	if err != nil {
		t.Fatalf("topic %q: %v", topic, err)
	}
	return tp.Depth()
}

// secReadUntilClosed reads (and discards) until the server closes the
// connection; a timeout fails the test.
func secReadUntilClosed(t testing.TB, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(protoTimeout))
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open: %v", err)
		}
		return
	}
}

// secTLSClient is a client TLS config trusting the test CA, presenting
// cert (if any) whatever CAs the server names as acceptable (crypto/tls
// would send nothing when its issuer is not among them), capped at
// maxVersion.
func secTLSClient(certs *testCerts, cert *tls.Certificate, maxVersion uint16) *tls.Config {
	cfg := &tls.Config{RootCAs: certs.Pool, MinVersion: tls.VersionTLS12, MaxVersion: maxVersion, ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return cfg
}

// secTryUpgrade negotiates tls_v1 and does the client side of the upgrade;
// it returns an error where the server refused the handshake (during it or,
// with TLS 1.3, at the first read after it) instead of the OK frame.
func secTryUpgrade(c *protoClient, cfg *tls.Config) error {
	c.t.Helper()
	c.identifyJSON(`{"feature_negotiation":true,"tls_v1":true}`)
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(protoTimeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	ft, data, err := wire.ReadFrame(tc, 1<<20)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("neither OK nor a refusal after the TLS handshake: %v", err)
		}
		return err
	}
	if ft != wire.FrameTypeResponse || string(data) != "OK" {
		c.t.Fatalf("after the TLS handshake: %s, want OK", protoFrameString(ft, data))
	}
	c.dl, c.r, c.w = tc, tc, tc
	return nil
}

// ---- --tls-required on TCP ----------------------------------------------------

// Before the TLS upgrade every command but IDENTIFY is refused, fatally,
// with E_INVALID cannot <NAME> in current state (TLS required) — whatever
// IDENTIFY negotiated before (nothing, tls_v1 without negotiation, snappy,
// deflate) — and nothing of it takes effect: no topic, no auth query. After
// the upgrade the same commands work.
func TestSecurityTLSRequiredTCP(t *testing.T) {
	certs := makeTestCerts(t)
	clientPair, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	const topic = "sec_tls"
	id := "0123456789abcdef"
	commands := []struct {
		name string
		raw  []byte
	}{
		{"NOP", []byte("NOP\n")},
		{"PUB", wire.Publish(topic, []byte("x")).Append(nil)},
		{"MPUB", wire.MultiPublish(topic, [][]byte{[]byte("a"), []byte("b")}).Append(nil)},
		{"DPUB", wire.DeferredPublish(topic, 10, []byte("x")).Append(nil)},
		{"SUB", wire.Subscribe(topic, "c").Append(nil)},
		{"RDY", []byte("RDY 1\n")},
		{"FIN", []byte("FIN " + id + "\n")},
		{"REQ", []byte("REQ " + id + " 0\n")},
		{"TOUCH", []byte("TOUCH " + id + "\n")},
		{"CLS", []byte("CLS\n")},
		{"AUTH", wire.Auth("the-secret").Append(nil)},
		{"BOGUS", []byte("BOGUS x\n")},
	}
	before := []struct {
		name string
		run  func(c *protoClient)
	}{
		{"no IDENTIFY", func(c *protoClient) {}},
		{"IDENTIFY", func(c *protoClient) {
			c.identify(`{"client_id":"x"}`)
			c.expectResponse("OK")
		}},
		{"IDENTIFY tls_v1 without feature_negotiation", func(c *protoClient) {
			c.identify(`{"tls_v1":true}`)
			c.expectResponse("OK")
		}},
		{"IDENTIFY negotiated without tls_v1", func(c *protoClient) {
			if js := c.identifyJSON(`{"feature_negotiation":true}`); !strings.Contains(string(js), `"tls_v1":false`) {
				c.t.Fatalf("IDENTIFY reply %s", js)
			}
		}},
		{"snappy without TLS", func(c *protoClient) {
			c.identifyJSON(`{"feature_negotiation":true,"snappy":true}`)
			c.upgradeSnappy()
		}},
		{"deflate without TLS", func(c *protoClient) {
			c.identifyJSON(`{"feature_negotiation":true,"deflate":true}`)
			c.upgradeDeflate(6)
		}},
	}
	configs := []struct {
		name       string
		set        func(o *Options)
		clientCert bool
	}{
		{"tls-required=true", func(o *Options) { o.TLSRequired = TLSRequired }, false},
		{"tls-required=tcp-https", func(o *Options) { o.TLSRequired = TLSRequiredExceptHTTP }, false},
		{"implied by tls-client-auth-policy", func(o *Options) { o.TLSClientAuthPolicy = "require" }, true},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			az := newSecAuthServer(t, azJSON(60, azAll))
			o := testOptions(t)
			o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
			o.AuthHTTPAddresses = []string{az.addr()}
			cfg.set(o)
			n := startNSQD(t, o)
			for _, b := range before {
				for _, cmd := range commands {
					t.Run(b.name+"/"+cmd.name, func(t *testing.T) {
						c := dialProto(t, n)
						b.run(c)
						c.write(cmd.raw)
						c.expectFatal("E_INVALID cannot " + cmd.name + " in current state (TLS required)")
					})
				}
			}
			if got := az.total(); got != 0 {
				t.Errorf("auth server queried %d times before any TLS upgrade", got)
			}
			secNoTopic(t, n, topic)

			// tls_v1 negotiated, then plaintext instead of a handshake: the
			// connection is dropped and the PUB goes nowhere.
			c := dialProto(t, n)
			c.identifyJSON(`{"feature_negotiation":true,"tls_v1":true}`)
			c.write(wire.Publish(topic, []byte("plain")).Append(nil))
			secReadUntilClosed(t, c.conn)
			secNoTopic(t, n, topic)

			// upgraded: AUTH (tls=true), PUB, SUB, RDY, FIN
			var cert *tls.Certificate
			if cfg.clientCert {
				cert = &clientPair
			}
			c = dialProto(t, n)
			if err := secTryUpgrade(c, secTLSClient(certs, cert, tls.VersionTLS13)); err != nil {
				t.Fatalf("TLS upgrade: %v", err)
			}
			c.send(wire.Auth("the-secret"))
			c.expectResponse(`{"identity":"user","identity_url":"http://x/u","permission_count":1}`)
			if got := az.tlsParams(); len(got) != 1 || got[0] != "true" {
				t.Errorf("auth queries' tls parameter %q, want [true]", got)
			}
			c.pub(topic, "secure")
			c.sub(topic, "c")
			c.cmd("RDY", "1")
			m := c.expectMessage()
			if string(m.Body) != "secure" {
				t.Fatalf("body %q", m.Body)
			}
			c.send(wire.Finish(m.ID))
			c.cmd("NOP")
			c.send(wire.StartClose())
			c.expectResponse("CLOSE_WAIT")
		})
	}
}

// ---- --tls-required on HTTP -----------------------------------------------------

// With --tls-required=true the plain listener answers every request with
// 403 TLS_REQUIRED and does nothing: no topic or channel created, deleted,
// emptied or paused, no option changed. HTTPS serves the same requests.
// With tcp-https, plain HTTP works while TCP still needs TLS.
func TestSecurityTLSRequiredHTTP(t *testing.T) {
	certs := makeTestCerts(t)
	tlsClient := hClient(certs.ClientTLS(t, false))

	t.Run("true", func(t *testing.T) {
		o := testOptions(t)
		o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
		o.TLSRequired = TLSRequired
		n := startNSQD(t, o)
		https := func(method, path, body string) hResp {
			t.Helper()
			return hDo(t, tlsClient, method, "https://"+n.HTTPSAddr().String()+path, body)
		}
		// what the gate must leave alone: topic kept with channel c, one
		// message in each
		n.GetTopic("kept").GetChannel("c")
		https("POST", "/pub?topic=kept", "m").expectV1(t, "https pub", 200, "OK")
		levelBefore := n.logger.Level()
		lookupdsBefore := fmt.Sprint(n.lookupdAddresses())
		bin := string(wire.EncodeMPUBBody([][]byte{[]byte("a")}))

		gate := fmt.Sprintf(`{"message": "TLS_REQUIRED", "https_port": %d}`, portOf(n.httpsListener))
		for _, r := range []struct{ method, path, body string }{
			{"POST", "/pub?topic=gated", "x"},
			{"POST", "/pub?topic=gated&defer=10", "x"},
			{"POST", "/mpub?topic=gated", "a\nb"},
			{"POST", "/mpub?topic=gated&binary=true", bin},
			{"POST", "/pub?topic=kept", "x"},
			{"POST", "/topic/create?topic=gated", ""},
			{"POST", "/channel/create?topic=kept&channel=gated", ""},
			{"POST", "/topic/empty?topic=kept", ""},
			{"POST", "/channel/empty?topic=kept&channel=c", ""},
			{"POST", "/topic/pause?topic=kept", ""},
			{"POST", "/channel/pause?topic=kept&channel=c", ""},
			{"POST", "/channel/delete?topic=kept&channel=c", ""},
			{"POST", "/topic/delete?topic=kept", ""},
			{"PUT", "/config/log_level", "error"},
			{"PUT", "/config/nsqlookupd_tcp_addresses", `["127.0.0.1:1"]`},
			{"POST", "/debug/freememory", ""},
			{"GET", "/stats?format=json", ""},
			{"GET", "/info", ""},
			{"GET", "/debug/pprof/", ""},
			{"GET", "/metrics", ""},
			{"DELETE", "/topic/delete?topic=kept", ""},
		} {
			t.Run(r.method+" "+r.path, func(t *testing.T) {
				hDo(t, nil, r.method, hURL(n, r.path), r.body).expectV1(t, "plain", 403, gate)
			})
		}
		// HEAD: the status, no body
		if r := hDo(t, nil, "HEAD", hURL(n, "/ping"), ""); r.code != 403 || r.body != "" {
			t.Errorf("HEAD /ping: %d %q", r.code, r.body)
		}
		// plain HTTP spoken to the HTTPS port is not served either
		if r := hDo(t, nil, "POST", "http://"+n.HTTPSAddr().String()+"/pub?topic=gated", "x"); r.code == 200 {
			t.Errorf("plain HTTP to the HTTPS port: %d %q", r.code, r.body)
		}

		secNoTopic(t, n, "gated")
		tp, err := n.GetExistingTopic("kept")
		if err != nil {
			t.Fatalf("topic kept: %v", err)
		}
		ch, err := tp.GetExistingChannel("c")
		if err != nil {
			t.Fatalf("channel kept/c: %v", err)
		}
		eventually(t, 5*time.Second, "the message in kept/c", func() bool { return ch.Depth() == 1 })
		if _, err := tp.GetExistingChannel("gated"); err == nil {
			t.Error("channel kept/gated created through the gate")
		}
		if tp.Paused() || ch.Paused() {
			t.Error("paused through the gate")
		}
		if got := tp.messageCount.Load(); got != 1 {
			t.Errorf("kept message_count %d, want 1", got)
		}
		if n.logger.Level() != levelBefore || fmt.Sprint(n.lookupdAddresses()) != lookupdsBefore {
			t.Error("options changed through the gate")
		}

		// HTTPS serves what plain HTTP refused
		https("POST", "/pub?topic=gated", "x").expectV1(t, "https pub", 200, "OK")
		https("POST", "/mpub?topic=gated", "a\nb").expectV1(t, "https mpub", 200, "OK")
		https("GET", "/ping", "").expect(t, "https ping", 200, "OK")
		if d := secDepth(t, n, "gated"); d != 3 {
			t.Errorf("gated depth %d after 3 HTTPS publishes", d)
		}
	})

	t.Run("tcp-https", func(t *testing.T) {
		o := testOptions(t)
		o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
		o.TLSRequired = TLSRequiredExceptHTTP
		n := startNSQD(t, o)
		hPost(t, n, "/pub?topic=plain", "x").expectV1(t, "plain pub", 200, "OK")
		hPost(t, n, "/mpub?topic=plain", "a\nb").expectV1(t, "plain mpub", 200, "OK")
		hDo(t, tlsClient, "POST", "https://"+n.HTTPSAddr().String()+"/pub?topic=plain", "x").expectV1(t, "https pub", 200, "OK")
		if d := secDepth(t, n, "plain"); d != 4 {
			t.Errorf("depth %d, want 4", d)
		}
		c := dialProto(t, n)
		c.send(wire.Publish("plain", []byte("tcp")))
		c.expectFatal("E_INVALID cannot PUB in current state (TLS required)")
		if d := secDepth(t, n, "plain"); d != 4 {
			t.Errorf("depth %d after a refused TCP PUB, want 4", d)
		}
	})
}

// ---- client certificates ----------------------------------------------------------

// --tls-client-auth-policy on the TCP upgrade and the HTTPS listener, for a
// client without a certificate, with one from an unrelated CA and with one
// from the CA of --tls-root-ca-file, over TLS 1.2 and 1.3 (1.3 refuses
// after the client's side of the handshake is done). require takes any
// certificate; require-verify only one that verifies (against the system
// roots without --tls-root-ca-file); no policy asks for none.
func TestSecurityClientCertPolicies(t *testing.T) {
	certs := makeTestCerts(t)
	other := makeOtherCerts(t)
	ours, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	clients := []struct {
		name string
		cert *tls.Certificate
	}{{"no certificate", nil}, {"certificate of another CA", &foreign}, {"certificate of the CA", &ours}}
	policies := []struct {
		name   string
		policy string
		caFile bool
		accept [3]bool // per client above
	}{
		{"require", "require", false, [3]bool{false, true, true}},
		{"require with CA file", "require", true, [3]bool{false, true, true}},
		{"require-verify", "require-verify", true, [3]bool{false, false, true}},
		{"require-verify without CA file", "require-verify", false, [3]bool{false, false, false}},
		{"no policy with CA file", "", true, [3]bool{true, true, true}},
	}
	versions := []struct {
		name string
		v    uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

	for _, p := range policies {
		t.Run(p.name, func(t *testing.T) {
			o := testOptions(t)
			o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
			o.TLSClientAuthPolicy = p.policy
			if p.caFile {
				o.TLSRootCAFile = certs.CAFile
			}
			n := startNSQD(t, o)
			if p.policy != "" && n.opts.TLSRequired != TLSRequired {
				t.Fatalf("tls_required %d with a client auth policy, want %d", n.opts.TLSRequired, TLSRequired)
			}
			var refused []string
			for i, cl := range clients {
				for _, v := range versions {
					accept := p.accept[i]
					topic := fmt.Sprintf("cert_%d_%d", i, v.v&0xff)
					t.Run("TCP/"+cl.name+"/"+v.name, func(t *testing.T) {
						c := dialProto(t, n)
						err := secTryUpgrade(c, secTLSClient(certs, cl.cert, v.v))
						if !accept {
							if err == nil {
								t.Fatal("TLS upgrade accepted")
							}
							secReadUntilClosed(t, c.conn)
							return
						}
						if err != nil {
							t.Fatalf("TLS upgrade refused: %v", err)
						}
						c.pub(topic, "x")
						st := protoOnlyClient(t, n)
						st.metaMu.RLock()
						ts := st.tlsState
						st.metaMu.RUnlock()
						if ts == nil || (cl.cert != nil && p.policy != "") != (len(ts.PeerCertificates) > 0) {
							t.Errorf("server side TLS state %+v", ts)
						}
						if p.policy == "require-verify" && (ts == nil || len(ts.VerifiedChains) == 0) {
							t.Error("client certificate not verified")
						}
						c.conn.Close()
						eventually(t, 5*time.Second, "client gone", func() bool { return len(protoClients(n)) == 0 })
					})
					t.Run("HTTPS/"+cl.name+"/"+v.name, func(t *testing.T) {
						hc := hClient(secTLSClient(certs, cl.cert, v.v))
						req, err := http.NewRequest("POST", "https://"+n.HTTPSAddr().String()+"/pub?topic=https_"+topic, strings.NewReader("x"))
						if err != nil {
							t.Fatal(err)
						}
						resp, err := hc.Do(req)
						if !accept {
							if err == nil {
								resp.Body.Close()
								t.Fatalf("HTTPS request served: %d", resp.StatusCode)
							}
							return
						}
						if err != nil {
							t.Fatalf("HTTPS request refused: %v", err)
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || string(b) != "OK" {
							t.Fatalf("HTTPS /pub: %d %q", resp.StatusCode, b)
						}
					})
					if !accept {
						refused = append(refused, topic, "https_"+topic)
					}
				}
			}
			secNoTopic(t, n, refused...)
		})
	}
}

// ---- auth --------------------------------------------------------------------------

// With an auth server, a refused command leaves no trace: no topic or
// channel is created. The order of the checks is 1.3.0's: PUB and DPUB
// validate the topic, the deferral and the body before the auth gate, MPUB
// and SUB check auth before reading further.
func TestSecurityAuthRefusalsLeaveNoTrace(t *testing.T) {
	az := newSecAuthServer(t, azJSON(60,
		`[{"topic":"^sec_ok","channels":["^$","^ok$"],"permissions":["publish","subscribe"]}]`))
	o := testOptions(t)
	o.AuthHTTPAddresses = []string{az.addr()}
	o.MaxMsgSize = 100
	o.MaxBodySize = 1000
	n := startNSQD(t, o)

	big := strings.Repeat("x", 101)
	mpubHead := func(topic string, size uint32) []byte {
		return append([]byte("MPUB "+topic+"\n"), azSize(int32(size))...)
	}
	cases := []struct {
		name   string
		authed bool
		input  []byte
		want   string
		topic  string // must not exist afterwards
	}{
		{"PUB body checked before auth", false, wire.Publish("sec_a1", []byte(big)).Append(nil),
			"E_BAD_MESSAGE PUB message too big 101 > 100", "sec_a1"},
		{"PUB topic checked before auth", false, wire.Publish("sec_a2!", []byte("x")).Append(nil),
			`E_BAD_TOPIC PUB topic name "sec_a2!" is not valid`, "sec_a2!"},
		{"PUB without AUTH", false, wire.Publish("sec_ok_a3", []byte("x")).Append(nil),
			"E_AUTH_FIRST AUTH required before PUB", "sec_ok_a3"},
		{"DPUB deferral checked before auth", false, []byte("DPUB sec_a4 3600001\n"),
			"E_INVALID DPUB timeout 3600001 out of range 0-3600000", "sec_a4"},
		{"DPUB without AUTH", false, wire.DeferredPublish("sec_ok_a5", 10, []byte("x")).Append(nil),
			"E_AUTH_FIRST AUTH required before DPUB", "sec_ok_a5"},
		{"MPUB auth checked before the body", false, mpubHead("sec_ok_a6", 1001),
			"E_AUTH_FIRST AUTH required before MPUB", "sec_ok_a6"},
		{"MPUB without AUTH", false, wire.MultiPublish("sec_ok_a7", [][]byte{[]byte("x")}).Append(nil),
			"E_AUTH_FIRST AUTH required before MPUB", "sec_ok_a7"},
		{"SUB channel checked before auth", false, []byte("SUB sec_a8 bad!\n"),
			`E_BAD_CHANNEL SUB channel name "bad!" is not valid`, "sec_a8"},
		{"SUB without AUTH", false, wire.Subscribe("sec_ok_a9", "ok").Append(nil),
			"E_AUTH_FIRST AUTH required before SUB", "sec_ok_a9"},
		{"PUB to a topic not authorised", true, wire.Publish("sec_b1", []byte("x")).Append(nil),
			`E_UNAUTHORIZED AUTH failed for PUB on "sec_b1" ""`, "sec_b1"},
		{"DPUB to a topic not authorised", true, wire.DeferredPublish("sec_b2", 10, []byte("x")).Append(nil),
			`E_UNAUTHORIZED AUTH failed for DPUB on "sec_b2" ""`, "sec_b2"},
		{"MPUB to a topic not authorised, body unread", true, mpubHead("sec_b3", 1001),
			`E_UNAUTHORIZED AUTH failed for MPUB on "sec_b3" ""`, "sec_b3"},
		{"SUB to a topic not authorised", true, wire.Subscribe("sec_b4", "ok").Append(nil),
			`E_UNAUTHORIZED AUTH failed for SUB on "sec_b4" "ok"`, "sec_b4"},
		{"SUB to a channel not authorised", true, wire.Subscribe("sec_ok_b5", "other").Append(nil),
			`E_UNAUTHORIZED AUTH failed for SUB on "sec_ok_b5" "other"`, "sec_ok_b5"},
		{"SUB to an ephemeral channel not authorised", true, wire.Subscribe("sec_ok_b6", "ok#ephemeral").Append(nil),
			`E_UNAUTHORIZED AUTH failed for SUB on "sec_ok_b6" "ok#ephemeral"`, "sec_ok_b6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialProto(t, n)
			if tc.authed {
				c.send(wire.Auth("s"))
				c.expectResponse(`{"identity":"user","identity_url":"http://x/u","permission_count":1}`)
			}
			c.write(tc.input)
			c.expectFatal(tc.want)
			secNoTopic(t, n, tc.topic)
		})
	}

	// and what is authorised goes through
	c := dialProto(t, n)
	c.send(wire.Auth("s"))
	c.expectResponse("")
	c.pub("sec_ok", "x")
	c.send(wire.MultiPublish("sec_ok", [][]byte{[]byte("y")}))
	c.expectResponse("OK")
	c.send(wire.DeferredPublish("sec_ok", 0, []byte("z")))
	c.expectResponse("OK")
	if d := secDepth(t, n, "sec_ok"); d != 3 {
		t.Errorf("sec_ok depth %d, want 3", d)
	}
	c.sub("sec_ok", "ok")
}

// After the TTL of its answer nsqd asks the auth server again: a secret
// revoked in between is refused (E_AUTH_FAILED, fatal) at the next
// PUB/MPUB/DPUB/SUB, and its message is not published; a secret still valid
// keeps working; a new AUTH with the revoked secret is refused.
func TestSecurityAuthRevokedAfterTTL(t *testing.T) {
	az := newSecAuthServer(t, azJSON(1, azAll))
	n, _ := startAzNSQD(t, az.addr())

	type conn struct {
		secret string
		c      *protoClient
		next   []byte // the command refused once revoked
	}
	auth := func(secret string) *protoClient {
		c := dialProto(t, n)
		c.send(wire.Auth(secret))
		c.expectResponse(`{"identity":"user","identity_url":"http://x/u","permission_count":1}`)
		return c
	}
	var conns []conn
	for _, cmd := range []struct {
		name string
		raw  []byte
	}{
		{"PUB", wire.Publish("revoked", []byte("after")).Append(nil)},
		{"MPUB", wire.MultiPublish("revoked", [][]byte{[]byte("after")}).Append(nil)},
		{"DPUB", wire.DeferredPublish("revoked", 0, []byte("after")).Append(nil)},
		{"SUB", wire.Subscribe("revoked", "c").Append(nil)},
	} {
		secret := "revoked-" + cmd.name
		c := auth(secret)
		if cmd.name != "SUB" {
			c.pub("revoked", "before") // allowed while the secret is valid
		}
		conns = append(conns, conn{secret, c, cmd.raw})
	}
	kept := auth("kept")
	kept.pub("revoked", "before")
	depth := secDepth(t, n, "revoked")
	if depth != 4 {
		t.Fatalf("depth %d before revocation, want 4", depth)
	}

	queried := map[string]int{}
	for _, cn := range conns {
		az.revoke(cn.secret)
		queried[cn.secret] = az.count(cn.secret)
	}
	time.Sleep(1100 * time.Millisecond) // past the 1 s TTL

	for _, cn := range conns {
		t.Run(cn.secret, func(t *testing.T) {
			cn.c.write(cn.next)
			cn.c.expectFatal("E_AUTH_FAILED AUTH failed")
			if got := az.count(cn.secret); got != queried[cn.secret]+1 {
				t.Errorf("auth server asked %d times about the secret after revocation, want 1", got-queried[cn.secret])
			}
			c := dialProto(t, n)
			c.send(wire.Auth(cn.secret))
			c.expectFatal("E_AUTH_FAILED AUTH failed")
		})
	}
	if d := secDepth(t, n, "revoked"); d != depth {
		t.Errorf("depth %d after the refused publishes, want %d", d, depth)
	}
	if tp, _ := n.GetExistingTopic("revoked"); tp != nil {
		if _, err := tp.GetExistingChannel("c"); err == nil {
			t.Error("channel c created by a refused SUB")
		}
	}

	before := az.count("kept")
	kept.pub("revoked", "after")
	kept.sub("revoked", "kept")
	if got := az.count("kept"); got <= before {
		t.Errorf("the valid secret was not re-queried after its TTL (%d queries)", got)
	}
}

// HTTP publishing is never authorised (http-api.md §2): with an auth server
// that would refuse everything, /pub and /mpub work, and the auth server
// hears nothing; TCP still needs AUTH.
func TestSecurityHTTPPublishNotAuthorised(t *testing.T) {
	az := newSecAuthServer(t, azJSON(60, `[]`))
	n, _ := startAzNSQD(t, az.addr())
	hPost(t, n, "/pub?topic=sec_http", "x").expectV1(t, "pub", 200, "OK")
	hPost(t, n, "/pub?topic=sec_http&defer=10", "x").expectV1(t, "pub defer", 200, "OK")
	hPost(t, n, "/mpub?topic=sec_http", "a\nb").expectV1(t, "mpub", 200, "OK")
	hPost(t, n, "/mpub?topic=sec_http&binary=true", string(wire.EncodeMPUBBody([][]byte{[]byte("c")}))).expectV1(t, "mpub binary", 200, "OK")
	if got := az.total(); got != 0 {
		t.Errorf("auth server queried %d times for HTTP publishes", got)
	}
	if d := secDepth(t, n, "sec_http"); d != 5 {
		t.Errorf("depth %d, want 5", d)
	}
	c := dialProto(t, n)
	c.send(wire.Publish("sec_http", []byte("x")))
	c.expectFatal("E_AUTH_FIRST AUTH required before PUB")
	c = dialProto(t, n)
	c.send(wire.Auth("s"))
	c.expectFatal("E_UNAUTHORIZED AUTH no authorizations found")
	if got := az.count("s"); got != 1 {
		t.Errorf("auth server queried %d times for the AUTH, want 1", got)
	}
}
