package nsqd

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/snappy"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// ---------------------------------------------------------------------------
// A tiny raw V2 client: commands are written with wire.Command, frames read
// with wire.ReadFrame. Every call fails the test on an unexpected result, so
// it must only be used from the test goroutine.

type protoClient struct {
	t     testing.TB
	conn  net.Conn // the TCP connection
	dl    net.Conn // what deadlines are set on (TCP or TLS)
	r     io.Reader
	w     io.Writer
	flush func() error // after each write (compression streams)

	// messages that arrived while a response was awaited (message frames
	// may interleave with responses); expectMessage returns them first
	pending []*wire.Message
}

const protoTimeout = 5 * time.Second

func dialProto(t testing.TB, n *NSQD) *protoClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.TCPAddr().String(), protoTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &protoClient{t: t, conn: conn, dl: conn, r: conn, w: conn}
	c.write(wire.MagicV2)
	return c
}

func (c *protoClient) write(b []byte) {
	c.t.Helper()
	c.dl.SetWriteDeadline(time.Now().Add(protoTimeout))
	if _, err := c.w.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	if c.flush != nil {
		if err := c.flush(); err != nil {
			c.t.Fatalf("flush: %v", err)
		}
	}
}

func (c *protoClient) send(cmd *wire.Command) {
	c.t.Helper()
	c.write(cmd.Append(nil))
}

// cmd sends a command line without a body.
func (c *protoClient) cmd(name string, params ...string) {
	c.t.Helper()
	cmd := &wire.Command{Name: []byte(name)}
	for _, p := range params {
		cmd.Params = append(cmd.Params, []byte(p))
	}
	c.send(cmd)
}

// readFrame reads one frame (heartbeats included) within timeout.
func (c *protoClient) readFrame(timeout time.Duration) (int32, []byte, error) {
	c.dl.SetReadDeadline(time.Now().Add(timeout))
	return wire.ReadFrame(c.r, 1<<24)
}

// next returns the next non-heartbeat frame.
func (c *protoClient) next() (int32, []byte) {
	c.t.Helper()
	for {
		ft, data, err := c.readFrame(protoTimeout)
		if err != nil {
			c.t.Fatalf("read frame: %v", err)
		}
		if ft == wire.FrameTypeResponse && wire.IsHeartbeat(data) {
			continue
		}
		return ft, data
	}
}

func protoFrameString(ft int32, data []byte) string {
	switch ft {
	case wire.FrameTypeResponse:
		return fmt.Sprintf("response %q", data)
	case wire.FrameTypeError:
		return fmt.Sprintf("error %q", data)
	case wire.FrameTypeMessage:
		if m, err := wire.DecodeMessage(data); err == nil {
			return fmt.Sprintf("message id=%s attempts=%d body=%q", m.ID[:], m.Attempts, m.Body)
		}
	}
	return fmt.Sprintf("frame type %d %q", ft, data)
}

// nextReply is the next response or error frame; message frames before it
// are kept for expectMessage.
func (c *protoClient) nextReply() (int32, []byte) {
	c.t.Helper()
	for {
		ft, data := c.next()
		if ft != wire.FrameTypeMessage {
			return ft, data
		}
		m, err := wire.DecodeMessage(data)
		if err != nil {
			c.t.Fatalf("decode message: %v", err)
		}
		c.pending = append(c.pending, m)
	}
}

func (c *protoClient) expectResponse(want string) []byte {
	c.t.Helper()
	ft, data := c.nextReply()
	if ft != wire.FrameTypeResponse || (want != "" && string(data) != want) {
		c.t.Fatalf("got %s, want response %q", protoFrameString(ft, data), want)
	}
	return data
}

func (c *protoClient) expectError(want string) {
	c.t.Helper()
	ft, data := c.nextReply()
	if ft != wire.FrameTypeError || string(data) != want {
		c.t.Fatalf("got %s, want error %q", protoFrameString(ft, data), want)
	}
}

func (c *protoClient) expectMessage() *wire.Message {
	c.t.Helper()
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m
	}
	ft, data := c.next()
	if ft != wire.FrameTypeMessage {
		c.t.Fatalf("got %s, want a message", protoFrameString(ft, data))
	}
	m, err := wire.DecodeMessage(data)
	if err != nil {
		c.t.Fatalf("decode message: %v", err)
	}
	return m
}

// expectClosed reads until the server closes the connection; any frame
// other than a heartbeat fails the test.
func (c *protoClient) expectClosed() {
	c.t.Helper()
	c.pending = nil
	for {
		ft, data, err := c.readFrame(protoTimeout)
		if err != nil {
			if protoIsClosed(err) {
				return
			}
			c.t.Fatalf("want connection closed, got read error %v", err)
		}
		if ft == wire.FrameTypeResponse && wire.IsHeartbeat(data) {
			continue
		}
		c.t.Fatalf("want connection closed, got %s", protoFrameString(ft, data))
	}
}

func protoIsClosed(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// expectFatal expects the error frame and then the close.
func (c *protoClient) expectFatal(want string) {
	c.t.Helper()
	c.expectError(want)
	c.expectClosed()
}

// expectNothing checks that no frame (heartbeats aside) arrives within d.
// Only for plain TCP connections (a timed-out read is harmless there).
func (c *protoClient) expectNothing(d time.Duration) {
	c.t.Helper()
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.t.Fatalf("want no frame, got message id=%s attempts=%d body=%q", m.ID[:], m.Attempts, m.Body)
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		ft, data, err := c.readFrame(left)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			c.t.Fatalf("read: %v", err)
		}
		if ft == wire.FrameTypeResponse && wire.IsHeartbeat(data) {
			continue
		}
		c.t.Fatalf("want no frame for %s, got %s", d, protoFrameString(ft, data))
	}
}

func (c *protoClient) identify(js string) {
	c.t.Helper()
	c.send(wire.Identify([]byte(js)))
}

// identifyJSON sends IDENTIFY with feature negotiation and returns the reply.
func (c *protoClient) identifyJSON(js string) []byte {
	c.t.Helper()
	c.identify(js)
	ft, data := c.next()
	if ft != wire.FrameTypeResponse || len(data) == 0 || data[0] != '{' {
		c.t.Fatalf("IDENTIFY: got %s, want JSON", protoFrameString(ft, data))
	}
	return data
}

