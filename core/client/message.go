package client

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// MessageID is the 16-byte message ID as nsqd sends it.
type MessageID = wire.MessageID

// Message is one message delivered to a Consumer. Unless
// DisableAutoResponse was called, the consumer answers it when the handler
// returns: FIN on success, REQ with the default delay on error. A message
// is answered at most once: later Finish/Requeue calls and Touch after an
// answer are ignored.
type Message struct {
	ID          MessageID
	Body        []byte
	Timestamp   int64 // nanoseconds since the Unix epoch, set by nsqd at publish
	Attempts    uint16
	NSQDAddress string

	cc                   *consumerConn
	autoResponseDisabled atomic.Bool
	responded            atomic.Bool
	touchMu              sync.Mutex // orders TOUCH against the answer
}

// decodeMessage builds a Message from a message frame's data (the body
// aliases data).
func decodeMessage(data []byte) *Message {
	m := &Message{
		Timestamp: int64(binary.BigEndian.Uint64(data[:8])),
		Attempts:  binary.BigEndian.Uint16(data[8:10]),
		Body:      data[wire.MsgHeaderLength:],
	}
	copy(m.ID[:], data[10:wire.MsgHeaderLength])
	return m
}

// NewMessage makes a detached message (for tests of handlers): answering it
// does nothing.
func NewMessage(id MessageID, body []byte) *Message {
	return &Message{ID: id, Body: body, Timestamp: time.Now().UnixNano()}
}

// DisableAutoResponse makes the handler responsible for answering the
// message (Finish, Requeue), possibly after it returned.
func (m *Message) DisableAutoResponse() { m.autoResponseDisabled.Store(true) }

// IsAutoResponseDisabled reports whether DisableAutoResponse was called.
func (m *Message) IsAutoResponseDisabled() bool { return m.autoResponseDisabled.Load() }

// HasResponded reports whether the message was answered (FIN or REQ).
func (m *Message) HasResponded() bool { return m.responded.Load() }

// Finish tells nsqd the message was processed (FIN).
func (m *Message) Finish() {
	if !m.answer() {
		return
	}
	if m.cc != nil {
		m.cc.finish(m)
	}
}

// Touch extends the message's timeout on nsqd (TOUCH); ignored once the
// message was answered.
func (m *Message) Touch() {
	m.touchMu.Lock()
	defer m.touchMu.Unlock()
	if m.responded.Load() || m.cc == nil {
		return
	}
	m.cc.touch(m)
}

// Requeue gives the message back to nsqd (REQ) to be delivered again after
// delay, and signals a failure to the consumer's backoff. A negative delay
// means the default: default_requeue_delay × attempts, capped at
// max_requeue_delay.
func (m *Message) Requeue(delay time.Duration) { m.requeue(delay, true) }

// RequeueWithoutBackoff is Requeue without the backoff signal.
func (m *Message) RequeueWithoutBackoff(delay time.Duration) { m.requeue(delay, false) }

func (m *Message) requeue(delay time.Duration, backoff bool) {
	if !m.answer() {
		return
	}
	if m.cc != nil {
		m.cc.requeue(m, delay, backoff)
	}
}

// answer marks the message answered, reporting false if it already was.
func (m *Message) answer() bool {
	m.touchMu.Lock()
	defer m.touchMu.Unlock()
	return m.responded.CompareAndSwap(false, true)
}
