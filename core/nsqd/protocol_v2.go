package nsqd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

func fatalf(code, format string, args ...any) *wire.Error {
	return wire.Fatal(code, fmt.Sprintf(format, args...))
}

// ioLoop reads and runs the client's commands until the connection ends.
func (c *client) ioLoop() {
	n := c.nsqd
	go c.messagePump()
	var err error
	skipped := 0
	for {
		// The read deadline (2 heartbeats) is renewed before each command
		// that needs bytes from the connection; a line already buffered
		// after a body-less command arrives now and needs none (renewed
		// anyway every 64 commands).
		if !c.lightCmd || skipped >= 64 || !c.reader.LineBuffered() {
			skipped = 0
			if hb := c.heartbeat(); hb > 0 {
				c.netConn.SetReadDeadline(time.Now().Add(2 * hb))
			} else {
				c.netConn.SetReadDeadline(time.Time{})
			}
		} else {
			skipped++
		}
		var params [][]byte
		params, err = c.reader.ReadLine()
		if err != nil {
			if errors.Is(err, wire.ErrLineTooLong) {
				n.logger.Errorf("PROTOCOL(V2): [%s] command line too long", c.remoteAddr)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				n.logger.Debugf("PROTOCOL(V2): [%s] read - %s", c.remoteAddr, err)
			}
			break
		}
		if n.logger.Enabled(1) {
			n.logger.Debugf("PROTOCOL(V2): [%s] %q", c.remoteAddr, params)
		}
		var resp []byte
		resp, err = c.exec(params)
		c.lightCmd = isLightCmd(params[0])
		if c.readyDirty {
			// FIN/REQ made room: act once per burst of buffered commands
			// (or every 64), not once per message, so one batch goes out
			// instead of a frame and a flush per FIN. When the reader is
			// about to wait for the connection anyway, it sends the batch
			// itself (no hop to the pump).
			c.sinceReady++
			if buffered := c.reader.Buffered(); buffered == 0 || c.sinceReady >= 64 || err != nil {
				c.readyDirty, c.sinceReady = false, 0
				if buffered == 0 && err == nil && c.canDeliverInline() {
					if !c.deliverInline() {
						break
					}
				} else {
					c.tryUpdateReadyState()
				}
			}
		}
		if err != nil {
			var perr *wire.Error
			if !errors.As(err, &perr) {
				perr = wire.Fatal(wire.ErrCodeInvalid, err.Error())
			}
			n.logger.Errorf("[%s] - %s", c.remoteAddr, perr)
			if serr := c.sendFrame(wire.FrameTypeError, []byte(perr.Error())); serr != nil {
				break
			}
			if perr.Fatal {
				break
			}
			continue
		}
		if resp != nil {
			if err = c.sendFrame(wire.FrameTypeResponse, resp); err != nil {
				break
			}
		}
	}
	n.logger.Infof("PROTOCOL(V2): [%s] exiting ioloop", c.remoteAddr)
	close(c.exitChan)
	<-c.pumpDone
	c.close()
	if c.channel != nil {
		c.channel.removeClient(c.id)
	}
}

var (
	cmdIdentify = []byte("IDENTIFY")
)

// canDeliverInline reports whether the reader may deliver messages itself
// (see ioLoop): subscribed to a channel with a memory queue, no sampling,
// default flushing. The settings read here are written by the reader
// (IDENTIFY), so it reads them without metaMu.
func (c *client) canDeliverInline() bool {
	ch := c.channel
	return ch != nil && ch.mem != nil && !ch.mem.handoff && c.state.Load() == stateSubscribed &&
		c.sampleRate == 0 && c.outputBufferTimeout > 0 && c.outputBufferSize > 1
}

// deliverInline sends what the client may have from the channel's memory;
// if it is still ready afterwards the pump takes over (more messages, the
// disk queue, the flush), else the batch is flushed now. It reports false
// when the connection failed.
func (c *client) deliverInline() bool {
	ch := c.channel
	if _, ok := c.deliverMem(ch, c.msgTimeout, 0); !ok {
		return false
	}
	if c.isReadyForMessages() {
		c.tryUpdateReadyState()
		return true
	}
	if err := c.flush(); err != nil {
		c.nsqd.logger.Errorf("PROTOCOL(V2): [%s] flush - %s", c.remoteAddr, err)
		c.close()
		return false
	}
	return true
}

