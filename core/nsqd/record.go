package nsqd

import (
	"encoding/binary"
	"slices"
	"sort"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Queued messages live as records in byte chunks (see memQueue), not as
// *Message values: the GC has nothing to scan and a 100-byte message costs
// 120 bytes. A record is
//
//	uvarint  bodyLen<<2 | flags
//	8        timestamp (little endian, unix ns)
//	2        attempts (little endian)
//	8 | 16   ID: the uint64 behind the 16 hex digits, or with recRawID the
//	         16 raw bytes of an ID that is not lowercase hex (read from a
//	         disk queue some other program wrote)
//	[8]      with recDeferred: the deferral of a DPUB (ns), kept while the
//	         message waits at topic level
//	bodyLen  body
const (
	recDeferred = 1
	recRawID    = 2
)

// recFixed is the size of a record's fixed part (timestamp, attempts,
// binary ID) without the header varint.
const recFixed = 8 + 2 + 8

// rec is a decoded record; body and rawID alias the record bytes.
type rec struct {
	ts       int64
	attempts uint16
	id       uint64
	rawID    []byte // nil unless the ID is not lowercase hex
	deferred int64  // ns, 0 = not deferred
	body     []byte
}

// appendRec appends the record for the given fields to dst.
func appendRec(dst []byte, ts int64, attempts uint16, id uint64, rawID []byte, deferred int64, body []byte) []byte {
	return append(appendRecHead(dst, len(body), ts, attempts, id, rawID, deferred), body...)
}

// appendRecHead appends all of a record but its body (bodyLen bytes) to dst.
func appendRecHead(dst []byte, bodyLen int, ts int64, attempts uint16, id uint64, rawID []byte, deferred int64) []byte {
	var flags uint64
	if rawID != nil {
		flags |= recRawID
	}
	if deferred > 0 {
		flags |= recDeferred
	}
	dst = binary.AppendUvarint(dst, uint64(bodyLen)<<2|flags)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	dst = binary.LittleEndian.AppendUint16(dst, attempts)
	if rawID != nil {
		dst = append(dst, rawID[:wire.MsgIDLength]...)
	} else {
		dst = binary.LittleEndian.AppendUint64(dst, id)
	}
	if deferred > 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(deferred))
	}
	return dst
}

// recLen is the length of the record at the start of b (0 if b does not
// start with a complete record).
func recLen(b []byte) int {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0
	}
	l := n + recFixed + int(v>>2)
	if v&recRawID != 0 {
		l += wire.MsgIDLength - 8
	}
	if v&recDeferred != 0 {
		l += 8
	}
	if l > len(b) || l < n {
		return 0
	}
	return l
}

// parseRec decodes a record made by appendRec; ok is false for bytes that
// are not exactly one record.
func parseRec(b []byte) (r rec, ok bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 || len(b)-n < recFixed {
		return r, false
	}
	p := b[n:]
	r.ts = int64(binary.LittleEndian.Uint64(p))
	r.attempts = binary.LittleEndian.Uint16(p[8:])
	p = p[10:]
	if v&recRawID != 0 {
		if len(p) < wire.MsgIDLength {
			return r, false
		}
		r.rawID = p[:wire.MsgIDLength:wire.MsgIDLength]
		p = p[wire.MsgIDLength:]
	} else {
		r.id = binary.LittleEndian.Uint64(p)
		p = p[8:]
	}
	if v&recDeferred != 0 {
		if len(p) < 8 {
			return r, false
		}
		r.deferred = int64(binary.LittleEndian.Uint64(p))
		p = p[8:]
	}
	if uint64(len(p)) != v>>2 {
		return r, false
	}
	r.body = p
	return r, true
}

// putID writes the record's 16-byte wire ID into dst.
func (r *rec) putID(dst []byte) {
	if r.rawID != nil {
		copy(dst, r.rawID)
		return
	}
	wire.PutID(dst, r.id)
}

// appendDisk appends the go-diskqueue payload of r (the wire message: 26
// byte header + body); a deferral is not part of it.
func (r *rec) appendDisk(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.ts))
	dst = binary.BigEndian.AppendUint16(dst, r.attempts)
	n := len(dst)
	dst = append(dst, make([]byte, wire.MsgIDLength)...)
	r.putID(dst[n:])
	return append(dst, r.body...)
}

// appendRecFromDisk appends the record of a go-diskqueue payload to dst.
func appendRecFromDisk(dst, b []byte) ([]byte, bool) {
	if len(b) < wire.MsgHeaderLength {
		return dst, false
	}
	ts := int64(binary.BigEndian.Uint64(b))
	attempts := binary.BigEndian.Uint16(b[8:])
	idb := b[10:wire.MsgHeaderLength]
	id, canon := wire.ParseID(idb)
	var raw []byte
	if !canon {
		raw = idb
	}
	return appendRec(dst, ts, attempts, id, raw, 0, b[wire.MsgHeaderLength:]), true
}

// recBatch is a run of records in one buffer with their end offsets; the
// unit publishers, pumps and consumers move between queues.
type recBatch struct {
	buf  []byte
	ends []int
}

func (b *recBatch) reset() {
	b.buf, b.ends = b.buf[:0], b.ends[:0]
}

func (b *recBatch) len() int { return len(b.ends) }

func (b *recBatch) start(i int) int {
	if i == 0 {
		return 0
	}
	return b.ends[i-1]
}

func (b *recBatch) rec(i int) []byte { return b.buf[b.start(i):b.ends[i]] }

// add appends a record.
func (b *recBatch) add(ts int64, attempts uint16, id uint64, rawID []byte, deferred int64, body []byte) {
	b.buf = appendRec(b.buf, ts, attempts, id, rawID, deferred, body)
	b.ends = append(b.ends, len(b.buf))
}

// addBody appends a new message's record whose body, size bytes, the
// caller writes into the returned slice (valid until the next add).
func (b *recBatch) addBody(ts int64, id uint64, size int) []byte {
	b.buf = appendRecHead(b.buf, size, ts, 0, id, nil, 0)
	n := len(b.buf)
	b.buf = slices.Grow(b.buf, size)[:n+size]
	b.ends = append(b.ends, len(b.buf))
	return b.buf[n:]
}

// addRaw appends one complete record.
func (b *recBatch) addRaw(r []byte) {
	b.buf = append(b.buf, r...)
	b.ends = append(b.ends, len(b.buf))
}

// fit is the largest j in (i, to] such that records i..j-1 take at most
// max bytes, or i if record i alone is larger.
func (b *recBatch) fit(i, to, max int) int {
	s := b.start(i)
	if b.ends[to-1]-s <= max {
		return to
	}
	return i + sort.Search(to-i, func(k int) bool { return b.ends[i+k]-s > max })
}

// shrink drops buffers grown past max bytes so a burst of large messages
// does not stay pinned.
func (b *recBatch) shrink(max int) {
	if cap(b.buf) > max {
		b.buf = nil
		b.ends = nil
	}
}