func (c *protoClient) pub(topic, body string) {
	c.t.Helper()
	c.send(wire.Publish(topic, []byte(body)))
	c.expectResponse("OK")
}

func (c *protoClient) sub(topic, channel string) {
	c.t.Helper()
	c.send(wire.Subscribe(topic, channel))
	c.expectResponse("OK")
}

// upgradeTLS does the client side of the TLS upgrade and reads its OK.
func (c *protoClient) upgradeTLS(cfg *tls.Config) {
	c.t.Helper()
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = "127.0.0.1"
	}
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(protoTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.dl, c.r, c.w = tc, tc, tc
	c.expectResponse("OK")
}

func (c *protoClient) upgradeSnappy() {
	c.t.Helper()
	sw := snappy.NewBufferedWriter(c.w)
	c.r = snappy.NewReader(c.r)
	c.w = sw
	c.flush = sw.Flush
	c.expectResponse("OK")
}

func (c *protoClient) upgradeDeflate(level int) {
	c.t.Helper()
	fw, err := flate.NewWriter(c.w, level)
	if err != nil {
		c.t.Fatal(err)
	}
	c.r = flate.NewReader(c.r)
	c.w = fw
	c.flush = fw.Flush
	c.expectResponse("OK")
}

// protoSub opens a connection protoSub to topic/channel (RDY 0).
func protoSub(t testing.TB, n *NSQD, topic, channel string) *protoClient {
	t.Helper()
	c := dialProto(t, n)
	c.sub(topic, channel)
	return c
}

func protoChannel(t testing.TB, n *NSQD, topic, channel string) *Channel {
	t.Helper()
	ch, err := n.GetTopic(topic).GetExistingChannel(channel)
	if err != nil {
		t.Fatalf("channel %s/%s: %v", topic, channel, err)
	}
	return ch
}

// protoClients snapshots the broker's connected clients.
func protoClients(n *NSQD) []*client {
	n.clientsMu.RLock()
	defer n.clientsMu.RUnlock()
	out := make([]*client, 0, len(n.clients))
	for _, c := range n.clients {
		out = append(out, c)
	}
	return out
}

// protoOnlyClient is the single connected client.
func protoOnlyClient(t testing.TB, n *NSQD) *client {
	t.Helper()
	var cl []*client
	eventually(t, 2*time.Second, "exactly one client", func() bool {
		cl = protoClients(n)
		return len(cl) == 1
	})
	return cl[0]
}

