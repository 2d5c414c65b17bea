package nsqlookupd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/version"
)

func TestV1BadMagic(t *testing.T) {
	l := startLookupd(t, testOptions())
	for _, magic := range []string{"  V2", "PING", "  v1", "\x00\x00\x00\x00"} {
		p := dialV1(t, l, false)
		p.write(magic + "PING\n")
		if got := p.raw(18); got != "\x00\x00\x00\x0eE_BAD_PROTOCOL" {
			t.Fatalf("magic %q: %q", magic, got)
		}
		p.expectClosed()
	}
	// closing before the magic is complete
	p := dialV1(t, l, false)
	p.write("  ")
	p.conn.CloseWrite()
	p.expectClosed()
}

func TestV1Session(t *testing.T) {
	opts := testOptions()
	opts.BroadcastAddress = "lookupd.example"
	l := startLookupd(t, opts)
	p := dialV1(t, l, true)

	// PING before IDENTIFY is fine; exact bytes
	p.write("PING\n")
	if got := p.raw(6); got != "\x00\x00\x00\x02OK" {
		t.Fatalf("PING: %q", got)
	}
	host, _ := os.Hostname()
	want := fmt.Sprintf(`{"broadcast_address":"lookupd.example","hostname":%q,"http_port":%d,"tcp_port":%d,"version":%q}`,
		host, l.HTTPAddr().Port, l.TCPAddr().Port, version.Reported)
	p.write("IDENTIFY\n" + body(identifyJSON(4150, 4151)))
	if got := p.raw(4 + len(want)); got != body(want) {
		t.Fatalf("IDENTIFY reply\n %q\nwant\n %q", got, body(want))
	}
	id := p.localAddr()
	if got := dbState(l.DB()); !slices.Equal(got, []string{"client::=[" + id + "]"}) {
		t.Fatalf("after IDENTIFY: %q", got)
	}
	// white space around commands, CRLF, extra params
	p.cmd("REGISTER orders", "OK")
	p.cmd("  REGISTER orders billing \r", "OK")
	p.cmd("REGISTER orders billing", "OK")
	p.cmd("REGISTER events#ephemeral live#ephemeral extra params", "OK")
	p.cmd("REGISTER orders  audit", "OK") // empty channel: the topic only
	p.cmd("\tPING\t", "OK")
	want2 := []string{
		"channel:events#ephemeral:live#ephemeral=[" + id + "]",
		"channel:orders:billing=[" + id + "]",
		"client::=[" + id + "]",
		"topic:events#ephemeral:=[" + id + "]",
		"topic:orders:=[" + id + "]",
	}
	if got := dbState(l.DB()); !slices.Equal(got, want2) {
		t.Fatalf("after REGISTER:\n %q\nwant\n %q", got, want2)
	}
	p.cmd("UNREGISTER events#ephemeral live#ephemeral", "OK")
	p.cmd("UNREGISTER orders", "OK")
	want3 := []string{
		"channel:orders:billing=[]",
		"client::=[" + id + "]",
		"topic:events#ephemeral:=[" + id + "]",
		"topic:orders:=[]",
	}
	if got := dbState(l.DB()); !slices.Equal(got, want3) {
		t.Fatalf("after UNREGISTER:\n %q\nwant\n %q", got, want3)
	}
	p.cmd("REGISTER orders billing", "OK")

	// PING updates the last update shared by every registration
	before := l.DB().Dump()["topic:orders:"][0].LastUpdate
	testutil.Eventually(t, 5*time.Second, "PING to update the last update", func() bool {
		p.cmd("PING", "OK")
		return l.DB().Dump()["topic:orders:"][0].LastUpdate > before
	})
	if d := l.DB().Dump(); d["client::"][0].LastUpdate != d["topic:orders:"][0].LastUpdate {
		t.Fatalf("last update not shared: %+v", d)
	}

	// disconnect: removed everywhere, keys stay (ephemeral ones too)
	p.conn.Close()
	want4 := []string{"channel:orders:billing=[]", "client::=[]", "topic:events#ephemeral:=[]", "topic:orders:=[]"}
	testutil.Eventually(t, 5*time.Second, "registrations removed", func() bool { return slices.Equal(dbState(l.DB()), want4) })
}

