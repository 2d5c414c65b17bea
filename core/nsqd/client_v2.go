package nsqd

import (
	"bufio"
	"crypto/tls"
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
	pending     bool // bytes written since the last flush

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

func (c *client) sendingMessage() {
	c.inFlightCount.Add(1)
	c.messageCount.Add(1)
}

func (c *client) finishedMessage() {
	c.finishCount.Add(1)
	c.inFlightCount.Add(-1)
	c.tryUpdateReadyState()
}

func (c *client) requeuedMessage() {
	c.requeueCount.Add(1)
	c.inFlightCount.Add(-1)
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
	c.pending = true
	_, err := wire.WriteFrame(c.writer, frameType, data)
	return err
}

// flushLocked pushes buffered bytes (and the compressor's) to the socket.
func (c *client) flushLocked() error {
	if !c.pending {
		return nil
	}
	c.pending = false
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

// writeMessageLocked appends a message frame without flushing; writeMu
// is held.
func (c *client) writeMessageLocked(m *Message) error {
	var hdr [8 + wire.MsgHeaderLength]byte
	size := uint32(4 + m.EncodedLen())
	hdr[0], hdr[1], hdr[2], hdr[3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
	hdr[7] = byte(wire.FrameTypeMessage)
	ts := uint64(m.Timestamp)
	for i := 0; i < 8; i++ {
		hdr[8+i] = byte(ts >> (56 - 8*i))
	}
	hdr[16], hdr[17] = byte(m.Attempts>>8), byte(m.Attempts)
	copy(hdr[18:], m.ID[:])
	c.pending = true
	if _, err := c.writer.Write(hdr[:]); err != nil {
		return err
	}
	_, err := c.writer.Write(m.Body)
	if err == nil && c.writer.Size() <= 1 {
		// output_buffer_size -1: every message goes straight to the socket
		// (a 1-byte body would otherwise wait in the 1-byte buffer)
		err = c.flushLocked()
	}
	return err
}

// messagePump delivers the subscribed channel's messages while the client
// is ready, flushes on the output-buffer timer and sends heartbeats.
func (c *client) messagePump() {
	defer close(c.pumpDone)
	var (
		subChannel     *Channel
		memoryMsgChan  chan *Message
		backendMsgChan <-chan []byte
		flusherChan    <-chan time.Time
		heartbeatChan  <-chan time.Time
		flushed        = true
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
		if subChannel == nil || !c.isReadyForMessages() {
			memoryMsgChan, backendMsgChan, flusherChan = nil, nil, nil
			if !flushed {
				if err := c.flush(); err != nil {
					fail(err)
					goto exit
				}
				flushed = true
			}
		} else {
			memoryMsgChan = subChannel.memoryMsgChan
			backendMsgChan = subChannel.backend.ReadChan()
			if flushed || outputTicker == nil {
				flusherChan = nil
			} else {
				flusherChan = outputTicker.C
			}
		}

		// Drain, then flush: while messages are ready they go into the
		// buffer; the moment none is, the buffer goes out, so an idle
		// client never waits for the output-buffer timer (which stays the
		// upper bound under continuous load).
		ev, m, raw, ch := c.nextEvent(!flushed && obt > 0, flusherChan, subEventChan, identifyEventChan, heartbeatChan, backendMsgChan, memoryMsgChan)
		switch ev {
		case evIdle, evFlush:
			if err := c.flush(); err != nil {
				fail(err)
				goto exit
			}
			flushed = true
		case evReady:
		case evSubscribed:
			subChannel = ch
			subEventChan = nil
		case evIdentify:
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
		case evHeartbeat:
			if err := c.sendFrame(wire.FrameTypeResponse, wire.Heartbeat); err != nil {
				fail(err)
				goto exit
			}
			flushed = true
		case evDiskMessage:
			dm, err := decodeMessage(raw)
			if err != nil {
				c.nsqd.logger.Errorf("failed to decode message - %s", err)
				continue
			}
			if c.deliver(subChannel, dm, msgTimeout, sampleRate) {
				flushed = false
			}
		case evMessage:
			if c.deliver(subChannel, m, msgTimeout, sampleRate) {
				flushed = false
			}
		case evExit:
			goto exit
		}
	}
exit:
}

// pump events, see nextEvent
const (
	evIdle = iota
	evFlush
	evReady
	evSubscribed
	evIdentify
	evHeartbeat
	evDiskMessage
	evMessage
	evExit
)

// nextEvent waits for the pump's next event. With idleOK it does not block:
// when nothing is ready it reports evIdle (a client that disabled the
// output-buffer timer with -1 keeps nsqd's flush-when-full-or-not-ready).
func (c *client) nextEvent(idleOK bool, flusher <-chan time.Time, sub <-chan *Channel, ident <-chan struct{},
	heartbeat <-chan time.Time, disk <-chan []byte, mem <-chan *Message) (int, *Message, []byte, *Channel) {
	if idleOK {
		select {
		case m := <-mem:
			return evMessage, m, nil, nil
		case b := <-disk:
			return evDiskMessage, nil, b, nil
		case <-c.exitChan:
			return evExit, nil, nil, nil
		default:
			return evIdle, nil, nil, nil
		}
	}
	select {
	case <-flusher:
		return evFlush, nil, nil, nil
	case <-c.readyStateChan:
		return evReady, nil, nil, nil
	case ch := <-sub:
		return evSubscribed, nil, nil, ch
	case <-ident:
		return evIdentify, nil, nil, nil
	case <-heartbeat:
		return evHeartbeat, nil, nil, nil
	case b := <-disk:
		return evDiskMessage, nil, b, nil
	case m := <-mem:
		return evMessage, m, nil, nil
	case <-c.exitChan:
		return evExit, nil, nil, nil
	}
}

// deliver sends one message (or drops it by sampling). It reports whether
// a frame was written.
func (c *client) deliver(ch *Channel, m *Message, timeout time.Duration, sampleRate int32) bool {
	if sampleRate > 0 && rand.Int32N(100) > sampleRate {
		return false
	}
	// The closing check and the frame share writeMu with CLS, so a message
	// is either written before CLOSE_WAIT (the client counts it in flight)
	// or not sent at all: a client may close as soon as it has CLOSE_WAIT
	// and nothing in flight, and a message sent after that would sit in
	// flight until it timed out.
	c.writeMu.Lock()
	if c.state.Load() == stateClosing {
		c.writeMu.Unlock()
		if err := ch.put(m); err != nil {
			c.nsqd.logger.Errorf("PROTOCOL(V2): [%s] returning a message to %s after CLS - %s", c.remoteAddr, ch.name, err)
		}
		return false
	}
	m.Attempts++
	ch.startInFlight(m, c.id, timeout)
	c.sendingMessage()
	err := c.writeMessageLocked(m)
	c.writeMu.Unlock()
	if err != nil {
		c.nsqd.logger.Errorf("PROTOCOL(V2): [%s] send message - %s", c.remoteAddr, err)
		c.close()
		return false
	}
	return true
}
