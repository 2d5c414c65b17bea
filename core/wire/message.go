package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// MsgIDLength is the length of a message ID on the wire: 16 lowercase hex bytes.
const MsgIDLength = 16

// MsgHeaderLength is the fixed header before a message body:
// timestamp (8) + attempts (2) + ID (16).
const MsgHeaderLength = 8 + 2 + MsgIDLength

// MessageID is the 16-byte ASCII message ID.
type MessageID [MsgIDLength]byte

// Message is one NSQ message as carried in a message frame and on disk.
type Message struct {
	ID        MessageID
	Body      []byte
	Timestamp int64 // nanoseconds since the Unix epoch, set at publish
	Attempts  uint16
}

// ErrShortMessage is returned when a message is shorter than its header.
var ErrShortMessage = errors.New("message shorter than its 26-byte header")

// DecodeMessage parses the 26-byte header + body layout. The returned
// message's Body aliases b.
func DecodeMessage(b []byte) (*Message, error) {
	m := &Message{}
	if err := m.Decode(b); err != nil {
		return nil, err
	}
	return m, nil
}

// Decode fills m from b without allocating; m.Body aliases b.
func (m *Message) Decode(b []byte) error {
	if len(b) < MsgHeaderLength {
		return fmt.Errorf("%w: %d bytes", ErrShortMessage, len(b))
	}
	m.Timestamp = int64(binary.BigEndian.Uint64(b[:8]))
	m.Attempts = binary.BigEndian.Uint16(b[8:10])
	copy(m.ID[:], b[10:MsgHeaderLength])
	m.Body = b[MsgHeaderLength:]
	return nil
}

// Append appends the encoded message (header + body) to dst.
func (m *Message) Append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Timestamp))
	dst = binary.BigEndian.AppendUint16(dst, m.Attempts)
	dst = append(dst, m.ID[:]...)
	return append(dst, m.Body...)
}

// EncodedLen is the number of bytes Append adds.
func (m *Message) EncodedLen() int { return MsgHeaderLength + len(m.Body) }

// WriteTo writes the encoded message to w.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	var hdr [MsgHeaderLength]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(m.Timestamp))
	binary.BigEndian.PutUint16(hdr[8:10], m.Attempts)
	copy(hdr[10:], m.ID[:])
	n, err := w.Write(hdr[:])
	if err != nil {
		return int64(n), err
	}
	k, err := w.Write(m.Body)
	return int64(n + k), err
}

// AppendMessageFrame appends a complete message frame for m to dst.
func AppendMessageFrame(dst []byte, m *Message) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+m.EncodedLen()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(FrameTypeMessage))
	return m.Append(dst)
}

// GUID generation (tcp-protocol.md 1.10): snowflake-style 64-bit IDs,
// ((ts - epoch) << 22) | (node << 12) | sequence, with ts = unixnano >> 20.
const (
	guidEpoch        = int64(1288834974288)
	guidNodeBits     = 10
	guidSequenceBits = 12
	guidNodeShift    = guidSequenceBits
	guidTSShift      = guidSequenceBits + guidNodeBits
	guidSequenceMask = int64(-1) ^ (int64(-1) << guidSequenceBits)
	// MaxNodeID is the largest valid --node-id plus one.
	MaxNodeID = 1 << guidNodeBits
)

// GUIDFactory hands out strictly increasing message IDs for one topic.
type GUIDFactory struct {
	mu       sync.Mutex
	nodeID   int64
	sequence int64
	lastTS   int64
	lastID   uint64
	now      func() int64
}

// NewGUIDFactory returns a factory for node id nodeID (0..1023).
func NewGUIDFactory(nodeID int64) *GUIDFactory {
	return &GUIDFactory{nodeID: nodeID, now: func() int64 { return time.Now().UnixNano() }}
}

// NewID returns the next ID, waiting 1 ms and retrying if the clock went
// backwards or the sequence is exhausted within one tick.
func (f *GUIDFactory) NewID() MessageID {
	var id [1]uint64
	f.NewIDs(id[:])
	return EncodeID(id[0])
}

// NewIDs fills ids with the next len(ids) IDs, strictly increasing, from
// one clock reading (more only when the 4096 IDs of a tick run out or the
// clock went backwards: then, like NewID, it waits 1 ms and reads again).
// It returns the first clock reading (unix nanoseconds), which callers use
// as the messages' timestamp, so a whole batch costs one clock read.
func (f *GUIDFactory) NewIDs(ids []uint64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first int64
	read := false
	for i := 0; i < len(ids); {
		now := f.now()
		if !read {
			first, read = now, true
		}
		n := f.take(now>>20, ids[i:])
		i += n
		if i < len(ids) {
			time.Sleep(time.Millisecond)
		}
	}
	if !read {
		first = f.now()
	}
	return first
}

// take hands out as many IDs of tick ts as it can (at most len(ids)); 0
// when the clock went backwards or the tick's sequence is used up.
func (f *GUIDFactory) take(ts int64, ids []uint64) int {
	if ts < f.lastTS {
		return 0
	}
	seq := int64(0)
	if f.lastTS == ts {
		seq = f.sequence + 1
	}
	n := 0
	base := uint64(((ts - guidEpoch) << guidTSShift) | (f.nodeID << guidNodeShift))
	for n < len(ids) && seq <= guidSequenceMask {
		id := base | uint64(seq)
		if id <= f.lastID {
			// only possible with a clock reading before the epoch
			return n
		}
		ids[n] = id
		f.lastID = id
		f.sequence = seq
		f.lastTS = ts
		n++
		seq++
	}
	return n
}

const hexDigits = "0123456789abcdef"

// EncodeID is the 16-byte lowercase hex form of a 64-bit message ID.
func EncodeID(id uint64) MessageID {
	var out MessageID
	PutID(out[:], id)
	return out
}

// PutID writes the 16 lowercase hex digits of id into dst[:16].
func PutID(dst []byte, id uint64) {
	_ = dst[15]
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[id&0xf]
		id >>= 4
	}
}

// ParseID is the inverse of EncodeID: it accepts exactly 16 lowercase hex
// digits (the only form nsqd generates) and reports false for anything
// else, such as an ID written by another program.
func ParseID(b []byte) (uint64, bool) {
	if len(b) != MsgIDLength {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
