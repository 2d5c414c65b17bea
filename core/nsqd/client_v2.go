package nsqd

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Connection states (as in /stats "state").
const (
	stateInit       = 0
	stateSubscribed = 3
	stateClosing    = 4
)

const defaultBufferSize = 16 * 1024

// client is one V2 TCP connection.
//
// Goroutines: the connection's reader (ioLoop, which runs the commands) and,
// from the start, its messagePump (delivery, flushing, heartbeats). The
// pump ends when exitChan closes; ioLoop ends on any read error or a fatal
// protocol error, then waits for the pump.
type client struct {
	readyCount    atomic.Int64
	inFlightCount atomic.Int64
	messageCount  atomic.Uint64
	finishCount   atomic.Uint64
	requeueCount  atomic.Uint64
	state         atomic.Int32
	heartbeatNS   atomic.Int64 // heartbeat interval; 0 = disabled

	id          int64
	nsqd        *NSQD
	conn        net.Conn // the raw connection
	netConn     net.Conn // raw, or the TLS connection after upgrade
	remoteAddr  string
	connectTime time.Time

	reader *wire.CommandReader

	writeMu     sync.Mutex
	writer      *bufio.Writer
	flateWriter *flate.Writer
	snappyW     *s2.Writer
	pending     atomic.Bool // bytes written since the last flush (set under writeMu)

	metaMu              sync.RWMutex
	clientID            string
	hostname            string
	userAgent           string
	outputBufferSize    int
	outputBufferTimeout time.Duration
	msgTimeout          time.Duration
	sampleRate          int32
	tlsState            *tls.ConnectionState
	snappy              bool
	deflate             bool
	pubCounts           map[string]uint64
	auth                *authState

	channel *Channel

	readyStateChan    chan struct{}
	subEventChan      chan *Channel
	identifyEventChan chan struct{}
	exitChan          chan struct{}
	pumpDone          chan struct{}
	closeOnce         sync.Once

	// publish fast path: the last topic published to
	lastTopic *Topic
	pubScr    pubScratch
	one       [1][]byte // PUB/DPUB's body as a batch

	// deliverMu makes "how many may be sent, take them, send them" one
	// step; the pump and (see ioLoop) the reader both deliver.
	deliverMu sync.Mutex
	batch     recBatch
	recs      []rec

	// readyDirty: a FIN or REQ lowered the in-flight count and the pump
	// has not been told yet (ioLoop only; see ioLoop)
	readyDirty bool
	sinceReady int
	lightCmd   bool // the last command had no body and never waits
}

func newClient(id int64, conn net.Conn, n *NSQD) *client {
	host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
	opts := n.opts
	c := &client{
		id:                  id,
		nsqd:                n,
		conn:                conn,
		netConn:             conn,
		remoteAddr:          conn.RemoteAddr().String(),
		connectTime:         time.Now(),
		clientID:            host,
		hostname:            host,
		outputBufferSize:    defaultBufferSize,
		outputBufferTimeout: opts.OutputBufferTimeout,
		msgTimeout:          opts.MsgTimeout,
		readyStateChan:      make(chan struct{}, 1),
		subEventChan:        make(chan *Channel, 1),
		identifyEventChan:   make(chan struct{}, 1),
		exitChan:            make(chan struct{}),
		pumpDone:            make(chan struct{}),
	}
	if c.remoteAddr == "" || host == "" {
		c.clientID, c.hostname = c.remoteAddr, c.remoteAddr
	}
	c.heartbeatNS.Store(int64(opts.ClientTimeout / 2))
	c.reader = wire.NewCommandReader(conn)
	c.writer = bufio.NewWriterSize(&deadlineWriter{c: c, w: conn}, defaultBufferSize)
	return c
}

// deadlineWriter sets the write deadline (one heartbeat interval) before
// each write to the connection; bufio calls it once per flush.
type deadlineWriter struct {
	c *client
	w io.Writer
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if hb := d.c.heartbeat(); hb > 0 {
		d.c.netConn.SetWriteDeadline(time.Now().Add(hb))
	} else {
		d.c.netConn.SetWriteDeadline(time.Time{})
	}
	return d.w.Write(p)
}

// heartbeat is the client's heartbeat interval (0 when disabled).
func (c *client) heartbeat() time.Duration { return time.Duration(c.heartbeatNS.Load()) }

