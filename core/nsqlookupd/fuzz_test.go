package nsqlookupd

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/version"
)

// memConn is an in-memory connection for handleConn: reads come from in,
// at most chunk bytes each (0: no limit); writes collect in out. When a
// read finds the input exhausted, atEOF runs once (the connection is
// still open: the peer is registered) and the read returns io.EOF.
type memConn struct {
	in     []byte
	chunk  int
	out    bytes.Buffer
	atEOF  func()
	eof    bool
	closed bool
	remote net.Addr
}

func (c *memConn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	if len(c.in) == 0 {
		if !c.eof {
			c.eof = true
			if c.atEOF != nil {
				c.atEOF()
			}
		}
		return 0, io.EOF
	}
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *memConn) Close() error                     { c.closed = true; return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4160} }
func (c *memConn) RemoteAddr() net.Addr             { return c.remote }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// v1Model is what tcp-protocol.md Part 2 says a V1 session does, written
// out independently of core/wire and of tcp.go: the replies it gets, and
// the registration database while it is connected.
type v1Model struct {
	id         string // the peer id: its remote address
	replies    bytes.Buffer
	identified bool
	keys       map[string]bool // every key of the database, "cat:key:subkey"
	registered map[string]bool // the keys the peer is a producer of
	ranOutAt   []string        // the database when the input ran out
	didRunOut  bool            // the server needed more input than there was
	hostname   string
	lookupd    *NSQLookupd
}

var modelName = regexp.MustCompile(`^[.a-zA-Z0-9_-]+(#ephemeral)?$`)

func modelValidName(s string) bool { return len(s) <= 64 && modelName.MatchString(s) }

func (m *v1Model) reply(s string) {
	m.replies.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
	m.replies.WriteString(s)
}

// state is the database as dbState prints it.
func (m *v1Model) state(connected bool) []string {
	out := []string{}
	for k := range m.keys {
		ids := "[]"
		if connected && m.registered[k] {
			ids = "[" + m.id + "]"
		}
		out = append(out, k+"="+ids)
	}
	slices.Sort(out)
	return out
}

// ranOut notes that the server needed more input than there was.
func (m *v1Model) ranOut() { m.ranOutAt, m.didRunOut = m.state(true), true }

func (m *v1Model) add(k string) { m.keys[k], m.registered[k] = true, true }

// run feeds the input (magic included) through the model.
func (m *v1Model) run(in []byte) {
	if len(in) < 4 {
		m.ranOut()
		return
	}
	if string(in[:4]) != "  V1" {
		m.reply("E_BAD_PROTOCOL")
		return
	}
	in = in[4:]
	for {
		i := bytes.IndexByte(in, '\n')
		if i < 0 && len(in) < 16*1024 {
			m.ranOut() // a last line without LF
			return
		}
		if i < 0 || i+1 > 16*1024 {
			return // a line over 16 KiB: dropped without a reply
		}
		params := strings.Split(string(bytes.TrimSpace(in[:i])), " ")
		in = in[i+1:]
		switch cmd := params[0]; cmd {
		case "PING":
			m.reply("OK")
		case "IDENTIFY":
			if m.identified {
				m.reply("E_INVALID cannot IDENTIFY again")
				return
			}
			if len(in) < 4 {
				m.ranOut()
				m.reply("E_BAD_BODY IDENTIFY failed to read body size")
				return
			}
			size := int32(binary.BigEndian.Uint32(in))
			in = in[4:]
			if size < 0 || size > 5<<20 {
				m.reply("E_BAD_BODY IDENTIFY invalid body size " + strconv.Itoa(int(size)))
				return
			}
			if int(size) > len(in) {
				m.ranOut()
				m.reply("E_BAD_BODY IDENTIFY failed to read body")
				return
			}
			body := in[:size]
			in = in[size:]
			var id struct {
				BroadcastAddress string `json:"broadcast_address"`
				TCPPort          int    `json:"tcp_port"`
				HTTPPort         int    `json:"http_port"`
				Version          string `json:"version"`
			}
			if err := json.Unmarshal(body, &id); err != nil {
				m.reply("E_BAD_BODY IDENTIFY failed to decode JSON body")
				return
			}
			if id.BroadcastAddress == "" || id.TCPPort == 0 || id.HTTPPort == 0 || id.Version == "" {
				m.reply("E_BAD_BODY IDENTIFY missing fields")
				return
			}
			m.identified = true
			m.add("client::")
			js := func(s string) string { b, _ := json.Marshal(s); return string(b) }
			m.reply(fmt.Sprintf(`{"broadcast_address":%s,"hostname":%s,"http_port":%d,"tcp_port":%d,"version":%s}`,
				js(m.lookupd.opts.BroadcastAddress), js(m.hostname), m.lookupd.HTTPAddr().Port, m.lookupd.TCPAddr().Port, js(version.Reported)))
		case "REGISTER", "UNREGISTER":
			if !m.identified {
				m.reply("E_INVALID client must IDENTIFY")
				return
			}
			if len(params) < 2 {
				m.reply("E_INVALID " + cmd + " insufficient number of params")
				return
			}
			topic, channel := params[1], ""
			if len(params) > 2 {
				channel = params[2]
			}
			if !modelValidName(topic) {
				m.reply(fmt.Sprintf("E_BAD_TOPIC %s topic name '%s' is not valid", cmd, topic))
				return
			}
			if channel != "" && !modelValidName(channel) {
				m.reply(fmt.Sprintf("E_BAD_CHANNEL %s channel name '%s' is not valid", cmd, channel))
				return
			}
			if cmd == "REGISTER" {
				if channel != "" {
					m.add("channel:" + topic + ":" + channel)
				}
				m.add("topic:" + topic + ":")
			} else {
				m.unregister(topic, channel)
			}
			m.reply("OK")
		default:
			m.reply("E_INVALID invalid command " + cmd)
			return
		}
	}
}