// protoJSONKeys returns the top-level keys of a JSON object in order.
func protoJSONKeys(t testing.TB, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", data)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// ---------------------------------------------------------------------------

// The IDENTIFY response keys, in the order of the table in
// tcp-protocol.md 1.5.1.
var specIdentifyKeys = []string{
	"max_rdy_count", "version", "max_msg_timeout", "msg_timeout", "tls_v1",
	"deflate", "deflate_level", "max_deflate_level", "snappy", "sample_rate",
	"auth_required", "output_buffer_size", "output_buffer_timeout",
}

func TestProtocolBadMagic(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	conn, err := net.Dial("tcp", n.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("  V1"))
	c := &protoClient{t: t, conn: conn, dl: conn, r: conn, w: conn}
	c.expectFatal("E_BAD_PROTOCOL")
}

func TestProtocolIdentifyFeatureNegotiation(t *testing.T) {
	o := testOptions(t)
	o.DeflateEnabled = false // deflate asked for but not negotiated: no upgrade
	o.MaxDeflateLevel = 5
	n := startNSQD(t, o)

	t.Run("requested values", func(t *testing.T) {
		c := dialProto(t, n)
		data := c.identifyJSON(`{"client_id":"cid","hostname":"host.example","user_agent":"raw/1.0",` +
			`"feature_negotiation":true,"heartbeat_interval":5000,"output_buffer_size":2048,` +
			`"output_buffer_timeout":100,"tls_v1":true,"deflate":true,"deflate_level":9,` +
			`"snappy":false,"sample_rate":7,"msg_timeout":12345,"short_id":"x","long_id":"y"}`)
		keys := protoJSONKeys(t, data)
		if strings.Join(keys, ",") != strings.Join(specIdentifyKeys, ",") {
			t.Errorf("IDENTIFY keys\n got %v\nwant %v", keys, specIdentifyKeys)
		}
		want := `{"max_rdy_count":2500,"version":"` + version.Reported + `","max_msg_timeout":900000,` +
			`"msg_timeout":12345,"tls_v1":false,"deflate":false,"deflate_level":5,"max_deflate_level":5,` +
			`"snappy":false,"sample_rate":7,"auth_required":false,"output_buffer_size":2048,` +
			`"output_buffer_timeout":100}`
		if string(data) != want {
			t.Errorf("IDENTIFY response\n got %s\nwant %s", data, want)
		}
		if !strings.HasPrefix(version.Reported, "1.3.0") {
			t.Errorf("version %q does not start with 1.3.0", version.Reported)
		}
		// no upgrade happened: plaintext commands still work
		c.pub("idt", "x")
		cl := protoOnlyClient(t, n)
		cl.metaMu.RLock()
		got := fmt.Sprint(cl.clientID, " ", cl.hostname, " ", cl.userAgent, " ", cl.msgTimeout, " ",
			cl.sampleRate, " ", cl.outputBufferSize, " ", cl.outputBufferTimeout, " ", cl.tlsState == nil, " ", cl.deflate)
		cl.metaMu.RUnlock()
		if want := "cid host.example raw/1.0 12.345s 7 2048 100ms true false"; got != want {
			t.Errorf("client state %q, want %q", got, want)
		}
		if hb := cl.heartbeat(); hb != 5*time.Second {
			t.Errorf("heartbeat %s, want 5s", hb)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		c := dialProto(t, n)
		data := c.identifyJSON(`{"feature_negotiation":true}`)
		want := `{"max_rdy_count":2500,"version":"` + version.Reported + `","max_msg_timeout":900000,` +
			`"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":5,"max_deflate_level":5,` +
			`"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,` +
			`"output_buffer_timeout":250}`
		if string(data) != want {
			t.Errorf("IDENTIFY response\n got %s\nwant %s", data, want)
		}
	})

	t.Run("custom limits", func(t *testing.T) {
		o := testOptions(t)
		o.MaxRdyCount = 77
		o.MaxMsgTimeout = 90 * time.Second
		o.MsgTimeout = 3 * time.Second
		o.OutputBufferTimeout = 400 * time.Millisecond
		n := startNSQD(t, o)
		c := dialProto(t, n)
		data := c.identifyJSON(`{"feature_negotiation":true,"deflate_level":3,"output_buffer_size":-1}`)
		var resp map[string]any
		if err := json.Unmarshal(data, &resp); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]float64{"max_rdy_count": 77, "max_msg_timeout": 90000, "msg_timeout": 3000,
			"deflate_level": 6, "output_buffer_size": 1, "output_buffer_timeout": 0} {
			if resp[k] != v {
				t.Errorf("%s = %v, want %v", k, resp[k], v)
			}
		}
	})
}

func TestProtocolIdentifyWithoutNegotiation(t *testing.T) {
	certs := makeTestCerts(t)
	o := testOptions(t)
	o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
	n := startNSQD(t, o)
	for _, body := range []string{
		`{}`,
		`{"client_id":"a","tls_v1":true,"snappy":true}`,
		`{"deflate":true,"snappy":true,"feature_negotiation":false}`,
		`{"feature_negotiation":null,"tls_v1":true,"unknown_key":[1,2,3]}`,
	} {
		t.Run(body, func(t *testing.T) {
			c := dialProto(t, n)
			c.identify(body)
			c.expectResponse("OK")
			c.pub("plain", "still plaintext, no upgrade")
		})
	}
	// no client_id/hostname: set to empty strings (only non-IDENTIFY clients
	// get the remote address)
	c := dialProto(t, n)
	c.identify(`{"user_agent":"ua"}`)
	c.expectResponse("OK")
	cl := protoOnlyClient(t, n)
	cl.metaMu.RLock()
	id, host := cl.clientID, cl.hostname
	cl.metaMu.RUnlock()
	if id != "" || host != "" {
		t.Errorf("client_id %q hostname %q, want empty", id, host)
	}
}

func TestProtocolIdentifyErrors(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	rangeErr := func(s string) string { return "E_BAD_BODY IDENTIFY " + s }
	cases := []struct {
		body string
		want string // "" means accepted (OK)
	}{
		// spec order: heartbeat, output buffer timeout, output buffer size,
		// sample rate, msg timeout
		{`{"heartbeat_interval":999,"output_buffer_timeout":1,"output_buffer_size":1,"sample_rate":100,"msg_timeout":1}`,
			rangeErr("heartbeat interval (999) is invalid")},
		{`{"output_buffer_timeout":1,"output_buffer_size":1,"sample_rate":100,"msg_timeout":1}`,
			rangeErr("output buffer timeout (1) is invalid")},
		{`{"output_buffer_size":1,"sample_rate":100,"msg_timeout":1}`,
			rangeErr("output buffer size (1) is invalid")},
		{`{"sample_rate":100,"msg_timeout":1}`, rangeErr("sample rate (100) is invalid")},
		{`{"msg_timeout":1}`, rangeErr("msg timeout (1) is invalid")},
		// boundaries
		{`{"heartbeat_interval":-2}`, rangeErr("heartbeat interval (-2) is invalid")},
		{`{"heartbeat_interval":60001}`, rangeErr("heartbeat interval (60001) is invalid")},
		{`{"heartbeat_interval":1000}`, ""},
		{`{"heartbeat_interval":60000}`, ""},
		{`{"heartbeat_interval":-1}`, ""},
		{`{"output_buffer_timeout":24}`, rangeErr("output buffer timeout (24) is invalid")},
		{`{"output_buffer_timeout":30001}`, rangeErr("output buffer timeout (30001) is invalid")},
		{`{"output_buffer_timeout":-2}`, rangeErr("output buffer timeout (-2) is invalid")},
		{`{"output_buffer_timeout":25}`, ""},
		{`{"output_buffer_timeout":30000}`, ""},
		{`{"output_buffer_timeout":-1}`, ""},
		{`{"output_buffer_size":63}`, rangeErr("output buffer size (63) is invalid")},
		{`{"output_buffer_size":65537}`, rangeErr("output buffer size (65537) is invalid")},
		{`{"output_buffer_size":-2}`, rangeErr("output buffer size (-2) is invalid")},
		{`{"output_buffer_size":64}`, ""},
		{`{"output_buffer_size":65536}`, ""},
		{`{"output_buffer_size":-1}`, ""},
		{`{"sample_rate":-1}`, rangeErr("sample rate (-1) is invalid")},
		{`{"sample_rate":99}`, ""},
		{`{"msg_timeout":999}`, rangeErr("msg timeout (999) is invalid")},
		{`{"msg_timeout":900001}`, rangeErr("msg timeout (900001) is invalid")},
		{`{"msg_timeout":-1}`, rangeErr("msg timeout (-1) is invalid")},
		{`{"msg_timeout":1000}`, ""},
		{`{"msg_timeout":900000}`, ""},
		{`{"deflate_level":-5}`, ""}, // never rejected
		{`{"deflate_level":100}`, ""},
		// decoding
		{`not json`, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{`{"heartbeat_interval":"1000"}`, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{`{"msg_timeout":30000.5}`, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{`{"tls_v1":"true"}`, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
	}
	for _, tc := range cases {
		t.Run(tc.body, func(t *testing.T) {
			c := dialProto(t, n)
			c.identify(tc.body)
			if tc.want == "" {
				c.expectResponse("OK")
				return
			}
			c.expectFatal(tc.want)
		})
	}

	t.Run("body size", func(t *testing.T) {
		raw := func(size uint32) []byte {
			return binary.BigEndian.AppendUint32([]byte("IDENTIFY\n"), size)
		}
		c := dialProto(t, n)
		c.write(raw(0))
		c.expectFatal("E_BAD_BODY IDENTIFY invalid body size 0")
		c = dialProto(t, n)
		c.write(raw(0xFFFFFFFF))
		c.expectFatal("E_BAD_BODY IDENTIFY invalid body size -1")
		c = dialProto(t, n)
		c.write(raw(6 << 20))
		c.expectFatal(fmt.Sprintf("E_BAD_BODY IDENTIFY body too big %d > %d", 6<<20, 5<<20))
	})

	t.Run("both compressions", func(t *testing.T) {
		c := dialProto(t, n)
		c.identify(`{"feature_negotiation":true,"snappy":true,"deflate":true}`)
		// no JSON first: the error is the only frame
		c.expectFatal("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression")
	})

	t.Run("after SUB", func(t *testing.T) {
		c := protoSub(t, n, "idt", "ch")
		c.identify(`{}`)
		c.expectFatal("E_INVALID cannot IDENTIFY in current state")
	})

	t.Run("SUB with heartbeats disabled", func(t *testing.T) {
		c := dialProto(t, n)
		c.identify(`{"heartbeat_interval":-1}`)
		c.expectResponse("OK")
		c.send(wire.Subscribe("idt", "ch"))
		c.expectFatal("E_INVALID cannot SUB with heartbeats disabled")
	})
}

// TestProtocolUpgrades negotiates TLS, snappy and deflate by hand and checks
// the "OK" after each upgrade and normal traffic through the new streams.
func TestProtocolUpgrades(t *testing.T) {
	certs := makeTestCerts(t)
	o := testOptions(t)
	o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
	o.MaxDeflateLevel = 9
	n := startNSQD(t, o)
	cases := []struct {
		name    string
		tls     bool
		snappy  bool
		deflate int // level, 0 = off
	}{
		{"tls", true, false, 0},
		{"snappy", false, true, 0},
		{"deflate", false, false, 1},
		{"tls+snappy", true, true, 0},
		{"tls+deflate", true, false, 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialProto(t, n)
			req := map[string]any{"feature_negotiation": true, "tls_v1": tc.tls, "snappy": tc.snappy}
			if tc.deflate > 0 {
				req["deflate"], req["deflate_level"] = true, tc.deflate
			}
			js, _ := json.Marshal(req)
			var resp struct {
				TLSv1        bool `json:"tls_v1"`
				Snappy       bool `json:"snappy"`
				Deflate      bool `json:"deflate"`
				DeflateLevel int  `json:"deflate_level"`
			}
			if err := json.Unmarshal(c.identifyJSON(string(js)), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.TLSv1 != tc.tls || resp.Snappy != tc.snappy || resp.Deflate != (tc.deflate > 0) {
				t.Fatalf("negotiated %+v", resp)
			}
			if tc.deflate > 0 && resp.DeflateLevel != tc.deflate {
				t.Errorf("deflate_level %d, want %d", resp.DeflateLevel, tc.deflate)
			}
			if tc.tls {
				c.upgradeTLS(certs.ClientTLS(t, false))
			}
			if tc.snappy {
				c.upgradeSnappy()
			}
			if tc.deflate > 0 {
				c.upgradeDeflate(tc.deflate)
			}
			topic := "up_" + strings.ReplaceAll(tc.name, "+", "_")
			body := strings.Repeat("compressible payload ", 200)
			for i := 0; i < 20; i++ {
				c.pub(topic, fmt.Sprint(i, body))
			}
			c.sub(topic, "ch")
			c.cmd("RDY", "100")
			seen := map[string]bool{}
			for i := 0; i < 20; i++ {
				m := c.expectMessage()
				if !strings.HasSuffix(string(m.Body), body) || m.Attempts != 1 {
					t.Fatalf("bad message %q attempts %d", m.Body[:10], m.Attempts)
				}
				seen[string(m.Body)] = true
				c.send(wire.Finish(m.ID))
			}
			if len(seen) != 20 {
				t.Errorf("%d distinct messages, want 20", len(seen))
			}
			ch := protoChannel(t, n, topic, "ch")
			eventually(t, 2*time.Second, "all finished", func() bool { return ch.InFlightCount() == 0 })
			cl := protoOnlyClient(t, n)
			cl.metaMu.RLock()
			gotTLS, gotSnappy, gotDeflate := cl.tlsState != nil, cl.snappy, cl.deflate
			cl.metaMu.RUnlock()
			if gotTLS != tc.tls || gotSnappy != tc.snappy || gotDeflate != (tc.deflate > 0) {
				t.Errorf("server side tls=%v snappy=%v deflate=%v", gotTLS, gotSnappy, gotDeflate)
			}
		})
	}
}

func TestProtocolTLSRequired(t *testing.T) {
	certs := makeTestCerts(t)
	o := testOptions(t)
	o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
	o.TLSRequired = TLSRequiredExceptHTTP
	n := startNSQD(t, o)

	for _, name := range []string{"NOP", "PUB", "SUB", "FOO"} {
		c := dialProto(t, n)
		c.cmd(name, "t")
		c.expectFatal("E_INVALID cannot " + name + " in current state (TLS required)")
	}
	// IDENTIFY without TLS is allowed, but the next command is not
	c := dialProto(t, n)
	c.identify(`{}`)
	c.expectResponse("OK")
	c.cmd("NOP")
	c.expectFatal("E_INVALID cannot NOP in current state (TLS required)")

	c = dialProto(t, n)
	c.identifyJSON(`{"feature_negotiation":true,"tls_v1":true}`)
	c.upgradeTLS(certs.ClientTLS(t, false))
	c.pub("tlsreq", "secure")
	c.sub("tlsreq", "ch")
	c.cmd("RDY", "1")
	if m := c.expectMessage(); string(m.Body) != "secure" {
		t.Errorf("body %q", m.Body)
	}
}

func TestProtocolCommandsBeforeSUB(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	id := "0000000000000000"
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"RDY", "1"}, "E_INVALID cannot RDY in current state"},
		{[]string{"FIN", id}, "E_INVALID cannot FIN in current state"},
		{[]string{"REQ", id, "0"}, "E_INVALID cannot REQ in current state"},
		{[]string{"TOUCH", id}, "E_INVALID cannot TOUCH in current state"},
		{[]string{"CLS"}, "E_INVALID cannot CLS in current state"},
		{[]string{"SUB", "t"}, "E_INVALID SUB insufficient number of parameters"},
		{[]string{"SUB", "bad/topic", "c"}, `E_BAD_TOPIC SUB topic name "bad/topic" is not valid`},
		{[]string{"SUB", "t", "bad/chan"}, `E_BAD_CHANNEL SUB channel name "bad/chan" is not valid`},
		{[]string{"BOGUS"}, "E_INVALID invalid command BOGUS"},
	} {
		t.Run(strings.Join(tc.params, " "), func(t *testing.T) {
			c := dialProto(t, n)
			c.cmd(tc.params[0], tc.params[1:]...)
			c.expectFatal(tc.want)
		})
	}
}

// TestProtocolSubRdyFinReq walks one message through RDY, FIN, REQ (now and
// deferred) and TOUCH on a single connection.
func TestProtocolSubRdyFinReq(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	p := dialProto(t, n)
	c := protoSub(t, n, "srf", "ch")
	ch := protoChannel(t, n, "srf", "ch")

	before := time.Now().UnixNano()
	p.pub("srf", "one")
	p.pub("srf", "two")
	after := time.Now().UnixNano()
	c.expectNothing(200 * time.Millisecond) // RDY is 0 after SUB

	c.cmd("RDY", "1")
	m := c.expectMessage()
	if string(m.Body) != "one" || m.Attempts != 1 {
		t.Fatalf("first delivery %q attempts %d", m.Body, m.Attempts)
	}
	if m.Timestamp < before || m.Timestamp > after {
		t.Errorf("timestamp %d not within publish window [%d,%d]", m.Timestamp, before, after)
	}
	if strings.Trim(string(m.ID[:]), "0123456789abcdef") != "" {
		t.Errorf("message ID %q is not lowercase hex", m.ID[:])
	}
	c.expectNothing(200 * time.Millisecond) // RDY 1 with one in flight

	// FIN of an unknown ID: non-fatal, connection stays usable
	c.cmd("FIN", "0123456789abcdef")
	c.expectError("E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight")
	c.cmd("REQ", "0123456789abcdef", "0")
	c.expectError("E_REQ_FAILED REQ 0123456789abcdef failed ID not in flight")
	c.cmd("TOUCH", "0123456789abcdef")
	c.expectError("E_TOUCH_FAILED TOUCH 0123456789abcdef failed ID not in flight")
	c.cmd("NOP")
	c.pub("other", "x")

	// TOUCH succeeds silently
	c.send(wire.Touch(m.ID))
	c.pub("other", "x")

	// REQ 0: straight back to the queue, redelivered with attempts 2 and the
	// same ID and timestamp; "two" was queued first.
	c.send(wire.Requeue(m.ID, 0))
	m2 := c.expectMessage()
	if string(m2.Body) != "two" || m2.Attempts != 1 {
		t.Fatalf("got %q attempts %d, want two/1", m2.Body, m2.Attempts)
	}
	c.send(wire.Finish(m2.ID))
	r := c.expectMessage()
	if r.ID != m.ID || r.Timestamp != m.Timestamp || r.Attempts != 2 || string(r.Body) != "one" {
		t.Fatalf("requeued: id %s ts %d attempts %d, want id %s ts %d attempts 2", r.ID[:], r.Timestamp, r.Attempts, m.ID[:], m.Timestamp)
	}

	// REQ with a delay: deferred in the channel, then redelivered
	reqAt := time.Now()
	c.send(wire.Requeue(r.ID, 400))
	eventually(t, 2*time.Second, "deferred count 1", func() bool { return ch.DeferredCount() == 1 })
	if ch.InFlightCount() != 0 {
		t.Errorf("in flight %d after REQ, want 0", ch.InFlightCount())
	}
	r3 := c.expectMessage()
	if waited := time.Since(reqAt); waited < 400*time.Millisecond {
		t.Errorf("deferred message redelivered after %s, want >= 400ms", waited)
	}
	if r3.ID != m.ID || r3.Attempts != 3 {
		t.Fatalf("deferred redelivery id %s attempts %d", r3.ID[:], r3.Attempts)
	}
	if ch.DeferredCount() != 0 {
		t.Errorf("deferred count %d after redelivery", ch.DeferredCount())
	}
	c.send(wire.Finish(r3.ID))
	c.pub("other", "sync") // FIN produced no error frame
	if got := ch.requeueCount.Load(); got != 2 {
		t.Errorf("channel requeue_count %d, want 2", got)
	}
	cl := protoChannelClient(t, ch)
	if f, rq := cl.finishCount.Load(), cl.requeueCount.Load(); f != 2 || rq != 2 {
		t.Errorf("client finish %d requeue %d, want 2 and 2", f, rq)
	}
	if ch.InFlightCount() != 0 || ch.Depth() != 0 {
		t.Errorf("in flight %d depth %d, want 0", ch.InFlightCount(), ch.Depth())
	}
}

func protoChannelClient(t testing.TB, ch *Channel) *client {
	t.Helper()
	cl := ch.clientList()
	if len(cl) != 1 {
		t.Fatalf("%d clients on channel, want 1", len(cl))
	}
	return cl[0]
}

func TestProtocolRdyCount(t *testing.T) {
	o := testOptions(t)
	o.MaxRdyCount = 100
	n := startNSQD(t, o)
	p := dialProto(t, n)
	for i := 0; i < 5; i++ {
		p.pub("rdy", fmt.Sprint(i))
	}

	c := protoSub(t, n, "rdy", "ch")
	c.cmd("RDY", "3")
	var ids []wire.MessageID
	for i := 0; i < 3; i++ {
		ids = append(ids, c.expectMessage().ID)
	}
	c.expectNothing(200 * time.Millisecond) // 3 in flight = RDY
	cl := protoChannelClient(t, protoChannel(t, n, "rdy", "ch"))
	if r, f := cl.readyCount.Load(), cl.inFlightCount.Load(); r != 3 || f != 3 {
		t.Errorf("ready %d in flight %d, want 3/3", r, f)
	}
	c.send(wire.Finish(ids[0]))
	ids = append(ids[1:], c.expectMessage().ID)
	c.expectNothing(100 * time.Millisecond)

	// RDY 0 stops delivery even after FINs
	c.cmd("RDY", "0")
	for _, id := range ids {
		c.send(wire.Finish(id))
	}
	c.expectNothing(200 * time.Millisecond)
	// "RDY" alone means RDY 1
	c.cmd("RDY")
	c.expectMessage()
	eventually(t, time.Second, "ready 1", func() bool { return cl.readyCount.Load() == 1 })
	// empty count parses as 0
	c.write([]byte("RDY \n"))
	c.pub("x", "sync")
	if r := cl.readyCount.Load(); r != 0 {
		t.Errorf("ready %d after 'RDY ', want 0", r)
	}
	c.cmd("RDY", "100") // the maximum is accepted
	c.pub("x", "sync")

	for _, tc := range []struct{ count, want string }{
		{"101", "E_INVALID RDY count 101 out of range 0-100"},
		{"-1", "E_INVALID RDY could not parse count -1"},
		{"+1", "E_INVALID RDY could not parse count +1"},
		{"abc", "E_INVALID RDY could not parse count abc"},
	} {
		c := protoSub(t, n, "rdy", "ch2")
		c.cmd("RDY", tc.count)
		c.expectFatal(tc.want)
	}
}

func TestProtocolMessageIDParams(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"FIN"}, "E_INVALID FIN insufficient number of params"},
		{[]string{"FIN", "abc"}, "E_INVALID invalid message ID"},
		{[]string{"FIN", "0123456789abcdef0"}, "E_INVALID invalid message ID"},
		{[]string{"REQ", "0123456789abcdef"}, "E_INVALID REQ insufficient number of params"},
		{[]string{"REQ", "short", "0"}, "E_INVALID invalid message ID"},
		{[]string{"REQ", "0123456789abcdef", "x"}, "E_INVALID REQ could not parse timeout x"},
		{[]string{"REQ", "0123456789abcdef", "-5"}, "E_INVALID REQ could not parse timeout -5"},
		{[]string{"TOUCH"}, "E_INVALID TOUCH insufficient number of params"},
		{[]string{"TOUCH", "abc"}, "E_INVALID invalid message ID"},
	} {
		t.Run(strings.Join(tc.params, " "), func(t *testing.T) {
			c := protoSub(t, n, "ids", "ch")
			c.cmd(tc.params[0], tc.params[1:]...)
			c.expectFatal(tc.want)
		})
	}
}