// close closes the connection; the reader then ends the client.
func (c *client) close() {
	c.closeOnce.Do(func() { c.conn.Close() })
}

func (c *client) isReadyForMessages() bool {
	if c.channel == nil || c.channel.Paused() {
		return false
	}
	ready := c.readyCount.Load()
	return ready > 0 && c.inFlightCount.Load() < ready
}

func (c *client) tryUpdateReadyState() {
	select {
	case c.readyStateChan <- struct{}{}:
	default:
	}
}

func (c *client) setReady(n int64) {
	c.readyCount.Store(n)
	c.tryUpdateReadyState()
}

func (c *client) timedOutMessage() {
	c.inFlightCount.Add(-1)
	c.tryUpdateReadyState()
}

func (c *client) emptied() {
	c.inFlightCount.Store(0)
	c.tryUpdateReadyState()
}

func (c *client) publishedMessage(topic string, count uint64) {
	c.metaMu.Lock()
	if c.pubCounts == nil {
		c.pubCounts = make(map[string]uint64)
	}
	c.pubCounts[topic] += count
	c.metaMu.Unlock()
}

// pubCountList returns the published counts sorted by topic.
func (c *client) pubCountList() []pubCount {
	c.metaMu.RLock()
	defer c.metaMu.RUnlock()
	out := make([]pubCount, 0, len(c.pubCounts))
	for t, n := range c.pubCounts {
		out = append(out, pubCount{Topic: t, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

type pubCount struct {
	Topic string `json:"topic"`
	Count uint64 `json:"count"`
}

// writeFrameLocked appends a frame to the output buffer; writeMu is held.
func (c *client) writeFrameLocked(frameType int32, data []byte) error {
	c.pending.Store(true)
	_, err := wire.WriteFrame(c.writer, frameType, data)
	return err
}

// flushLocked pushes buffered bytes (and the compressor's) to the socket.
func (c *client) flushLocked() error {
	if !c.pending.Load() {
		return nil
	}
	c.pending.Store(false)
	if err := c.writer.Flush(); err != nil {
		return err
	}
	if c.flateWriter != nil {
		return c.flateWriter.Flush()
	}
	if c.snappyW != nil {
		return c.snappyW.Flush()
	}
	return nil
}

// flush is flushLocked under the write lock.
func (c *client) flush() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.flushLocked()
}

// sendFrame writes a response or error frame and flushes it.
func (c *client) sendFrame(frameType int32, data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.writeFrameLocked(frameType, data); err != nil {
		return err
	}
	return c.flushLocked()
}

// Delivery batches: at most this many messages, or (past the first) this
// many bytes, are taken from the channel at once.
const (
	deliverBatch      = 1024
	deliverBatchBytes = 256 << 10
)

// messagePump delivers the subscribed channel's messages while the client
// is ready, flushes on the output-buffer timer and sends heartbeats.
//
// Each round takes as many queued messages as RDY allows (one lock on the
// channel's memory queue), records them in flight (one lock, one clock
// read) and writes their frames into the buffered writer in one go. When
// nothing more is ready the buffer is flushed (drain, then flush), so an
// idle client never waits for the output-buffer timer, which stays the
// upper bound under continuous load.
func (c *client) messagePump() {
	defer close(c.pumpDone)
	var (
		subChannel    *Channel
		flusherChan   <-chan time.Time
		heartbeatChan <-chan time.Time
	)
	hb := c.heartbeat()
	c.metaMu.RLock()
	obt := c.outputBufferTimeout
	msgTimeout := c.msgTimeout
	sampleRate := c.sampleRate
	c.metaMu.RUnlock()

	var outputTicker, heartbeatTicker *time.Ticker
	if obt > 0 {
		outputTicker = time.NewTicker(obt)
	}
	if hb > 0 {
		heartbeatTicker = time.NewTicker(hb)
		heartbeatChan = heartbeatTicker.C
	}
	defer func() {
		if outputTicker != nil {
			outputTicker.Stop()
		}
		if heartbeatTicker != nil {
			heartbeatTicker.Stop()
		}
	}()
	subEventChan := c.subEventChan
	identifyEventChan := c.identifyEventChan

	fail := func(err error) {
		c.nsqd.logger.Errorf("PROTOCOL(V2): [%s] messagePump error - %s", c.remoteAddr, err)
		c.close()
	}

	for {
		var memC <-chan struct{}
		var diskC <-chan []byte
		var handoff *memQueue
		ready := subChannel != nil && c.isReadyForMessages()
		if ready {
			diskC = subChannel.backend.ReadChan()
			if q := subChannel.mem; q != nil {
				if q.Len() > 0 {
					memC = closedChan
				} else {
					memC = q.notify
					if q.handoff {
						handoff = q
					}
				}
			}
			if c.pending.Load() && obt > 0 && memC != closedChan {
				// drain, then flush: anything on disk?
				select {
				case data := <-diskC:
					if !c.deliverFromDisk(subChannel, data, diskC, msgTimeout, sampleRate) {
						goto exit
					}
					continue
				default:
				}
				if err := c.flush(); err != nil {
					fail(err)
					goto exit
				}
			}
		} else if c.pending.Load() {
			if err := c.flush(); err != nil {
				fail(err)
				goto exit
			}
		}
		flusherChan = nil
		if outputTicker != nil && c.pending.Load() {
			flusherChan = outputTicker.C
		}
		if handoff != nil {
			handoff.wait()
		}

		select {
		case <-memC:
			if handoff != nil {
				handoff.done()
			}
			if _, ok := c.deliverMem(subChannel, msgTimeout, sampleRate); !ok {
				goto exit
			}
		case data := <-diskC:
			if handoff != nil {
				handoff.done()
			}
			if !c.deliverFromDisk(subChannel, data, diskC, msgTimeout, sampleRate) {
				goto exit
			}
		case <-flusherChan:
			if handoff != nil {
				handoff.done()
			}
			if err := c.flush(); err != nil {
				fail(err)
				goto exit
			}
		case <-c.readyStateChan:
			if handoff != nil {
				handoff.done()
			}
		case ch := <-subEventChan:
			if handoff != nil {
				handoff.done()
			}
			subChannel = ch
			subEventChan = nil
		case <-identifyEventChan:
			if handoff != nil {
				handoff.done()
			}
			identifyEventChan = nil
			c.metaMu.RLock()
			hb, obt = c.heartbeat(), c.outputBufferTimeout
			msgTimeout, sampleRate = c.msgTimeout, c.sampleRate
			c.metaMu.RUnlock()
			if outputTicker != nil {
				outputTicker.Stop()
				outputTicker = nil
			}
			if obt > 0 {
				outputTicker = time.NewTicker(obt)
			}
			if heartbeatTicker != nil {
				heartbeatTicker.Stop()
				heartbeatTicker, heartbeatChan = nil, nil
			}
			if hb > 0 {
				heartbeatTicker = time.NewTicker(hb)
				heartbeatChan = heartbeatTicker.C
			}
		case <-heartbeatChan:
			if handoff != nil {
				handoff.done()
			}
			if err := c.sendFrame(wire.FrameTypeResponse, wire.Heartbeat); err != nil {
				fail(err)
				goto exit
			}
		case <-c.exitChan:
			if handoff != nil {
				handoff.done()
			}
			goto exit
		}
	}
exit:
}

// budgetLocked is how many messages the client may be sent now (at most
// one batch); deliverMu is held.
func (c *client) budgetLocked() int {
	if !c.isReadyForMessages() {
		return 0
	}
	n := c.readyCount.Load() - c.inFlightCount.Load()
	if n > deliverBatch {
		n = deliverBatch
	}
	return int(n)
}

// deliverMem sends as many messages from the channel's memory queue as
// the client may have. It reports how many it took and false when the
// connection failed.
func (c *client) deliverMem(ch *Channel, timeout time.Duration, sampleRate int32) (int, bool) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	b := &c.batch
	b.reset()
	q := ch.mem
	n := q.pop(c.budgetLocked(), deliverBatchBytes, b)
	if n == 0 {
		return 0, true
	}
	if q.Len() > 0 {
		signal(q.notify) // wake a competing client
	}
	ok := c.deliverLocked(ch, b, timeout, sampleRate)
	b.shrink(4 << 20)
	return n, ok
}

// deliverFromDisk delivers a message read from the channel's disk queue,
// with any more the queue has ready right now (within the budget).
func (c *client) deliverFromDisk(ch *Channel, data []byte, diskC <-chan []byte, timeout time.Duration, sampleRate int32) bool {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	b := &c.batch
	b.reset()
	add := func(data []byte) {
		var ok bool
		if b.buf, ok = appendRecFromDisk(b.buf, data); !ok {
			c.nsqd.logger.Errorf("failed to decode message - %s", wire.ErrShortMessage)
			return
		}
		b.ends = append(b.ends, len(b.buf))
	}
	add(data)
	// a message received from the disk queue is consumed: it is sent
	// even if the budget shrank meanwhile (REQ/FIN only raise it)
	for max := c.budgetLocked(); b.len() < max; {
		select {
		case data = <-diskC:
			add(data)
			continue
		default:
		}
		break
	}
	return c.deliverLocked(ch, b, timeout, sampleRate)
}

// deliverLocked sends a batch of records (minus those dropped by
// sampling); deliverMu is held. It reports false when the connection
// failed (and is being closed).
func (c *client) deliverLocked(ch *Channel, b *recBatch, timeout time.Duration, sampleRate int32) bool {
	recs := c.recs[:0]
	for i := 0; i < b.len(); i++ {
		if sampleRate > 0 && rand.Int32N(100) > sampleRate {
			continue
		}
		if r, ok := parseRec(b.rec(i)); ok {
			recs = append(recs, r)
		}
	}
	c.recs = recs[:0]
	if len(recs) == 0 {
		return true
	}
	// The closing check and the frames share writeMu with CLS, so a message
	// is either written before CLOSE_WAIT (the client counts it in flight)
	// or not sent at all: a client may close as soon as it has CLOSE_WAIT
	// and nothing in flight, and a message sent after that would sit in
	// flight until it timed out.
	c.writeMu.Lock()
	if c.state.Load() == stateClosing {
		c.writeMu.Unlock()
		var back recBatch
		for i := range recs {
			back.add(recs[i].ts, recs[i].attempts, recs[i].id, recs[i].rawID, 0, recs[i].body)
		}
		ch.putBack(&back)
		return true
	}
	for i := range recs {
		recs[i].attempts++
	}
	ch.startInFlight(recs, c.id, timeout)
	c.inFlightCount.Add(int64(len(recs)))
	c.messageCount.Add(uint64(len(recs)))
	var err error
	for i := range recs {
		if err = c.writeRecLocked(&recs[i]); err != nil {
			break
		}
	}
	c.writeMu.Unlock()
	if err != nil {
		c.nsqd.logger.Errorf("PROTOCOL(V2): [%s] send message - %s", c.remoteAddr, err)
		c.close()
		return false
	}
	return true
}

// writeRecLocked appends a message frame for r without flushing; writeMu
// is held.
func (c *client) writeRecLocked(r *rec) error {
	const hdrLen = 8 + wire.MsgHeaderLength
	size := hdrLen + len(r.body)
	c.pending.Store(true)
	if c.writer.Available() >= size {
		buf := c.writer.AvailableBuffer()[:size]
		putFrameHeader(buf, r)
		copy(buf[hdrLen:], r.body)
		_, err := c.writer.Write(buf)
		return err
	}
	var hdr [hdrLen]byte
	putFrameHeader(hdr[:], r)
	if _, err := c.writer.Write(hdr[:]); err != nil {
		return err
	}
	_, err := c.writer.Write(r.body)
	if err == nil && c.writer.Size() <= 1 {
		// output_buffer_size -1: every message goes straight to the socket
		// (a 1-byte body would otherwise wait in the 1-byte buffer)
		err = c.flushLocked()
	}
	return err
}

// putFrameHeader writes the frame size and type and the message header of
// r into b[:34].
func putFrameHeader(b []byte, r *rec) {
	_ = b[8+wire.MsgHeaderLength-1]
	binary.BigEndian.PutUint32(b, uint32(4+wire.MsgHeaderLength+len(r.body)))
	binary.BigEndian.PutUint32(b[4:], uint32(wire.FrameTypeMessage))
	binary.BigEndian.PutUint64(b[8:], uint64(r.ts))
	binary.BigEndian.PutUint16(b[16:], r.attempts)
	r.putID(b[18:34])
}
