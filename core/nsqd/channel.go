package nsqd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/diskqueue"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Errors of channel operations; their texts are the reasons sent after
// "E_FIN_FAILED FIN <id> failed ", etc.
var (
	errNotInFlight     = errors.New("ID not in flight")
	errNotOwner        = errors.New("client does not own message")
	errExiting         = errors.New("exiting")
	errAlreadyDeferred = errors.New("ID already deferred")
)

// Channel is one channel of a topic: its own copy of every message, a
// memory queue spilling to disk, and the in-flight and deferred sets.
//
// Goroutines: none of its own. Subscribed clients' pumps pop batches from
// mem and read the backend; the NSQD queue scanner calls processInFlight
// and processDeferred; the topic's publishers and pump call putRecords.
type Channel struct {
	messageCount atomic.Uint64
	requeueCount atomic.Uint64
	timeoutCount atomic.Uint64

	topicName string
	name      string
	nsqd      *NSQD
	ephemeral bool

	backend diskqueue.Backend
	// mem is nil for a non-ephemeral channel with --mem-queue-size=0
	// (every message goes to disk).
	mem *memQueue

	exitMu   sync.RWMutex
	exitFlag atomic.Bool
	paused   atomic.Bool

	clientsMu sync.RWMutex
	clients   map[int64]*client

	inFlightMu sync.Mutex
	inFlight   msgSet

	deferredMu sync.Mutex
	deferred   msgSet

	e2e *latencyStream
}

// msgSet is the in-flight or the deferred set of a channel: messages by ID
// and by deadline. IDs made by nsqd are keyed by their number; any other
// ID (from a disk queue written by some other program) by its bytes.
//
// Deadlines: a deferred message waits in a heap. A message in flight
// joins the FIFO of its client's timeout, where deadlines only grow
// (delivery time + the same timeout), so delivering and FIN are O(1) and
// touch no other message; one whose deadline would break that order (a
// TOUCH capped by --max-msg-timeout) goes to the heap instead.
type msgSet struct {
	canon map[uint64]*Message
	raw   map[wire.MessageID]*Message
	lists []*msgList
	pq    pqueue
}

// msgList is a FIFO of in-flight messages, deadlines ascending.
type msgList struct {
	timeout    int64
	head, tail *Message
}

func (s *msgSet) init() {
	s.canon = make(map[uint64]*Message)
	s.raw = nil
	s.lists = nil
	s.pq = make(pqueue, 0, 64)
}

func (s *msgSet) len() int { return len(s.canon) + len(s.raw) }

// get finds the message with the 16-byte ID id.
func (s *msgSet) get(id []byte) *Message {
	if k, ok := wire.ParseID(id); ok {
		return s.canon[k]
	}
	if s.raw == nil || len(id) != wire.MsgIDLength {
		return nil
	}
	return s.raw[wire.MessageID(id)]
}

// index adds m to the maps; false if a message with its ID is there.
func (s *msgSet) index(m *Message) bool {
	if m.canon {
		if _, ok := s.canon[m.key]; ok {
			return false
		}
		s.canon[m.key] = m
		return true
	}
	if s.raw == nil {
		s.raw = make(map[wire.MessageID]*Message)
	}
	if _, ok := s.raw[m.ID]; ok {
		return false
	}
	s.raw[m.ID] = m
	return true
}

// add inserts m, due at m.pri, into the heap.
func (s *msgSet) add(m *Message) bool {
	if !s.index(m) {
		return false
	}
	s.pq.push(m)
	return true
}

// addFIFO inserts m, due at m.pri, into the FIFO l (see listFor).
func (s *msgSet) addFIFO(m *Message, l *msgList) bool {
	if !s.index(m) {
		return false
	}
	s.schedule(m, l)
	return true
}

// listFor is the FIFO for timeout, created if needed.
func (s *msgSet) listFor(timeout int64) *msgList {
	for _, l := range s.lists {
		if l.timeout == timeout {
			return l
		}
	}
	l := &msgList{timeout: timeout}
	s.lists = append(s.lists, l)
	return l
}

// schedule puts m at the end of l, or in the heap if its deadline is
// earlier than l's last.
func (s *msgSet) schedule(m *Message, l *msgList) {
	if l.tail != nil && l.tail.pri > m.pri {
		s.pq.push(m)
		return
	}
	m.list, m.prev, m.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = m
	} else {
		l.head = m
	}
	l.tail = m
}

