package nsqd

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// Chunk sizes of memory queues: a queue holding a few records uses small
// chunks, a backlog large ones (one 64 KiB chunk holds ~540 records of a
// 100-byte body). A record larger than a chunk gets a chunk of its own.
const (
	chunkSmall = 4 << 10
	chunkLarge = 64 << 10
)

var chunkPools = [2]sync.Pool{
	{New: func() any { return &qchunk{buf: make([]byte, 0, chunkSmall)} }},
	{}, // large chunks: the pool, else the reserve, else a new one
}

// chunkReserve holds large chunks whose pages are already faulted in,
// made ahead by refillChunks, so a queue growing fast (publishers outrunning
// consumers) copies records into resident memory instead of taking a page
// fault every 4 KiB on the publisher's goroutine.
var (
	chunkReserve = make(chan *qchunk, 32)
	refilling    atomic.Bool
)

func newLargeChunk() *qchunk {
	return &qchunk{buf: populate(make([]byte, 0, chunkLarge))}
}

// refillChunks tops the reserve up, then ends.
func refillChunks() {
	defer refilling.Store(false)
	for len(chunkReserve) < cap(chunkReserve) {
		select {
		case chunkReserve <- newLargeChunk():
		default:
			return
		}
	}
}

func startRefill() {
	if refilling.CompareAndSwap(false, true) {
		go refillChunks()
	}
}

// madvPopulateWrite is Linux's MADV_POPULATE_WRITE (5.14+).
const madvPopulateWrite = 23

// populate faults in the pages of a new large chunk with one madvise
// instead of one page fault per 4 KiB as records are copied in (a queue
// filling at hundreds of MB/s spends most of its time in those faults).
// Where the kernel does not know the advice nothing changes.
func populate(b []byte) []byte {
	syscall.Madvise(b[:cap(b)], madvPopulateWrite)
	return b
}

type qchunk struct {
	buf  []byte // records written so far; cap is the chunk size
	next *qchunk
}

func newChunk(size int) *qchunk {
	switch {
	case size <= chunkSmall:
		return chunkPools[0].Get().(*qchunk)
	case size <= chunkLarge:
		if c, _ := chunkPools[1].Get().(*qchunk); c != nil {
			return c
		}
		select {
		case c := <-chunkReserve:
			if len(chunkReserve) < cap(chunkReserve)/2 {
				startRefill()
			}
			return c
		default:
			startRefill()
			return newLargeChunk()
		}
	}
	return &qchunk{buf: make([]byte, 0, size)}
}

func freeChunk(c *qchunk) {
	c.buf = c.buf[:0]
	c.next = nil
	switch cap(c.buf) {
	case chunkSmall:
		chunkPools[0].Put(c)
	case chunkLarge:
		chunkPools[1].Put(c)
	}
}

// memQueue is the memory queue of a topic or channel: a FIFO of records
// (record.go) in a linked list of byte chunks, bounded by a number of
// records (--mem-queue-size). Any number of goroutines push and pop, in
// batches, each batch under one short lock; bytes are copied in and out,
// so nothing outside the queue ever points into a chunk and drained
// chunks are recycled at once.
//
// Waking consumers: every push that adds records sends on notify (one
// slot, never blocks); a consumer that finds the queue empty waits on it.
// A consumer that leaves records behind (its batch was limited) sends on
// notify again so a competing consumer wakes up.
//
// A queue with limit 0 holds nothing, except in handoff mode (ephemeral
// names with --mem-queue-size=0): then it accepts as many records as
// consumers are waiting at that instant, the closest a queue can come to
// 1.3.0's unbuffered Go channel.
type memQueue struct {
	mu   sync.Mutex
	head *qchunk
	tail *qchunk
	rpos int // read offset in head.buf

	count   atomic.Int64 // records queued
	limit   int64
	handoff bool
	waiting atomic.Int64 // consumers blocked on notify (handoff mode)

	notify chan struct{}

	// onRoom, when set, is signalled when a pop or clear takes the count
	// from above lowWater to lowWater or below (a channel tells its
	// topic's pump that it has room again; see Topic.messagePump).
	onRoom   chan struct{}
	lowWater int64
}

// watchRoom makes the queue signal c whenever it drains to lowWater: the
// limit less one pump batch (half the limit for a small one).
func (q *memQueue) watchRoom(c chan struct{}, batch int64) {
	if q == nil || q.limit <= 0 || q.handoff {
		return
	}
	q.lowWater = q.limit - batch
	if q.limit < 2*batch {
		q.lowWater = q.limit / 2
	}
	q.onRoom = c
}

