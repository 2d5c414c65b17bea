package nsqd

import (
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Message is a message inside the broker: the wire message plus the
// bookkeeping of its channel copy (who has it in flight, until when).
type Message struct {
	wire.Message

	// deferred is the delay a DPUB asked for, applied when the topic hands
	// the message to each channel.
	deferred time.Duration

	// in flight / deferred bookkeeping, owned by the channel's locks
	clientID   int64
	deliveryTS time.Time
	pri        int64 // deadline (in flight) or due time (deferred), unix nanos
	index      int   // position in its priority queue
}

// NewMessage makes a message with the given ID and body, stamped now.
func NewMessage(id wire.MessageID, body []byte) *Message {
	return &Message{Message: wire.Message{ID: id, Body: body, Timestamp: time.Now().UnixNano()}}
}

// copyForChannel returns a copy sharing ID, body and timestamp. It reads
// only fields nobody changes once the message is published: the original
// may already be in another channel, where its attempts and queue
// bookkeeping change concurrently.
func (m *Message) copyForChannel() *Message {
	return &Message{
		Message:  wire.Message{ID: m.ID, Body: m.Body, Timestamp: m.Timestamp},
		deferred: m.deferred,
	}
}

// encode appends the disk/wire layout of m to buf.
func (m *Message) encode(buf []byte) []byte { return m.Message.Append(buf) }

// decodeMessage parses bytes read from a disk queue.
func decodeMessage(b []byte) (*Message, error) {
	m := &Message{}
	if err := m.Message.Decode(b); err != nil {
		return nil, err
	}
	return m, nil
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
