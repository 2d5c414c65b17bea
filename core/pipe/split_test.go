package pipe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitResult is what splitting a whole stream gave.
type splitResult struct {
	records         []string
	empty, oversize uint64
}

// splitReader splits everything r yields, reading into a buffer of size
// bufSize, as the publisher does.
func splitReader(t testing.TB, r io.Reader, delim []byte, max, bufSize int) splitResult {
	t.Helper()
	s := NewSplitter(delim, max)
	buf := make([]byte, bufSize)
	var res splitResult
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.Feed(buf[:n])
			for {
				rec, ok := s.Next()
				if !ok {
					break
				}
				res.records = append(res.records, string(rec))
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if rec, ok := s.End(); ok {
		res.records = append(res.records, string(rec))
	}
	res.empty, res.oversize = s.Empty(), s.Oversized()
	return res
}

// splitModel is the specification: bytes.Split, where a trailing empty
// piece is no record (the input ended with a delimiter, or was empty).
func splitModel(in, delim []byte, max int) splitResult {
	var res splitResult
	if len(in) == 0 {
		return res
	}
	parts := bytes.Split(in, delim)
	if len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1]
	}
	for _, p := range parts {
		switch {
		case len(p) == 0:
			res.empty++
		case max > 0 && len(p) > max:
			res.oversize++
		default:
			res.records = append(res.records, string(p))
		}
	}
	return res
}

func splitEqual(a, b splitResult) bool {
	if a.empty != b.empty || a.oversize != b.oversize || len(a.records) != len(b.records) {
		return false
	}
	for i := range a.records {
		if a.records[i] != b.records[i] {
			return false
		}
	}
	return true
}

// splitReaders wraps the input in every reader shape worth trying.
var splitReaders = []struct {
	name string
	wrap func(io.Reader) io.Reader
	buf  int
}{
	{"whole", func(r io.Reader) io.Reader { return r }, 1 << 16},
	{"onebyte", iotest.OneByteReader, 1 << 16},
	{"half", iotest.HalfReader, 1 << 16},
	{"dataerr", iotest.DataErrReader, 1 << 16},
	{"buf3", func(r io.Reader) io.Reader { return r }, 3},
	{"buf7-half", iotest.HalfReader, 7},
}

func TestSplitter(t *testing.T) {
	huge := strings.Repeat("x", 100000)
	tests := []struct {
		name, in, delim string
		max             int
		want            []string
		empty, over     uint64
	}{
		{name: "lines", in: "a\nbb\nccc\n", delim: "\n", want: []string{"a", "bb", "ccc"}},
		{name: "no trailing delimiter", in: "a\nbb\nccc", delim: "\n", want: []string{"a", "bb", "ccc"}},
		{name: "single record no delimiter", in: "hello", delim: "\n", want: []string{"hello"}},
		{name: "empty input", in: "", delim: "\n"},
		{name: "only delimiter", in: "\n", delim: "\n", empty: 1},
		{name: "empty records", in: "\n\na\n\n\nb\n\n", delim: "\n", want: []string{"a", "b"}, empty: 5},
		{name: "crlf", in: "a\r\nb\r\n\r\nc", delim: "\r\n", want: []string{"a", "b", "c"}, empty: 1},
		{name: "multi-byte", in: "one--two--three", delim: "--", want: []string{"one", "two", "three"}},
		{name: "multi-byte partial at end", in: "one--two-", delim: "--", want: []string{"one", "two-"}},
		{name: "self-prefix aa", in: "xaaaybaaaaz", delim: "aa", want: []string{"x", "ayb", "z"}, empty: 1},
		{name: "self-prefix aaa", in: "aaaaaaa", delim: "aa", want: []string{"a"}, empty: 3},
		{name: "abab", in: "1ababab2abab", delim: "abab", want: []string{"1", "ab2"}},
		{name: "delimiter only multi", in: "<>", delim: "<>", empty: 1},
		{name: "nul", in: "a\x00b\x00", delim: "\x00", want: []string{"a", "b"}},
		{name: "long delimiter", in: "r1<<END>>r2<<END>><<END>>r3<<EN", delim: "<<END>>", want: []string{"r1", "r2", "r3<<EN"}, empty: 1},
		{name: "huge record", in: huge + "\nb\n" + huge, delim: "\n", want: []string{huge, "b", huge}},
		{name: "oversized skipped", in: "aaaa\nbb\nccccc\nd", delim: "\n", max: 3, want: []string{"bb", "d"}, over: 2},
		{name: "oversized last record", in: "ab\ncdefg", delim: "\n", max: 4, want: []string{"ab"}, over: 1},
		{name: "oversized huge multi", in: "s1" + huge + "ab" + huge + "aab" + "ok", delim: "aab", max: 10, want: []string{"ok"}, over: 1},
		{name: "exactly max", in: "abc\nabcd\n", delim: "\n", max: 3, want: []string{"abc"}, over: 1},
	}
	for _, tt := range tests {
		for _, rd := range splitReaders {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				got := splitReader(t, rd.wrap(strings.NewReader(tt.in)), []byte(tt.delim), tt.max, rd.buf)
				want := splitResult{records: tt.want, empty: tt.empty, oversize: tt.over}
				if !splitEqual(got, want) {
					t.Errorf("got %d records %.60q empty %d oversized %d\nwant %d records %.60q empty %d oversized %d",
						len(got.records), got.records, got.empty, got.oversize, len(want.records), want.records, want.empty, want.oversize)
				}
				if model := splitModel([]byte(tt.in), []byte(tt.delim), tt.max); !splitEqual(model, want) {
					t.Errorf("the table disagrees with the model: %.60q", model.records)
				}
			})
		}
	}
}

