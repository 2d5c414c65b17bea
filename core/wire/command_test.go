package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func paramStrings(p [][]byte) []string {
	out := make([]string, len(p))
	for i, b := range p {
		out[i] = string(b)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tcp-protocol.md 1.2: split on every single space, strip one trailing \r.
func TestReadLineSplitting(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"NOP\n", []string{"NOP"}},
		{"PUB topic\n", []string{"PUB", "topic"}},
		{"SUB topic channel\n", []string{"SUB", "topic", "channel"}},
		{"SUB  topic channel\n", []string{"SUB", "", "topic", "channel"}},
		{"SUB topic  channel\n", []string{"SUB", "topic", "", "channel"}},
		{"RDY 1 \n", []string{"RDY", "1", ""}},
		{"RDY   \n", []string{"RDY", "", "", ""}},
		{" NOP\n", []string{"", "NOP"}},
		{"\n", []string{""}},
		{"\r\n", []string{""}},
		{" \n", []string{"", ""}},
		{"  \n", []string{"", "", ""}},
		{"NOP\r\n", []string{"NOP"}},
		{"FIN 0123456789abcdef\r\n", []string{"FIN", "0123456789abcdef"}},
		{"NOP\r\r\n", []string{"NOP\r"}}, // only one \r is stripped
		{"NOP \r\n", []string{"NOP", ""}},
		{"NOP\rX\n", []string{"NOP\rX"}},
		{"\rNOP\n", []string{"\rNOP"}},
		{"A\tB\n", []string{"A\tB"}}, // only 0x20 separates
		{"A\x00B C\n", []string{"A\x00B", "C"}},
		{"nop\n", []string{"nop"}}, // no case folding
		{"REQ 0123456789abcdef 1000\n", []string{"REQ", "0123456789abcdef", "1000"}},
	}
	for _, tt := range tests {
		r := NewCommandReader(strings.NewReader(tt.in))
		params, err := r.ReadLine()
		if err != nil {
			t.Errorf("ReadLine(%q) err = %v", tt.in, err)
			continue
		}
		if got := paramStrings(params); !equalStrings(got, tt.want) {
			t.Errorf("ReadLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if _, err := r.ReadLine(); err != io.EOF {
			t.Errorf("ReadLine(%q) second call err = %v, want io.EOF", tt.in, err)
		}
	}
}

func TestSplitParams(t *testing.T) {
	got := paramStrings(SplitParams([]byte("a  b "), nil))
	if want := []string{"a", "", "b", ""}; !equalStrings(got, want) {
		t.Fatalf("SplitParams = %q, want %q", got, want)
	}
	got = paramStrings(SplitParams(nil, nil))
	if want := []string{""}; !equalStrings(got, want) {
		t.Fatalf("SplitParams(nil) = %q, want %q", got, want)
	}
	dst := [][]byte{[]byte("keep")}
	got = paramStrings(SplitParams([]byte("x y"), dst))
	if want := []string{"keep", "x", "y"}; !equalStrings(got, want) {
		t.Fatalf("SplitParams appends: %q, want %q", got, want)
	}
}

// The server's line buffer is 16 KiB: a line of 16383 bytes plus LF is the
// longest accepted.
func TestReadLineTooLong(t *testing.T) {
	if MaxLineLength != 16*1024 {
		t.Fatalf("MaxLineLength = %d", MaxLineLength)
	}
	longest := "PUB " + strings.Repeat("a", MaxLineLength-1-4)
	r := NewCommandReader(strings.NewReader(longest + "\nNOP\n"))
	params, err := r.ReadLine()
	if err != nil || len(params) != 2 || len(params[1]) != MaxLineLength-5 {
		t.Fatalf("longest line: %d params, err %v", len(params), err)
	}
	if params, err := r.ReadLine(); err != nil || string(params[0]) != "NOP" {
		t.Fatalf("line after longest: %q %v", paramStrings(params), err)
	}

	// Same, through a reader returning one byte per Read.
	r = NewCommandReader(iotest.OneByteReader(strings.NewReader(longest + "\n")))
	if params, err := r.ReadLine(); err != nil || len(params[1]) != MaxLineLength-5 {
		t.Fatalf("longest line one byte at a time: %v", err)
	}

	for _, in := range []string{
		strings.Repeat("a", MaxLineLength) + "\n",
		strings.Repeat("a", MaxLineLength-1) + "\r\n", // the \r counts
		strings.Repeat("a", MaxLineLength),
		strings.Repeat("a ", MaxLineLength) + "\n",
		strings.Repeat("x", 100000),
	} {
		r := NewCommandReader(strings.NewReader(in))
		if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("line of %d bytes: err = %v, want ErrLineTooLong", len(in), err)
		}
	}

	// After preceding short lines the limit is the same.
	r = NewCommandReader(strings.NewReader("NOP\n" + strings.Repeat("a", MaxLineLength) + "\n"))
	if _, err := r.ReadLine(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("second line: err = %v, want ErrLineTooLong", err)
	}
}

