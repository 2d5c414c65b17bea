package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/nsqkit/nsqkit/core/wire"
)

// consumer is one subscribed connection and what it measured.
type consumer struct {
	id   int
	link link

	hist     *hdrhistogram.Histogram // publish → delivery (pubsub)
	msgs     int64                   // measured messages
	bytes    int64
	lastMsg  time.Time
	live     atomic.Int64 // every message received (progress)
	nonFatal int64        // non-fatal error frames (E_FIN_FAILED …)
}

// subPlan is what every consumer of a run shares.
type subPlan struct {
	rdy      int
	latency  bool          // bodies carry their send time
	mstart   time.Time     // measurement start
	count    int64         // stop once this many were measured (0: none)
	target   *atomic.Int64 // pubsub: stop once all received this many (0: not yet known)
	all      *atomic.Int64 // messages received over all consumers, warmup included
	received *atomic.Int64 // measured messages over all consumers
	stopped  *atomic.Bool
	stop     func() // ends every consumer (count or target reached)
}

var finPrefix = []byte("FIN ")

// run consumes until its link fails or is stopped.
func (c *consumer) run(pl *subPlan) error {
	if err := c.link.send(linesPacket(wire.Ready(pl.rdy).Append(nil))); err != nil {
		return fmt.Errorf("%s: RDY: %w", c.link.addr(), err)
	}
	flushAt := max(pl.rdy/2, 1)
	fins := make([]byte, 0, flushAt*(len(finPrefix)+wire.MsgIDLength+1))
	pending := 0
	var bodyBytes int64
	mstart := pl.mstart.UnixNano()
	// The receive time is read once per read from the socket: the frames
	// of one read arrived together (and time.Now per message costs).
	var now int64
	for {
		fresh := c.link.idle()
		ft, data, err := c.link.next()
		if err != nil {
			if pl.stopped.Load() || errors.Is(err, errDeadline) {
				return nil
			}
			return fmt.Errorf("%s: %w", c.link.addr(), err)
		}
		switch ft {
		case wire.FrameTypeMessage:
			if len(data) < wire.MsgHeaderLength {
				return fmt.Errorf("%s: %w", c.link.addr(), wire.ErrShortMessage)
			}
			body := data[wire.MsgHeaderLength:]
			bodyBytes += int64(len(body))
			if pl.latency && len(body) >= 8 {
				ts := int64(binary.BigEndian.Uint64(body))
				if fresh || now < ts { // now < ts: the frame came with a later read
					now = time.Now().UnixNano()
				}
				if ts >= mstart {
					record(c.hist, time.Duration(now-ts))
				}
			}
			fins = append(fins, finPrefix...)
			fins = append(fins, data[10:wire.MsgHeaderLength]...)
			fins = append(fins, '\n')
			pending++
		case wire.FrameTypeError:
			if !isNonFatal(data) {
				return fmt.Errorf("%s: %s", c.link.addr(), data)
			}
			c.nonFatal++
		}
		if pending > 0 && (pending >= flushAt || c.link.idle()) {
			if err := c.link.send(linesPacket(fins)); err != nil {
				if pl.stopped.Load() {
					return nil
				}
				return fmt.Errorf("%s: FIN: %w", c.link.addr(), err)
			}
			if c.account(pl, int64(pending), bodyBytes) {
				return nil
			}
			fins, pending, bodyBytes = fins[:0], 0, 0
		}
	}
}

// account adds a flushed batch of messages to the counts; it reports
// whether the consumer should stop.
func (c *consumer) account(pl *subPlan, n, bodyBytes int64) bool {
	now := time.Now()
	c.live.Add(n)
	all := pl.all.Add(n)
	done := false
	if t := pl.target.Load(); t > 0 && all >= t {
		done = true // pubsub: everything published has arrived
	}
	if now.Before(pl.mstart) {
		if done {
			pl.stop()
		}
		return done || pl.stopped.Load()
	}
	total := pl.received.Add(n)
	if pl.count > 0 && total > pl.count {
		// only what completes the count is counted
		over := min(total-pl.count, n)
		bodyBytes -= bodyBytes * over / n
		n -= over
	}
	if n > 0 {
		c.msgs += n
		c.bytes += bodyBytes
		c.lastMsg = now
	}
	if done || (pl.count > 0 && total >= pl.count) {
		pl.stop()
		return true
	}
	return pl.stopped.Load()
}

// isNonFatal reports error frames after which nsqd keeps the connection.
func isNonFatal(data []byte) bool {
	for _, code := range []string{"E_FIN_FAILED", "E_REQ_FAILED", "E_TOUCH_FAILED"} {
		if len(data) >= len(code) && string(data[:len(code)]) == code {
			return true
		}
	}
	return false
}

// subscribe sends SUB and waits for its OK.
func subscribe(l link, topic, channel string) error {
	if err := l.send(linesPacket(wire.Subscribe(topic, channel).Append(nil))); err != nil {
		return err
	}
	return expectOK(l, "SUB "+strconv.Quote(topic)+" "+strconv.Quote(channel))
}
