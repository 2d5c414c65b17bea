package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// loopReader replays buf forever, so a benchmark can read any number of
// commands through one CommandReader without allocating.
type loopReader struct {
	buf []byte
	pos int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.buf[l.pos:])
	l.pos += n
	if l.pos == len(l.buf) {
		l.pos = 0
	}
	return n, nil
}

// repeatCommand encodes c n times back to back.
func repeatCommand(c *Command, n int) []byte {
	var out []byte
	for i := 0; i < n; i++ {
		out = c.Append(out)
	}
	return out
}

const (
	benchMaxMsgSize  = 1024 * 1024
	benchMaxBodySize = 5 * 1024 * 1024
)

var errBench = errors.New("unexpected command")

// parser is the hot read path of an nsqd connection for the commands the
// benchmarks exercise: line, then size and body where there is one.
type parser struct {
	r    *CommandReader
	msgs [][]byte
	id   MessageID
	n    int64
}

func newParser(stream []byte) *parser {
	return &parser{r: NewCommandReader(&loopReader{buf: stream})}
}

func (p *parser) readBody() ([]byte, error) {
	size, err := p.r.ReadSize()
	if err != nil {
		return nil, err
	}
	if size <= 0 || int64(size) > benchMaxBodySize {
		return nil, errBench
	}
	return p.r.ReadBody(size)
}

// readMPUBBatch checks MPUB's declared size, then reads the batch from the
// stream as nsqd does.
func (p *parser) readMPUBBatch() error {
	size, err := p.r.ReadSize()
	if err != nil {
		return err
	}
	if size <= 0 || int64(size) > benchMaxBodySize {
		return errBench
	}
	p.msgs, err = p.r.ReadMPUB(benchMaxMsgSize, benchMaxBodySize)
	return err
}

func (p *parser) readPUB() error {
	params, err := p.r.ReadLine()
	if err != nil {
		return err
	}
	if len(params) < 2 || string(params[0]) != "PUB" {
		return errBench
	}
	body, err := p.readBody()
	if err != nil {
		return err
	}
	p.n += int64(len(body))
	return nil
}

func (p *parser) readMPUB() error {
	params, err := p.r.ReadLine()
	if err != nil {
		return err
	}
	if len(params) < 2 || string(params[0]) != "MPUB" {
		return errBench
	}
	if err := p.readMPUBBatch(); err != nil {
		return err
	}
	p.n += int64(len(p.msgs))
	return nil
}

func (p *parser) readFIN() error {
	params, err := p.r.ReadLine()
	if err != nil {
		return err
	}
	if len(params) < 2 || string(params[0]) != "FIN" || len(params[1]) != MsgIDLength {
		return errBench
	}
	copy(p.id[:], params[1])
	return nil
}

func (p *parser) readRDY() error {
	params, err := p.r.ReadLine()
	if err != nil {
		return err
	}
	if len(params) < 2 || string(params[0]) != "RDY" {
		return errBench
	}
	n, ok := ParseDecimal(params[1])
	if !ok {
		return errBench
	}
	p.n += int64(n)
	return nil
}

func (p *parser) readAny() error {
	params, err := p.r.ReadLine()
	if err != nil {
		return err
	}
	switch string(params[0]) {
	case "PUB", "DPUB":
		_, err = p.readBody()
	case "MPUB":
		err = p.readMPUBBatch()
	case "RDY":
		if _, ok := ParseDecimal(params[1]); !ok {
			err = errBench
		}
	case "REQ":
		if _, ok := ParseDecimal(params[2]); !ok {
			err = errBench
		}
	case "FIN", "TOUCH":
		copy(p.id[:], params[1])
	case "NOP":
	default:
		err = errBench
	}
	return err
}

func benchBodies(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.Repeat([]byte{byte('a' + i%26)}, size)
	}
	return out
}