// TestProtocolForeignMessage: FIN/REQ/TOUCH of a message in flight to
// another connection of the same channel fail without closing.
func TestProtocolForeignMessage(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	a := protoSub(t, n, "foreign", "ch")
	b := protoSub(t, n, "foreign", "ch")
	b.pub("foreign", "mine")
	a.cmd("RDY", "1")
	m := a.expectMessage()
	id := string(m.ID[:])

	b.send(wire.Finish(m.ID))
	b.expectError("E_FIN_FAILED FIN " + id + " failed client does not own message")
	b.send(wire.Requeue(m.ID, 0))
	b.expectError("E_REQ_FAILED REQ " + id + " failed client does not own message")
	b.send(wire.Touch(m.ID))
	b.expectError("E_TOUCH_FAILED TOUCH " + id + " failed client does not own message")
	b.cmd("NOP")
	b.pub("foreign", "still open")

	ch := protoChannel(t, n, "foreign", "ch")
	if ch.InFlightCount() != 1 {
		t.Errorf("in flight %d, want 1 (owner's copy untouched)", ch.InFlightCount())
	}
	a.send(wire.Finish(m.ID))
	// RDY 1 again: a now gets the message b published
	m2 := a.expectMessage()
	if string(m2.Body) != "still open" {
		t.Errorf("got %q", m2.Body)
	}
	a.send(wire.Finish(m2.ID))
	a.pub("x", "sync")
	if ch.InFlightCount() != 0 {
		t.Errorf("in flight %d after owner FIN", ch.InFlightCount())
	}
}