// isLightCmd: commands without a body that never wait.
func isLightCmd(name []byte) bool {
	switch string(name) {
	case "FIN", "RDY", "REQ", "TOUCH", "NOP":
		return true
	}
	return false
}

// exec runs one command; the returned bytes are a response frame to send.
func (c *client) exec(params [][]byte) ([]byte, error) {
	name := params[0]
	if bytes.Equal(name, cmdIdentify) {
		return c.identify(params)
	}
	if c.nsqd.opts.TLSRequired != TLSNotRequired && c.tlsState == nil {
		return nil, fatalf(wire.ErrCodeInvalid, "cannot %s in current state (TLS required)", name)
	}
	switch string(name) {
	case "FIN":
		return c.fin(params)
	case "RDY":
		return c.rdy(params)
	case "REQ":
		return c.req(params)
	case "PUB":
		return c.pub(params)
	case "MPUB":
		return c.mpub(params)
	case "DPUB":
		return c.dpub(params)
	case "NOP":
		return nil, nil
	case "TOUCH":
		return c.touchCmd(params)
	case "SUB":
		return c.sub(params)
	case "CLS":
		return c.cls()
	case "AUTH":
		return c.authCmd(params)
	}
	return nil, fatalf(wire.ErrCodeInvalid, "invalid command %s", name)
}