// unschedule takes m out of its FIFO or the heap.
func (s *msgSet) unschedule(m *Message) {
	if l := m.list; l != nil {
		if m.prev != nil {
			m.prev.next = m.next
		} else {
			l.head = m.next
		}
		if m.next != nil {
			m.next.prev = m.prev
		} else {
			l.tail = m.prev
		}
		m.list, m.prev, m.next = nil, nil, nil
		if l.head == nil {
			s.dropList(l)
		}
		return
	}
	if m.index >= 0 {
		s.pq.remove(m.index)
	}
}

// dropList forgets an empty FIFO.
func (s *msgSet) dropList(l *msgList) {
	for i, x := range s.lists {
		if x == l {
			s.lists = append(s.lists[:i], s.lists[i+1:]...)
			return
		}
	}
}

// del removes m.
func (s *msgSet) del(m *Message) {
	if m.canon {
		delete(s.canon, m.key)
	} else {
		delete(s.raw, m.ID)
	}
	s.unschedule(m)
}

// due returns a message due by now, or nil.
func (s *msgSet) due(now int64) *Message {
	for _, l := range s.lists {
		if l.head.pri <= now {
			return l.head
		}
	}
	return s.pq.peekDue(now)
}

// each calls fn for every message.
func (s *msgSet) each(fn func(*Message)) {
	for _, l := range s.lists {
		for m := l.head; m != nil; m = m.next {
			fn(m)
		}
	}
	for _, m := range s.pq {
		fn(m)
	}
}

func newChannel(topicName, name string, n *NSQD) *Channel {
	c := &Channel{
		topicName: topicName,
		name:      name,
		nsqd:      n,
		ephemeral: wire.IsEphemeral(name),
		clients:   make(map[int64]*client),
		e2e:       newLatencyStream(n.opts),
	}
	c.initQueues()
	opts := n.opts
	if c.ephemeral {
		c.backend = diskqueue.NewDiscard()
	} else {
		c.backend = diskqueue.New(diskqueue.ChannelQueueName(topicName, name), n.queueOptions())
	}
	if c.ephemeral || opts.MemQueueSize > 0 {
		c.mem = newMemQueue(opts.MemQueueSize, opts.MemQueueSize <= 0)
	}
	return c
}

func (c *Channel) initQueues() {
	c.inFlightMu.Lock()
	c.inFlight.init()
	c.inFlightMu.Unlock()
	c.deferredMu.Lock()
	c.deferred.init()
	c.deferredMu.Unlock()
}

// Name is the channel's name.
func (c *Channel) Name() string { return c.name }

// Exiting reports whether the channel is closing or deleted.
func (c *Channel) Exiting() bool { return c.exitFlag.Load() }

// Paused reports whether delivery is paused.
func (c *Channel) Paused() bool { return c.paused.Load() }

// Pause stops delivery to every client.
func (c *Channel) Pause() { c.setPaused(true) }

// Unpause resumes delivery.
func (c *Channel) Unpause() { c.setPaused(false) }

func (c *Channel) setPaused(p bool) {
	c.paused.Store(p)
	c.clientsMu.RLock()
	for _, cl := range c.clients {
		cl.tryUpdateReadyState()
	}
	c.clientsMu.RUnlock()
}

// Depth is the number of queued messages (memory + disk).
func (c *Channel) Depth() int64 { return c.mem.Len() + c.backend.Depth() }

// room is how many messages publishers may hand over before the channel's
// memory is full; unbounded when the channel has no memory budget (its
// messages go to disk, or to a waiting client, or are dropped).
func (c *Channel) room() int64 {
	if c.mem == nil || c.mem.limit <= 0 {
		return math.MaxInt64
	}
	return c.mem.limit - c.mem.Len()
}

// putRecords takes records from..to-1 of b from the topic: deferred ones
// go to the deferred set, the others to memory while there is room, then
// to disk.
func (c *Channel) putRecords(b *recBatch, from, to int) error {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if c.exitFlag.Load() || from >= to {
		return nil
	}
	c.messageCount.Add(uint64(to - from))
	var first error
	for i := from; i < to; {
		j := i
		for j < to && !recIsDeferred(b.buf[b.start(j):]) {
			j++
		}
		if err := c.queueLocked(b, i, j); err != nil && first == nil {
			first = err
		}
		if j < to {
			if r, ok := parseRec(b.rec(j)); ok {
				m := newMessageFromRec(&r)
				if err := c.startDeferredTimeout(m, time.Duration(r.deferred)); err != nil {
					freeMessage(m)
				}
			}
			j++
		}
		i = j
	}
	return first
}

