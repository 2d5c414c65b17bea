package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
)

// MaxLineLength is nsqd's command line buffer: a longer line drops the
// connection without an error frame.
const MaxLineLength = 16 * 1024

// ErrLineTooLong is returned by CommandReader when a command line does not
// end within MaxLineLength bytes.
var ErrLineTooLong = errors.New("command line too long")

// CommandReader reads V2 command lines and bodies. It reuses its buffers, so
// everything it returns is valid only until the next call.
type CommandReader struct {
	r      *bufio.Reader
	line   []byte
	params [][]byte
	body   []byte
	size   [4]byte
	mpub   MPUBReader
}

// NewCommandReader wraps r in a reader with nsqd's 16 KiB line buffer.
func NewCommandReader(r io.Reader) *CommandReader {
	return &CommandReader{r: bufio.NewReaderSize(r, MaxLineLength)}
}

// Reset makes the reader read from r, dropping anything buffered (used after
// a TLS or compression upgrade).
func (c *CommandReader) Reset(r io.Reader) { c.r.Reset(r) }

// Buffered is the number of bytes read from the connection but not yet parsed.
func (c *CommandReader) Buffered() int { return c.r.Buffered() }

// LineBuffered reports whether a complete command line is already
// buffered, so the next ReadLine needs no read from the connection.
func (c *CommandReader) LineBuffered() bool {
	n := c.r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := c.r.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// ReadLine reads one command line and splits it on every single space. A
// trailing "\r" is stripped. params[0] is the command name (possibly empty).
func (c *CommandReader) ReadLine() ([][]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, ErrLineTooLong
		}
		return nil, err
	}
	c.line = append(c.line[:0], line[:len(line)-1]...)
	if n := len(c.line); n > 0 && c.line[n-1] == '\r' {
		c.line = c.line[:n-1]
	}
	c.params = SplitParams(c.line, c.params[:0])
	return c.params, nil
}

// SplitParams splits line on every space byte, appending the pieces to dst.
func SplitParams(line []byte, dst [][]byte) [][]byte {
	start := 0
	for i, b := range line {
		if b == ' ' {
			dst = append(dst, line[start:i])
			start = i + 1
		}
	}
	return append(dst, line[start:])
}

// ReadSize reads a 4-byte big-endian body size, interpreted as signed.
func (c *CommandReader) ReadSize() (int32, error) {
	if _, err := io.ReadFull(c.r, c.size[:]); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(c.size[:])), nil
}

// ReadBody reads exactly n bytes into the reader's reusable buffer.
func (c *CommandReader) ReadBody(n int32) ([]byte, error) {
	if n < 0 {
		return nil, errors.New("negative body size")
	}
	if cap(c.body) < int(n) {
		c.body = make([]byte, n)
	}
	c.body = c.body[:n]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return nil, err
	}
	return c.body, nil
}

// MPUBReader reads the messages of MPUB batches, reusing its buffers.
type MPUBReader struct {
	buf  []byte
	ends []int
	msgs [][]byte
	size [4]byte
}

// MPUBSink places the messages of an MPUB batch as they are read, so a
// caller can read each body straight into its own storage.
type MPUBSink interface {
	// MPUBCount is called once, with the batch's message count, before
	// any message is read.
	MPUBCount(n int)
	// MPUBBody returns the slice, exactly size bytes long, that the next
	// message is read into.
	MPUBBody(size int) []byte
}

// Read reads an MPUB batch the way nsqd 1.3.0 does (see ReadInto) into the
// reader's own buffer. The returned messages are slices of that buffer,
// valid until the next Read.
func (m *MPUBReader) Read(r io.Reader, maxMsgSize, maxBodySize int64) ([][]byte, error) {
	if int64(cap(m.buf)) > maxBodySize {
		m.buf = nil // a huge batch does not pin its memory to the connection
	}
	m.buf, m.ends, m.msgs = m.buf[:0], m.ends[:0], m.msgs[:0]
	if err := m.ReadInto(r, maxMsgSize, maxBodySize, (*mpubOwn)(m)); err != nil {
		return nil, err
	}
	start := 0
	for _, end := range m.ends {
		m.msgs = append(m.msgs, m.buf[start:end:end])
		start = end
	}
	return m.msgs, nil
}

// mpubOwn is the sink of Read: the reader's own buffer.
type mpubOwn MPUBReader

func (m *mpubOwn) MPUBCount(int) {}

func (m *mpubOwn) MPUBBody(size int) []byte {
	n := len(m.buf)
	m.buf = slices.Grow(m.buf, size)[:n+size]
	m.ends = append(m.ends, len(m.buf))
	return m.buf[n:]
}

// ReadInto reads an MPUB batch the way nsqd 1.3.0 does: [u32 count], then
// count size-prefixed messages, straight from r, each body into the slice
// sink gives for it. The body size the command declared is not consulted
// (the caller checks it against 0 and the maximum only): clients exist
// that declare less or more than the batch holds, and the next command
// starts right after the last message. The limits are 1.3.0's: count in
// 1 … (maxBodySize-4)/5, each message 1 … maxMsgSize bytes. Errors carry
// the exact V2 codes and texts; after one, what sink holds is incomplete.
func (m *MPUBReader) ReadInto(r io.Reader, maxMsgSize, maxBodySize int64, sink MPUBSink) error {
	if _, err := io.ReadFull(r, m.size[:]); err != nil {
		return Fatal(ErrCodeBadBody, "MPUB failed to read message count")
	}
	count := int32(binary.BigEndian.Uint32(m.size[:]))
	if count <= 0 || int64(count) > (maxBodySize-4)/5 {
		return Fatal(ErrCodeBadBody, "MPUB invalid message count "+strconv.Itoa(int(count)))
	}
	sink.MPUBCount(int(count))
	for i := 0; i < int(count); i++ {
		if _, err := io.ReadFull(r, m.size[:]); err != nil {
			return Fatal(ErrCodeBadMessage, "MPUB failed to read message("+strconv.Itoa(i)+") body size")
		}
		size := int32(binary.BigEndian.Uint32(m.size[:]))
		if size <= 0 {
			return Fatal(ErrCodeBadMessage, "MPUB invalid message("+strconv.Itoa(i)+") body size "+strconv.Itoa(int(size)))
		}
		if int64(size) > maxMsgSize {
			return Fatal(ErrCodeBadMessage, "MPUB message too big "+strconv.Itoa(int(size))+" > "+strconv.FormatInt(maxMsgSize, 10))
		}
		if _, err := io.ReadFull(r, sink.MPUBBody(int(size))); err != nil {
			return Fatal(ErrCodeBadMessage, "MPUB failed to read message body")
		}
	}
	return nil
}