func TestProtocolReqClamp(t *testing.T) {
	o := testOptions(t)
	o.MaxReqTimeout = 300 * time.Millisecond
	n := startNSQD(t, o)
	c := protoSub(t, n, "clamp", "ch")
	c.pub("clamp", "m")
	c.cmd("RDY", "1")
	m := c.expectMessage()
	start := time.Now()
	c.cmd("REQ", string(m.ID[:]), "99999999999") // clamped, not rejected
	ch := protoChannel(t, n, "clamp", "ch")
	eventually(t, time.Second, "deferred", func() bool { return ch.DeferredCount() == 1 })
	r := c.expectMessage()
	if r.ID != m.ID || r.Attempts != 2 {
		t.Fatalf("redelivery id %s attempts %d", r.ID[:], r.Attempts)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("REQ timeout not clamped to 300ms: redelivered after %s", d)
	}
}

// TestProtocolCloseWait: CLS answers CLOSE_WAIT, stops delivery, keeps the
// connection open; FIN/REQ/TOUCH/PUB still work, RDY is ignored, SUB/CLS
// are refused.
func TestProtocolCloseWait(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	c := protoSub(t, n, "cls", "ch")
	for i := 0; i < 4; i++ {
		c.pub("cls", fmt.Sprint(i))
	}
	c.cmd("RDY", "2")
	m1, m2 := c.expectMessage(), c.expectMessage()

	c.cmd("CLS")
	c.expectResponse("CLOSE_WAIT")
	cl := protoChannelClient(t, protoChannel(t, n, "cls", "ch"))
	if st, r := cl.state.Load(), cl.readyCount.Load(); st != stateClosing || r != 0 {
		t.Errorf("state %d ready %d, want %d and 0", st, r, stateClosing)
	}

	c.send(wire.Finish(m1.ID)) // FIN works while closing
	c.cmd("RDY", "10")         // ignored: no reply, no error
	c.pub("cls", "while closing")
	c.expectNothing(300 * time.Millisecond)
	if r := cl.readyCount.Load(); r != 0 {
		t.Errorf("RDY in closing state changed ready to %d", r)
	}
	c.send(wire.Touch(m2.ID))
	c.send(wire.Requeue(m2.ID, 0))
	c.pub("cls", "sync")
	c.expectNothing(200 * time.Millisecond) // requeued message is not redelivered here
	if f, rq := cl.finishCount.Load(), cl.requeueCount.Load(); f != 1 || rq != 1 {
		t.Errorf("finish %d requeue %d, want 1/1", f, rq)
	}

	c.cmd("CLS")
	c.expectFatal("E_INVALID cannot CLS in current state")

	c2 := protoSub(t, n, "cls", "ch")
	c2.cmd("CLS")
	c2.expectResponse("CLOSE_WAIT")
	c2.send(wire.Subscribe("cls", "ch"))
	c2.expectFatal("E_INVALID cannot SUB in current state")

	// the messages are still there for a new consumer
	c3 := protoSub(t, n, "cls", "ch")
	c3.cmd("RDY", "10")
	for i := 0; i < 5; i++ {
		c3.send(wire.Finish(c3.expectMessage().ID))
	}
}