func recIsDeferred(b []byte) bool {
	v, _ := binary.Uvarint(b)
	return v&recDeferred != 0
}

// queueLocked queues records from..to-1 of b: memory while there is room,
// then disk; exitMu is held (read). It returns the first disk error (the
// records after a failed one are still tried).
func (c *Channel) queueLocked(b *recBatch, from, to int) error {
	i := from + c.mem.push(b, from, to)
	if i >= to || c.ephemeral {
		return nil // an ephemeral channel drops what does not fit
	}
	return c.spillLocked(b, i, to)
}

// spillLocked writes records from..to-1 of b to the disk queue; exitMu is
// held (read). Several goroutines may write at once.
func (c *Channel) spillLocked(b *recBatch, from, to int) error {
	var first error
	buf := bufferPool.Get().(*[]byte)
	for i := from; i < to; i++ {
		r, ok := parseRec(b.rec(i))
		if !ok {
			continue
		}
		*buf = r.appendDisk((*buf)[:0])
		err := c.backend.Put(*buf)
		c.nsqd.setHealth(err)
		if err != nil {
			c.nsqd.logger.Errorf("CHANNEL(%s): failed to write message to backend - %s", c.name, err)
			if first == nil {
				first = err
			}
		}
	}
	putBuffer(buf)
	return first
}

// canSpillDirect reports whether a publisher that found memory full may
// write to this channel's disk queue directly (see spillDirect).
func (c *Channel) canSpillDirect() bool {
	return !c.ephemeral && !c.exitFlag.Load() && c.room() <= 0
}

// spillDirect writes the records it takes from cur (none deferred: the
// topic hands those to the channels' deferred sets first) straight to the
// disk queue, for a publisher that found the topic's and this channel's
// memory full, until cur is exhausted or a write fails. It reports false,
// having taken nothing, when the channel is exiting or has room in memory
// again.
func (c *Channel) spillDirect(b *recBatch, cur *spillCursor) (bool, error) {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if !c.canSpillDirect() {
		return false, nil
	}
	return true, c.nsqd.putTaken(c.backend, b, cur, "CHANNEL", c.name, func() { c.messageCount.Add(1) })
}

// requeueMessages puts messages that left the in-flight or deferred set
// back in the queue and recycles them.
func (c *Channel) requeueMessagesLocked(ms []*Message) {
	b := batchPool.Get().(*recBatch)
	b.reset()
	for _, m := range ms {
		b.buf = m.appendRec(b.buf, 0)
		b.ends = append(b.ends, len(b.buf))
		freeMessage(m)
	}
	c.queueLocked(b, 0, b.len())
	b.shrink(1 << 20)
	batchPool.Put(b)
}

var batchPool = sync.Pool{New: func() any { return new(recBatch) }}

// putBack returns records a client popped but did not send (it was
// closing) to the queue.
func (c *Channel) putBack(b *recBatch) {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if c.exitFlag.Load() {
		return
	}
	c.queueLocked(b, 0, b.len())
}

// addClient subscribes a client. It fails when the channel is exiting or
// --max-channel-consumers is reached.
func (c *Channel) addClient(cl *client) error {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if c.exitFlag.Load() {
		return errExiting
	}
	c.clientsMu.Lock()
	defer c.clientsMu.Unlock()
	if _, ok := c.clients[cl.id]; ok {
		return nil
	}
	if max := c.nsqd.opts.MaxChannelConsumers; max > 0 && len(c.clients) >= max {
		return fmt.Errorf("consumers for %s:%s exceeds limit of %d", c.topicName, c.name, max)
	}
	c.clients[cl.id] = cl
	return nil
}

// removeClient unsubscribes a client; an ephemeral channel left without
// clients deletes itself.
func (c *Channel) removeClient(id int64) {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if c.exitFlag.Load() {
		return
	}
	c.clientsMu.Lock()
	if _, ok := c.clients[id]; !ok {
		c.clientsMu.Unlock()
		return
	}
	delete(c.clients, id)
	left := len(c.clients)
	c.clientsMu.Unlock()
	if left == 0 && c.ephemeral {
		c.nsqd.goBackground(func() {
			if t, err := c.nsqd.GetExistingTopic(c.topicName); err == nil {
				t.deleteUnusedChannel(c)
			}
		})
	}
}

