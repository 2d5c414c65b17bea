package nsqd

import (
	"encoding/binary"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/diskqueue"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Topic receives published messages and copies each to every channel.
//
// Where a published message goes (1.3.0's memory budgets and flow, minus
// its per-message hops): straight into every channel's memory while the
// topic has no backlog and every channel has room; else into the topic's
// memory queue, from where the pump moves it on (channel memory if room,
// else that channel's disk queue, as 1.3.0's pump does), so a publisher
// never waits for a channel's disk while the topic's memory has room;
// past that to disk — the topic's disk queue, and for a one-channel topic
// half of each batch to the channel's own disk queue at the same time, so
// both go-diskqueue writers are busy. While every channel's memory is full
// and publishers are at it, the pump leaves the topic's backlog where it
// is (see messagePump). Deferred messages never go to the topic's disk
// queue: it cannot hold a deferral.
//
// Goroutines: one pump (messagePump) that moves the backlog (memory and
// disk) to the channels; it starts when the topic is started and ends
// when the topic closes or is deleted.
type Topic struct {
	messageCount atomic.Uint64
	messageBytes atomic.Uint64

	name      string
	nsqd      *NSQD
	ephemeral bool
	ids       *wire.GUIDFactory

	mu         sync.RWMutex // guards channelMap, chans and exit state for publishers
	channelMap map[string]*Channel
	chans      []*Channel // channelMap's values, for the publish fast path

	backend diskqueue.Backend
	// mem is nil for a non-ephemeral topic with --mem-queue-size=0.
	mem *memQueue

	startChan         chan struct{}
	exitChan          chan struct{}
	channelUpdateChan chan struct{}
	// roomChan: a channel's memory drained to its low-water mark
	roomChan  chan struct{}
	pauseChan chan struct{}
	pumpDone  chan struct{}
	exitFlag  atomic.Bool
	paused    atomic.Bool
	isStarted atomic.Bool
	// diskPending counts messages in the topic's disk queue (the pump is
	// its only reader); with mem empty too, publishers may hand
	// messages straight to the channels.
	diskPending atomic.Int64
	// lastPub is the monoNow of the last publish (see messagePump)
	lastPub atomic.Int64
	started sync.Once
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
		roomChan:          make(chan struct{}, 1),
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
		// An ephemeral topic with --mem-queue-size=0 holds nothing: its
		// pump never waits on the queue, so 1.3.0's hand-off never happens.
		t.mem = newMemQueue(n.opts.MemQueueSize, false)
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
	signal(t.pauseChan)
}

// Depth is the number of messages at topic level (memory + disk).
func (t *Topic) Depth() int64 { return t.mem.Len() + t.backend.Depth() }

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
	c.mem.watchRoom(t.roomChan, pumpBatch)
	t.channelMap[name] = c
	t.chans = append(t.chans, c)
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
	return t.deleteChannelIf(name, nil)
}

// deleteChannelIf deletes the channel called name, if it is only (when
// not nil).
func (t *Topic) deleteChannelIf(name string, only *Channel) error {
	t.mu.Lock()
	c, ok := t.channelMap[name]
	if !ok || (only != nil && c != only) {
		t.mu.Unlock()
		return errors.New("channel does not exist")
	}
	delete(t.channelMap, name)
	t.chans = slices.DeleteFunc(slices.Clone(t.chans), func(x *Channel) bool { return x == c })
	left := len(t.channelMap)
	t.mu.Unlock()

	t.nsqd.logger.Infof("TOPIC(%s): deleting channel %s", t.name, name)
	c.Delete()
	t.notifyChannelUpdate()
	t.nsqd.channelDeleted(t, c)
	if left == 0 && t.ephemeral {
		t.nsqd.goBackground(func() { t.nsqd.deleteUnusedTopic(t) })
	}
	return nil
}

// deleteUnusedChannel deletes c, an ephemeral channel its last client left,
// unless it gained a client since or is no longer this topic's channel of
// that name (deleted, perhaps created anew: the new one stays).
func (t *Topic) deleteUnusedChannel(c *Channel) {
	t.mu.RLock()
	current := t.channelMap[c.name] == c
	t.mu.RUnlock()
	if !current || c.clientCount() > 0 {
		return
	}
	t.deleteChannelIf(c.name, c)
}

func (t *Topic) notifyChannelUpdate() { signal(t.channelUpdateChan) }

func (t *Topic) channelCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.channelMap)
}

// PutMessage queues one message: memory if there is room, else disk.
func (t *Topic) PutMessage(m *Message) error { return t.PutMessages([]*Message{m}) }