// TestV1Errors checks every error of tcp-protocol.md 2.2: exact bytes,
// then the connection closes.
func TestV1Errors(t *testing.T) {
	l := startLookupd(t, testOptions())
	ident := "IDENTIFY\n" + body(identifyJSON(4150, 4151))
	for _, tc := range []struct {
		name      string
		identify  bool   // IDENTIFY first
		send      string // then this
		closeSend bool   // then half-close
		want      string
	}{
		{"unknown command", false, "FOO bar\n", false, "E_INVALID invalid command FOO"},
		{"lower case", true, "ping\n", false, "E_INVALID invalid command ping"},
		{"empty line", false, "\r\n", false, "E_INVALID invalid command "},
		{"REGISTER before IDENTIFY", false, "REGISTER t\n", false, "E_INVALID client must IDENTIFY"},
		{"UNREGISTER before IDENTIFY", false, "UNREGISTER t c\n", false, "E_INVALID client must IDENTIFY"},
		{"REGISTER without topic", true, "REGISTER\n", false, "E_INVALID REGISTER insufficient number of params"},
		{"UNREGISTER without topic", true, "UNREGISTER \n", false, "E_INVALID UNREGISTER insufficient number of params"},
		{"REGISTER bad topic", true, "REGISTER bad!t c\n", false, "E_BAD_TOPIC REGISTER topic name 'bad!t' is not valid"},
		{"REGISTER empty topic", true, "REGISTER  c\n", false, "E_BAD_TOPIC REGISTER topic name '' is not valid"},
		{"UNREGISTER bad topic", true, "UNREGISTER " + strings.Repeat("x", 65) + "\n", false,
			"E_BAD_TOPIC UNREGISTER topic name '" + strings.Repeat("x", 65) + "' is not valid"},
		{"REGISTER bad channel", true, "REGISTER t bad!c\n", false, "E_BAD_CHANNEL REGISTER channel name 'bad!c' is not valid"},
		{"UNREGISTER bad channel", true, "UNREGISTER t #ephemeral\n", false, "E_BAD_CHANNEL UNREGISTER channel name '#ephemeral' is not valid"},
		{"IDENTIFY again", true, ident, false, "E_INVALID cannot IDENTIFY again"},
		{"body size unreadable", false, "IDENTIFY\n\x00\x00", true, "E_BAD_BODY IDENTIFY failed to read body size"},
		{"body unreadable", false, "IDENTIFY\n\x00\x00\x00\x10{}", true, "E_BAD_BODY IDENTIFY failed to read body"},
		{"not JSON", false, "IDENTIFY\n" + body("{oops"), false, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{"wrong type", false, "IDENTIFY\n" + body(`{"version":"1.3.0","tcp_port":"4150","http_port":4151,"broadcast_address":"b"}`), false,
			"E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{"missing fields", false, "IDENTIFY\n" + body(`{"version":"1.3.0","tcp_port":4150,"http_port":4151,"hostname":"h"}`), false,
			"E_BAD_BODY IDENTIFY missing fields"},
		{"zero port", false, "IDENTIFY\n" + body(`{"version":"1.3.0","tcp_port":0,"http_port":4151,"broadcast_address":"b"}`), false,
			"E_BAD_BODY IDENTIFY missing fields"},
		{"empty body", false, "IDENTIFY\n\x00\x00\x00\x00", false, "E_BAD_BODY IDENTIFY failed to decode JSON body"}, // as 1.3.0
		{"negative size", false, "IDENTIFY\n\xff\xff\xff\xfe", false, "E_BAD_BODY IDENTIFY invalid body size -2"},
		{"body over 5 MiB", false, "IDENTIFY\n\x00\x50\x00\x01", false, "E_BAD_BODY IDENTIFY invalid body size 5242881"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dialV1(t, l, true)
			if tc.identify {
				p.write(ident)
				if r := p.reply(); !json.Valid([]byte(r)) {
					t.Fatalf("IDENTIFY: %q", r)
				}
			}
			p.write(tc.send)
			if tc.closeSend {
				p.conn.CloseWrite()
			}
			if got := p.raw(4 + len(tc.want)); got != body(tc.want) {
				t.Fatalf("got %q, want %q", got, body(tc.want))
			}
			p.expectClosed()
		})
	}
	// every identified peer that failed is gone from the database
	testutil.Eventually(t, 5*time.Second, "failed peers removed", func() bool {
		return slices.Equal(dbState(l.DB()), []string{"client::=[]"})
	})
}

