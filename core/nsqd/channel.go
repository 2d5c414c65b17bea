package nsqd

import (
	"errors"
	"fmt"
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
// Goroutines: none of its own. Subscribed clients' pumps read memoryMsgChan
// and the backend; the NSQD queue scanner calls processInFlight and
// processDeferred; the topic pump calls put.
type Channel struct {
	messageCount atomic.Uint64
	requeueCount atomic.Uint64
	timeoutCount atomic.Uint64

	topicName string
	name      string
	nsqd      *NSQD
	ephemeral bool

	backend       diskqueue.Backend
	memoryMsgChan chan *Message

	exitMu   sync.RWMutex
	exitFlag atomic.Bool
	paused   atomic.Bool

	clientsMu sync.RWMutex
	clients   map[int64]*client
	// deleteOnEmpty is set for ephemeral channels once a client has joined.
	deleter sync.Once

	inFlightMu sync.Mutex
	inFlight   map[wire.MessageID]*Message
	inFlightPQ pqueue

	deferredMu sync.Mutex
	deferred   map[wire.MessageID]*Message
	deferredPQ pqueue

	e2e *latencyStream
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
		c.memoryMsgChan = make(chan *Message, opts.MemQueueSize)
	}
	return c
}

func (c *Channel) initQueues() {
	c.inFlightMu.Lock()
	c.inFlight = make(map[wire.MessageID]*Message)
	c.inFlightPQ = make(pqueue, 0, 64)
	c.inFlightMu.Unlock()
	c.deferredMu.Lock()
	c.deferred = make(map[wire.MessageID]*Message)
	c.deferredPQ = make(pqueue, 0, 64)
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
func (c *Channel) Depth() int64 { return int64(len(c.memoryMsgChan)) + c.backend.Depth() }

// put queues a message handed over by the topic (or requeued).
func (c *Channel) put(m *Message) error {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if c.exitFlag.Load() {
		return errExiting
	}
	return c.putLocked(m)
}

func (c *Channel) putLocked(m *Message) error {
	select {
	case c.memoryMsgChan <- m:
		return nil
	default:
	}
	return c.putBackend(m)
}

// putFromTopic is put plus the message count; deferred copies go to the
// deferred set.
func (c *Channel) putFromTopic(m *Message) {
	c.messageCount.Add(1)
	if m.deferred > 0 {
		c.startDeferredTimeout(m, m.deferred)
		return
	}
	if err := c.put(m); err != nil && !errors.Is(err, errExiting) {
		c.nsqd.logger.Errorf("TOPIC(%s) CHANNEL(%s): failed to put message %s - %s", c.topicName, c.name, m.ID[:], err)
	}
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
		c.deleter.Do(func() {
			c.nsqd.goBackground(func() {
				if t, err := c.nsqd.GetExistingTopic(c.topicName); err == nil {
					t.DeleteExistingChannel(c.name)
				}
			})
		})
	}
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

// startInFlight records m as delivered to clientID until now+timeout.
func (c *Channel) startInFlight(m *Message, clientID int64, timeout time.Duration) error {
	now := time.Now()
	m.clientID = clientID
	m.deliveryTS = now
	m.pri = now.Add(timeout).UnixNano()
	c.inFlightMu.Lock()
	defer c.inFlightMu.Unlock()
	if _, ok := c.inFlight[m.ID]; ok {
		return errors.New("ID already in flight")
	}
	c.inFlight[m.ID] = m
	c.inFlightPQ.push(m)
	return nil
}

// takeInFlight removes a message from the in-flight set if clientID owns it.
func (c *Channel) takeInFlight(clientID int64, id wire.MessageID) (*Message, error) {
	c.inFlightMu.Lock()
	defer c.inFlightMu.Unlock()
	m, ok := c.inFlight[id]
	if !ok {
		return nil, errNotInFlight
	}
	if m.clientID != clientID {
		return nil, errNotOwner
	}
	delete(c.inFlight, id)
	if m.index >= 0 {
		c.inFlightPQ.remove(m.index)
	}
	return m, nil
}

// finish is FIN: the message is done.
func (c *Channel) finish(clientID int64, id wire.MessageID) error {
	m, err := c.takeInFlight(clientID, id)
	if err != nil {
		return err
	}
	c.e2e.insert(m.Timestamp)
	return nil
}

// requeue is REQ: back to the queue now, or deferred for delay.
func (c *Channel) requeue(clientID int64, id wire.MessageID, delay time.Duration) error {
	m, err := c.takeInFlight(clientID, id)
	if err != nil {
		return err
	}
	c.requeueCount.Add(1)
	if delay <= 0 {
		return c.put(m)
	}
	return c.startDeferredTimeout(m, delay)
}

// touch is TOUCH: the deadline moves to now+timeout, capped at delivery +
// --max-msg-timeout.
func (c *Channel) touch(clientID int64, id wire.MessageID, timeout time.Duration) error {
	c.inFlightMu.Lock()
	defer c.inFlightMu.Unlock()
	m, ok := c.inFlight[id]
	if !ok {
		return errNotInFlight
	}
	if m.clientID != clientID {
		return errNotOwner
	}
	deadline := time.Now().Add(timeout)
	if max := m.deliveryTS.Add(c.nsqd.opts.MaxMsgTimeout); deadline.After(max) {
		deadline = max
	}
	m.pri = deadline.UnixNano()
	if m.index >= 0 {
		c.inFlightPQ.remove(m.index)
	}
	c.inFlightPQ.push(m)
	return nil
}

func (c *Channel) startDeferredTimeout(m *Message, delay time.Duration) error {
	m.pri = time.Now().Add(delay).UnixNano()
	c.deferredMu.Lock()
	defer c.deferredMu.Unlock()
	if _, ok := c.deferred[m.ID]; ok {
		return errAlreadyDeferred
	}
	c.deferred[m.ID] = m
	c.deferredPQ.push(m)
	return nil
}

// InFlightCount is the number of messages in flight.
func (c *Channel) InFlightCount() int {
	c.inFlightMu.Lock()
	defer c.inFlightMu.Unlock()
	return len(c.inFlight)
}

// DeferredCount is the number of deferred messages.
func (c *Channel) DeferredCount() int {
	c.deferredMu.Lock()
	defer c.deferredMu.Unlock()
	return len(c.deferred)
}

// processInFlight returns timed-out messages to the queue. It reports
// whether any work was done.
func (c *Channel) processInFlight(now int64) bool {
	return c.processDue(now, &c.inFlightMu, &c.inFlightPQ, &c.inFlight, func(m *Message) {
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
	return c.processDue(now, &c.deferredMu, &c.deferredPQ, &c.deferred, nil)
}

// processDue takes every message due by now out of one of the channel's
// timed sets (in flight or deferred), runs onDue for it and queues it.
func (c *Channel) processDue(now int64, mu *sync.Mutex, pq *pqueue, set *map[wire.MessageID]*Message, onDue func(*Message)) bool {
	c.exitMu.RLock()
	defer c.exitMu.RUnlock()
	if c.exitFlag.Load() {
		return false
	}
	dirty := false
	for {
		mu.Lock()
		m := pq.peekDue(now)
		if m == nil {
			mu.Unlock()
			return dirty
		}
		pq.remove(m.index)
		delete(*set, m.ID)
		mu.Unlock()
		dirty = true
		if onDue != nil {
			onDue(m)
		}
		c.putLocked(m)
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
	for {
		select {
		case <-c.memoryMsgChan:
			continue
		default:
		}
		break
	}
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
		for len(c.memoryMsgChan) > 0 {
			<-c.memoryMsgChan
		}
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
	write := func(m *Message) {
		if err := c.putBackend(m); err == nil {
			n++
		}
	}
	for {
		select {
		case m := <-c.memoryMsgChan:
			write(m)
			continue
		default:
		}
		break
	}
	c.inFlightMu.Lock()
	for _, m := range c.inFlightPQ {
		write(m)
	}
	c.inFlightMu.Unlock()
	c.deferredMu.Lock()
	for _, m := range c.deferredPQ {
		write(m)
	}
	c.deferredMu.Unlock()
	if n > 0 {
		c.nsqd.logger.Infof("CHANNEL(%s): flushed %d messages to disk", c.name, n)
	}
}

func (c *Channel) putBackend(m *Message) error {
	buf := bufferPool.Get().(*[]byte)
	*buf = m.encode((*buf)[:0])
	err := c.backend.Put(*buf)
	bufferPool.Put(buf)
	c.nsqd.setHealth(err)
	if err != nil {
		c.nsqd.logger.Errorf("CHANNEL(%s): failed to write message to backend - %s", c.name, err)
	}
	return err
}

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