// PutMessages queues a batch in order; messages before a failure stay queued.
func (t *Topic) PutMessages(ms []*Message) error {
	b := batchPool.Get().(*recBatch)
	defer func() {
		b.shrink(1 << 20)
		batchPool.Put(b)
	}()
	b.reset()
	for _, m := range ms {
		b.buf = m.appendRec(b.buf, m.deferred)
		b.ends = append(b.ends, len(b.buf))
	}
	return t.putBatch(b)
}

// pubScratch is a publisher's reusable space (one per connection).
type pubScratch struct {
	ids   []uint64
	batch recBatch

	// an MPUB read straight into batch (wire.MPUBSink)
	topic *Topic
	ts    int64
	next  int
}

// MPUBCount takes IDs and the timestamp for a batch of n new messages of
// s.topic.
func (s *pubScratch) MPUBCount(n int) {
	if cap(s.ids) < n {
		s.ids = make([]uint64, n)
	}
	s.ids = s.ids[:n]
	s.ts = s.topic.ids.NewIDs(s.ids)
	s.next = 0
	s.batch.reset()
}

// MPUBBody adds the next message's record and returns where its body goes.
func (s *pubScratch) MPUBBody(size int) []byte {
	id := s.ids[s.next]
	s.next++
	return s.batch.addBody(s.ts, id, size)
}

// publishRead queues the messages an MPUB read into s (MPUBCount,
// MPUBBody) as new messages of s.topic; it returns how many.
func (s *pubScratch) publishRead() (int, error) {
	n := s.batch.len()
	err := s.topic.putBatch(&s.batch)
	s.batch.shrink(4 << 20)
	s.topic = nil
	return n, err
}

var pubScratchPool = sync.Pool{New: func() any { return new(pubScratch) }}

// publish queues bodies as new messages of this topic: IDs and timestamp
// come from one clock reading; a deferral applies to each.
func (t *Topic) publish(bodies [][]byte, deferred time.Duration, s *pubScratch) error {
	if cap(s.ids) < len(bodies) {
		s.ids = make([]uint64, len(bodies))
	}
	ids := s.ids[:len(bodies)]
	ts := t.ids.NewIDs(ids)
	b := &s.batch
	b.reset()
	for i, body := range bodies {
		b.add(ts, 0, ids[i], nil, int64(deferred), body)
	}
	err := t.putBatch(b)
	b.shrink(4 << 20)
	return err
}

// putBatch queues the records of b; messages before a failure stay queued.
func (t *Topic) putBatch(b *recBatch) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.exitFlag.Load() {
		return errExiting
	}
	t.lastPub.Store(monoNow())
	n, err := t.putLocked(b)
	t.messageCount.Add(uint64(n))
	bytes := uint64(0)
	for i := 0; i < n; i++ {
		bytes += uint64(recBodyLen(b.rec(i)))
	}
	t.messageBytes.Add(bytes)
	return err
}

func recBodyLen(r []byte) int {
	v, _ := binary.Uvarint(r)
	return int(v >> 2)
}

// deliverable reports whether the topic hands messages to channels now
// (started, not paused, has channels); t.mu is held.
func (t *Topic) deliverable() bool {
	return t.isStarted.Load() && !t.paused.Load() && len(t.chans) > 0
}

// putLocked places the records of b (see Topic); t.mu is held (read). It
// returns how many were queued.
func (t *Topic) putLocked(b *recBatch) (int, error) {
	n := b.len()
	i := 0
	direct := t.deliverable()
	if direct && t.mem.Len() == 0 && t.diskPending.Load() <= 0 {
		k := int64(n)
		for _, c := range t.chans {
			if r := c.room(); r < k {
				k = r
			}
		}
		if k > 0 {
			// a channel without a memory budget writes its disk queue
			// here: a failed write fails the publish (nothing is
			// acknowledged that is not queued)
			var first error
			for _, c := range t.chans {
				if err := c.putRecords(b, 0, int(k)); err != nil && first == nil {
					first = err
				}
			}
			if first != nil {
				return 0, first
			}
			i = int(k)
		}
	}
	if i < n {
		i += t.mem.push(b, i, n)
	}
	if i >= n {
		return n, nil
	}
	if t.ephemeral {
		return n, nil // discarded, as the original does
	}
	if direct && anyDeferred(b, i, n) {
		// a deferral cannot be written to the topic's disk queue: the
		// channels take deferred records (into their deferred sets) now
		for j := i; j < n; {
			k := j
			for k < n && !recIsDeferred(b.buf[b.start(k):]) {
				k++
			}
			if err := t.spill(b, j, k); err != nil {
				return j, err
			}
			if k < n {
				for _, c := range t.chans {
					if err := c.putRecords(b, k, k+1); err != nil {
						return k, err
					}
				}
				k++
			}
			j = k
		}
		return n, nil
	}
	if direct && len(t.chans) == 1 && t.chans[0].canSpillDirect() {
		// Memory is full and the topic has one channel: the batch goes
		// partly straight to the channel's disk queue (saving the pump
		// reading it back from the topic's and writing it again), partly,
		// at the same time, to the topic's. go-diskqueue writes a message
		// per syscall with a goroutine per queue, answers each Put before
		// taking the next and stops for an fsync every --sync-every
		// messages: two queues, each with more than one writer, keep both
		// busy (measured here: one queue ~230k records/s, two queues with
		// two writers each ~410k/s). The two writers take the next record
		// from one cursor, so while one queue syncs the other takes the
		// rest of the batch.
		cur := spillCursor{end: int64(n)}
		cur.next.Store(int64(i))
		var wg sync.WaitGroup
		var topicErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			topicErr = t.spillFrom(b, &cur)
		}()
		done, err := t.chans[0].spillDirect(b, &cur)
		if !done {
			err = t.spillFrom(b, &cur)
		}
		wg.Wait()
		if err == nil {
			err = topicErr
		}
		if err != nil {
			// a writer stopped at a record it could not write (the other
			// may have taken the rest): the publish fails
			return i, err
		}
		return n, nil
	}
	if err := t.spill(b, i, n); err != nil {
		return i, err
	}
	return n, nil
}

