package wire

import (
	"encoding/binary"
	"encoding/hex"
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
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		id, ok := f.next()
		if ok {
			var out MessageID
			var raw [8]byte
			binary.BigEndian.PutUint64(raw[:], id)
			hex.Encode(out[:], raw[:])
			return out
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *GUIDFactory) next() (uint64, bool) {
	ts := f.now() >> 20
	if ts < f.lastTS {
		return 0, false
	}
	if f.lastTS == ts {
		f.sequence = (f.sequence + 1) & guidSequenceMask
		if f.sequence == 0 {
			return 0, false
		}
	} else {
		f.sequence = 0
	}
	f.lastTS = ts
	id := uint64(((ts - guidEpoch) << guidTSShift) | (f.nodeID << guidNodeShift) | f.sequence)
	if id <= f.lastID {
		return 0, false
	}
	f.lastID = id
	return id, true
}
