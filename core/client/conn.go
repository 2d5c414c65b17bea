package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/wire"
)

// ConnHandler receives what a Conn reads. Its methods are called by the
// connection's reader goroutine, one at a time and in frame order, so they
// must not block for long (heartbeats are answered by the same goroutine).
// Heartbeats never reach the handler.
type ConnHandler interface {
	// OnResponse gets a response frame (e.g. "OK", "CLOSE_WAIT").
	OnResponse(c *Conn, data []byte)
	// OnError gets an error frame. Unless err.Fatal is false nsqd closes
	// the connection after it.
	OnError(c *Conn, err *wire.Error)
	// OnMessage gets the data of a message frame (26-byte header + body).
	OnMessage(c *Conn, data []byte)
	// OnClose is called once, last, after both goroutines of the
	// connection ended. err is nil after Close, the cause otherwise.
	OnClose(c *Conn, err error)
}

// writeBufferLimit is how many bytes of commands may wait for the writer
// before Write blocks.
const writeBufferLimit = 4 << 20

// writeChunk is the largest socket write given one write_timeout.
const writeChunk = 256 << 10

// Conn is one TCP connection to nsqd, past its handshake (magic, IDENTIFY
// with feature negotiation, TLS / snappy / deflate upgrades, AUTH).
//
// Commands written with Write are queued and sent by the connection's
// writer goroutine, which writes everything queued at once and flushes
// (for snappy and deflate, the stream too): many commands per syscall under
// load, no delay when idle. The reader goroutine reads frames with a
// read_timeout deadline, answers heartbeats with NOP and hands everything
// else to the ConnHandler.
type Conn struct {
	addr string
	cfg  *Config
	log  *logger.Logger

	raw     net.Conn  // the TCP socket
	netConn net.Conn  // raw, or the TLS connection over it
	r       io.Reader // the upgraded read stream (buffered once started)
	w       io.Writer // the upgraded write stream
	flush   func() error

	ident *wire.IdentifyResponse // nil when nsqd answered a plain OK
	auth  *wire.AuthResponse
	h     ConnHandler

	wmu     sync.Mutex
	wcond   *sync.Cond // signals writer (data, close) and blocked writers (space)
	wbuf    []byte
	wspare  []byte
	wclosed bool // no more writes accepted

	closeOnce  sync.Once
	cause      error         // why the connection ended (nil: Close)
	closing    chan struct{} // closed when the socket is closed
	writerDone chan struct{}
	done       chan struct{} // closed after OnClose returned
	started    atomic.Bool
}

// Dial connects to the nsqd at addr ("host:port"), performs the handshake
// of client-behaviour.md §1 and starts the connection's goroutines, which
// report to h. ctx bounds the dial and the handshake.
func Dial(ctx context.Context, addr string, cfg *Config, h ConnHandler) (*Conn, error) {
	c, err := dialConn(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	c.start(h)
	return c, nil
}

// dialConn dials and performs the handshake without starting the
// goroutines, so that a caller may exchange more commands synchronously
// (SUB) first.
func dialConn(ctx context.Context, addr string, cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = NewConfig()
	}
	d := net.Dialer{Timeout: cfg.DialTimeout, LocalAddr: cfg.LocalAddr}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{
		addr:       addr,
		cfg:        cfg,
		log:        cfg.logger(),
		raw:        raw,
		netConn:    raw,
		r:          raw,
		w:          raw,
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.wcond = sync.NewCond(&c.wmu)
	// ctx also bounds the handshake: cancelling it unblocks any read/write.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	err = c.handshake()
	if !stop() {
		err = ctx.Err() // the deadline was poisoned: the socket is unusable
	}
	if err != nil {
		raw.Close()
		return nil, err
	}
	raw.SetDeadline(time.Time{})
	return c, nil
}

// identifyBody is the IDENTIFY JSON of client-behaviour.md §1.
type identifyBody struct {
	ClientID            string `json:"client_id"`
	Hostname            string `json:"hostname"`
	UserAgent           string `json:"user_agent"`
	ShortID             string `json:"short_id"`
	LongID              string `json:"long_id"`
	TLSv1               bool   `json:"tls_v1"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level"`
	Snappy              bool   `json:"snappy"`
	FeatureNegotiation  bool   `json:"feature_negotiation"`
	HeartbeatInterval   int64  `json:"heartbeat_interval"`
	SampleRate          int    `json:"sample_rate"`
	OutputBufferSize    int    `json:"output_buffer_size"`
	OutputBufferTimeout int64  `json:"output_buffer_timeout"`
	MsgTimeout          int64  `json:"msg_timeout"`
}

func msOrDisabled(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Millisecond)
}