func TestReadLineEOF(t *testing.T) {
	r := NewCommandReader(strings.NewReader(""))
	if _, err := r.ReadLine(); err != io.EOF {
		t.Fatalf("empty input: %v", err)
	}
	r = NewCommandReader(strings.NewReader("NOP")) // no LF
	if _, err := r.ReadLine(); err != io.EOF {
		t.Fatalf("unterminated line: %v", err)
	}
	boom := errors.New("boom")
	r = NewCommandReader(iotest.ErrReader(boom))
	if _, err := r.ReadLine(); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

func TestReadSize(t *testing.T) {
	tests := []struct {
		in   []byte
		want int32
	}{
		{u32(0), 0},
		{u32(1), 1},
		{u32(0x01020304), 0x01020304},
		{u32(0x7FFFFFFF), 0x7FFFFFFF},
		{u32(0x80000000), -0x80000000},
		{u32(0xFFFFFFFF), -1},
		{u32(0xFFFFFFFE), -2},
	}
	for _, tt := range tests {
		r := NewCommandReader(bytes.NewReader(tt.in))
		got, err := r.ReadSize()
		if err != nil || got != tt.want {
			t.Errorf("ReadSize(% x) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	r := NewCommandReader(bytes.NewReader(nil))
	if _, err := r.ReadSize(); err != io.EOF {
		t.Errorf("ReadSize on empty input: %v, want io.EOF", err)
	}
	r = NewCommandReader(bytes.NewReader([]byte{0, 0, 1}))
	if _, err := r.ReadSize(); err != io.ErrUnexpectedEOF {
		t.Errorf("ReadSize on 3 bytes: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadBody(t *testing.T) {
	r := NewCommandReader(bytes.NewReader([]byte("helloworld!")))
	b, err := r.ReadBody(5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadBody(5) = %q, %v", b, err)
	}
	b2, err := r.ReadBody(3)
	if err != nil || string(b2) != "wor" {
		t.Fatalf("ReadBody(3) = %q, %v", b2, err)
	}
	if &b2[0] != &b[0] {
		t.Errorf("ReadBody does not reuse its buffer")
	}
	if b, err := r.ReadBody(0); err != nil || len(b) != 0 {
		t.Fatalf("ReadBody(0) = %q, %v", b, err)
	}
	if _, err := r.ReadBody(-1); err == nil {
		t.Fatalf("ReadBody(-1) succeeded")
	}
	if _, err := r.ReadBody(5); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated body: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := r.ReadBody(1); err != io.EOF {
		t.Fatalf("body at EOF: %v, want io.EOF", err)
	}
}

// A pipelined stream of commands with bodies, read back in order, even when
// the transport delivers one byte at a time.
func TestCommandReaderPipeline(t *testing.T) {
	stream := cat(
		[]byte("IDENTIFY\n"), u32(2), []byte("{}"),
		[]byte("SUB t c\r\n"),
		[]byte("PUB t\n"), u32(5), []byte("a\nb c"),
		[]byte("RDY 10\n"),
		[]byte("DPUB t 100\n"), u32(1), []byte("\n"),
		[]byte("NOP\n"),
	)
	type cmd struct {
		params []string
		body   string // "-" for none
	}
	want := []cmd{
		{[]string{"IDENTIFY"}, "{}"},
		{[]string{"SUB", "t", "c"}, "-"},
		{[]string{"PUB", "t"}, "a\nb c"},
		{[]string{"RDY", "10"}, "-"},
		{[]string{"DPUB", "t", "100"}, "\n"},
		{[]string{"NOP"}, "-"},
	}
	for name, src := range map[string]io.Reader{
		"whole":    bytes.NewReader(stream),
		"onebyte":  iotest.OneByteReader(bytes.NewReader(stream)),
		"halfread": iotest.HalfReader(bytes.NewReader(stream)),
	} {
		r := NewCommandReader(src)
		for i, w := range want {
			params, err := r.ReadLine()
			if err != nil {
				t.Fatalf("%s %d: ReadLine: %v", name, i, err)
			}
			if got := paramStrings(params); !equalStrings(got, w.params) {
				t.Fatalf("%s %d: params %q, want %q", name, i, got, w.params)
			}
			if w.body == "-" {
				continue
			}
			n, err := r.ReadSize()
			if err != nil || int(n) != len(w.body) {
				t.Fatalf("%s %d: ReadSize = %d, %v", name, i, n, err)
			}
			body, err := r.ReadBody(n)
			if err != nil || string(body) != w.body {
				t.Fatalf("%s %d: ReadBody = %q, %v", name, i, body, err)
			}
		}
		if _, err := r.ReadLine(); err != io.EOF {
			t.Fatalf("%s: after last command: %v", name, err)
		}
	}
}

func TestCommandReaderResetBuffered(t *testing.T) {
	r := NewCommandReader(strings.NewReader("NOP\nstale bytes\n"))
	if _, err := r.ReadLine(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != len("stale bytes\n") {
		t.Fatalf("Buffered = %d", r.Buffered())
	}
	r.Reset(strings.NewReader("CLS\n"))
	if r.Buffered() != 0 {
		t.Fatalf("Buffered after Reset = %d", r.Buffered())
	}
	params, err := r.ReadLine()
	if err != nil || string(params[0]) != "CLS" || len(params) != 1 {
		t.Fatalf("after Reset: %q %v", paramStrings(params), err)
	}
	// The limit still applies after Reset.
	r.Reset(strings.NewReader(strings.Repeat("a", MaxLineLength) + "\n"))
	if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("after Reset long line: %v", err)
	}
}

// NewCommandReader must not widen the line limit when handed a small bufio.Reader.
func TestCommandReaderOverSmallBufio(t *testing.T) {
	src := bufio.NewReaderSize(strings.NewReader(strings.Repeat("a", 1000)+"\n"), 16)
	r := NewCommandReader(src)
	if params, err := r.ReadLine(); err != nil || len(params[0]) != 1000 {
		t.Fatalf("ReadLine over small bufio.Reader: %v", err)
	}
}

func mpubError(t *testing.T, err error) *Error {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not *wire.Error", err, err)
	}
	if !pe.Fatal {
		t.Fatalf("error %q is not fatal", pe.Error())
	}
	return pe
}

// readMPUB reads one batch from body through a fresh MPUBReader.
func readMPUB(body []byte, maxMsg, maxBody int64) ([][]byte, error) {
	var mr MPUBReader
	return mr.Read(bytes.NewReader(body), maxMsg, maxBody)
}

// tcp-protocol.md 1.5.12, steps 8 to 10, with max-msg-size 100 and
// max-body-size 1000 (so the largest count is (1000-4)/5 = 199).
func TestReadMPUBErrors(t *testing.T) {
	const maxMsg, maxBody = 100, 1000
	msg := func(b string) []byte { return cat(u32(uint32(len(b))), []byte(b)) }
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "E_BAD_BODY MPUB failed to read message count"},
		{"count 3 bytes", []byte{0, 0, 1}, "E_BAD_BODY MPUB failed to read message count"},
		{"count 0", u32(0), "E_BAD_BODY MPUB invalid message count 0"},
		{"count -1", u32(0xFFFFFFFF), "E_BAD_BODY MPUB invalid message count -1"},
		{"count min int32", u32(0x80000000), "E_BAD_BODY MPUB invalid message count -2147483648"},
		{"count 200", cat(u32(200), msg("a")), "E_BAD_BODY MPUB invalid message count 200"},
		{"count max int32", u32(0x7FFFFFFF), "E_BAD_BODY MPUB invalid message count 2147483647"},
		{"size missing", u32(1), "E_BAD_MESSAGE MPUB failed to read message(0) body size"},
		{"size short", cat(u32(1), []byte{0, 0, 0}), "E_BAD_MESSAGE MPUB failed to read message(0) body size"},
		{"second size short", cat(u32(2), msg("ab"), []byte{0, 0}), "E_BAD_MESSAGE MPUB failed to read message(1) body size"},
		{"third size missing", cat(u32(3), msg("a"), msg("b")), "E_BAD_MESSAGE MPUB failed to read message(2) body size"},
		{"size 0", cat(u32(1), u32(0)), "E_BAD_MESSAGE MPUB invalid message(0) body size 0"},
		{"second size 0", cat(u32(2), msg("a"), u32(0), []byte("x")), "E_BAD_MESSAGE MPUB invalid message(1) body size 0"},
		{"size -5", cat(u32(2), msg("a"), u32(0xFFFFFFFB)), "E_BAD_MESSAGE MPUB invalid message(1) body size -5"},
		{"size min int32", cat(u32(1), u32(0x80000000)), "E_BAD_MESSAGE MPUB invalid message(0) body size -2147483648"},
		{"too big", cat(u32(1), u32(101), make([]byte, 101)), "E_BAD_MESSAGE MPUB message too big 101 > 100"},
		{"second too big", cat(u32(2), msg("a"), u32(1000)), "E_BAD_MESSAGE MPUB message too big 1000 > 100"},
		{"too big max int32", cat(u32(1), u32(0x7FFFFFFF)), "E_BAD_MESSAGE MPUB message too big 2147483647 > 100"},
		{"body truncated", cat(u32(1), u32(10), []byte("12345")), "E_BAD_MESSAGE MPUB failed to read message body"},
		{"body missing", cat(u32(1), u32(1)), "E_BAD_MESSAGE MPUB failed to read message body"},
		{"second body truncated", cat(u32(2), msg("a"), u32(2), []byte("b")), "E_BAD_MESSAGE MPUB failed to read message body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readMPUB(tt.body, maxMsg, maxBody)
			pe := mpubError(t, err)
			if got := pe.Error(); got != tt.want {
				t.Fatalf("error %q, want %q", got, tt.want)
			}
		})
	}
}

// Bytes after the last message are not part of the batch: the reader stops
// right after it, as 1.3.0 does, and the stream goes on from there.
func TestReadMPUBStopsAfterLastMessage(t *testing.T) {
	for _, extra := range [][]byte{{0}, []byte("xyz"), u32(1), cat(u32(1), []byte("a"))} {
		src := bytes.NewReader(cat(u32(1), u32(1), []byte("a"), extra))
		var mr MPUBReader
		got, err := mr.Read(src, 100, 1000)
		if err != nil || !equalStrings(paramStrings(got), []string{"a"}) {
			t.Fatalf("extra % x: %q, %v", extra, paramStrings(got), err)
		}
		if rest, _ := io.ReadAll(src); !bytes.Equal(rest, extra) {
			t.Fatalf("left in the stream: % x, want % x", rest, extra)
		}
	}
}

func TestReadMPUBValid(t *testing.T) {
	const maxMsg, maxBody = 100, 1000
	tests := []struct {
		name   string
		bodies []string
	}{
		{"one", []string{"a"}},
		{"three", []string{"hello", "\x00\x01", "world\n"}},
		{"max size", []string{strings.Repeat("m", maxMsg), "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in [][]byte
			for _, b := range tt.bodies {
				in = append(in, []byte(b))
			}
			got, err := readMPUB(EncodeMPUBBody(in), maxMsg, maxBody)
			if err != nil {
				t.Fatalf("ReadMPUB: %v", err)
			}
			if s := paramStrings(got); !equalStrings(s, tt.bodies) {
				t.Fatalf("ReadMPUB = %q, want %q", s, tt.bodies)
			}
		})
	}

	// The largest count allowed by max-body-size: (1000-4)/5 = 199 one-byte messages.
	var many [][]byte
	for i := 0; i < 199; i++ {
		many = append(many, []byte{byte(i)})
	}
	body := EncodeMPUBBody(many)
	got, err := readMPUB(body, maxMsg, maxBody)
	if err != nil || len(got) != 199 {
		t.Fatalf("199 messages: %d, %v", len(got), err)
	}
	for i, m := range got {
		if len(m) != 1 || m[0] != byte(i) {
			t.Fatalf("message %d = % x", i, m)
		}
	}
	// With max-body-size 998 the same count is too large: (998-4)/5 = 198.
	_, err = readMPUB(body, maxMsg, 998)
	if pe := mpubError(t, err); pe.Error() != "E_BAD_BODY MPUB invalid message count 199" {
		t.Fatalf("error %q", pe.Error())
	}

	// One reader, reused: each batch replaces the last.
	var mr MPUBReader
	src := bytes.NewReader(cat(EncodeMPUBBody([][]byte{[]byte("a"), []byte("b")}), EncodeMPUBBody([][]byte{[]byte("c")})))
	first, err := mr.Read(src, maxMsg, maxBody)
	if err != nil || !equalStrings(paramStrings(first), []string{"a", "b"}) {
		t.Fatalf("first batch: %q %v", paramStrings(first), err)
	}
	second, err := mr.Read(src, maxMsg, maxBody)
	if err != nil || !equalStrings(paramStrings(second), []string{"c"}) {
		t.Fatalf("second batch: %q %v", paramStrings(second), err)
	}

	// A batch larger than max-body-size (1.3.0 reads it: only the count and
	// each message are bounded) does not stay pinned to the reader.
	big := make([][]byte, 20)
	for i := range big {
		big[i] = bytes.Repeat([]byte{'b'}, maxMsg)
	}
	if got, err := mr.Read(bytes.NewReader(EncodeMPUBBody(big)), maxMsg, maxBody); err != nil || len(got) != 20 {
		t.Fatalf("2000-byte batch under max-body-size 1000: %d, %v", len(got), err)
	}
	if _, err := mr.Read(bytes.NewReader(EncodeMPUBBody([][]byte{[]byte("d")})), maxMsg, maxBody); err != nil {
		t.Fatal(err)
	}
	if cap(mr.buf) > maxBody {
		t.Fatalf("reader kept a %d-byte buffer after a small batch", cap(mr.buf))
	}
}

func TestEncodeMPUBBody(t *testing.T) {
	got := EncodeMPUBBody([][]byte{[]byte("ab"), []byte("c")})
	want := cat(u32(2), u32(2), []byte("ab"), u32(1), []byte("c"))
	if !bytes.Equal(got, want) {
		t.Fatalf("EncodeMPUBBody = % x, want % x", got, want)
	}
	if got := EncodeMPUBBody(nil); !bytes.Equal(got, u32(0)) {
		t.Fatalf("EncodeMPUBBody(nil) = % x", got)
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"1", 1, true},
		{"2500", 2500, true},
		{"007", 7, true},
		{"0000000000000000000000000000001", 1, true},
		{"3600000", 3600000, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"09223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 9223372036854775808, true},
		{"18446744073709551615", 18446744073709551615, true},
		// past 2^64-1 the value wraps, as nsqd 1.3.0's parser does
		{"18446744073709551616", 0, true},
		{"18446744073709551617", 1, true},
		{"99999999999999999999", 7766279631452241919, true},
		{"99999999999999999999999", 0x2c7e14af67fffff, true},
		{"+1", 0, false},
		{"-1", 0, false},
		{"-0", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1a", 0, false},
		{"a", 0, false},
		{"1.0", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"1,000", 0, false},
		{"\x00", 0, false},
		{"١", 0, false}, // non-ASCII digit
	}
	for _, tt := range tests {
		got, ok := ParseDecimal([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseDecimal(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

var testID = MessageID{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'}

// Exact bytes of every client command (tcp-protocol.md 1.2 and 1.5).
func TestCommandEncoding(t *testing.T) {
	identifyJSON := []byte(`{"client_id":"c","feature_negotiation":true}`)
	tests := []struct {
		name string
		cmd  *Command
		want []byte
		str  string
	}{
		{"IDENTIFY", Identify(identifyJSON), cat([]byte("IDENTIFY\n"), u32(uint32(len(identifyJSON))), identifyJSON), "IDENTIFY"},
		{"AUTH", Auth("s3cret"), cat([]byte("AUTH\n"), u32(6), []byte("s3cret")), "AUTH"},
		{"SUB", Subscribe("topic", "chan#ephemeral"), []byte("SUB topic chan#ephemeral\n"), "SUB topic chan#ephemeral"},
		{"PUB", Publish("topic", []byte("hello")), cat([]byte("PUB topic\n"), u32(5), []byte("hello")), "PUB topic"},
		{"PUB empty", Publish("topic", nil), cat([]byte("PUB topic\n"), u32(0)), "PUB topic"},
		{"MPUB", MultiPublish("topic", [][]byte{[]byte("ab"), []byte("cde")}),
			cat([]byte("MPUB topic\n"), u32(17), u32(2), u32(2), []byte("ab"), u32(3), []byte("cde")), "MPUB topic"},
		{"DPUB", DeferredPublish("topic", 1500, []byte("later")), cat([]byte("DPUB topic 1500\n"), u32(5), []byte("later")), "DPUB topic 1500"},
		{"DPUB 0", DeferredPublish("t", 0, []byte("x")), cat([]byte("DPUB t 0\n"), u32(1), []byte("x")), "DPUB t 0"},
		{"RDY", Ready(2500), []byte("RDY 2500\n"), "RDY 2500"},
		{"RDY 0", Ready(0), []byte("RDY 0\n"), "RDY 0"},
		{"FIN", Finish(testID), []byte("FIN 0123456789abcdef\n"), "FIN 0123456789abcdef"},
		{"REQ", Requeue(testID, 60000), []byte("REQ 0123456789abcdef 60000\n"), "REQ 0123456789abcdef 60000"},
		{"REQ 0", Requeue(testID, 0), []byte("REQ 0123456789abcdef 0\n"), "REQ 0123456789abcdef 0"},
		{"TOUCH", Touch(testID), []byte("TOUCH 0123456789abcdef\n"), "TOUCH 0123456789abcdef"},
		{"CLS", StartClose(), []byte("CLS\n"), "CLS"},
		{"NOP", Nop(), []byte("NOP\n"), "NOP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cmd.Append(nil); !bytes.Equal(got, tt.want) {
				t.Fatalf("Append = %q, want %q", got, tt.want)
			}
			if got := tt.cmd.Append([]byte("x")); !bytes.Equal(got, cat([]byte("x"), tt.want)) {
				t.Fatalf("Append with prefix = %q", got)
			}
			var buf bytes.Buffer
			n, err := tt.cmd.WriteTo(&buf)
			if err != nil || n != int64(len(tt.want)) || !bytes.Equal(buf.Bytes(), tt.want) {
				t.Fatalf("WriteTo = %d, %v, %q", n, err, buf.Bytes())
			}
			if got := tt.cmd.String(); got != tt.str {
				t.Fatalf("String = %q, want %q", got, tt.str)
			}
		})
	}
}

// Commands written with the builders read back through CommandReader.
func TestCommandRoundTrip(t *testing.T) {
	mpubBodies := [][]byte{[]byte("m1"), []byte("message two"), {0, '\n', ' ', 0xff}}
	cmds := []*Command{
		Identify([]byte(`{"heartbeat_interval":1000}`)),
		Auth("secret with spaces\n"),
		Subscribe("topic", "channel"),
		Publish("topic", []byte("body\nwith LF")),
		MultiPublish("topic", mpubBodies),
		DeferredPublish("topic", 3000, []byte("d")),
		Ready(100),
		Finish(testID),
		Requeue(testID, 250),
		Touch(testID),
		StartClose(),
		Nop(),
	}
	var stream bytes.Buffer
	for _, c := range cmds {
		if _, err := c.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
	}
	r := NewCommandReader(iotest.HalfReader(&stream))
	for i, c := range cmds {
		params, err := r.ReadLine()
		if err != nil {
			t.Fatalf("%d: ReadLine: %v", i, err)
		}
		if string(params[0]) != string(c.Name) || len(params) != 1+len(c.Params) {
			t.Fatalf("%d: params %q for %s", i, paramStrings(params), c)
		}
		for j, p := range c.Params {
			if !bytes.Equal(params[1+j], p) {
				t.Fatalf("%d: param %d = %q, want %q", i, j, params[1+j], p)
			}
		}
		switch string(params[0]) {
		case "RDY":
			if n, ok := ParseDecimal(params[1]); !ok || n != 100 {
				t.Fatalf("RDY count %d %v", n, ok)
			}
		case "REQ":
			if n, ok := ParseDecimal(params[2]); !ok || n != 250 {
				t.Fatalf("REQ timeout %d %v", n, ok)
			}
		case "DPUB":
			if n, ok := ParseDecimal(params[2]); !ok || n != 3000 {
				t.Fatalf("DPUB defer %d %v", n, ok)
			}
		}
		if c.Body == nil {
			continue
		}
		size, err := r.ReadSize()
		if err != nil || int(size) != len(c.Body) {
			t.Fatalf("%d: ReadSize = %d, %v", i, size, err)
		}
		if string(params[0]) == "MPUB" {
			msgs, err := r.ReadMPUB(1024, 1024*1024)
			if err != nil || len(msgs) != len(mpubBodies) {
				t.Fatalf("ReadMPUB: %d, %v", len(msgs), err)
			}
			for j := range msgs {
				if !bytes.Equal(msgs[j], mpubBodies[j]) {
					t.Fatalf("MPUB message %d = %q", j, msgs[j])
				}
			}
			continue
		}
		body, err := r.ReadBody(size)
		if err != nil || !bytes.Equal(body, c.Body) {
			t.Fatalf("%d: ReadBody = %q, %v", i, body, err)
		}
	}
	if _, err := r.ReadLine(); err != io.EOF {
		t.Fatalf("after last command: %v", err)
	}
}

func TestCommandWriteToError(t *testing.T) {
	boom := errors.New("boom")
	n, err := Nop().WriteTo(&errWriter{n: 2, err: boom})
	if !errors.Is(err, boom) || n != 2 {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
}

// sliceSink is an MPUBSink that keeps each body in its own slice.
type sliceSink struct {
	count  int
	bodies [][]byte
}

func (s *sliceSink) MPUBCount(n int) { s.count = n }
func (s *sliceSink) MPUBBody(size int) []byte {
	b := make([]byte, size)
	s.bodies = append(s.bodies, b)
	return b
}

// ReadInto hands the count first, then reads each body into the slice the
// sink gives; on an error the sink has what was read before it.
func TestReadMPUBInto(t *testing.T) {
	in := [][]byte{[]byte("hello"), {0, 1}, []byte("world\n")}
	var mr MPUBReader
	var s sliceSink
	src := bytes.NewReader(cat(EncodeMPUBBody(in), []byte("NOP\n")))
	if err := mr.ReadInto(src, 100, 1000, &s); err != nil {
		t.Fatal(err)
	}
	if s.count != 3 || !equalStrings(paramStrings(s.bodies), []string{"hello", "\x00\x01", "world\n"}) {
		t.Fatalf("count %d, bodies %q", s.count, paramStrings(s.bodies))
	}
	if rest, _ := io.ReadAll(src); string(rest) != "NOP\n" {
		t.Fatalf("left in the stream: %q", rest)
	}

	s = sliceSink{}
	err := mr.ReadInto(bytes.NewReader(cat(u32(2), u32(1), []byte("a"), u32(101))), 100, 1000, &s)
	if pe := mpubError(t, err); pe.Error() != "E_BAD_MESSAGE MPUB message too big 101 > 100" {
		t.Fatalf("error %q", pe.Error())
	}
	if s.count != 2 || len(s.bodies) != 1 || string(s.bodies[0]) != "a" {
		t.Fatalf("after the error: count %d, bodies %q", s.count, paramStrings(s.bodies))
	}
}
