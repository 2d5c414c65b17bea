package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/wire"
)

// maxFrame bounds a frame read from nsqd (a message is at most nsqd's
// --max-msg-size plus its header; 64 MiB is far above any setting).
const maxFrame = 64 << 20

// packet is one or more encoded commands: raw is what a raw connection
// writes; cmd is the same for a core/client Conn, whose Write encodes a
// *wire.Command (cmd.Body may alias raw, so patching raw patches both).
type packet struct {
	raw []byte
	cmd *wire.Command
}

// linesPacket wraps complete command lines without bodies ("FIN id\n…"):
// a Command whose Name is the lines minus the last newline encodes back to
// exactly the same bytes.
func linesPacket(b []byte) packet {
	return packet{raw: b, cmd: &wire.Command{Name: b[:len(b)-1]}}
}

// link is one connection as a worker sees it.
type link interface {
	// send writes one packet.
	send(p packet) error
	// next returns the next frame other than a heartbeat (answered with
	// NOP by the link); data is valid until the next call.
	next() (frameType int32, data []byte, err error)
	// idle reports that next would block: nothing is buffered.
	idle() bool
	// setDeadline makes a blocked or later next fail once t has passed.
	setDeadline(t time.Time)
	// close ends the connection; a blocked next returns an error.
	close()
	addr() string
}

// errDeadline is what next returns once the link's deadline has passed.
var errDeadline = errors.New("deadline reached")

// dialer makes links with the run's settings.
type dialer struct {
	userAgent string
	// cfg is set when connections go through core/client (TLS, snappy,
	// deflate, auth or client options).
	cfg *client.Config
	// Output buffering asked of nsqd for consumers (0: nsqd's default).
	outputBufferSize    int
	outputBufferTimeout time.Duration
}

func (d *dialer) dial(ctx context.Context, addr string, consumer bool) (link, error) {
	if d.cfg != nil {
		return d.dialClient(ctx, addr, consumer)
	}
	return d.dialRaw(ctx, addr, consumer)
}

// rawLink is a plain TCP connection: commands written as given, frames
// read from a reusable buffer.
type rawLink struct {
	conn   net.Conn
	r      *bufio.Reader
	big    []byte // frames larger than r's buffer
	nop    []byte
	remote string
}

func (d *dialer) dialRaw(ctx context.Context, addr string, consumer bool) (*rawLink, error) {
	var nd net.Dialer
	nd.Timeout = 5 * time.Second
	conn, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	bufSize := 64 << 10
	if consumer {
		bufSize = 256 << 10
	}
	l := &rawLink{conn: conn, r: bufio.NewReaderSize(conn, bufSize), nop: wire.Nop().Append(nil), remote: addr}
	host, _ := os.Hostname()
	ident := map[string]any{
		"client_id":  "nsq_bench",
		"hostname":   host,
		"user_agent": d.userAgent,
	}
	if consumer {
		if d.outputBufferSize != 0 {
			ident["output_buffer_size"] = d.outputBufferSize
		}
		if d.outputBufferTimeout != 0 {
			ident["output_buffer_timeout"] = msOrDisabled(d.outputBufferTimeout)
		}
	}
	js, err := json.Marshal(ident)
	if err != nil {
		conn.Close()
		return nil, err
	}
	hello := append([]byte(nil), wire.MagicV2...)
	hello = wire.Identify(js).Append(hello)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("IDENTIFY: %w", err)
	}
	if err := expectOK(l, "IDENTIFY"); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return l, nil
}

func msOrDisabled(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Millisecond)
}

// expectOK reads the reply to a command that answers OK.
func expectOK(l link, what string) error {
	ft, data, err := l.next()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if ft == wire.FrameTypeError {
		return fmt.Errorf("%s: %s", what, data)
	}
	if ft != wire.FrameTypeResponse || string(data) != "OK" {
		return fmt.Errorf("%s: unexpected reply %q", what, data)
	}
	return nil
}

func (l *rawLink) addr() string { return l.remote }

func (l *rawLink) send(p packet) error {
	_, err := l.conn.Write(p.raw)
	return err
}

func (l *rawLink) idle() bool { return l.r.Buffered() == 0 }

func (l *rawLink) setDeadline(t time.Time) { l.conn.SetReadDeadline(t) }

func (l *rawLink) close() { l.conn.Close() }

func (l *rawLink) next() (int32, []byte, error) {
	for {
		ft, data, err := l.frame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, nil, errDeadline
			}
			return 0, nil, err
		}
		if ft == wire.FrameTypeResponse && wire.IsHeartbeat(data) {
			if _, err := l.conn.Write(l.nop); err != nil {
				return 0, nil, err
			}
			continue
		}
		return ft, data, nil
	}
}