func (c *Conn) identifyJSON() ([]byte, error) {
	cfg := c.cfg
	return json.Marshal(identifyBody{
		ClientID:            cfg.ClientID,
		Hostname:            cfg.Hostname,
		UserAgent:           cfg.UserAgent,
		ShortID:             cfg.ClientID,
		LongID:              cfg.Hostname,
		TLSv1:               cfg.TLSV1,
		Deflate:             cfg.Deflate,
		DeflateLevel:        cfg.DeflateLevel,
		Snappy:              cfg.Snappy,
		FeatureNegotiation:  true,
		HeartbeatInterval:   msOrDisabled(cfg.HeartbeatInterval),
		SampleRate:          cfg.SampleRate,
		OutputBufferSize:    cfg.OutputBufferSize,
		OutputBufferTimeout: msOrDisabled(cfg.OutputBufferTimeout),
		MsgTimeout:          int64(cfg.MsgTimeout / time.Millisecond),
	})
}

func (c *Conn) setReadDeadline() {
	if c.cfg.ReadTimeout > 0 {
		c.raw.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout))
	}
}

func (c *Conn) setWriteDeadline() {
	if c.cfg.WriteTimeout > 0 {
		c.raw.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	}
}

// handshake runs magic, IDENTIFY, upgrades and AUTH synchronously.
func (c *Conn) handshake() error {
	js, err := c.identifyJSON()
	if err != nil {
		return err
	}
	buf := append([]byte(nil), wire.MagicV2...)
	buf = wire.Identify(js).Append(buf)
	c.setWriteDeadline()
	if _, err := c.raw.Write(buf); err != nil {
		return fmt.Errorf("failed to IDENTIFY - %w", err)
	}
	ft, data, err := c.readFrameSync(c.raw)
	if err != nil {
		return fmt.Errorf("failed to IDENTIFY - %w", err)
	}
	if ft == wire.FrameTypeError {
		return fmt.Errorf("failed to IDENTIFY - %w", parseErrorFrame(data))
	}
	if ft != wire.FrameTypeResponse {
		return fmt.Errorf("failed to IDENTIFY - unexpected frame type %d", ft)
	}
	if len(data) > 0 && data[0] == '{' {
		var resp wire.IdentifyResponse
		if err := json.Unmarshal(data, &resp); err != nil {
			return fmt.Errorf("failed to IDENTIFY - bad response: %w", err)
		}
		c.ident = &resp
		if err := c.upgrade(&resp); err != nil {
			return err
		}
	}
	br := bufio.NewReaderSize(c.r, 64<<10)
	c.r = br
	if c.ident != nil && c.ident.AuthRequired {
		if err := c.authenticate(); err != nil {
			return err
		}
	}
	return nil
}

// upgrade performs the negotiated TLS → snappy | deflate upgrades, each
// followed by an OK read through the new stream.
func (c *Conn) upgrade(resp *wire.IdentifyResponse) error {
	if resp.TLSv1 {
		host, _, err := net.SplitHostPort(c.addr)
		if err != nil {
			host = c.addr
		}
		tc, err := c.cfg.clientTLS(host)
		if err != nil {
			return err
		}
		tlsConn := tls.Client(c.raw, tc)
		c.setWriteDeadline()
		c.setReadDeadline()
		if err := tlsConn.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake with %s: %w", c.addr, err)
		}
		c.netConn, c.r, c.w = tlsConn, tlsConn, tlsConn
		if err := c.expectOK(c.r, "TLS"); err != nil {
			return err
		}
	}
	switch {
	case resp.Deflate:
		level := resp.DeflateLevel
		if level < 1 || level > 9 {
			level = c.cfg.DeflateLevel
		}
		fw, err := flate.NewWriter(c.w, level)
		if err != nil {
			return err
		}
		c.r = flate.NewReader(c.r)
		c.w = fw
		c.flush = fw.Flush
		if err := c.expectOK(c.r, "deflate"); err != nil {
			return err
		}
	case resp.Snappy:
		sw := s2.NewWriter(c.w, s2.WriterSnappyCompat(), s2.WriterConcurrency(1))
		c.r = snappy.NewReader(c.r)
		c.w = sw
		c.flush = sw.Flush
		if err := c.expectOK(c.r, "snappy"); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) expectOK(r io.Reader, what string) error {
	ft, data, err := c.readFrameSync(r)
	if err != nil {
		return fmt.Errorf("%s upgrade: %w", what, err)
	}
	if ft == wire.FrameTypeError {
		return fmt.Errorf("%s upgrade: %w", what, parseErrorFrame(data))
	}
	if ft != wire.FrameTypeResponse || !bytes.Equal(data, wire.OK) {
		return fmt.Errorf("%s upgrade: unexpected reply %q", what, data)
	}
	return nil
}