// full reports whether the queue is above its low-water mark (only for a
// queue that watches its room).
func (q *memQueue) full() bool {
	return q != nil && q.onRoom != nil && q.count.Load() > q.lowWater
}

func newMemQueue(limit int64, handoff bool) *memQueue {
	return &memQueue{limit: limit, handoff: handoff, notify: make(chan struct{}, 1)}
}

// Len is the number of records queued.
func (q *memQueue) Len() int64 {
	if q == nil {
		return 0
	}
	return q.count.Load()
}

// Room is how many more records a push would take now.
func (q *memQueue) Room() int64 {
	if q == nil {
		return 0
	}
	if q.handoff {
		return q.waiting.Load() - q.count.Load()
	}
	return q.limit - q.count.Load()
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push copies records from..to-1 of b, as many as there is room for, and
// returns how many it took.
func (q *memQueue) push(b *recBatch, from, to int) int {
	if q == nil || from >= to {
		return 0
	}
	q.mu.Lock()
	room := q.limit - q.count.Load()
	if q.handoff {
		room = q.waiting.Load() - q.count.Load()
	}
	k := int64(to - from)
	if room < k {
		k = room
	}
	if k <= 0 {
		q.mu.Unlock()
		return 0
	}
	end := from + int(k)
	for i := from; i < end; {
		t := q.tail
		if t == nil || cap(t.buf)-len(t.buf) < b.ends[i]-b.start(i) {
			size := chunkSmall
			if q.count.Load() > 32 || b.ends[end-1]-b.start(i) > chunkSmall {
				size = chunkLarge
			}
			if l := b.ends[i] - b.start(i); l > size {
				size = l
			}
			c := newChunk(size)
			if t == nil {
				q.head, q.rpos = c, 0
			} else {
				t.next = c
			}
			q.tail, t = c, c
		}
		j := b.fit(i, end, cap(t.buf)-len(t.buf))
		t.buf = append(t.buf, b.buf[b.start(i):b.ends[j-1]]...)
		i = j
	}
	q.count.Add(k)
	q.mu.Unlock()
	signal(q.notify)
	return int(k)
}

// pop moves up to max records (and, past the first, up to maxBytes bytes)
// to out and returns how many.
func (q *memQueue) pop(max, maxBytes int, out *recBatch) int {
	if q == nil || max <= 0 || q.count.Load() == 0 {
		return 0
	}
	q.mu.Lock()
	n := 0
	size := 0
	for n < max && q.head != nil {
		h := q.head
		if q.rpos >= len(h.buf) {
			if h == q.tail {
				break
			}
			q.head, q.rpos = h.next, 0
			freeChunk(h)
			continue
		}
		// the run of whole records of this chunk that fits the batch
		p, base := q.rpos, len(out.buf)
		for p < len(h.buf) && n < max && (n == 0 || size < maxBytes) {
			l := recLen(h.buf[p:])
			if l == 0 {
				// cannot happen: push only copies whole records
				panic("nsqd: corrupt memory queue")
			}
			p += l
			size += l
			n++
			out.ends = append(out.ends, base+p-q.rpos)
		}
		out.buf = append(out.buf, h.buf[q.rpos:p]...)
		q.rpos = p
		if size >= maxBytes {
			break
		}
	}
	left := q.count.Add(int64(-n))
	if left == 0 {
		q.reset()
	}
	q.mu.Unlock()
	if q.onRoom != nil && left <= q.lowWater && left+int64(n) > q.lowWater {
		signal(q.onRoom)
	}
	return n
}

// reset frees every chunk; mu is held and the queue is empty or being
// emptied.
func (q *memQueue) reset() {
	for c := q.head; c != nil; {
		next := c.next
		freeChunk(c)
		c = next
	}
	q.head, q.tail, q.rpos = nil, nil, 0
}

// clear drops every record and returns how many there were.
func (q *memQueue) clear() int64 {
	if q == nil {
		return 0
	}
	q.mu.Lock()
	n := q.count.Swap(0)
	q.reset()
	q.mu.Unlock()
	if q.onRoom != nil {
		signal(q.onRoom)
	}
	return n
}

// wait registers a consumer about to block on notify (handoff mode);
// done must follow.
func (q *memQueue) wait() { q.waiting.Add(1) }
func (q *memQueue) done() { q.waiting.Add(-1) }