// frame reads one frame; small frames are returned in place in the
// reader's buffer (no copy), larger ones in a reused slice.
func (l *rawLink) frame() (int32, []byte, error) {
	hdr, err := l.r.Peek(8)
	if err != nil {
		if len(hdr) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	size := int(int32(binary.BigEndian.Uint32(hdr)))
	ft := int32(binary.BigEndian.Uint32(hdr[4:]))
	if size < 4 || size > maxFrame {
		return 0, nil, fmt.Errorf("invalid frame size %d", size)
	}
	total := 4 + size
	if total <= l.r.Size() {
		b, err := l.r.Peek(total)
		if err != nil {
			return 0, nil, err
		}
		l.r.Discard(total)
		return ft, b[8:total], nil
	}
	l.r.Discard(8)
	if cap(l.big) < size-4 {
		l.big = make([]byte, size-4)
	}
	l.big = l.big[:size-4]
	if _, err := io.ReadFull(l.r, l.big); err != nil {
		return 0, nil, err
	}
	return ft, l.big, nil
}

// clientLink is a core/client Conn (TLS, snappy, deflate, AUTH); its
// reader goroutine hands frames over a channel.
type clientLink struct {
	conn     *client.Conn
	frames   chan frame
	dmu      sync.Mutex
	deadline chan struct{} // closed when the deadline passes
	timer    *time.Timer
	closed   chan struct{}
	once     sync.Once
	quit     chan struct{} // closed by close: frames are no longer wanted
	quitOnce sync.Once
	err      error // set before closed is closed
	remote   string
}

type frame struct {
	ft   int32
	data []byte
}

type clientHandler struct{ l *clientLink }

func (h clientHandler) OnResponse(_ *client.Conn, data []byte) {
	h.l.push(frame{wire.FrameTypeResponse, data})
}

func (h clientHandler) OnError(_ *client.Conn, err *wire.Error) {
	h.l.push(frame{wire.FrameTypeError, []byte(strings.TrimSpace(err.Error()))})
}

func (h clientHandler) OnMessage(_ *client.Conn, data []byte) {
	h.l.push(frame{wire.FrameTypeMessage, data})
}

func (h clientHandler) OnClose(_ *client.Conn, err error) {
	if err == nil {
		err = io.EOF
	}
	h.l.once.Do(func() {
		h.l.err = err
		close(h.l.closed)
	})
}

func (l *clientLink) push(f frame) {
	select {
	case l.frames <- f:
	case <-l.closed:
	case <-l.quit: // the worker is gone: drop it
	}
}

func (d *dialer) dialClient(ctx context.Context, addr string, consumer bool) (*clientLink, error) {
	cfg := d.cfg.Clone()
	if cfg.UserAgent == "" || strings.HasPrefix(cfg.UserAgent, "nsqkit/") {
		cfg.UserAgent = d.userAgent
	}
	if consumer {
		if d.outputBufferSize != 0 {
			cfg.OutputBufferSize = d.outputBufferSize
		}
		if d.outputBufferTimeout != 0 {
			cfg.OutputBufferTimeout = d.outputBufferTimeout
		}
	}
	l := &clientLink{
		frames:   make(chan frame, 4096),
		deadline: make(chan struct{}),
		closed:   make(chan struct{}),
		quit:     make(chan struct{}),
		remote:   addr,
	}
	conn, err := client.Dial(ctx, addr, cfg, clientHandler{l})
	if err != nil {
		return nil, err
	}
	l.conn = conn
	return l, nil
}

func (l *clientLink) addr() string { return l.remote }

func (l *clientLink) send(p packet) error { return l.conn.Write(p.cmd) }

func (l *clientLink) idle() bool { return len(l.frames) == 0 }

// close closes the connection and waits (a little) for its goroutines.
func (l *clientLink) close() {
	l.quitOnce.Do(func() { close(l.quit) })
	l.conn.Close()
	l.dmu.Lock()
	if l.timer != nil {
		l.timer.Stop()
	}
	l.dmu.Unlock()
	select {
	case <-l.conn.Done():
	case <-time.After(5 * time.Second):
	}
}

func (l *clientLink) setDeadline(t time.Time) {
	l.dmu.Lock()
	defer l.dmu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	select {
	case <-l.deadline: // passed already: a new deadline starts over
		l.deadline = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	dl := l.deadline
	l.timer = time.AfterFunc(time.Until(t), func() { close(dl) })
}

func (l *clientLink) deadlineChan() <-chan struct{} {
	l.dmu.Lock()
	defer l.dmu.Unlock()
	return l.deadline
}

func (l *clientLink) next() (int32, []byte, error) {
	select {
	case f := <-l.frames:
		return f.ft, f.data, nil
	default:
	}
	select {
	case f := <-l.frames:
		return f.ft, f.data, nil
	case <-l.deadlineChan():
		return 0, nil, errDeadline
	case <-l.closed:
		select {
		case f := <-l.frames: // frames read before the close
			return f.ft, f.data, nil
		default:
		}
		return 0, nil, l.err
	}
}
