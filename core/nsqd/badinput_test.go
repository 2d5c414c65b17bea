package nsqd

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/nsqkit/nsqkit/core/wire"
)

func sizePrefixed(size uint32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, size)
	return append(b, body...)
}

// TestBadInputTCP throws malformed input at the TCP port and checks the
// exact error frame and whether the connection is closed.
func TestBadInputTCP(t *testing.T) {
	opts := testOptions(t)
	opts.MaxMsgSize = 100
	opts.MaxBodySize = 1000
	n := startNSQD(t, opts)
	big := strings.Repeat("x", 101)
	cases := []struct {
		name    string
		noMagic bool
		input   []byte
		err     string // expected error frame; "" = closed without one
		fatal   bool
	}{
		{"garbage magic", true, []byte("GET / HTTP/1.1\r\n\r\n"), "E_BAD_PROTOCOL", true},
		{"short magic then close", true, []byte("  V"), "", true},
		{"empty line", false, []byte("\n"), "E_INVALID invalid command ", true},
		{"unknown command", false, []byte("BOGUS a b\n"), "E_INVALID invalid command BOGUS", true},
		{"lowercase command", false, []byte("pub t\n"), "E_INVALID invalid command pub", true},
		{"line too long", false, []byte(strings.Repeat("P", wire.MaxLineLength+10)), "", true},
		{"pub no topic", false, []byte("PUB\n"), "E_INVALID PUB insufficient number of parameters", true},
		{"pub bad topic", false, []byte("PUB bad!name\n"), `E_BAD_TOPIC PUB topic name "bad!name" is not valid`, true},
		{"pub topic too long", false, []byte("PUB " + strings.Repeat("a", 65) + "\n"), `E_BAD_TOPIC PUB topic name "` + strings.Repeat("a", 65) + `" is not valid`, true},
		{"pub negative size", false, append([]byte("PUB t\n"), sizePrefixed(0xFFFFFFFF, "")...), "E_BAD_MESSAGE PUB invalid message body size -1", true},
		{"pub empty body", false, append([]byte("PUB t\n"), sizePrefixed(0, "")...), "E_BAD_MESSAGE PUB invalid message body size 0", true},
		{"pub oversized", false, append([]byte("PUB t\n"), sizePrefixed(101, big)...), "E_BAD_MESSAGE PUB message too big 101 > 100", true},
		{"pub truncated body", false, append([]byte("PUB t\n"), sizePrefixed(50, "abc")...), "E_BAD_MESSAGE PUB failed to read message body", true},
		{"pub truncated size", false, []byte("PUB t\n\x00\x00"), "E_BAD_MESSAGE PUB failed to read message body size", true},
		{"dpub bad timeout", false, []byte("DPUB t -5\n"), "E_INVALID DPUB could not parse timeout -5", true},
		{"dpub timeout too big", false, []byte("DPUB t 3600001\n"), "E_INVALID DPUB timeout 3600001 out of range 0-3600000", true},
		{"mpub bad topic", false, []byte("MPUB bad!name\n"), `E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "bad!name" is not valid`, true},
		{"mpub negative size", false, append([]byte("MPUB t\n"), sizePrefixed(0xFFFFFFFE, "")...), "E_BAD_BODY MPUB invalid body size -2", true},
		{"mpub body too big", false, append([]byte("MPUB t\n"), sizePrefixed(1001, "")...), "E_BAD_BODY MPUB body too big 1001 > 1000", true},
		{"mpub zero count", false, append([]byte("MPUB t\n"), sizePrefixed(4, "\x00\x00\x00\x00")...), "E_BAD_BODY MPUB invalid message count 0", true},
		{"mpub negative count", false, append([]byte("MPUB t\n"), sizePrefixed(4, "\xff\xff\xff\xff")...), "E_BAD_BODY MPUB invalid message count -1", true},
		{"mpub message too big", false, append([]byte("MPUB t\n"), sizePrefixed(8, "\x00\x00\x00\x01\x00\x00\x00\x65")...), "E_BAD_MESSAGE MPUB message too big 101 > 100", true},
		{"mpub message negative", false, append([]byte("MPUB t\n"), sizePrefixed(8, "\x00\x00\x00\x01\xff\xff\xff\xff")...), "E_BAD_MESSAGE MPUB invalid message(0) body size -1", true},
		{"mpub message truncated", false, append([]byte("MPUB t\n"), sizePrefixed(10, "\x00\x00\x00\x01\x00\x00\x00\x05ab")...), "E_BAD_MESSAGE MPUB failed to read message body", true},
		{"identify invalid json", false, append([]byte("IDENTIFY\n"), sizePrefixed(5, "{nope")...), "E_BAD_BODY IDENTIFY failed to decode JSON body", true},
		{"identify wrong types", false, append([]byte("IDENTIFY\n"), sizePrefixed(26, `{"heartbeat_interval":"x"}`)...), "E_BAD_BODY IDENTIFY failed to decode JSON body", true},
		{"identify negative size", false, append([]byte("IDENTIFY\n"), sizePrefixed(0xFFFFFFFF, "")...), "E_BAD_BODY IDENTIFY invalid body size -1", true},
		{"identify too big", false, append([]byte("IDENTIFY\n"), sizePrefixed(1001, "")...), "E_BAD_BODY IDENTIFY body too big 1001 > 1000", true},
		{"identify bad heartbeat", false, append([]byte("IDENTIFY\n"), sizePrefixed(26, `{"heartbeat_interval":999}`)...), "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid", true},
		{"sub bad channel", false, []byte("SUB t bad!ch\n"), `E_BAD_CHANNEL SUB channel name "bad!ch" is not valid`, true},
		{"sub one param", false, []byte("SUB t\n"), "E_INVALID SUB insufficient number of parameters", true},
		{"rdy before sub", false, []byte("RDY 1\n"), "E_INVALID cannot RDY in current state", true},
		{"fin before sub", false, []byte("FIN 0123456789abcdef\n"), "E_INVALID cannot FIN in current state", true},
		{"cls before sub", false, []byte("CLS\n"), "E_INVALID cannot CLS in current state", true},
		{"auth disabled", false, append([]byte("AUTH\n"), sizePrefixed(3, "abc")...), "E_AUTH_DISABLED AUTH disabled", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, n)
			if !tc.noMagic {
				r.write(wire.MagicV2)
			}
			r.write(tc.input)
			if tc.name == "pub truncated body" || tc.name == "pub truncated size" || tc.name == "mpub message truncated" || tc.name == "short magic then close" {
				// the peer gives up half way: the server must just close
				r.conn.(interface{ CloseWrite() error }).CloseWrite()
			}
			if tc.err != "" {
				r.expect(wire.FrameTypeError, tc.err)
			}
			if tc.fatal {
				r.expectClosed()
			}
		})
	}
	// the daemon is still fine
	r := dialRaw(t, n)
	r.write(wire.MagicV2)
	r.cmd(wire.Publish("t", []byte("still alive")))
	r.expect(wire.FrameTypeResponse, "OK")
}