func (c *Channel) clientCount() int {
	c.clientsMu.RLock()
	defer c.clientsMu.RUnlock()
	return len(c.clients)
}

func (c *Channel) clientList() []*client {
	c.clientsMu.RLock()
	defer c.clientsMu.RUnlock()
	out := make([]*client, 0, len(c.clients))
	for _, cl := range c.clients {
		out = append(out, cl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// ClientCount is the number of subscribed connections.
func (c *Channel) ClientCount() int {
	c.clientsMu.RLock()
	defer c.clientsMu.RUnlock()
	return len(c.clients)
}

// startInFlight records the messages of recs (attempts already counted)
// as delivered to clientID now until now+timeout, under one lock. A
// message whose ID is in flight already is sent but not tracked, as in
// 1.3.0.
func (c *Channel) startInFlight(recs []rec, clientID int64, timeout time.Duration) {
	now := monoNow()
	deadline := now + int64(timeout)
	c.inFlightMu.Lock()
	l := c.inFlight.listFor(int64(timeout))
	for i := range recs {
		m := newMessageFromRec(&recs[i])
		m.clientID = clientID
		m.deliveryTS = now
		m.pri = deadline
		if !c.inFlight.addFIFO(m, l) {
			freeMessage(m)
		}
	}
	if l.head == nil {
		c.inFlight.dropList(l) // keep no empty FIFO
	}
	c.inFlightMu.Unlock()
}

// takeInFlight removes a message from the in-flight set if clientID owns it.
func (c *Channel) takeInFlight(clientID int64, id []byte) (*Message, error) {
	c.inFlightMu.Lock()
	defer c.inFlightMu.Unlock()
	m := c.inFlight.get(id)
	if m == nil {
		return nil, errNotInFlight
	}
	if m.clientID != clientID {
		return nil, errNotOwner
	}
	c.inFlight.del(m)
	return m, nil
}

// finish is FIN: the message is done.
func (c *Channel) finish(clientID int64, id []byte) error {
	m, err := c.takeInFlight(clientID, id)
	if err != nil {
		return err
	}
	c.e2e.insert(m.Timestamp)
	freeMessage(m)
	return nil
}

// requeue is REQ: back to the queue now, or deferred for delay.
func (c *Channel) requeue(clientID int64, id []byte, delay time.Duration) error {
	m, err := c.takeInFlight(clientID, id)
	if err != nil {
		return err
	}
	c.requeueCount.Add(1)
	if delay <= 0 {
		c.exitMu.RLock()
		defer c.exitMu.RUnlock()
		if c.exitFlag.Load() {
			return errExiting
		}
		c.requeueMessagesLocked([]*Message{m})
		return nil
	}
	return c.startDeferredTimeout(m, delay)
}

// touch is TOUCH: the deadline moves to now+timeout, capped at delivery +
// --max-msg-timeout.
func (c *Channel) touch(clientID int64, id []byte, timeout time.Duration) error {
	c.inFlightMu.Lock()
	defer c.inFlightMu.Unlock()
	m := c.inFlight.get(id)
	if m == nil {
		return errNotInFlight
	}
	if m.clientID != clientID {
		return errNotOwner
	}
	deadline := monoNow() + int64(timeout)
	if max := m.deliveryTS + int64(c.nsqd.opts.MaxMsgTimeout); deadline > max {
		deadline = max
	}
	c.inFlight.unschedule(m)
	m.pri = deadline
	l := c.inFlight.listFor(int64(timeout))
	c.inFlight.schedule(m, l)
	if l.head == nil {
		c.inFlight.dropList(l)
	}
	return nil
}

func (c *Channel) startDeferredTimeout(m *Message, delay time.Duration) error {
	m.pri = monoNow() + int64(delay)
	m.index = -1
	c.deferredMu.Lock()
	defer c.deferredMu.Unlock()
	if !c.deferred.add(m) {
		return errAlreadyDeferred
	}
	return nil
}

// InFlightCount is the number of messages in flight.
func (c *Channel) InFlightCount() int {
	c.inFlightMu.Lock()
	defer c.inFlightMu.Unlock()
	return c.inFlight.len()
}

// DeferredCount is the number of deferred messages.
func (c *Channel) DeferredCount() int {
	c.deferredMu.Lock()
	defer c.deferredMu.Unlock()
	return c.deferred.len()
}

// processInFlight returns timed-out messages to the queue. It reports
// whether any work was done.
func (c *Channel) processInFlight(now int64) bool {
	return c.processDue(now, &c.inFlightMu, &c.inFlight, func(m *Message) {
		c.timeoutCount.Add(1)
		c.clientsMu.RLock()
		cl := c.clients[m.clientID]
		c.clientsMu.RUnlock()
		if cl != nil {
			cl.timedOutMessage()
		}
	})
}

// processDeferred moves due deferred messages to the queue.
func (c *Channel) processDeferred(now int64) bool {
	return c.processDue(now, &c.deferredMu, &c.deferred, nil)
}

// processDue takes every message due by now out of one of the channel's
// timed sets (in flight or deferred), runs onDue for it and queues it, a
// batch at a time.
func (c *Channel) processDue(now int64, mu *sync.Mutex, set *msgSet, onDue func(*Message)) bool {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if c.exitFlag.Load() {
		return false
	}
	var due [64]*Message
	dirty := false
	for {
		n := 0
		mu.Lock()
		for n < len(due) {
			m := set.due(now)
			if m == nil {
				break
			}
			set.del(m)
			due[n] = m
			n++
		}
		mu.Unlock()
		if n == 0 {
			return dirty
		}
		dirty = true
		if onDue != nil {
			for _, m := range due[:n] {
				onDue(m)
			}
		}
		c.requeueMessagesLocked(due[:n])
	}
}

// Empty discards queued, in-flight and deferred messages.
func (c *Channel) Empty() error {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	c.initQueues()
	for _, cl := range c.clientList() {
		cl.emptied()
	}
	c.mem.clear()
	return c.backend.Empty()
}

// Delete closes the channel's clients and removes its data.
func (c *Channel) Delete() error { return c.exit(true) }

// Close closes the channel's clients and persists everything queued,
// in flight or deferred to disk (clean shutdown).
func (c *Channel) Close() error { return c.exit(false) }

func (c *Channel) exit(deleted bool) error {
	c.exitMu.Lock()
	defer c.exitMu.Unlock()
	if c.exitFlag.Swap(true) {
		return errors.New("exiting")
	}
	if deleted {
		c.nsqd.logger.Infof("CHANNEL(%s): deleting", c.name)
	} else {
		c.nsqd.logger.Infof("CHANNEL(%s): closing", c.name)
	}
	c.clientsMu.RLock()
	for _, cl := range c.clients {
		cl.close()
	}
	c.clientsMu.RUnlock()

	if deleted {
		c.initQueues()
		c.mem.clear()
		return c.backend.Delete()
	}
	c.flush()
	return c.backend.Close()
}

// flush writes memory, in-flight and deferred messages to the backend.
func (c *Channel) flush() {
	if c.ephemeral {
		return
	}
	n := 0
	buf := bufferPool.Get().(*[]byte)
	defer putBuffer(buf)
	write := func(data []byte) {
		err := c.backend.Put(data)
		c.nsqd.setHealth(err)
		if err != nil {
			c.nsqd.logger.Errorf("CHANNEL(%s): failed to write message to backend - %s", c.name, err)
			return
		}
		n++
	}
	var b recBatch
	for {
		b.reset()
		if c.mem.pop(1024, 1<<20, &b) == 0 {
			break
		}
		for i := 0; i < b.len(); i++ {
			if r, ok := parseRec(b.rec(i)); ok {
				*buf = r.appendDisk((*buf)[:0])
				write(*buf)
			}
		}
	}
	c.inFlightMu.Lock()
	c.inFlight.each(func(m *Message) {
		*buf = m.encode((*buf)[:0])
		write(*buf)
	})
	c.inFlightMu.Unlock()
	c.deferredMu.Lock()
	c.deferred.each(func(m *Message) {
		*buf = m.encode((*buf)[:0])
		write(*buf)
	})
	c.deferredMu.Unlock()
	if n > 0 {
		c.nsqd.logger.Infof("CHANNEL(%s): flushed %d messages to disk", c.name, n)
	}
}

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func putBuffer(b *[]byte) {
	if cap(*b) <= 1<<20 {
		bufferPool.Put(b)
	}
}
