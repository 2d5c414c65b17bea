package nsqd

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/diskqueue"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Topic receives published messages and copies each to every channel.
//
// Goroutines: one pump (messagePump) that moves messages from the topic's
// memory queue and disk queue to the channels; it starts when the topic is
// started and ends when the topic closes or is deleted.
type Topic struct {
	messageCount atomic.Uint64
	messageBytes atomic.Uint64

	name      string
	nsqd      *NSQD
	ephemeral bool
	ids       *wire.GUIDFactory

	mu         sync.RWMutex // guards channelMap and exit state for publishers
	channelMap map[string]*Channel

	backend       diskqueue.Backend
	memoryMsgChan chan *Message

	startChan         chan struct{}
	exitChan          chan struct{}
	channelUpdateChan chan struct{}
	pauseChan         chan struct{}
	pumpDone          chan struct{}
	exitFlag          atomic.Bool
	paused            atomic.Bool
	isStarted         atomic.Bool
	// diskPending counts messages in the topic's disk queue (the pump is
	// its only reader); with memoryMsgChan empty too, publishers may hand
	// messages straight to the channels.
	diskPending atomic.Int64
	deleter     sync.Once
	started     sync.Once
}

func newTopic(name string, n *NSQD) *Topic {
	t := &Topic{
		name:              name,
		nsqd:              n,
		ephemeral:         wire.IsEphemeral(name),
		ids:               wire.NewGUIDFactory(n.opts.NodeID),
		channelMap:        make(map[string]*Channel),
		startChan:         make(chan struct{}),
		exitChan:          make(chan struct{}),
		channelUpdateChan: make(chan struct{}, 1),
		pauseChan:         make(chan struct{}, 1),
		pumpDone:          make(chan struct{}),
	}
	if t.ephemeral {
		t.backend = diskqueue.NewDiscard()
	} else {
		t.backend = diskqueue.New(name, n.queueOptions())
		t.diskPending.Store(t.backend.Depth())
	}
	if t.ephemeral || n.opts.MemQueueSize > 0 {
		t.memoryMsgChan = make(chan *Message, n.opts.MemQueueSize)
	}
	if !n.goBackground(t.messagePump) {
		close(t.pumpDone) // shutting down: this topic never pumps
	}
	return t
}

// Name is the topic's name.
func (t *Topic) Name() string { return t.name }

// Start lets the pump deliver (after channels from metadata or lookupd exist).
func (t *Topic) Start() {
	t.started.Do(func() {
		close(t.startChan)
		t.isStarted.Store(true)
	})
}

// Exiting reports whether the topic is closing or deleted.
func (t *Topic) Exiting() bool { return t.exitFlag.Load() }

// Paused reports whether the pump is paused.
func (t *Topic) Paused() bool { return t.paused.Load() }

// Pause stops moving messages to channels.
func (t *Topic) Pause() { t.setPaused(true) }

// Unpause resumes moving messages to channels.
func (t *Topic) Unpause() { t.setPaused(false) }

func (t *Topic) setPaused(p bool) {
	t.paused.Store(p)
	select {
	case t.pauseChan <- struct{}{}:
	default:
	}
}

// Depth is the number of messages at topic level (memory + disk).
func (t *Topic) Depth() int64 { return int64(len(t.memoryMsgChan)) + t.backend.Depth() }

// GetChannel returns the channel, creating it if needed.
func (t *Topic) GetChannel(name string) *Channel {
	t.mu.Lock()
	c, isNew := t.getOrCreateChannel(name)
	t.mu.Unlock()
	if isNew {
		t.notifyChannelUpdate()
		t.nsqd.channelCreated(t, c)
	}
	return c
}

func (t *Topic) getOrCreateChannel(name string) (*Channel, bool) {
	if c, ok := t.channelMap[name]; ok {
		return c, false
	}
	c := newChannel(t.name, name, t.nsqd)
	t.channelMap[name] = c
	t.nsqd.logger.Infof("TOPIC(%s): new channel(%s)", t.name, name)
	return c, true
}

// GetExistingChannel returns a channel that exists.
func (t *Topic) GetExistingChannel(name string) (*Channel, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.channelMap[name]
	if !ok {
		return nil, errors.New("channel does not exist")
	}
	return c, nil
}

// Channels returns the channels sorted by name.
func (t *Topic) Channels() []*Channel {
	t.mu.RLock()
	out := make([]*Channel, 0, len(t.channelMap))
	for _, c := range t.channelMap {
		out = append(out, c)
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// DeleteExistingChannel deletes a channel and its data; an ephemeral topic
// left without channels deletes itself.
func (t *Topic) DeleteExistingChannel(name string) error {
	t.mu.Lock()
	c, ok := t.channelMap[name]
	if !ok {
		t.mu.Unlock()
		return errors.New("channel does not exist")
	}
	delete(t.channelMap, name)
	left := len(t.channelMap)
	t.mu.Unlock()

	t.nsqd.logger.Infof("TOPIC(%s): deleting channel %s", t.name, name)
	c.Delete()
	t.notifyChannelUpdate()
	t.nsqd.channelDeleted(t, c)
	if left == 0 && t.ephemeral {
		t.deleter.Do(func() {
			t.nsqd.goBackground(func() { t.nsqd.DeleteExistingTopic(t.name) })
		})
	}
	return nil
}

func (t *Topic) notifyChannelUpdate() {
	select {
	case t.channelUpdateChan <- struct{}{}:
	default:
	}
}

// PutMessage queues one message: memory if there is room, else disk.
func (t *Topic) PutMessage(m *Message) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.exitFlag.Load() {
		return errExiting
	}
	if err := t.put(m); err != nil {
		return err
	}
	t.messageCount.Add(1)
	t.messageBytes.Add(uint64(len(m.Body)))
	return nil
}

// PutMessages queues a batch in order; messages before a failure stay queued.
func (t *Topic) PutMessages(ms []*Message) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.exitFlag.Load() {
		return errExiting
	}
	for _, m := range ms {
		if err := t.put(m); err != nil {
			return err
		}
		t.messageCount.Add(1)
		t.messageBytes.Add(uint64(len(m.Body)))
	}
	return nil
}