func (c *Conn) authenticate() error {
	if c.cfg.AuthSecret == "" {
		return errors.New("Auth Required")
	}
	ft, data, err := c.roundTrip(wire.Auth(c.cfg.AuthSecret))
	if err != nil {
		return fmt.Errorf("AUTH: %w", err)
	}
	if ft == wire.FrameTypeError {
		return fmt.Errorf("AUTH failed: %w", parseErrorFrame(data))
	}
	var ar wire.AuthResponse
	if err := json.Unmarshal(data, &ar); err != nil {
		return fmt.Errorf("AUTH: bad response %q: %w", data, err)
	}
	c.auth = &ar
	return nil
}

// readFrameSync reads one frame from r before the goroutines run.
func (c *Conn) readFrameSync(r io.Reader) (int32, []byte, error) {
	c.setReadDeadline()
	return wire.ReadFrame(r, c.maxFrameSize())
}

// roundTrip writes cmd and reads its reply before the goroutines run
// (AUTH, SUB), answering heartbeats in between.
func (c *Conn) roundTrip(cmd *wire.Command) (int32, []byte, error) {
	if err := c.writeSync(cmd.Append(nil)); err != nil {
		return 0, nil, err
	}
	for {
		ft, data, err := c.readFrameSync(c.r)
		if err != nil {
			return 0, nil, err
		}
		if ft == wire.FrameTypeResponse && wire.IsHeartbeat(data) {
			if err := c.writeSync(wire.Nop().Append(nil)); err != nil {
				return 0, nil, err
			}
			continue
		}
		return ft, data, nil
	}
}

func (c *Conn) writeSync(b []byte) error {
	c.setWriteDeadline()
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	if c.flush != nil {
		return c.flush()
	}
	return nil
}

func (c *Conn) maxFrameSize() int {
	if c.cfg.MaxMsgSize > 0 {
		return c.cfg.MaxMsgSize + 4 + wire.MsgHeaderLength
	}
	return 0
}

// start launches the reader and writer goroutines.
func (c *Conn) start(h ConnHandler) {
	c.h = h
	c.started.Store(true)
	go c.writeLoop()
	go c.readLoop()
}

// Addr is the nsqd address the connection was dialled with.
func (c *Conn) Addr() string { return c.addr }

// String is the address, for logs.
func (c *Conn) String() string { return c.addr }

// Identify is nsqd's IDENTIFY reply, nil if it answered a plain OK.
func (c *Conn) Identify() *wire.IdentifyResponse { return c.ident }

// AuthIdentity is nsqd's AUTH reply, nil when no AUTH took place.
func (c *Conn) AuthIdentity() *wire.AuthResponse { return c.auth }

// MaxRdyCount is the largest RDY nsqd accepts on this connection.
func (c *Conn) MaxRdyCount() int64 {
	if c.ident != nil && c.ident.MaxRdyCount > 0 {
		return c.ident.MaxRdyCount
	}
	return 2500
}

// Done is closed when the connection has ended and OnClose returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while open or after Close).
func (c *Conn) Err() error {
	select {
	case <-c.closing:
		return c.cause
	default:
		return nil
	}
}

// Write queues cmd for the writer goroutine. It blocks only while more than
// 4 MiB of commands wait to be written; it fails once the connection is
// closing.
func (c *Conn) Write(cmd *wire.Command) error {
	c.waitSpace()
	return c.enqueue(cmd)
}