// unregister: from the channel (its key goes when it is #ephemeral, being
// left without producers), or from the topic and all its channels (the
// topic's key goes when it is #ephemeral).
func (m *v1Model) unregister(topic, channel string) {
	ephemeral := func(s string) bool { return strings.HasSuffix(s, "#ephemeral") }
	if channel != "" {
		k := "channel:" + topic + ":" + channel
		delete(m.registered, k)
		if ephemeral(channel) {
			delete(m.keys, k)
		}
		return
	}
	for k := range m.keys {
		if strings.HasPrefix(k, "channel:"+topic+":") {
			delete(m.registered, k)
		}
	}
	k := "topic:" + topic + ":"
	delete(m.registered, k)
	if ephemeral(topic) {
		delete(m.keys, k)
	}
}

// FuzzV1Conn drives nsqlookupd's connection handler (magic check, command
// loop, IDENTIFY, REGISTER, UNREGISTER, PING, disconnect) with any byte
// stream over an in-memory connection, and checks it against v1Model:
// the exact reply bytes (every error a spec code, fatal: nothing after
// it), the registration database while the peer is still connected, and
// that the peer is gone from every registration once it disconnects.
// pad lengthens the first line (to reach the 16 KiB limit), chunk limits
// each read, rawMagic leaves the magic to the input.
func FuzzV1Conn(f *testing.F) {
	body := func(s string) string { return string(binary.BigEndian.AppendUint32(nil, uint32(len(s)))) + s }
	ident := "IDENTIFY\n" + body(`{"version":"1.3.0","tcp_port":4150,"http_port":4151,"hostname":"h","broadcast_address":"127.0.0.1"}`)
	for _, s := range []string{
		"PING\n",
		ident + "REGISTER orders\nREGISTER orders billing\nUNREGISTER orders billing\nUNREGISTER orders\nPING\n",
		ident + "REGISTER a b\nREGISTER a c#ephemeral\nUNREGISTER a c#ephemeral\nREGISTER e#ephemeral x\nUNREGISTER e#ephemeral\n",
		ident + "REGISTER a b\nREGISTER a c\nUNREGISTER a\nREGISTER a\n",
		ident + "  REGISTER  t\t c \r\nREGISTER t  c\n\r\n",
		ident + ident,
		ident + "REGISTER\n",
		ident + "UNREGISTER bad!t\n",
		ident + "REGISTER t bad!c\n",
		ident + "REGISTER " + strings.Repeat("a", 65) + "\n",
		ident + "FOO\n",
		ident + "REGISTER t",
		"REGISTER t\n",
		"UNREGISTER t c\n",
		"IDENTIFY\n" + body(`{"tcp_port":"x"}`),
		"IDENTIFY\n" + body(`{}`),
		"IDENTIFY\n" + body(`null`),
		"IDENTIFY\n" + body(`{"version":"v","tcp_port":1,"http_port":1,"broadcast_address":"b","extra":[1]}`) + "PING\n",
		"IDENTIFY\n" + body(`{"VERSION":"v","Tcp_Port":1,"http_port":1.0,"broadcast_address":"b"}`),
		"IDENTIFY\n" + body(`{"version":"v","tcp_port":1,"http_port":1,"broadcast_address":"b"}{}`),
		"IDENTIFY\n\x00\x00\x00\x00",
		"IDENTIFY\n\xff\xff\xff\xff",
		"IDENTIFY\n\x00\x50\x00\x01",
		"IDENTIFY\n\x00\x00\x00\x10short",
		"IDENTIFY\n\x00\x00",
		"IDENTIFY\n",
		"\n",
		" \n",
		"\u00a0PING\u2003\n\xffPING\xff\n",
		"PING",
		"PING\r\nPING \nPING  \n ping\n",
	} {
		f.Add([]byte(s), uint16(0), uint8(0), false)
	}
	f.Add([]byte("PING\n"), uint16(16*1024-5), uint8(0), false) // the longest line
	f.Add([]byte("PING\n"), uint16(16*1024-4), uint8(0), false) // one byte over
	f.Add([]byte("PING"), uint16(16*1024), uint8(0), false)
	f.Add([]byte(ident+"PING\n"), uint16(0), uint8(1), false)
	f.Add([]byte(ident+"REGISTER t c\nPING\n"), uint16(0), uint8(7), false)
	f.Add([]byte("  V2PING\n"), uint16(0), uint8(0), true)
	f.Add([]byte("  V1PING\n"), uint16(0), uint8(0), true)
	f.Add([]byte("  V"), uint16(0), uint8(0), true)

	opts := testOptions()
	opts.BroadcastAddress = "lookupd.example"
	opts.LogLevel = logger.Error
	opts.LogOutput = io.Discard
	l, err := New(opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		l.tcpListener.Close()
		l.httpListener.Close()
	})
	hostname, _ := os.Hostname()
	port := 0
	f.Fuzz(func(t *testing.T, data []byte, pad uint16, chunk uint8, rawMagic bool) {
		if at := bytes.IndexByte(data, '\n'); pad > 0 {
			if at < 0 {
				at = len(data)
			}
			data = slices.Concat(data[:at], bytes.Repeat([]byte{'x'}, int(pad)), data[at:])
		}
		if !rawMagic {
			data = append([]byte("  V1"), data...)
		}
		port++
		id := fmt.Sprintf("10.1.%d.%d:%d", port>>16&0xff, port>>8&0xff, 1024+port&0xff)
		m := &v1Model{id: id, keys: map[string]bool{}, registered: map[string]bool{}, hostname: hostname, lookupd: l}
		m.run(data)

		l.db = NewDB() // this session's database alone
		host, p, _ := net.SplitHostPort(id)
		pn, _ := strconv.Atoi(p)
		var atEOF []string
		conn := &memConn{in: data, chunk: int(chunk), remote: &net.TCPAddr{IP: net.ParseIP(host), Port: pn}}
		conn.atEOF = func() { atEOF = append([]string{}, dbState(l.db)...) }
		l.handleConn(conn)

		if got, want := conn.out.Bytes(), m.replies.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("input %q:\nreplies %q\nwant    %q", data, got, want)
		}
		if !conn.closed {
			t.Fatalf("input %q: connection left open", data)
		}
		switch {
		case conn.eof != m.didRunOut:
			t.Fatalf("input %q: read to the end %v, model %v", data, conn.eof, m.didRunOut)
		case !slices.Equal(atEOF, m.ranOutAt):
			t.Fatalf("input %q: database while connected\n %q\nwant\n %q", data, atEOF, m.ranOutAt)
		}
		if got, want := dbState(l.db), m.state(false); !slices.Equal(got, want) {
			t.Fatalf("input %q: database after disconnect\n %q\nwant\n %q", data, got, want)
		}
	})
}