func anyDeferred(b *recBatch, from, to int) bool {
	for i := from; i < to; i++ {
		if recIsDeferred(b.buf[b.start(i):]) {
			return true
		}
	}
	return false
}

// spill writes records from..to-1 of b to the topic's disk queue.
func (t *Topic) spill(b *recBatch, from, to int) error {
	cur := spillCursor{end: int64(to)}
	cur.next.Store(int64(from))
	return t.spillFrom(b, &cur)
}

// spillCursor hands out the records of a batch, one at a time, to the
// writers sharing it.
type spillCursor struct {
	next atomic.Int64
	end  int64
}

// take returns the index of the next record, or false when none is left.
func (c *spillCursor) take() (int, bool) {
	i := c.next.Add(1) - 1
	return int(i), i < c.end
}

// spillFrom writes the records it takes from cur to the topic's disk
// queue until cur is exhausted or a write fails.
func (t *Topic) spillFrom(b *recBatch, cur *spillCursor) error {
	return t.nsqd.putTaken(t.backend, b, cur, "TOPIC", t.name, func() { t.diskPending.Add(1) })
}

// putTaken writes each record it takes from cur to q (a topic's or
// channel's disk queue: kind and name say which in the log) until cur is
// exhausted or a write fails, and calls written after each write.
func (n *NSQD) putTaken(q diskqueue.Backend, b *recBatch, cur *spillCursor, kind, name string, written func()) error {
	buf := bufferPool.Get().(*[]byte)
	defer putBuffer(buf)
	for {
		i, ok := cur.take()
		if !ok {
			return nil
		}
		r, ok := parseRec(b.rec(i))
		if !ok {
			continue
		}
		*buf = r.appendDisk((*buf)[:0])
		err := q.Put(*buf)
		n.setHealth(err)
		if err != nil {
			n.logger.Errorf("%s(%s): failed to write message to backend - %s", kind, name, err)
			return err
		}
		written()
	}
}

// NewMessageID hands out the next ID for this topic.
func (t *Topic) NewMessageID() wire.MessageID { return t.ids.NewID() }

// holdIdle: the topic's memory keeps a backlog for full channels only
// while it was published to within this time (see messagePump).
const holdIdle = 250 * time.Millisecond

// pumpBatch is the most messages the pump moves at once.
const pumpBatch = 1024