// waitSpace blocks while the write buffer is over its limit.
func (c *Conn) waitSpace() {
	c.wmu.Lock()
	for len(c.wbuf) >= writeBufferLimit && !c.wclosed {
		c.wcond.Wait()
	}
	c.wmu.Unlock()
}

// enqueue appends cmd to the write buffer without blocking.
func (c *Conn) enqueue(cmd *wire.Command) error {
	c.wmu.Lock()
	if c.wclosed {
		c.wmu.Unlock()
		return &connError{addr: c.addr, cause: c.Err()}
	}
	wake := len(c.wbuf) == 0
	c.wbuf = cmd.Append(c.wbuf)
	c.wmu.Unlock()
	if wake {
		c.wcond.Broadcast()
	}
	return nil
}

// Close ends the connection cleanly: commands already queued are written,
// then the socket is closed. It does not wait (see Done).
func (c *Conn) Close() error {
	c.wmu.Lock()
	c.wclosed = true
	c.wmu.Unlock()
	c.wcond.Broadcast()
	if !c.started.Load() {
		c.terminate(nil)
	}
	return nil
}

// terminate closes the socket at once; the first cause wins.
func (c *Conn) terminate(cause error) {
	c.closeOnce.Do(func() {
		c.cause = cause
		close(c.closing)
		c.netConn.Close()
		c.wmu.Lock()
		c.wclosed = true
		c.wmu.Unlock()
		c.wcond.Broadcast()
	})
}

func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	for {
		c.wmu.Lock()
		for len(c.wbuf) == 0 && !c.wclosed {
			c.wcond.Wait()
		}
		if len(c.wbuf) == 0 { // closed and drained
			c.wmu.Unlock()
			c.terminate(nil)
			return
		}
		buf := c.wbuf
		c.wbuf, c.wspare = c.wspare[:0], nil
		c.wmu.Unlock()
		c.wcond.Broadcast() // room for blocked writers
		select {
		case <-c.closing:
			return
		default:
		}
		if err := c.writeOut(buf); err != nil {
			c.terminate(err)
			return
		}
		if cap(buf) <= writeBufferLimit {
			c.wmu.Lock()
			c.wspare = buf[:0]
			c.wmu.Unlock()
		}
	}
}

// writeOut writes buf through the stream in chunks, each with a fresh
// write deadline, and flushes the compressor.
func (c *Conn) writeOut(buf []byte) error {
	for len(buf) > 0 {
		n := min(len(buf), writeChunk)
		c.setWriteDeadline()
		if _, err := c.w.Write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	if c.flush != nil {
		c.setWriteDeadline()
		return c.flush()
	}
	return nil
}

func (c *Conn) readLoop() {
	err := c.readFrames()
	c.terminate(err)
	<-c.writerDone
	cause := c.cause
	if cause != nil {
		c.log.Debugf("%s: connection closed: %s", c.addr, cause)
	}
	c.h.OnClose(c, cause)
	close(c.done)
}

func (c *Conn) readFrames() error {
	limit := c.maxFrameSize()
	nop := wire.Nop()
	// With heartbeats disabled nsqd may legitimately stay silent (an idle
	// producer): no read deadline then, as nsqd has none either.
	deadline := c.cfg.HeartbeatInterval >= 0
	for {
		if deadline {
			c.setReadDeadline()
		}
		ft, data, err := wire.ReadFrame(c.r, limit)
		if err != nil {
			select {
			case <-c.closing:
				return nil // we closed it
			default:
			}
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return err
		}
		switch ft {
		case wire.FrameTypeResponse:
			if wire.IsHeartbeat(data) {
				c.enqueue(nop) // fails only while closing: nothing to answer then
				continue
			}
			c.h.OnResponse(c, data)
		case wire.FrameTypeError:
			e := parseErrorFrame(data)
			if e.Fatal {
				c.log.Errorf("%s: protocol error - %s", c.addr, e)
			} else {
				c.log.Warnf("%s: %s", c.addr, e)
			}
			c.h.OnError(c, e)
		case wire.FrameTypeMessage:
			if len(data) < wire.MsgHeaderLength {
				return fmt.Errorf("bad message frame: %w", wire.ErrShortMessage)
			}
			c.h.OnMessage(c, data)
		default:
			return fmt.Errorf("unknown frame type %d", ft)
		}
	}
}
