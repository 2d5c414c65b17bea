package nsqd

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLookupd is a minimal nsqlookupd V1 endpoint recording the commands
// it receives; it answers IDENTIFY with lookupd's JSON and everything else
// with OK.
type fakeLookupd struct {
	t     testing.TB
	l     net.Listener
	mu    sync.Mutex
	cmds  []string
	conns []net.Conn
	wg    sync.WaitGroup
	// httpPort is advertised in the IDENTIFY reply (where nsqd asks for
	// channels to pre-create).
	httpPort int
}

func startFakeLookupd(t testing.TB, addr string) *fakeLookupd {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLookupd{t: t, l: l, httpPort: 1}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeLookupd) addr() string { return f.l.Addr().String() }

func (f *fakeLookupd) accept() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *fakeLookupd) reply(c net.Conn, data string) {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c.Write(append(b, data...))
}

func (f *fakeLookupd) serve(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	r := bufio.NewReader(c)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "  V1" {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSpace(line)
		if line == "IDENTIFY" {
			var hdr [4]byte
			io.ReadFull(r, hdr[:])
			body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			io.ReadFull(r, body)
			line += " " + string(body)
			f.reply(c, fmt.Sprintf(`{"broadcast_address":"127.0.0.1","hostname":"fake","http_port":%d,"tcp_port":2,"version":"1.3.0"}`, f.httpPort))
		} else {
			f.reply(c, "OK")
		}
		f.mu.Lock()
		f.cmds = append(f.cmds, line)
		f.mu.Unlock()
	}
}

// dropConns closes every connection (a lookupd restart, seen from nsqd).
func (f *fakeLookupd) dropConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.cmds = nil
}

func (f *fakeLookupd) close() {
	f.l.Close()
	f.dropConns()
	f.wg.Wait()
}

func (f *fakeLookupd) has(cmd string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cmds {
		if c == cmd {
			return true
		}
	}
	return false
}

func (f *fakeLookupd) identified() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cmds {
		if strings.HasPrefix(c, "IDENTIFY ") {
			return true
		}
	}
	return false
}

// TestLookupPeerRegistration: nsqd identifies, registers what exists,
// follows creations and deletions, and re-registers everything after the
// lookupd connection drops.
func TestLookupPeerRegistration(t *testing.T) {
	fake := startFakeLookupd(t, "127.0.0.1:0")
	opts := testOptions(t)
	opts.NSQLookupdTCPAddresses = []string{fake.addr()}
	dir := opts.DataPath
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.GetTopic("existing").GetChannel("c0")
	n.GetTopic("bare")
	done := make(chan struct{})
	go func() { n.Main(); close(done) }()
	defer func() { n.Exit(); <-done }()
	_ = dir

	eventually(t, 5*time.Second, "IDENTIFY", fake.identified)
	fake.mu.Lock()
	ident := fake.cmds[0]
	fake.mu.Unlock()
	for _, key := range []string{`"broadcast_address":"127.0.0.1"`, `"tcp_port":`, `"http_port":`, `"version":"1.3.0`, `"hostname":`} {
		if !strings.Contains(ident, key) {
			t.Errorf("IDENTIFY body lacks %s: %s", key, ident)
		}
	}
	eventually(t, 5*time.Second, "initial registrations", func() bool {
		return fake.has("REGISTER existing c0") && fake.has("REGISTER bare")
	})

	topic := n.GetTopic("orders")
	eventually(t, 5*time.Second, "REGISTER orders", func() bool { return fake.has("REGISTER orders") })
	topic.GetChannel("billing")
	eventually(t, 5*time.Second, "REGISTER orders billing", func() bool { return fake.has("REGISTER orders billing") })
	topic.DeleteExistingChannel("billing")
	eventually(t, 5*time.Second, "UNREGISTER orders billing", func() bool { return fake.has("UNREGISTER orders billing") })
	n.DeleteExistingTopic("orders")
	eventually(t, 5*time.Second, "UNREGISTER orders", func() bool { return fake.has("UNREGISTER orders") })

	// the lookupd goes away and comes back: everything is registered
	// again within seconds, not at the next 15 s ping
	start := time.Now()
	fake.dropConns()
	eventually(t, 5*time.Second, "re-registration", func() bool {
		return fake.identified() && fake.has("REGISTER existing c0") && fake.has("REGISTER bare")
	})
	t.Logf("re-registered after %s", time.Since(start))
}