// TestBadInputSubscribed covers errors after SUB, some of which are not fatal.
func TestBadInputSubscribed(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	r := dialRaw(t, n)
	r.write(wire.MagicV2)
	r.cmd(wire.Subscribe("t", "c"))
	r.expect(wire.FrameTypeResponse, "OK")
	r.write([]byte("FIN 0123456789abcdef\n"))
	r.expect(wire.FrameTypeError, "E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight")
	r.write([]byte("REQ 0123456789abcdef 0\n"))
	r.expect(wire.FrameTypeError, "E_REQ_FAILED REQ 0123456789abcdef failed ID not in flight")
	r.write([]byte("TOUCH 0123456789abcdef\n"))
	r.expect(wire.FrameTypeError, "E_TOUCH_FAILED TOUCH 0123456789abcdef failed ID not in flight")
	// still open: a PUB works
	r.cmd(wire.Publish("t2", []byte("x")))
	r.expect(wire.FrameTypeResponse, "OK")
	r.write([]byte("REQ 0123456789abcdef x\n"))
	r.expect(wire.FrameTypeError, "E_INVALID REQ could not parse timeout x")
	r.expectClosed()

	r = dialRaw(t, n)
	r.write(wire.MagicV2)
	r.cmd(wire.Subscribe("t", "c"))
	r.expect(wire.FrameTypeResponse, "OK")
	r.write([]byte("FIN short\n"))
	r.expect(wire.FrameTypeError, "E_INVALID invalid message ID")
	r.expectClosed()

	r = dialRaw(t, n)
	r.write(wire.MagicV2)
	r.cmd(wire.Subscribe("t", "c"))
	r.expect(wire.FrameTypeResponse, "OK")
	r.write([]byte("RDY -1\n"))
	r.expect(wire.FrameTypeError, "E_INVALID RDY could not parse count -1")
	r.expectClosed()

	r = dialRaw(t, n)
	r.write(wire.MagicV2)
	r.cmd(wire.Subscribe("t", "c"))
	r.expect(wire.FrameTypeResponse, "OK")
	r.write([]byte("RDY 2501\n"))
	r.expect(wire.FrameTypeError, "E_INVALID RDY count 2501 out of range 0-2500")
	r.expectClosed()

	r = dialRaw(t, n)
	r.write(wire.MagicV2)
	r.cmd(wire.Subscribe("t", "c"))
	r.expect(wire.FrameTypeResponse, "OK")
	r.cmd(wire.Subscribe("t", "c"))
	r.expect(wire.FrameTypeError, "E_INVALID cannot SUB in current state")
	r.expectClosed()
}