func (c *client) identify(params [][]byte) ([]byte, error) {
	n := c.nsqd
	opts := n.opts
	if c.state.Load() != stateInit {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "cannot IDENTIFY in current state")
	}
	size, err := c.reader.ReadSize()
	if err != nil {
		return nil, wire.Fatal(wire.ErrCodeBadBody, "IDENTIFY failed to read body size")
	}
	if int64(size) > opts.MaxBodySize {
		return nil, fatalf(wire.ErrCodeBadBody, "IDENTIFY body too big %d > %d", size, opts.MaxBodySize)
	}
	if size <= 0 {
		return nil, fatalf(wire.ErrCodeBadBody, "IDENTIFY invalid body size %d", size)
	}
	body, err := c.reader.ReadBody(size)
	if err != nil {
		return nil, wire.Fatal(wire.ErrCodeBadBody, "IDENTIFY failed to read body")
	}
	req, err := wire.ParseIdentify(body)
	if err != nil {
		return nil, wire.Fatal(wire.ErrCodeBadBody, "IDENTIFY failed to decode JSON body")
	}
	n.logger.Debugf("PROTOCOL(V2): [%s] %+v", c.remoteAddr, req)

	c.metaMu.Lock()
	c.clientID, c.hostname, c.userAgent = req.ClientID, req.Hostname, req.UserAgent
	err = c.applyIdentifyLocked(&req)
	bufSize := c.outputBufferSize
	c.metaMu.Unlock()
	if err != nil {
		return nil, err
	}
	if bufSize != c.writer.Size() {
		c.writeMu.Lock()
		c.writer.Flush()
		c.writer = bufio.NewWriterSize(&deadlineWriter{c: c, w: c.netConn}, bufSize)
		c.writeMu.Unlock()
	}
	select {
	case c.identifyEventChan <- struct{}{}:
	default:
	}
	if !req.FeatureNegotiation {
		return wire.OK, nil
	}

	tlsv1 := n.tlsConfig != nil && req.TLSv1
	deflate := opts.DeflateEnabled && req.Deflate
	deflateLevel := 6
	if deflate && req.DeflateLevel > 0 {
		deflateLevel = req.DeflateLevel
	}
	if deflateLevel > opts.MaxDeflateLevel {
		deflateLevel = opts.MaxDeflateLevel
	}
	snappyOn := opts.SnappyEnabled && req.Snappy
	if deflate && snappyOn {
		return nil, wire.Fatal(wire.ErrCodeIdentifyFailed, "cannot enable both deflate and snappy compression")
	}
	c.metaMu.RLock()
	resp := wire.IdentifyResponse{
		MaxRdyCount:         opts.MaxRdyCount,
		Version:             version.Reported,
		MaxMsgTimeout:       int64(opts.MaxMsgTimeout / time.Millisecond),
		MsgTimeout:          int64(c.msgTimeout / time.Millisecond),
		TLSv1:               tlsv1,
		Deflate:             deflate,
		DeflateLevel:        deflateLevel,
		MaxDeflateLevel:     opts.MaxDeflateLevel,
		Snappy:              snappyOn,
		SampleRate:          c.sampleRate,
		AuthRequired:        n.authEnabled(),
		OutputBufferSize:    c.outputBufferSize,
		OutputBufferTimeout: int64(c.outputBufferTimeout / time.Millisecond),
	}
	c.metaMu.RUnlock()
	js, err := json.Marshal(&resp)
	if err != nil {
		return nil, fatalf(wire.ErrCodeIdentifyFailed, "IDENTIFY failed %s", err)
	}
	// Hold the writer for the whole upgrade so no heartbeat slips between.
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.writeFrameLocked(wire.FrameTypeResponse, js); err != nil {
		return nil, err
	}
	if err := c.flushLocked(); err != nil {
		return nil, err
	}
	if tlsv1 {
		if err := c.upgradeTLS(); err != nil {
			return nil, fatalf(wire.ErrCodeIdentifyFailed, "IDENTIFY failed %s", err)
		}
		if err := c.okLocked(); err != nil {
			return nil, err
		}
	}
	if snappyOn {
		// one goroutine-free encoder; our bufio in front batches the writes
		c.snappyW = s2.NewWriter(c.netConn, s2.WriterSnappyCompat(), s2.WriterConcurrency(1))
		c.reader.Reset(snappy.NewReader(c.netConn))
		c.writer.Reset(&deadlineWriter{c: c, w: c.snappyW})
		c.metaMu.Lock()
		c.snappy = true
		c.metaMu.Unlock()
		if err := c.okLocked(); err != nil {
			return nil, err
		}
	}
	if deflate {
		fw, _ := flate.NewWriter(c.netConn, deflateLevel)
		c.flateWriter = fw
		c.reader.Reset(flate.NewReader(c.netConn))
		c.writer.Reset(&deadlineWriter{c: c, w: fw})
		c.metaMu.Lock()
		c.deflate = true
		c.metaMu.Unlock()
		if err := c.okLocked(); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (c *client) okLocked() error {
	if err := c.writeFrameLocked(wire.FrameTypeResponse, wire.OK); err != nil {
		return err
	}
	return c.flushLocked()
}

func (c *client) upgradeTLS() error {
	tc := tls.Server(c.conn, c.nsqd.tlsConfig)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.metaMu.Lock()
	c.tlsState = &st
	c.netConn = tc
	c.metaMu.Unlock()
	c.reader.Reset(tc)
	c.writer.Reset(&deadlineWriter{c: c, w: tc})
	return nil
}

// applyIdentifyLocked validates and applies the negotiable settings in the
// original's order; metaMu is held.
func (c *client) applyIdentifyLocked(r *wire.IdentifyRequest) error {
	opts := c.nsqd.opts
	switch hb := r.HeartbeatInterval; {
	case hb == -1:
		c.heartbeatNS.Store(0)
	case hb == 0:
		c.heartbeatNS.Store(int64(opts.ClientTimeout / 2))
	case hb >= 1000 && hb <= int(opts.MaxHeartbeatInterval/time.Millisecond):
		c.heartbeatNS.Store(int64(time.Duration(hb) * time.Millisecond))
	default:
		return fatalf(wire.ErrCodeBadBody, "IDENTIFY heartbeat interval (%d) is invalid", hb)
	}
	switch t := r.OutputBufferTimeout; {
	case t == -1:
		c.outputBufferTimeout = 0
	case t == 0:
		c.outputBufferTimeout = opts.OutputBufferTimeout
	case t >= int(opts.MinOutputBufferTimeout/time.Millisecond) && t <= int(opts.MaxOutputBufferTimeout/time.Millisecond):
		c.outputBufferTimeout = time.Duration(t) * time.Millisecond
	default:
		return fatalf(wire.ErrCodeBadBody, "IDENTIFY output buffer timeout (%d) is invalid", t)
	}
	switch s := r.OutputBufferSize; {
	case s == -1:
		c.outputBufferSize = 1
		c.outputBufferTimeout = 0
	case s == 0:
	case s >= 64 && int64(s) <= opts.MaxOutputBufferSize:
		c.outputBufferSize = s
	default:
		return fatalf(wire.ErrCodeBadBody, "IDENTIFY output buffer size (%d) is invalid", s)
	}
	if r.SampleRate < 0 || r.SampleRate > 99 {
		return fatalf(wire.ErrCodeBadBody, "IDENTIFY sample rate (%d) is invalid", r.SampleRate)
	}
	c.sampleRate = r.SampleRate
	switch t := r.MsgTimeout; {
	case t == 0:
		c.msgTimeout = opts.MsgTimeout
	case t >= 1000 && t <= int(opts.MaxMsgTimeout/time.Millisecond):
		c.msgTimeout = time.Duration(t) * time.Millisecond
	default:
		return fatalf(wire.ErrCodeBadBody, "IDENTIFY msg timeout (%d) is invalid", t)
	}
	return nil
}

func (c *client) sub(params [][]byte) ([]byte, error) {
	if c.state.Load() != stateInit {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "cannot SUB in current state")
	}
	if c.heartbeat() <= 0 {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "cannot SUB with heartbeats disabled")
	}
	if len(params) < 3 {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "SUB insufficient number of parameters")
	}
	topicName, channelName := string(params[1]), string(params[2])
	if !wire.IsValidTopicName(topicName) {
		return nil, fatalf(wire.ErrCodeBadTopic, "SUB topic name %q is not valid", topicName)
	}
	if !wire.IsValidChannelName(channelName) {
		return nil, fatalf(wire.ErrCodeBadChannel, "SUB channel name %q is not valid", channelName)
	}
	if err := c.checkAuth("SUB", topicName, channelName); err != nil {
		return nil, err
	}
	var ch *Channel
	for i := 1; ; i++ {
		t := c.nsqd.GetTopic(topicName)
		ch = t.GetChannel(channelName)
		if err := ch.addClient(c); err != nil {
			return nil, fatalf(wire.ErrCodeSubFailed, "SUB failed %s", err)
		}
		if (ch.ephemeral && ch.Exiting()) || (t.ephemeral && t.Exiting()) {
			ch.removeClient(c.id)
			if i < 2 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return nil, wire.Fatal(wire.ErrCodeSubFailed, "SUB failed to deleted topic/channel")
		}
		break
	}
	c.state.Store(stateSubscribed)
	c.channel = ch
	c.subEventChan <- ch
	return wire.OK, nil
}

