package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.Join(strings.Fields(s), "")
	out := make([]byte, len(s)/2)
	for i := range out {
		var b byte
		for _, c := range s[2*i : 2*i+2] {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				b |= byte(c-'a') + 10
			case c >= 'A' && c <= 'F':
				b |= byte(c-'A') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		out[i] = b
	}
	return out
}

// Exact frames from tcp-protocol.md 1.3.
func TestFrameBytes(t *testing.T) {
	tests := []struct {
		name  string
		typ   int32
		data  []byte
		want  []byte
		isHB  bool
		isErr bool
	}{
		{"OK", FrameTypeResponse, OK, hexBytes(t, "00 00 00 06  00 00 00 00  4F 4B"), false, false},
		{"heartbeat", FrameTypeResponse, Heartbeat,
			hexBytes(t, "00 00 00 0F  00 00 00 00  5F 68 65 61 72 74 62 65 61 74 5F"), true, false},
		{"CLOSE_WAIT", FrameTypeResponse, CloseWait,
			append(hexBytes(t, "00 00 00 0E  00 00 00 00"), "CLOSE_WAIT"...), false, false},
		{"E_BAD_PROTOCOL", FrameTypeError, []byte(ErrCodeBadProtocol),
			append(hexBytes(t, "00 00 00 12  00 00 00 01"), "E_BAD_PROTOCOL"...), false, true},
		{"empty", FrameTypeResponse, nil, hexBytes(t, "00 00 00 04  00 00 00 00"), false, false},
		{"message", FrameTypeMessage, []byte("x"), append(hexBytes(t, "00 00 00 05  00 00 00 02"), 'x'), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendFrame(nil, tt.typ, tt.data)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("AppendFrame = % x, want % x", got, tt.want)
			}
			prefix := []byte("prefix")
			got = AppendFrame(append([]byte(nil), prefix...), tt.typ, tt.data)
			if !bytes.Equal(got, append(prefix, tt.want...)) {
				t.Fatalf("AppendFrame with prefix = % x", got)
			}

			var buf bytes.Buffer
			n, err := WriteFrame(&buf, tt.typ, tt.data)
			if err != nil || n != len(tt.want) || !bytes.Equal(buf.Bytes(), tt.want) {
				t.Fatalf("WriteFrame = %d, %v, % x; want %d, % x", n, err, buf.Bytes(), len(tt.want), tt.want)
			}

			typ, data, err := ReadFrame(bytes.NewReader(tt.want), 1024)
			if err != nil || typ != tt.typ || !bytes.Equal(data, tt.data) {
				t.Fatalf("ReadFrame = %d, %q, %v", typ, data, err)
			}
			if got := IsHeartbeat(data); got != tt.isHB {
				t.Errorf("IsHeartbeat = %v, want %v", got, tt.isHB)
			}
		})
	}
}

func TestFrameConstants(t *testing.T) {
	if FrameTypeResponse != 0 || FrameTypeError != 1 || FrameTypeMessage != 2 {
		t.Errorf("frame types %d %d %d", FrameTypeResponse, FrameTypeError, FrameTypeMessage)
	}
	if !bytes.Equal(MagicV2, []byte{0x20, 0x20, 0x56, 0x32}) {
		t.Errorf("MagicV2 = % x", MagicV2)
	}
	if !bytes.Equal(MagicV1, []byte("  V1")) {
		t.Errorf("MagicV1 = % x", MagicV1)
	}
	if IsHeartbeat([]byte("_heartbeat")) || IsHeartbeat([]byte("_HEARTBEAT_")) || IsHeartbeat(nil) || IsHeartbeat([]byte("_heartbeat_ ")) {
		t.Error("IsHeartbeat accepts a non-heartbeat")
	}
}

func TestReadFrameSequence(t *testing.T) {
	var stream []byte
	stream = AppendFrame(stream, FrameTypeResponse, OK)
	stream = AppendFrame(stream, FrameTypeResponse, Heartbeat)
	stream = AppendFrame(stream, FrameTypeError, []byte("E_INVALID invalid command FOO"))
	stream = AppendFrame(stream, FrameTypeMessage, bytes.Repeat([]byte{0xAB}, 300))
	r := bytes.NewReader(stream)
	want := []struct {
		typ  int32
		data []byte
	}{
		{0, OK}, {0, Heartbeat}, {1, []byte("E_INVALID invalid command FOO")}, {2, bytes.Repeat([]byte{0xAB}, 300)},
	}
	for i, w := range want {
		typ, data, err := ReadFrame(r, 0) // maxSize 0: no limit
		if err != nil || typ != w.typ || !bytes.Equal(data, w.data) {
			t.Fatalf("frame %d: %d %q %v", i, typ, data, err)
		}
	}
	if _, _, err := ReadFrame(r, 0); err != io.EOF {
		t.Fatalf("after last frame: %v, want io.EOF", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	tests := []struct {
		name    string
		in      []byte
		max     int
		tooBig  bool
		wantErr error // checked with errors.Is when non-nil
	}{
		{"empty", nil, 0, false, io.EOF},
		{"short size", []byte{0, 0, 0}, 0, false, io.ErrUnexpectedEOF},
		{"size 0", u32(0), 0, false, nil},
		{"size 3", append(u32(3), 0, 0, 0), 0, false, nil},
		{"size -1", u32(0xFFFFFFFF), 0, false, nil},
		{"size min int32", u32(0x80000000), 0, false, nil},
		{"too big", append(u32(11), make([]byte, 11)...), 10, true, ErrFrameTooBig},
		{"truncated data", append(u32(10), 0, 0, 0, 0, 'a'), 0, false, io.ErrUnexpectedEOF},
		{"size without data", u32(4), 0, false, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, data, err := ReadFrame(bytes.NewReader(tt.in), tt.max)
			if err == nil {
				t.Fatalf("ReadFrame = %d, %q, nil; want error", typ, data)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrFrameTooBig); got != tt.tooBig {
				t.Fatalf("errors.Is(err, ErrFrameTooBig) = %v (err %v)", got, err)
			}
		})
	}
	// At the limit exactly is fine.
	frame := AppendFrame(nil, FrameTypeResponse, []byte("123456"))
	if _, data, err := ReadFrame(bytes.NewReader(frame), 10); err != nil || string(data) != "123456" {
		t.Fatalf("frame at limit: %q %v", data, err)
	}
}

// The returned data must not alias any buffer ReadFrame keeps.
func TestReadFrameFreshSlice(t *testing.T) {
	stream := AppendFrame(nil, FrameTypeResponse, []byte("one"))
	stream = AppendFrame(stream, FrameTypeResponse, []byte("two"))
	r := bytes.NewReader(stream)
	_, a, _ := ReadFrame(r, 0)
	_, b, _ := ReadFrame(r, 0)
	if string(a) != "one" || string(b) != "two" {
		t.Fatalf("got %q %q", a, b)
	}
}

type errWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	n := w.n
	w.n = 0
	return n, w.err
}

func TestWriteFrameError(t *testing.T) {
	boom := errors.New("boom")
	for _, accept := range []int{0, 3, 8, 9} {
		w := &errWriter{n: accept, err: boom}
		n, err := WriteFrame(w, FrameTypeResponse, []byte("hello"))
		if !errors.Is(err, boom) || n != accept {
			t.Errorf("accept %d: WriteFrame = %d, %v", accept, n, err)
		}
	}
}