var (
	pubStream  = repeatCommand(Publish("benchmark_topic", benchBodies(1, 200)[0]), 64)
	mpubStream = repeatCommand(MultiPublish("benchmark_topic", benchBodies(10, 200)), 16)
	finStream  = repeatCommand(Finish(MessageID{'0', '6', 'f', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd'}), 256)
	rdyStream  = repeatCommand(Ready(2500), 256)
)

func mixedStream() []byte {
	id := MessageID{'0', '6', 'f', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd'}
	var out []byte
	for _, c := range []*Command{
		Publish("t", []byte("small")),
		MultiPublish("t", benchBodies(5, 50)),
		DeferredPublish("t", 1000, []byte("d")),
		Ready(10), Finish(id), Requeue(id, 5000), Touch(id), Nop(),
		Publish("t", bytes.Repeat([]byte("L"), 4096)),
	} {
		out = c.Append(out)
	}
	return out
}

func benchParse(b *testing.B, stream []byte, perStream int, read func(*parser) error) {
	p := newParser(stream)
	b.SetBytes(int64(len(stream) / perStream))
	b.ReportAllocs()
	for b.Loop() {
		if err := read(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadPUB(b *testing.B)  { benchParse(b, pubStream, 64, (*parser).readPUB) }
func BenchmarkReadMPUB(b *testing.B) { benchParse(b, mpubStream, 16, (*parser).readMPUB) }
func BenchmarkReadFIN(b *testing.B)  { benchParse(b, finStream, 256, (*parser).readFIN) }
func BenchmarkReadRDY(b *testing.B)  { benchParse(b, rdyStream, 256, (*parser).readRDY) }

func BenchmarkAppendMessageFrame(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			m := &Message{
				ID:        MessageID{'0', '6', 'f', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd'},
				Body:      bytes.Repeat([]byte("x"), size),
				Timestamp: 1700000000000000000,
				Attempts:  1,
			}
			buf := make([]byte, 0, 8+m.EncodedLen())
			b.SetBytes(int64(8 + m.EncodedLen()))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendMessageFrame(buf[:0], m)
			}
		})
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	enc := (&Message{Body: bytes.Repeat([]byte("x"), 256)}).Append(nil)
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGUIDNewID(b *testing.B) {
	f := NewGUIDFactory(1)
	b.ReportAllocs()
	for b.Loop() {
		_ = f.NewID()
	}
}

// The hot parse paths must not allocate once the reader's buffers have grown
// (doc.go promises this). A regression here fails the build.
func TestParsePathZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	tests := []struct {
		name   string
		stream []byte
		read   func(*parser) error
	}{
		{"PUB", pubStream, (*parser).readPUB},
		{"MPUB", mpubStream, (*parser).readMPUB},
		{"FIN", finStream, (*parser).readFIN},
		{"RDY", rdyStream, (*parser).readRDY},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newParser(tt.stream)
			var err error
			allocs := testing.AllocsPerRun(1000, func() {
				if e := tt.read(p); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Fatalf("%s parse path: %v allocs per command, want 0", tt.name, allocs)
			}
		})
	}

	t.Run("mixed", func(t *testing.T) {
		stream := mixedStream()
		p := newParser(stream)
		for i := 0; i < 9; i++ { // one full cycle grows every buffer
			if err := p.readAny(); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		allocs := testing.AllocsPerRun(900, func() {
			if e := p.readAny(); e != nil {
				err = e
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Fatalf("mixed parse path: %v allocs per command, want 0", allocs)
		}
	})

	t.Run("AppendMessageFrame", func(t *testing.T) {
		m := &Message{Body: []byte("body")}
		buf := make([]byte, 0, 64)
		if allocs := testing.AllocsPerRun(100, func() { buf = AppendMessageFrame(buf[:0], m) }); allocs != 0 {
			t.Fatalf("AppendMessageFrame into a large enough buffer: %v allocs", allocs)
		}
	})
}

// loopReader itself must behave like a reader of an endless repetition.
func TestLoopReader(t *testing.T) {
	l := &loopReader{buf: []byte("abc")}
	got := make([]byte, 8)
	if _, err := io.ReadFull(l, got); err != nil || string(got) != "abcabcab" {
		t.Fatalf("loopReader = %q, %v", got, err)
	}
}