func TestV1LongLine(t *testing.T) {
	l := startLookupd(t, testOptions())
	p := dialV1(t, l, true)
	p.cmd("PING", "OK")
	p.write("REGISTER " + strings.Repeat("x", 20000) + "\n")
	p.expectClosed()
}

// TestV1Logs checks the protocol's log lines carry the prefix and the
// events.
func TestV1Logs(t *testing.T) {
	opts := testOptions()
	log := &testLog{}
	opts.LogOutput = log
	l := startLookupd(t, opts)
	p := fakeNSQD(t, l, 4150, 4151)
	p.cmd("REGISTER t c", "OK")
	p.cmd("PING", "OK")
	p.write("BAD\n")
	p.reply()
	p.expectClosed()
	for _, re := range []string{
		`(?m)^\[nsqlookupd\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} INFO: nsqlookupd v` + regexp.QuoteMeta(version.Reported),
		`INFO: TCP: listening on 127\.0\.0\.1:\d+`,
		`INFO: HTTP: listening on 127\.0\.0\.1:\d+`,
		`INFO: CLIENT\(127\.0\.0\.1:\d+\): IDENTIFY Address:127\.0\.0\.1 TCP:4150 HTTP:4151 Version:1\.3\.0`,
		`INFO: DB: client\(127\.0\.0\.1:\d+\) REGISTER category:channel key:t subkey:c`,
		`INFO: CLIENT\(127\.0\.0\.1:\d+\): pinged \(last ping \S+\)`,
		`ERROR: \[127\.0\.0\.1:\d+\] - E_INVALID invalid command BAD`,
		`INFO: DB: client\(127\.0\.0\.1:\d+\) UNREGISTER category:topic key:t subkey:`,
	} {
		testutil.Eventually(t, 5*time.Second, re, func() bool { return regexp.MustCompile(re).MatchString(log.String()) })
	}
}

// TestV1StalledPeers: a peer that sends half the magic, half a command
// line, or a command without its whole body, or goes silent, is dropped
// after ClientTimeout (1.3.0 keeps all of them for ever); one that pings
// in time stays.
func TestV1StalledPeers(t *testing.T) {
	opts := testOptions()
	opts.ClientTimeout = 300 * time.Millisecond
	l := startLookupd(t, opts)
	for _, tc := range []struct {
		name  string
		magic bool
		send  string
	}{
		{"half the magic", false, "  V"},
		{"silent after the magic", true, ""},
		{"half a command", true, "PIN"},
		{"half a body", true, "IDENTIFY\n\x00\x00\x00\x40{\"tcp_port\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dialV1(t, l, tc.magic)
			began := time.Now()
			if tc.send != "" {
				p.write(tc.send)
			}
			// closed, after at most an error reply (E_BAD_BODY for a
			// body cut short)
			p.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			got, err := io.ReadAll(p.conn)
			if err != nil {
				t.Fatalf("not dropped: %v (read %q)", err, got)
			}
			if d := time.Since(began); d > 2*time.Second {
				t.Fatalf("dropped after %s", d)
			}
		})
	}
	t.Run("pinging in time", func(t *testing.T) {
		p := dialV1(t, l, true)
		for i := 0; i < 4; i++ {
			time.Sleep(opts.ClientTimeout / 2)
			p.cmd("PING", "OK")
		}
	})
}