func (t *Topic) put(m *Message) error {
	// Fast path: nothing is waiting at topic level, so the message goes
	// to the channels now instead of through the pump (t.mu is held, so
	// the channel set cannot change underneath).
	if t.isStarted.Load() && !t.paused.Load() && len(t.channelMap) > 0 &&
		len(t.memoryMsgChan) == 0 && t.diskPending.Load() <= 0 {
		first := true
		for _, c := range t.channelMap {
			cm := m
			if !first {
				cm = m.copyForChannel()
			}
			first = false
			c.putFromTopic(cm)
		}
		return nil
	}
	// A deferred message with a zero-capacity queue may only be handed off
	// if the pump is waiting right now (daemon-behaviour §2.2).
	select {
	case t.memoryMsgChan <- m:
		return nil
	default:
	}
	if t.ephemeral {
		return nil // discarded, as the original does
	}
	buf := bufferPool.Get().(*[]byte)
	*buf = m.encode((*buf)[:0])
	err := t.backend.Put(*buf)
	bufferPool.Put(buf)
	t.nsqd.setHealth(err)
	if err != nil {
		t.nsqd.logger.Errorf("TOPIC(%s): failed to write message to backend - %s", t.name, err)
		return err
	}
	t.diskPending.Add(1)
	return nil
}

// NewMessageID hands out the next ID for this topic.
func (t *Topic) NewMessageID() wire.MessageID { return t.ids.NewID() }

// messagePump copies every message to every channel.
func (t *Topic) messagePump() {
	defer close(t.pumpDone)
	select {
	case <-t.startChan:
	case <-t.exitChan:
		return
	}
	var chans []*Channel
	var memoryMsgChan chan *Message
	var backendChan <-chan []byte
	refresh := func() {
		chans = t.Channels()
		if len(chans) > 0 && !t.paused.Load() {
			memoryMsgChan = t.memoryMsgChan
			backendChan = t.backend.ReadChan()
		} else {
			memoryMsgChan = nil
			backendChan = nil
		}
	}
	refresh()
	for {
		var m *Message
		select {
		case m = <-memoryMsgChan:
		case b := <-backendChan:
			t.diskPending.Add(-1)
			var err error
			m, err = decodeMessage(b)
			if err != nil {
				t.nsqd.logger.Errorf("TOPIC(%s): failed to decode message - %s", t.name, err)
				continue
			}
		case <-t.channelUpdateChan:
			refresh()
			continue
		case <-t.pauseChan:
			refresh()
			continue
		case <-t.exitChan:
			return
		}
		for i, c := range chans {
			cm := m
			if i > 0 {
				cm = m.copyForChannel()
			}
			c.putFromTopic(cm)
		}
	}
}

// Delete removes the topic, its channels and all their data.
func (t *Topic) Delete() error { return t.exit(true) }

// Close persists the topic's and its channels' messages (clean shutdown).
func (t *Topic) Close() error { return t.exit(false) }

func (t *Topic) exit(deleted bool) error {
	if t.exitFlag.Swap(true) {
		return errors.New("exiting")
	}
	// wait for publishers inside PutMessage
	t.mu.Lock()
	t.mu.Unlock()
	if deleted {
		t.nsqd.logger.Infof("TOPIC(%s): deleting", t.name)
	} else {
		t.nsqd.logger.Infof("TOPIC(%s): closing ... msgs: %d", t.name, t.messageCount.Load())
	}
	close(t.exitChan)
	<-t.pumpDone

	t.mu.Lock()
	chans := make([]*Channel, 0, len(t.channelMap))
	for _, c := range t.channelMap {
		chans = append(chans, c)
	}
	if deleted {
		t.channelMap = make(map[string]*Channel)
	}
	t.mu.Unlock()

	if deleted {
		for _, c := range chans {
			c.Delete()
			t.nsqd.channelDeletedQuiet(t, c)
		}
		for len(t.memoryMsgChan) > 0 {
			<-t.memoryMsgChan
		}
		return t.backend.Delete()
	}
	for _, c := range chans {
		if err := c.Close(); err != nil {
			t.nsqd.logger.Errorf("channel(%s) close - %s", c.name, err)
		}
	}
	t.flush()
	return t.backend.Close()
}

func (t *Topic) flush() {
	if t.ephemeral {
		return
	}
	n := 0
	for {
		select {
		case m := <-t.memoryMsgChan:
			buf := m.encode(nil)
			if err := t.backend.Put(buf); err != nil {
				t.nsqd.logger.Errorf("TOPIC(%s): failed to write message to backend - %s", t.name, err)
			} else {
				n++
			}
			continue
		default:
		}
		break
	}
	if n > 0 {
		t.nsqd.logger.Infof("TOPIC(%s): flushed %d memory messages to disk", t.name, n)
	}
}

// Empty discards messages queued at topic level.
func (t *Topic) Empty() error {
	for {
		select {
		case <-t.memoryMsgChan:
			continue
		default:
		}
		break
	}
	err := t.backend.Empty()
	t.diskPending.Store(0)
	return err
}

var _ = time.Now