// ReadMPUB reads an MPUB batch from the connection (see MPUBReader.Read);
// call it after the command's declared body size has been read and checked.
func (c *CommandReader) ReadMPUB(maxMsgSize, maxBodySize int64) ([][]byte, error) {
	return c.mpub.Read(c.r, maxMsgSize, maxBodySize)
}

// ReadMPUBInto reads an MPUB batch from the connection into sink (see
// MPUBReader.ReadInto); call it after the command's declared body size has
// been read and checked.
func (c *CommandReader) ReadMPUBInto(maxMsgSize, maxBodySize int64, sink MPUBSink) error {
	return c.mpub.ReadInto(c.r, maxMsgSize, maxBodySize, sink)
}

// ParseDecimal parses an unsigned decimal made of digits only, the way
// nsqd 1.3.0 does: an empty input is 0, any other byte fails, and a number
// past 2^64-1 wraps around (1.3.0 accepts such RDY, REQ and DPUB values
// and judges what they wrap to).
func ParseDecimal(b []byte) (uint64, bool) {
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// Command is a client → server command ready to be written.
type Command struct {
	Name   []byte
	Params [][]byte
	Body   []byte // nil for commands without a body
}

// WriteTo writes the command line and, when present, the size-prefixed body.
func (c *Command) WriteTo(w io.Writer) (int64, error) {
	buf := c.Append(nil)
	n, err := w.Write(buf)
	return int64(n), err
}

// Append appends the encoded command to dst.
func (c *Command) Append(dst []byte) []byte {
	dst = append(dst, c.Name...)
	for _, p := range c.Params {
		dst = append(dst, ' ')
		dst = append(dst, p...)
	}
	dst = append(dst, '\n')
	if c.Body != nil {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Body)))
		dst = append(dst, c.Body...)
	}
	return dst
}

// String is the command line without the body (for logs).
func (c *Command) String() string {
	s := string(c.Name)
	for _, p := range c.Params {
		s += " " + string(p)
	}
	return s
}

// Identify builds an IDENTIFY command with a JSON body.
func Identify(js []byte) *Command { return &Command{Name: []byte("IDENTIFY"), Body: js} }

// Auth builds an AUTH command.
func Auth(secret string) *Command { return &Command{Name: []byte("AUTH"), Body: []byte(secret)} }

// Subscribe builds SUB <topic> <channel>.
func Subscribe(topic, channel string) *Command {
	return &Command{Name: []byte("SUB"), Params: [][]byte{[]byte(topic), []byte(channel)}}
}

// Publish builds PUB <topic>.
func Publish(topic string, body []byte) *Command {
	return &Command{Name: []byte("PUB"), Params: [][]byte{[]byte(topic)}, Body: nonNil(body)}
}

// DeferredPublish builds DPUB <topic> <defer_ms>.
func DeferredPublish(topic string, deferMS int64, body []byte) *Command {
	return &Command{Name: []byte("DPUB"), Params: [][]byte{[]byte(topic), strconv.AppendInt(nil, deferMS, 10)}, Body: nonNil(body)}
}

// MultiPublish builds MPUB <topic> with its count-prefixed body.
func MultiPublish(topic string, bodies [][]byte) *Command {
	return &Command{Name: []byte("MPUB"), Params: [][]byte{[]byte(topic)}, Body: EncodeMPUBBody(bodies)}
}

// EncodeMPUBBody encodes [u32 count]([u32 size][bytes])*count.
func EncodeMPUBBody(bodies [][]byte) []byte {
	n := 4
	for _, b := range bodies {
		n += 4 + len(b)
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(len(bodies)))
	for _, b := range bodies {
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// Ready builds RDY <count>.
func Ready(count int) *Command {
	return &Command{Name: []byte("RDY"), Params: [][]byte{strconv.AppendInt(nil, int64(count), 10)}}
}

// Finish builds FIN <id>.
func Finish(id MessageID) *Command {
	return &Command{Name: []byte("FIN"), Params: [][]byte{append([]byte(nil), id[:]...)}}
}

// Requeue builds REQ <id> <delay_ms>.
func Requeue(id MessageID, delayMS int64) *Command {
	return &Command{Name: []byte("REQ"), Params: [][]byte{append([]byte(nil), id[:]...), strconv.AppendInt(nil, delayMS, 10)}}
}

// Touch builds TOUCH <id>.
func Touch(id MessageID) *Command {
	return &Command{Name: []byte("TOUCH"), Params: [][]byte{append([]byte(nil), id[:]...)}}
}

// StartClose builds CLS.
func StartClose() *Command { return &Command{Name: []byte("CLS")} }

// Nop builds NOP.
func Nop() *Command { return &Command{Name: []byte("NOP")} }

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