func (c *client) rdy(params [][]byte) ([]byte, error) {
	st := c.state.Load()
	if st == stateClosing {
		return nil, nil
	}
	if st != stateSubscribed {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "cannot RDY in current state")
	}
	count := int64(1)
	if len(params) > 1 {
		v, ok := wire.ParseDecimal(params[1])
		if !ok {
			return nil, fatalf(wire.ErrCodeInvalid, "RDY could not parse count %s", params[1])
		}
		count = int64(v) // a 20-digit count wraps, as in 1.3.0
	}
	if max := c.nsqd.opts.MaxRdyCount; count < 0 || count > max {
		return nil, fatalf(wire.ErrCodeInvalid, "RDY count %d out of range 0-%d", count, max)
	}
	c.setReady(count)
	return nil, nil
}

func (c *client) msgIDParam(cmd string, params [][]byte, need int) ([]byte, error) {
	st := c.state.Load()
	if st != stateSubscribed && st != stateClosing {
		return nil, fatalf(wire.ErrCodeInvalid, "cannot %s in current state", cmd)
	}
	if len(params) < need {
		return nil, fatalf(wire.ErrCodeInvalid, "%s insufficient number of params", cmd)
	}
	if len(params[1]) != wire.MsgIDLength {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "invalid message ID")
	}
	return params[1], nil
}