// TestProtocolHeartbeats: _heartbeat_ every negotiated interval; answering
// with NOP keeps the connection; a silent client is dropped after ~2
// intervals without an error frame.
func TestProtocolHeartbeats(t *testing.T) {
	n := startNSQD(t, testOptions(t))

	t.Run("answered", func(t *testing.T) {
		c := dialProto(t, n)
		c.identifyJSON(`{"feature_negotiation":true,"heartbeat_interval":1000}`)
		c.sub("hb", "ch")
		last := time.Now()
		for i := 0; i < 3; i++ {
			ft, data, err := c.readFrame(3 * time.Second)
			if err != nil {
				t.Fatalf("heartbeat %d: %v", i, err)
			}
			if ft != wire.FrameTypeResponse || !wire.IsHeartbeat(data) {
				t.Fatalf("got %s, want _heartbeat_", protoFrameString(ft, data))
			}
			gap := time.Since(last)
			last = time.Now()
			if gap < 600*time.Millisecond || gap > 1600*time.Millisecond {
				t.Errorf("heartbeat %d after %s, want ~1s", i, gap)
			}
			c.cmd("NOP")
		}
		c.pub("hb", "alive") // survived three intervals
	})

	t.Run("silent client dropped", func(t *testing.T) {
		c := dialProto(t, n)
		c.identify(`{"heartbeat_interval":1000}`)
		c.expectResponse("OK")
		start := time.Now()
		beats := 0
		for {
			ft, data, err := c.readFrame(5 * time.Second)
			if err != nil {
				if !protoIsClosed(err) {
					t.Fatalf("want close, got %v", err)
				}
				break
			}
			if ft != wire.FrameTypeResponse || !wire.IsHeartbeat(data) {
				t.Fatalf("got %s, want heartbeat or close", protoFrameString(ft, data))
			}
			beats++
		}
		d := time.Since(start)
		if d < 1700*time.Millisecond || d > 3500*time.Millisecond {
			t.Errorf("dropped after %s, want ~2s", d)
		}
		if beats < 1 || beats > 2 {
			t.Errorf("%d heartbeats before the close, want 1-2", beats)
		}
	})
}