// closedChan is always ready: a select case on it means "go on now".
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// messagePump moves the topic's backlog to its channels, a batch at a
// time: each channel takes it into memory while there is room, the rest
// into its disk queue (as 1.3.0's pump does).
func (t *Topic) messagePump() {
	defer close(t.pumpDone)
	select {
	case <-t.startChan:
	case <-t.exitChan:
		return
	}
	var (
		chans  []*Channel
		paused bool
		batch  recBatch
	)
	idle := time.NewTimer(holdIdle)
	defer idle.Stop()
	refresh := func() {
		t.mu.RLock()
		chans = append(chans[:0], t.chans...)
		t.mu.RUnlock()
		paused = t.paused.Load()
	}
	refresh()
	for {
		var memC, roomC <-chan struct{}
		var diskC <-chan []byte
		var idleC <-chan time.Time
		popNow := false
		if len(chans) > 0 && !paused {
			// busy: every channel's memory is full and publishers are at
			// it. Then the topic keeps its backlog — up to
			// --mem-queue-size in memory (the topic and each channel
			// hold that much before anything goes to disk, as in 1.3.0)
			// and what publishers wrote to its disk queue — instead of
			// copying it on to the channels' disk queues, until a
			// channel has room or nothing was published for holdIdle;
			// then it moves on as in 1.3.0, so a quiet topic's messages
			// end up in its channels. When the topic's memory is about
			// full the pump moves a batch on to the channels' disk
			// queues, so publishers keep finding room in memory while
			// the pump writes disk. (1.3.0 shows a topic backlog under
			// such load too: its pump falls behind.)
			since := monoNow() - t.lastPub.Load()
			busy := t.mem != nil && since < int64(holdIdle) && allFull(chans)
			if busy {
				roomC = t.roomChan
				idle.Reset(time.Duration(int64(holdIdle) - since))
				idleC = idle.C
			} else {
				diskC = t.backend.ReadChan()
			}
			switch {
			case busy:
				memC = t.mem.notify
			case t.mem.Len() > 0:
				memC, popNow = closedChan, true
			case t.mem != nil:
				memC = t.mem.notify
			}
		}
		select {
		case <-memC:
			if !popNow {
				continue // woken by a publish: decide again
			}
			batch.reset()
			if t.mem.pop(batchFor(chans), 1<<20, &batch) > 0 {
				t.distribute(chans, &batch)
			}
		case data := <-diskC:
			t.diskPending.Add(-1)
			batch.reset()
			t.addFromDisk(&batch, data)
			for max := batchFor(chans); batch.len() < max; {
				select {
				case data = <-diskC:
					t.diskPending.Add(-1)
					t.addFromDisk(&batch, data)
					continue
				default:
				}
				break
			}
			t.distribute(chans, &batch)
		case <-roomC:
		case <-idleC:
		case <-t.channelUpdateChan:
			refresh()
		case <-t.pauseChan:
			refresh()
		case <-t.exitChan:
			return
		}
		batch.shrink(4 << 20)
	}
}

// batchFor is how many records the pump moves at once: at most pumpBatch,
// and no more than every channel's memory has room for (while each has
// some), so a batch does not spill what the next one would fit.
func batchFor(chans []*Channel) int {
	if allFull(chans) {
		return pumpBatch // moving on to disk: whole batches
	}
	n := int64(pumpBatch)
	for _, c := range chans {
		if r := c.room(); r < n {
			n = r
		}
	}
	if n <= 0 {
		return pumpBatch // a full channel spills, the others still get theirs
	}
	return int(n)
}

// allFull reports whether every channel's memory is filled to its
// low-water mark.
func allFull(chans []*Channel) bool {
	for _, c := range chans {
		if !c.mem.full() {
			return false
		}
	}
	return len(chans) > 0
}

func (t *Topic) addFromDisk(b *recBatch, data []byte) {
	var ok bool
	b.buf, ok = appendRecFromDisk(b.buf, data)
	if !ok {
		t.nsqd.logger.Errorf("TOPIC(%s): failed to decode message - %s", t.name, wire.ErrShortMessage)
		return
	}
	b.ends = append(b.ends, len(b.buf))
}

func (t *Topic) distribute(chans []*Channel, b *recBatch) {
	for _, c := range chans {
		c.putRecords(b, 0, b.len())
	}
}

// Delete removes the topic, its channels and all their data.
func (t *Topic) Delete() error { return t.exit(true) }

// Close persists the topic's and its channels' messages (clean shutdown).
func (t *Topic) Close() error { return t.exit(false) }

func (t *Topic) exit(deleted bool) error {
	if t.exitFlag.Swap(true) {
		return errExiting
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
		t.chans = nil
	}
	t.mu.Unlock()

	if deleted {
		for _, c := range chans {
			c.Delete()
			t.nsqd.channelDeletedQuiet(t, c)
		}
		t.mem.clear()
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
	buf := bufferPool.Get().(*[]byte)
	defer putBuffer(buf)
	var b recBatch
	for {
		b.reset()
		if t.mem.pop(1024, 1<<20, &b) == 0 {
			break
		}
		for i := 0; i < b.len(); i++ {
			r, ok := parseRec(b.rec(i))
			if !ok {
				continue
			}
			*buf = r.appendDisk((*buf)[:0])
			if err := t.backend.Put(*buf); err != nil {
				t.nsqd.logger.Errorf("TOPIC(%s): failed to write message to backend - %s", t.name, err)
			} else {
				n++
			}
		}
	}
	if n > 0 {
		t.nsqd.logger.Infof("TOPIC(%s): flushed %d memory messages to disk", t.name, n)
	}
}

// Empty discards messages queued at topic level.
func (t *Topic) Empty() error {
	t.mem.clear()
	err := t.backend.Empty()
	t.diskPending.Store(0)
	return err
}