func (c *client) fin(params [][]byte) ([]byte, error) {
	id, err := c.msgIDParam("FIN", params, 2)
	if err != nil {
		return nil, err
	}
	if err := c.channel.finish(c.id, id); err != nil {
		return nil, wire.NonFatal(wire.ErrCodeFinFailed, "FIN "+string(id)+" failed "+err.Error())
	}
	c.finishCount.Add(1)
	c.inFlightCount.Add(-1)
	c.readyDirty = true
	return nil, nil
}

func (c *client) req(params [][]byte) ([]byte, error) {
	id, err := c.msgIDParam("REQ", params, 3)
	if err != nil {
		return nil, err
	}
	ms, ok := wire.ParseDecimal(params[2])
	if !ok {
		return nil, fatalf(wire.ErrCodeInvalid, "REQ could not parse timeout %s", params[2])
	}
	// 1.3.0's arithmetic, overflow included: the product wraps, and what
	// ends up negative is clamped to 0, what is too large to the maximum.
	delay := time.Duration(ms) * time.Millisecond
	if max := c.nsqd.opts.MaxReqTimeout; delay < 0 {
		delay = 0
	} else if delay > max {
		delay = max
	}
	if err := c.channel.requeue(c.id, id, delay); err != nil {
		return nil, wire.NonFatal(wire.ErrCodeReqFailed, "REQ "+string(id)+" failed "+err.Error())
	}
	c.requeueCount.Add(1)
	c.inFlightCount.Add(-1)
	c.readyDirty = true
	return nil, nil
}

func (c *client) touchCmd(params [][]byte) ([]byte, error) {
	id, err := c.msgIDParam("TOUCH", params, 2)
	if err != nil {
		return nil, err
	}
	c.metaMu.RLock()
	timeout := c.msgTimeout
	c.metaMu.RUnlock()
	if err := c.channel.touch(c.id, id, timeout); err != nil {
		return nil, wire.NonFatal(wire.ErrCodeTouchFailed, "TOUCH "+string(id)+" failed "+err.Error())
	}
	return nil, nil
}

func (c *client) cls() ([]byte, error) {
	if c.state.Load() != stateSubscribed {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "cannot CLS in current state")
	}
	c.writeMu.Lock() // see deliver: no message frame after CLOSE_WAIT
	c.state.Store(stateClosing)
	c.writeMu.Unlock()
	c.setReady(0)
	return wire.CloseWait, nil
}

// topicFor returns the topic to publish to, reusing the last one.
func (c *client) topicFor(name []byte) *Topic {
	if t := c.lastTopic; t != nil && string(name) == t.name && !t.Exiting() {
		return t
	}
	t := c.nsqd.GetTopic(string(name))
	c.lastTopic = t
	return t
}

// readMessageBody reads [u32 size][body] with cmd's error texts.
func (c *client) readMessageBody(cmd string) ([]byte, error) {
	max := c.nsqd.opts.MaxMsgSize
	size, err := c.reader.ReadSize()
	if err != nil {
		return nil, fatalf(wire.ErrCodeBadMessage, "%s failed to read message body size", cmd)
	}
	if size <= 0 {
		return nil, fatalf(wire.ErrCodeBadMessage, "%s invalid message body size %d", cmd, size)
	}
	if int64(size) > max {
		return nil, fatalf(wire.ErrCodeBadMessage, "%s message too big %d > %d", cmd, size, max)
	}
	body, err := c.reader.ReadBody(size)
	if err != nil {
		return nil, fatalf(wire.ErrCodeBadMessage, "%s failed to read message body", cmd)
	}
	return body, nil
}