func TestProtocolOutputBuffer(t *testing.T) {
	n := startNSQD(t, testOptions(t))

	t.Run("size -1", func(t *testing.T) {
		c := dialProto(t, n)
		var resp map[string]any
		json.Unmarshal(c.identifyJSON(`{"feature_negotiation":true,"output_buffer_size":-1,"output_buffer_timeout":500}`), &resp)
		if resp["output_buffer_size"] != 1.0 || resp["output_buffer_timeout"] != 0.0 {
			t.Errorf("output_buffer_size %v timeout %v, want 1 and 0", resp["output_buffer_size"], resp["output_buffer_timeout"])
		}
		c.sub("obs", "ch")
		c.cmd("RDY", "10")
		// published from another connection so that no response frame on c
		// flushes for it; 1-byte bodies must not wait in the 1-byte buffer
		p := dialProto(t, n)
		for i := 0; i < 3; i++ {
			p.pub("obs", fmt.Sprint(i))
		}
		for i := 0; i < 3; i++ {
			m := c.expectMessage()
			if string(m.Body) != fmt.Sprint(i) {
				t.Errorf("got %q, want %d", m.Body, i)
			}
			c.send(wire.Finish(m.ID))
		}
	})

	t.Run("timeout -1", func(t *testing.T) {
		c := dialProto(t, n)
		var resp map[string]any
		json.Unmarshal(c.identifyJSON(`{"feature_negotiation":true,"output_buffer_timeout":-1}`), &resp)
		if resp["output_buffer_size"] != 16384.0 || resp["output_buffer_timeout"] != 0.0 {
			t.Errorf("output_buffer_size %v timeout %v, want 16384 and 0", resp["output_buffer_size"], resp["output_buffer_timeout"])
		}
		c.sub("obt", "ch")
		c.cmd("RDY", "2")
		p := dialProto(t, n)
		p.pub("obt", "first")
		ch := protoChannel(t, n, "obt", "ch")
		eventually(t, 2*time.Second, "first in flight", func() bool { return ch.InFlightCount() == 1 })
		// still ready for one more and no timed flush: the message stays buffered
		c.expectNothing(400 * time.Millisecond)
		p.pub("obt", "second")
		// now RDY is reached: both are flushed
		if m := c.expectMessage(); string(m.Body) != "first" {
			t.Errorf("got %q, want first", m.Body)
		}
		if m := c.expectMessage(); string(m.Body) != "second" {
			t.Errorf("got %q, want second", m.Body)
		}
	})

	t.Run("limits accepted", func(t *testing.T) {
		c := dialProto(t, n)
		var resp map[string]any
		json.Unmarshal(c.identifyJSON(`{"feature_negotiation":true,"output_buffer_size":64,"output_buffer_timeout":25}`), &resp)
		if resp["output_buffer_size"] != 64.0 || resp["output_buffer_timeout"] != 25.0 {
			t.Errorf("got %v/%v, want 64/25", resp["output_buffer_size"], resp["output_buffer_timeout"])
		}
		c.sub("obl", "ch")
		c.cmd("RDY", "5")
		big := strings.Repeat("b", 1000) // larger than the 64-byte buffer
		c.pub("obl", big)
		if m := c.expectMessage(); string(m.Body) != big {
			t.Errorf("body len %d", len(m.Body))
		}
	})
}

