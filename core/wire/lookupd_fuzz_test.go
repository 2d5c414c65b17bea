package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"
)

// v1FuzzBodyCap is the IDENTIFY body limit FuzzV1Reader uses, small so
// the fuzzer reaches both sides of it.
const v1FuzzBodyCap = 1 << 12

// refV1Trim models the trimming of tcp-protocol.md 2.1 independently of
// bytes.TrimSpace: Unicode white space (decoded as UTF-8) off both ends.
func refV1Trim(b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError || !unicode.IsSpace(r) {
			break
		}
		b = b[n:]
	}
	for len(b) > 0 {
		r, n := utf8.DecodeLastRune(b)
		if r == utf8.RuneError || !unicode.IsSpace(r) {
			break
		}
		b = b[:len(b)-n]
	}
	return b
}

// refV1Split splits on every single space byte.
func refV1Split(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == ' ' {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return append(out, string(b[start:]))
}

// checkV1Stream reads data through a V1Reader over src the way
// nsqlookupd does (a body after IDENTIFY, arguments checked for
// REGISTER/UNREGISTER) and checks every result against a direct model of
// tcp-protocol.md Part 2 applied to data.
func checkV1Stream(t *testing.T, data []byte, src io.Reader) {
	r := NewV1Reader(src)
	pos := 0
	for {
		rest := data[pos:]
		idx := bytes.IndexByte(rest, '\n')
		params, err := r.ReadCommand()
		if idx < 0 && len(rest) < MaxV1LineLength {
			if err != io.EOF {
				t.Fatalf("at %d: unterminated tail of %d bytes: %q, %v; want io.EOF", pos, len(rest), params, err)
			}
			return
		}
		if idx < 0 || idx >= MaxV1LineLength {
			if !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("at %d: line of %d+ bytes: err %v, want ErrLineTooLong", pos, max(idx, len(rest)), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("at %d: ReadCommand: %v", pos, err)
		}
		line := refV1Trim(rest[:idx])
		want := refV1Split(line)
		if len(params) != len(want) {
			t.Fatalf("at %d: line %q gave %q, want %q", pos, rest[:idx], params, want)
		}
		for i := range want {
			if params[i] != want[i] {
				t.Fatalf("at %d: line %q param %d = %q, want %q", pos, rest[:idx], i, params[i], want[i])
			}
		}
		pos += idx + 1

		switch params[0] {
		case "REGISTER", "UNREGISTER":
			checkV1TopicChannel(t, params[0], params[1:])
			continue
		case "IDENTIFY":
		default:
			continue
		}

		body, err := r.ReadBody("IDENTIFY", v1FuzzBodyCap)
		if len(data)-pos < 4 {
			expectV1Error(t, err, "E_BAD_BODY IDENTIFY failed to read body size")
			return
		}
		size := int32(binary.BigEndian.Uint32(data[pos:]))
		pos += 4
		if size < 0 || size > v1FuzzBodyCap {
			expectV1Error(t, err, "E_BAD_BODY IDENTIFY invalid body size "+strconv.Itoa(int(size)))
			return
		}
		if len(data)-pos < int(size) {
			expectV1Error(t, err, "E_BAD_BODY IDENTIFY failed to read body")
			return
		}
		if err != nil || !bytes.Equal(body, data[pos:pos+int(size)]) {
			t.Fatalf("at %d: ReadBody(%d) = %q, %v", pos, size, body, err)
		}
		pos += int(size)
		checkLookupdIdentify(t, body)
	}
}

func expectV1Error(t *testing.T, err error, want string) {
	t.Helper()
	var we *Error
	if err == nil || err.Error() != want || !errors.As(err, &we) || !we.Fatal {
		t.Fatalf("error %v, want fatal %q", err, want)
	}
}

func checkV1TopicChannel(t *testing.T, cmd string, args []string) {
	topic, channel, err := ParseV1TopicChannel(cmd, args)
	switch {
	case len(args) == 0:
		expectV1Error(t, err, "E_INVALID "+cmd+" insufficient number of params")
	case !IsValidTopicName(args[0]):
		expectV1Error(t, err, "E_BAD_TOPIC "+cmd+" topic name '"+args[0]+"' is not valid")
	case len(args) > 1 && args[1] != "" && !IsValidChannelName(args[1]):
		expectV1Error(t, err, "E_BAD_CHANNEL "+cmd+" channel name '"+args[1]+"' is not valid")
	default:
		wantChannel := ""
		if len(args) > 1 {
			wantChannel = args[1]
		}
		if err != nil || topic != args[0] || channel != wantChannel {
			t.Fatalf("%s %q: %q %q %v", cmd, args, topic, channel, err)
		}
	}
}

func checkLookupdIdentify(t *testing.T, body []byte) {
	id, err := ParseLookupdIdentify(body)
	if err != nil {
		var we *Error
		if !errors.As(err, &we) || !we.Fatal || we.Code != ErrCodeBadBody {
			t.Fatalf("IDENTIFY %q: %v", body, err)
		}
		if we.Desc == "IDENTIFY failed to decode JSON body" && json.Valid(body) && body[0] == '{' {
			// a valid object only fails on a field of the wrong type
			var m map[string]any
			json.Unmarshal(body, &m)
			if len(m) == 0 {
				t.Fatalf("IDENTIFY %q: %v", body, err)
			}
		}
		return
	}
	if id.BroadcastAddress == "" || id.TCPPort == 0 || id.HTTPPort == 0 || id.Version == "" {
		t.Fatalf("IDENTIFY %q accepted with missing fields: %+v", body, id)
	}
	// what was accepted survives a round trip
	again, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := ParseLookupdIdentify(again); err != nil || id2 != id {
		t.Fatalf("IDENTIFY %q: round trip %+v, %v", body, id2, err)
	}
}

// padV1Stream inserts pad 'x' bytes just before the first LF of data (or
// at its end), so small inputs reach the line limit.
func padV1Stream(data []byte, pad uint16) []byte {
	at := bytes.IndexByte(data, '\n')
	if at < 0 {
		at = len(data)
	}
	out := make([]byte, 0, len(data)+int(pad))
	out = append(out, data[:at]...)
	out = append(out, bytes.Repeat([]byte{'x'}, int(pad))...)
	return append(out, data[at:]...)
}

func FuzzV1Reader(f *testing.F) {
	identify := func(js string) string {
		return "IDENTIFY\n" + string(binary.BigEndian.AppendUint32(nil, uint32(len(js)))) + js
	}
	f.Add([]byte("PING\n"), uint16(0))
	f.Add([]byte(identify(`{"version":"1.3.0","tcp_port":4150,"http_port":4151,"hostname":"h","broadcast_address":"127.0.0.1"}`)+
		"REGISTER orders\nREGISTER orders billing\nUNREGISTER orders billing\nUNREGISTER orders\nPING\n"), uint16(0))
	f.Add([]byte(identify(`{"tcp_port":"x"}`)), uint16(0))
	f.Add([]byte(identify(`{}`)+"PING\n"), uint16(0))
	f.Add([]byte("IDENTIFY\n\x00\x00\x00\x00"), uint16(0))
	f.Add([]byte("IDENTIFY\n\xff\xff\xff\xff"), uint16(0))
	f.Add([]byte("IDENTIFY\n\x00\x00\x10\x01"), uint16(0))
	f.Add([]byte("IDENTIFY\n\x00\x00\x00\x10short"), uint16(0))
	f.Add([]byte("IDENTIFY\n\x00\x00"), uint16(0))
	f.Add([]byte("  REGISTER  t\t c \r\n\r\n\n \r\nREGISTER\nUNREGISTER bad!t\nREGISTER t bad!c\n"), uint16(0))
	f.Add([]byte("\u00a0PING\u2003\n\xffPING\xff\n"), uint16(0))
	f.Add([]byte("PING"), uint16(0))
	f.Add([]byte("PING\n"), uint16(MaxV1LineLength-5)) // longest line
	f.Add([]byte("PING\n"), uint16(MaxV1LineLength-4)) // one byte over
	f.Add([]byte("PING"), uint16(MaxV1LineLength))
	f.Fuzz(func(t *testing.T, data []byte, pad uint16) {
		data = padV1Stream(data, pad)
		checkV1Stream(t, data, bytes.NewReader(data))
		checkV1Stream(t, data, iotest.HalfReader(bytes.NewReader(data)))
	})
}
