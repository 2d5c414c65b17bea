package nsqlookupd

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/wire"
)

// testLog collects a daemon's log lines.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testOptions are the defaults on 127.0.0.1 port 0, logging to the test
// output only with -v.
func testOptions() *Options {
	o := NewOptions()
	o.TCPAddress = "127.0.0.1:0"
	o.HTTPAddress = "127.0.0.1:0"
	o.BroadcastAddress = "127.0.0.1"
	o.LogLevel = logger.Debug
	if testing.Verbose() {
		o.LogOutput = os.Stderr
	} else {
		o.LogOutput = io.Discard
	}
	return o
}

// startLookupd runs a daemon with opts until the end of the test.
func startLookupd(t testing.TB, opts *Options) *NSQLookupd {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Main() }()
	t.Cleanup(func() {
		l.Exit()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Main: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Main did not return after Exit")
		}
	})
	return l
}

// ---- a fake nsqd speaking protocol V1 ----

type peerConn struct {
	t    testing.TB
	conn *net.TCPConn
}

// dialV1 connects to l's TCP port; magic says whether to send "  V1".
func dialV1(t testing.TB, l *NSQLookupd, magic bool) *peerConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", l.TCPAddr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &peerConn{t: t, conn: conn.(*net.TCPConn)}
	if magic {
		p.write(string(wire.MagicV1))
	}
	return p
}

func (p *peerConn) write(s string) {
	p.t.Helper()
	p.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(p.conn, s); err != nil {
		p.t.Fatalf("write %q: %v", s, err)
	}
}

// raw reads exactly n bytes.
func (p *peerConn) raw(n int) string {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(p.conn, b); err != nil {
		p.t.Fatalf("reading %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// reply reads one [u32 size][data] reply.
func (p *peerConn) reply() string {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, err := wire.ReadV1Response(p.conn, 1<<20)
	if err != nil {
		p.t.Fatalf("reading a reply: %v", err)
	}
	return string(b)
}

// cmd sends a line and expects the reply.
func (p *peerConn) cmd(line, want string) {
	p.t.Helper()
	p.write(line + "\n")
	if got := p.reply(); got != want {
		p.t.Fatalf("%q: reply %q, want %q", line, got, want)
	}
}

// expectClosed checks the server closed the connection with nothing more.
func (p *peerConn) expectClosed() {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := p.conn.Read(buf)
	if err == nil {
		p.t.Fatalf("connection still open, read %q", buf[:n])
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		p.t.Fatalf("connection not closed within 2s")
	}
}

// body is a size-prefixed body.
func body(s string) string { return string(binary.BigEndian.AppendUint32(nil, uint32(len(s)))) + s }

// identifyJSON is what nsqd 1.3.0 sends.
func identifyJSON(tcpPort, httpPort int) string {
	return fmt.Sprintf(`{"version":"1.3.0","tcp_port":%d,"http_port":%d,"hostname":"vm","broadcast_address":"127.0.0.1"}`, tcpPort, httpPort)
}

// identify sends IDENTIFY and returns the reply.
func (p *peerConn) identify(js string) string {
	p.t.Helper()
	p.write("IDENTIFY\n" + body(js))
	return p.reply()
}

// fakeNSQD connects, identifies as an nsqd with these ports and checks
// the reply is JSON.
func fakeNSQD(t testing.TB, l *NSQLookupd, tcpPort, httpPort int) *peerConn {
	t.Helper()
	p := dialV1(t, l, true)
	if r := p.identify(identifyJSON(tcpPort, httpPort)); !json.Valid([]byte(r)) {
		t.Fatalf("IDENTIFY reply %q", r)
	}
	return p
}

// localAddr is the peer id lookupd sees.
func (p *peerConn) localAddr() string { return p.conn.LocalAddr().String() }

// ---- HTTP ----

type hResp struct {
	code int
	hdr  http.Header
	body string
}

var hClient = &http.Client{
	Timeout:       10 * time.Second,
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func hDo(t testing.TB, l *NSQLookupd, method, path string) hResp {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+l.HTTPAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return hResp{resp.StatusCode, resp.Header, string(b)}
}

func hGet(t testing.TB, l *NSQLookupd, path string) hResp {
	t.Helper()
	return hDo(t, l, "GET", path)
}

func hPost(t testing.TB, l *NSQLookupd, path string) hResp {
	t.Helper()
	return hDo(t, l, "POST", path)
}

// expectV1 checks status, body and the V1 headers: X-NSQ-Content-Type
// always, JSON Content-Type for errors and objects, none for an empty
// body.
func (r hResp) expectV1(t testing.TB, what string, code int, body string) {
	t.Helper()
	if r.code != code || r.body != body {
		t.Fatalf("%s: got %d %q, want %d %q", what, r.code, r.body, code, body)
	}
	if got := r.hdr.Get("X-NSQ-Content-Type"); got != "nsq; version=1.0" {
		t.Fatalf("%s: X-NSQ-Content-Type %q", what, got)
	}
	want := "application/json; charset=utf-8"
	if code == 200 && body == "" {
		want = ""
	}
	if got := r.hdr.Get("Content-Type"); got != want {
		t.Fatalf("%s: Content-Type %q, want %q", what, got, want)
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unmarshal(t testing.TB, what, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%s: %v in %s", what, err, s)
	}
}