// TestProtocolFanOut: each channel of a topic gets a copy with the same ID
// and timestamp, attempts 1.
func TestProtocolFanOut(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	c1 := protoSub(t, n, "fan", "ch1")
	c2 := protoSub(t, n, "fan", "ch2")
	c1.cmd("RDY", "1")
	c2.cmd("RDY", "1")
	p := dialProto(t, n)
	p.send(wire.MultiPublish("fan", [][]byte{[]byte("a"), []byte("b")}))
	p.expectResponse("OK")
	m1, m2 := c1.expectMessage(), c2.expectMessage()
	if m1.ID != m2.ID || m1.Timestamp != m2.Timestamp {
		t.Errorf("copies differ: %s/%d vs %s/%d", m1.ID[:], m1.Timestamp, m2.ID[:], m2.Timestamp)
	}
	if m1.Attempts != 1 || m2.Attempts != 1 || string(m1.Body) != "a" || string(m2.Body) != "a" {
		t.Errorf("attempts %d/%d bodies %q/%q", m1.Attempts, m2.Attempts, m1.Body, m2.Body)
	}
	c1.send(wire.Finish(m1.ID))
	c2.send(wire.Finish(m2.ID))
	n1, n2 := c1.expectMessage(), c2.expectMessage()
	if n1.ID != n2.ID || string(n1.Body) != "b" {
		t.Errorf("second copies differ: %s %s %q", n1.ID[:], n2.ID[:], n1.Body)
	}
	if string(n1.ID[:]) <= string(m1.ID[:]) {
		t.Errorf("MPUB IDs not increasing: %s then %s", m1.ID[:], n1.ID[:])
	}
	c1.send(wire.Finish(n1.ID))
	c2.send(wire.Finish(n2.ID))

	// many messages with both consumers ready: every copy is a first attempt
	c1.cmd("RDY", "50")
	c2.cmd("RDY", "50")
	const count = 300
	var bodies [][]byte
	for i := 0; i < count; i++ {
		bodies = append(bodies, []byte(fmt.Sprint(i)))
	}
	p.send(wire.MultiPublish("fan", bodies))
	p.expectResponse("OK")
	ids := map[wire.MessageID]int{}
	for _, c := range []*protoClient{c1, c2} {
		for i := 0; i < count; i++ {
			m := c.expectMessage()
			if m.Attempts != 1 {
				t.Fatalf("copy of %q delivered with attempts %d", m.Body, m.Attempts)
			}
			ids[m.ID]++
			c.send(wire.Finish(m.ID))
		}
	}
	for id, k := range ids {
		if k != 2 {
			t.Fatalf("ID %s seen %d times across 2 channels, want 2", id[:], k)
		}
	}
	if len(ids) != count {
		t.Errorf("%d distinct IDs, want %d", len(ids), count)
	}
}

// TestProtocolTouchCap: TOUCH moves the deadline to now + msg_timeout but
// never past delivery + --max-msg-timeout.
func TestProtocolTouchCap(t *testing.T) {
	o := testOptions(t)
	o.MaxMsgTimeout = 2 * time.Second
	n := startNSQD(t, o)
	c := dialProto(t, n)
	c.identify(`{"msg_timeout":1000}`)
	c.expectResponse("OK")
	c.sub("tcap", "ch")
	ch := protoChannel(t, n, "tcap", "ch")
	c.cmd("RDY", "1")
	p := dialProto(t, n)
	p.pub("tcap", "m")
	m := c.expectMessage()
	delivered := time.Now()
	// touching every 400ms would keep it forever without the cap
	for i := 1; i <= 4; i++ {
		time.Sleep(time.Until(delivered.Add(time.Duration(i) * 400 * time.Millisecond)))
		if ch.timeoutCount.Load() != 0 {
			t.Fatalf("timed out after %s despite TOUCH (max-msg-timeout is 2s)", time.Since(delivered))
		}
		c.send(wire.Touch(m.ID))
	}
	r := c.expectMessage() // no E_TOUCH_FAILED before it
	gap := time.Since(delivered)
	if r.ID != m.ID || r.Attempts != 2 {
		t.Fatalf("redelivery id %s attempts %d", r.ID[:], r.Attempts)
	}
	if gap < 1900*time.Millisecond || gap > 3*time.Second {
		t.Errorf("redelivered %s after delivery, want ~2s (the max-msg-timeout cap)", gap)
	}
	if got := ch.timeoutCount.Load(); got != 1 {
		t.Errorf("timeout_count %d, want 1", got)
	}
}

// TestProtocolDisconnectInFlight: a message in flight to a client that
// disconnects returns to the queue only when its timeout expires.
func TestProtocolDisconnectInFlight(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	a := dialProto(t, n)
	a.identify(`{"msg_timeout":1000}`)
	a.expectResponse("OK")
	a.sub("gone", "ch")
	a.cmd("RDY", "1")
	a.pub("gone", "orphan")
	m := a.expectMessage()
	delivered := time.Now()
	a.conn.Close()

	b := protoSub(t, n, "gone", "ch")
	b.cmd("RDY", "1")
	r := b.expectMessage()
	if gap := time.Since(delivered); gap < 900*time.Millisecond {
		t.Errorf("in-flight message of a disconnected client requeued after %s, before its 1s timeout", gap)
	}
	if r.ID != m.ID || r.Attempts != 2 || string(r.Body) != "orphan" {
		t.Errorf("got id %s attempts %d body %q", r.ID[:], r.Attempts, r.Body)
	}
	if got := protoChannel(t, n, "gone", "ch").timeoutCount.Load(); got != 1 {
		t.Errorf("timeout_count %d, want 1", got)
	}
}

// TestProtocolDeferredFanOut: a DPUB is deferred in every channel of the
// topic, and each copy arrives with attempts 1.
func TestProtocolDeferredFanOut(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	var subs []*protoClient
	var chans []*Channel
	for _, name := range []string{"a", "b", "c"} {
		c := protoSub(t, n, "dfan", name)
		c.cmd("RDY", "1")
		subs = append(subs, c)
		chans = append(chans, protoChannel(t, n, "dfan", name))
	}
	p := dialProto(t, n)
	start := time.Now()
	p.send(wire.DeferredPublish("dfan", 500, []byte("later")))
	p.expectResponse("OK")
	for i, ch := range chans {
		eventually(t, time.Second, "deferred in every channel", func() bool {
			return ch.DeferredCount() == 1 || time.Since(start) > 400*time.Millisecond
		})
		if ch.DeferredCount() != 1 {
			t.Errorf("channel %d: deferred count %d, want 1", i, ch.DeferredCount())
		}
	}
	var first *wire.Message
	for i, c := range subs {
		m := c.expectMessage()
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Errorf("channel %d: deferred copy delivered after %s", i, d)
		}
		if m.Attempts != 1 || string(m.Body) != "later" {
			t.Errorf("channel %d: attempts %d body %q", i, m.Attempts, m.Body)
		}
		if first == nil {
			first = m
		} else if m.ID != first.ID || m.Timestamp != first.Timestamp {
			t.Errorf("channel %d: copy differs in ID or timestamp", i)
		}
	}
}