// A record over the limit is never buffered whole.
func TestSplitterSkipsWithoutBuffering(t *testing.T) {
	s := NewSplitter([]byte("\r\n"), 10)
	chunk := bytes.Repeat([]byte("y"), 1000)
	for range 100 {
		s.Feed(chunk)
		if _, ok := s.Next(); ok {
			t.Fatal("a record out of an unterminated stream")
		}
		if s.Buffered() > 11 {
			t.Fatalf("buffered %d bytes of a record over the limit", s.Buffered())
		}
	}
	s.Feed([]byte("\r"))
	s.Next()
	s.Feed([]byte("\nok\r\n"))
	rec, ok := s.Next()
	if !ok || string(rec) != "ok" || s.Oversized() != 1 {
		t.Fatalf("got %q %v, oversized %d", rec, ok, s.Oversized())
	}
}

func TestSplitterReset(t *testing.T) {
	s := NewSplitter([]byte("\n"), 0)
	s.Feed([]byte("a\n\nbc"))
	s.Next()
	s.Next()
	s.Reset()
	s.Feed([]byte("d\n"))
	if rec, ok := s.Next(); !ok || string(rec) != "d" {
		t.Fatalf("after Reset: %q %v", rec, ok)
	}
	if _, ok := s.End(); ok || s.Empty() != 1 {
		t.Fatalf("End after Reset, empty %d", s.Empty())
	}
}

func TestParseDelimiter(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  string
	}{
		{in: "\n", want: "\n"},
		{in: ",", want: ","},
		{in: `\`, want: `\`}, // one byte: taken as it is
		{in: "\x00", want: "\x00"},
		{in: `\n`, want: "\n"},
		{in: `\t`, want: "\t"},
		{in: `\r\n`, want: "\r\n"},
		{in: `\0`, want: "\x00"},
		{in: `\\`, want: `\`},
		{in: `\x1e`, want: "\x1e"},
		{in: `\xFF\x00`, want: "\xff\x00"},
		{in: `--`, want: "--"},
		{in: "||", want: "||"},
		{in: "", err: "must not be empty"},
		{in: `\q`, err: `unknown escape \q`},
		{in: `a\`, err: "backslash at the end"},
		{in: `\x1`, err: "two hex digits"},
		{in: `\xzz`, err: "two hex digits"},
	}
	for _, tt := range tests {
		got, err := ParseDelimiter(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDelimiter(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("ParseDelimiter(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if back, err := ParseDelimiter(FormatDelimiter(got)); err != nil || !bytes.Equal(back, got) {
			t.Errorf("FormatDelimiter(%q) = %q does not parse back: %q %v", got, FormatDelimiter(got), back, err)
		}
	}
}

// splitChunkedReader returns its data in pieces of the given sizes (cycled).
type splitChunkedReader struct {
	data  []byte
	sizes []int
	i     int
}

func (r *splitChunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = r.sizes[r.i%len(r.sizes)]
		r.i++
	}
	n = max(1, min(n, len(p), len(r.data)))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzSplitter splits untrusted bytes with an arbitrary delimiter, limit
// and read pattern, and compares with bytes.Split.
func FuzzSplitter(f *testing.F) {
	seeds := []struct {
		in, delim string
		max       uint16
		cuts      string
	}{
		{"a\nb\nc", "\n", 0, "\x01"},
		{"xaaaybaaaaz", "aa", 0, "\x01\x02\x03"},
		{"1ababab2abab", "abab", 0, "\x03"},
		{"r1<<END>>r2<<END>><<END>>r3<<EN", "<<END>>", 4, "\x05\x02"},
		{"\n\n\n", "\n", 0, ""},
		{"aaaa\nbb\nccccc\nd", "\n", 3, "\x02"},
		{"abcabcabd", "abd", 0, "\x01\x01\x01\x05"},
		{"\x00\x00x\x00", "\x00\x00", 1, "\x01"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.in), []byte(s.delim), s.max, []byte(s.cuts))
	}
	f.Fuzz(func(t *testing.T, in, delim []byte, max uint16, cuts []byte) {
		if len(delim) == 0 || len(delim) > 16 {
			return
		}
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = int(c)
		}
		got := splitReader(t, &splitChunkedReader{data: in, sizes: sizes}, delim, int(max), 1<<10)
		want := splitModel(in, delim, int(max))
		if !splitEqual(got, want) {
			t.Fatalf("in %q delim %q max %d cuts %v:\ngot  %q empty %d oversized %d\nwant %q empty %d oversized %d",
				in, delim, max, sizes, got.records, got.empty, got.oversize, want.records, want.empty, want.oversize)
		}
	})
}

func BenchmarkSplitter(b *testing.B) {
	var in bytes.Buffer
	for i := range 100000 {
		fmt.Fprintf(&in, "%d\n", i)
	}
	data := in.Bytes()
	for _, delim := range []string{"\n", "\r\n"} {
		d := []byte(delim)
		src := bytes.ReplaceAll(data, []byte("\n"), d)
		b.Run(fmt.Sprintf("delim%d", len(d)), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			s := NewSplitter(d, 1<<20)
			n := 0
			for b.Loop() {
				for off := 0; off < len(src); off += 64 << 10 {
					s.Feed(src[off:min(off+64<<10, len(src))])
					for {
						_, ok := s.Next()
						if !ok {
							break
						}
						n++
					}
				}
				s.End()
			}
			if n == 0 {
				b.Fatal(errors.New("no records"))
			}
		})
	}
}
