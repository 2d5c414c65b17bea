package nsqd

import (
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Message is a message inside the broker: the wire message plus the
// bookkeeping of its channel copy (who has it in flight, until when).
// Queued messages are records (record.go); a Message exists for a
// publish through the API, and for each message in flight or deferred.
type Message struct {
	wire.Message

	// deferred is the delay a DPUB asked for, applied when the topic hands
	// the message to each channel.
	deferred time.Duration

	// key is the ID as a number when canon (the ID is 16 lowercase hex
	// digits, as every ID nsqd makes); otherwise the ID is only in
	// Message.ID. A pooled message's Message.ID is filled only for a raw
	// ID (see wireID).
	key   uint64
	canon bool

	// in flight / deferred bookkeeping, owned by the channel's locks;
	// times are monoNow readings
	clientID   int64
	deliveryTS int64
	pri        int64 // deadline (in flight) or due time (deferred)
	index      int   // position in its priority queue, -1 if none
	// in flight: the FIFO of its timeout (see inFlightSet)
	list       *msgList
	prev, next *Message
}

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow is a monotonic clock in nanoseconds, for in-flight deadlines
// and deferral due times (a wall clock step does not move them).
func monoNow() int64 { return int64(time.Since(monoBase)) }

// wireID is the message's 16-byte ID.
func (m *Message) wireID() wire.MessageID {
	if m.canon {
		return wire.EncodeID(m.key)
	}
	return m.ID
}

// NewMessage makes a message with the given ID and body, stamped now.
func NewMessage(id wire.MessageID, body []byte) *Message {
	return &Message{Message: wire.Message{ID: id, Body: body, Timestamp: time.Now().UnixNano()}}
}

// encode appends the disk/wire layout of m to buf.
func (m *Message) encode(buf []byte) []byte {
	w := m.Message
	w.ID = m.wireID()
	return w.Append(buf)
}

// appendRec appends m as a memory-queue record.
func (m *Message) appendRec(dst []byte, deferred time.Duration) []byte {
	id, canon := m.key, m.canon
	if !canon {
		id, canon = wire.ParseID(m.ID[:])
	}
	var raw []byte
	if !canon {
		raw = m.ID[:]
	}
	return appendRec(dst, m.Timestamp, m.Attempts, id, raw, int64(deferred), m.Body)
}

// msgPool recycles the Messages of channels' in-flight and deferred sets;
// a Message goes back once it has left both sets and been re-encoded.
var msgPool = sync.Pool{New: func() any { return new(Message) }}

// newMessageFromRec takes a pooled Message and fills it from r, copying
// the body into the Message's own buffer.
func newMessageFromRec(r *rec) *Message {
	m := msgPool.Get().(*Message)
	m.Timestamp = r.ts
	m.Attempts = r.attempts
	m.Body = append(m.Body[:0], r.body...)
	m.deferred = time.Duration(r.deferred)
	if r.rawID != nil {
		copy(m.ID[:], r.rawID)
		m.key, m.canon = 0, false
	} else {
		m.key, m.canon = r.id, true
	}
	m.index = -1
	return m
}

// freeMessage returns a Message to the pool; the caller holds the only
// reference.
func freeMessage(m *Message) {
	if cap(m.Body) > 64<<10 {
		m.Body = nil
	}
	m.clientID = 0
	m.list, m.prev, m.next = nil, nil, nil
	msgPool.Put(m)
}

// pqueue is a min-heap of messages by pri, with each message's index kept
// up to date so a message can be removed from the middle.
type pqueue []*Message

func (q *pqueue) Len() int { return len(*q) }

func (q *pqueue) push(m *Message) {
	*q = append(*q, m)
	m.index = len(*q) - 1
	q.up(m.index)
}

// peekDue returns the head if its pri is <= max.
func (q *pqueue) peekDue(max int64) *Message {
	if len(*q) == 0 || (*q)[0].pri > max {
		return nil
	}
	return (*q)[0]
}

func (q *pqueue) remove(i int) *Message {
	h := *q
	n := len(h) - 1
	m := h[i]
	if n != i {
		h.swap(i, n)
		*q = h[:n]
		if !q.down(i) {
			q.up(i)
		}
	} else {
		*q = h[:n]
	}
	h[n] = nil
	m.index = -1
	return m
}

func (q pqueue) swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q pqueue) up(j int) {
	for {
		i := (j - 1) / 2
		if i == j || q[j].pri >= q[i].pri {
			break
		}
		q.swap(i, j)
		j = i
	}
}

func (q pqueue) down(i0 int) bool {
	i := i0
	n := len(q)
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 {
			break
		}
		j := j1
		if j2 := j1 + 1; j2 < n && q[j2].pri < q[j1].pri {
			j = j2
		}
		if q[j].pri >= q[i].pri {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > i0
}