func (c *client) pub(params [][]byte) ([]byte, error) {
	if len(params) < 2 {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "PUB insufficient number of parameters")
	}
	if !validTopicBytes(c, params[1]) {
		return nil, fatalf(wire.ErrCodeBadTopic, "PUB topic name %q is not valid", params[1])
	}
	body, err := c.readMessageBody("PUB")
	if err != nil {
		return nil, err
	}
	if err := c.checkAuth("PUB", string(params[1]), ""); err != nil {
		return nil, err
	}
	t := c.topicFor(params[1])
	c.one[0] = body
	if err := t.publish(c.one[:], 0, &c.pubScr); err != nil {
		return nil, fatalf(wire.ErrCodePubFailed, "PUB failed %s", err)
	}
	c.publishedMessage(t.name, 1)
	return wire.OK, nil
}

func (c *client) dpub(params [][]byte) ([]byte, error) {
	if len(params) < 3 {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "DPUB insufficient number of parameters")
	}
	if !validTopicBytes(c, params[1]) {
		return nil, fatalf(wire.ErrCodeBadTopic, "DPUB topic name %q is not valid", params[1])
	}
	ms, ok := wire.ParseDecimal(params[2])
	if !ok {
		return nil, fatalf(wire.ErrCodeInvalid, "DPUB could not parse timeout %s", params[2])
	}
	// 1.3.0's arithmetic, overflow included (the product wraps)
	deferral := time.Duration(ms) * time.Millisecond
	if max := c.nsqd.opts.MaxReqTimeout; deferral < 0 || deferral > max {
		return nil, fatalf(wire.ErrCodeInvalid, "DPUB timeout %d out of range 0-%d", ms, int64(max/time.Millisecond))
	}
	body, err := c.readMessageBody("DPUB")
	if err != nil {
		return nil, err
	}
	if err := c.checkAuth("DPUB", string(params[1]), ""); err != nil {
		return nil, err
	}
	t := c.topicFor(params[1])
	c.one[0] = body
	if err := t.publish(c.one[:], time.Duration(ms)*time.Millisecond, &c.pubScr); err != nil {
		return nil, fatalf(wire.ErrCodeDPubFailed, "DPUB failed %s", err)
	}
	c.publishedMessage(t.name, 1)
	return wire.OK, nil
}

func (c *client) mpub(params [][]byte) ([]byte, error) {
	opts := c.nsqd.opts
	if len(params) < 2 {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "MPUB insufficient number of parameters")
	}
	if !validTopicBytes(c, params[1]) {
		return nil, fatalf(wire.ErrCodeBadTopic, "E_BAD_TOPIC MPUB topic name %q is not valid", params[1])
	}
	if err := c.checkAuth("MPUB", string(params[1]), ""); err != nil {
		return nil, err
	}
	t := c.topicFor(params[1])
	size, err := c.reader.ReadSize()
	if err != nil {
		return nil, wire.Fatal(wire.ErrCodeBadBody, "MPUB failed to read body size")
	}
	if size <= 0 {
		return nil, fatalf(wire.ErrCodeBadBody, "MPUB invalid body size %d", size)
	}
	if int64(size) > opts.MaxBodySize {
		return nil, fatalf(wire.ErrCodeBadBody, "MPUB body too big %d > %d", size, opts.MaxBodySize)
	}
	// Like 1.3.0, the messages are read straight from the connection: the
	// declared size is only checked above, never against the batch.
	// Each body is read straight into the batch of records to queue.
	s := &c.pubScr
	s.topic = t
	if err := c.reader.ReadMPUBInto(opts.MaxMsgSize, opts.MaxBodySize, s); err != nil {
		s.topic = nil
		s.batch.reset()
		s.batch.shrink(4 << 20)
		return nil, err
	}
	n, err := s.publishRead()
	if err != nil {
		return nil, fatalf(wire.ErrCodeMPubFailed, "MPUB failed %s", err)
	}
	c.publishedMessage(t.name, uint64(n))
	return wire.OK, nil
}

// validTopicBytes validates a topic name, skipping the check for the topic
// published to last.
func validTopicBytes(c *client, name []byte) bool {
	if t := c.lastTopic; t != nil && string(name) == t.name {
		return true
	}
	return wire.IsValidTopicName(string(name))
}

var _ = strconv.Itoa
