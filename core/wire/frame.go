package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types of server → client frames.
const (
	FrameTypeResponse int32 = 0
	FrameTypeError    int32 = 1
	FrameTypeMessage  int32 = 2
)

// MagicV2 opens a connection to nsqd; MagicV1 one to nsqlookupd.
var (
	MagicV2 = []byte("  V2")
	MagicV1 = []byte("  V1")
)

// Well-known response bodies.
var (
	OK         = []byte("OK")
	Heartbeat  = []byte("_heartbeat_")
	CloseWait  = []byte("CLOSE_WAIT")
	heartbeatS = string(Heartbeat)
)

// IsHeartbeat reports whether a response frame's data is the heartbeat.
func IsHeartbeat(data []byte) bool { return string(data) == heartbeatS }

// AppendFrame appends a frame ([u32 size][u32 type][data]) to dst.
func AppendFrame(dst []byte, frameType int32, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)+4))
	dst = binary.BigEndian.AppendUint32(dst, uint32(frameType))
	return append(dst, data...)
}

// WriteFrame writes one frame to w with two writes and no allocation when w
// is buffered.
func WriteFrame(w io.Writer, frameType int32, data []byte) (int, error) {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)+4))
	binary.BigEndian.PutUint32(hdr[4:], uint32(frameType))
	n, err := w.Write(hdr[:])
	if err != nil {
		return n, err
	}
	m, err := w.Write(data)
	return n + m, err
}

// ErrFrameTooBig is returned by ReadFrame for a size above the caller's limit.
var ErrFrameTooBig = errors.New("frame too big")

// ReadFrame reads one frame from r. A declared size below 4 or above maxSize
// (when maxSize > 0) is an error; the returned data is a fresh slice.
func ReadFrame(r io.Reader, maxSize int) (int32, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	size := int64(int32(binary.BigEndian.Uint32(hdr[:])))
	if size < 4 {
		return 0, nil, fmt.Errorf("invalid frame size %d", size)
	}
	if maxSize > 0 && size > int64(maxSize) {
		return 0, nil, fmt.Errorf("%w: %d > %d", ErrFrameTooBig, size, maxSize)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(buf[:4])), buf[4:], nil
}