// TestLookupPeerUnreachable: a lookupd that is not there does not stop
// nsqd from starting or serving, and it is picked up once it appears.
func TestLookupPeerUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	opts := testOptions(t)
	opts.NSQLookupdTCPAddresses = []string{addr}
	n := startNSQD(t, opts)
	n.GetTopic("t1")
	r := dialRaw(t, n)
	r.write([]byte("  V2PUB t1\n\x00\x00\x00\x01x"))
	r.expect(0, "OK")
	fake := startFakeLookupd(t, addr)
	eventually(t, 20*time.Second, "late lookupd gets the registration", func() bool { return fake.has("REGISTER t1") })
}

// TestPrecreateChannels: a topic created at run time gets the channels the
// lookupds know for it (legacy envelope too), except ephemeral ones.
func TestPrecreateChannels(t *testing.T) {
	var asked sync.Map
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		topic := r.URL.Query().Get("topic")
		asked.Store(topic, r.Header.Get("Accept"))
		if topic == "legacy" {
			fmt.Fprint(w, `{"status_code":200,"status_txt":"OK","data":{"channels":["old"]}}`)
			return
		}
		fmt.Fprint(w, `{"channels":["billing","audit","tail#ephemeral"]}`)
	}))
	defer hs.Close()
	fake := startFakeLookupd(t, "127.0.0.1:0")
	fake.httpPort = hs.Listener.Addr().(*net.TCPAddr).Port
	opts := testOptions(t)
	opts.NSQLookupdTCPAddresses = []string{fake.addr()}
	n := startNSQD(t, opts)
	eventually(t, 5*time.Second, "IDENTIFY", fake.identified)
	eventually(t, 5*time.Second, "peer info stored", func() bool { a, _ := n.identifiedLookupds(); return len(a) == 1 })

	names := func(tp *Topic) (out []string) {
		for _, c := range tp.Channels() {
			out = append(out, c.name)
		}
		return out
	}
	if got := names(n.GetTopic("orders")); strings.Join(got, ",") != "audit,billing" {
		t.Errorf("orders channels = %v, want [audit billing]", got)
	}
	if got := names(n.GetTopic("legacy")); strings.Join(got, ",") != "old" {
		t.Errorf("legacy channels = %v, want [old]", got)
	}
	if v, _ := asked.Load("orders"); v != "application/vnd.nsq; version=1.0" {
		t.Errorf("Accept header = %v", v)
	}
}

// TestLookupPeersReconfigured: PUT /config/nsqlookupd_tcp_addresses drops
// peers no longer listed and registers with new ones.
func TestLookupPeersReconfigured(t *testing.T) {
	old := startFakeLookupd(t, "127.0.0.1:0")
	opts := testOptions(t)
	opts.NSQLookupdTCPAddresses = []string{old.addr()}
	n := startNSQD(t, opts)
	n.GetTopic("t1")
	eventually(t, 5*time.Second, "REGISTER t1 at the old lookupd", func() bool { return old.has("REGISTER t1") })

	fresh := startFakeLookupd(t, "127.0.0.1:0")
	req, _ := http.NewRequest("PUT", "http://"+n.HTTPAddr().String()+"/config/nsqlookupd_tcp_addresses",
		strings.NewReader(`["`+fresh.addr()+`"]`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `["`+fresh.addr()+`"]` {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	eventually(t, 5*time.Second, "REGISTER t1 at the new lookupd", func() bool { return fresh.has("REGISTER t1") })
	n.GetTopic("t2")
	eventually(t, 5*time.Second, "REGISTER t2 at the new lookupd", func() bool { return fresh.has("REGISTER t2") })
	time.Sleep(100 * time.Millisecond)
	if old.has("REGISTER t2") {
		t.Fatal("the removed lookupd still gets registrations")
	}
}
