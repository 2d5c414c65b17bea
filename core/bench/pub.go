package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/nsqkit/nsqkit/core/wire"
)

// batch is a pre-encoded PUB or MPUB command, written as is for every
// send; stamps are the offsets of each body's first 8 bytes in raw.
type batch struct {
	packet
	msgs   int
	stamps []int
}

// newBatch encodes n bodies of size bytes (random, the same for every
// batch) for topic: PUB when single, else MPUB.
func newBatch(topic string, n, size int, single bool, seed int64) *batch {
	rng := rand.New(rand.NewSource(seed))
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = make([]byte, size)
		rng.Read(bodies[i])
	}
	var cmd *wire.Command
	if single {
		cmd = wire.Publish(topic, bodies[0])
	} else {
		cmd = wire.MultiPublish(topic, bodies)
	}
	raw := cmd.Append(nil)
	bodyAt := len(raw) - len(cmd.Body)
	// the Conn variant shares raw's body bytes, so patches reach both
	b := &batch{
		packet: packet{raw: raw, cmd: &wire.Command{Name: cmd.Name, Params: cmd.Params, Body: raw[bodyAt:]}},
		msgs:   n,
	}
	if single {
		b.stamps = []int{bodyAt}
	} else {
		off := bodyAt + 4 // count
		for range n {
			b.stamps = append(b.stamps, off+4)
			off += 4 + size
		}
	}
	return b
}

// stamp writes t (Unix ns, big-endian) into every body of the batch.
func (b *batch) stamp(t int64) {
	for _, off := range b.stamps {
		binary.BigEndian.PutUint64(b.raw[off:], uint64(t))
	}
}

// publisher is one publishing connection and what it measured.
type publisher struct {
	id   int
	link link

	full, rest *batch // rest: the smaller last batch of a --count run

	hist    *hdrhistogram.Histogram // round trip (from the intended time with a rate)
	lag     *hdrhistogram.Histogram // send time − intended time (rate only)
	msgs    int64                   // measured messages
	batches int64
	// sentBatches counts every acknowledged batch, warmup included;
	// live every acknowledged message (read by progress and pubsub).
	sentBatches int64
	first       time.Time // first measured send
	lastAck     time.Time // last measured acknowledgement
	live        atomic.Int64
}

// pubPlan is what every publisher of a run shares.
type pubPlan struct {
	clients int
	pacer   *Pacer        // nil: as fast as possible
	claim   *atomic.Int64 // next batch number, without a rate
	total   int64         // batches of a --count run (0: unbounded)
	mstart  time.Time     // measurement start (after warmup)
	end     time.Time     // zero: no time limit
	grace   time.Duration // a late publisher still sends this long past end
	stamp   bool          // write send times into bodies
	stopped *atomic.Bool
}

// run publishes until the plan says stop.
func (p *publisher) run(pl *pubPlan) error {
	for k := int64(0); ; k++ {
		if pl.stopped.Load() {
			return nil
		}
		var n int64
		if pl.pacer != nil {
			n = int64(p.id) + k*int64(pl.clients)
		} else {
			n = pl.claim.Add(1) - 1
		}
		if pl.total > 0 && n >= pl.total {
			return nil
		}
		var intended, sent time.Time
		if pl.pacer != nil {
			if at := pl.pacer.Schedule.At(n); !pl.end.IsZero() && !at.Before(pl.end) {
				return nil
			}
			intended, sent = pl.pacer.Wait(n)
			if !pl.end.IsZero() && sent.After(pl.end.Add(pl.grace)) {
				return nil // behind schedule past the end: the rest is not sent
			}
		} else {
			sent = time.Now()
			if !pl.end.IsZero() && !sent.Before(pl.end) {
				return nil
			}
			intended = sent
		}
		b := p.full
		if pl.total > 0 && n == pl.total-1 && p.rest != nil {
			b = p.rest
		}
		if pl.stamp {
			b.stamp(intended.UnixNano())
		}
		if err := p.link.send(b.packet); err != nil {
			if pl.stopped.Load() {
				return nil
			}
			return fmt.Errorf("%s: publish: %w", p.link.addr(), err)
		}
		if err := p.awaitOK(); err != nil {
			if pl.stopped.Load() {
				return nil // cancelled: the batch in flight is not counted
			}
			return err
		}
		ack := time.Now()
		p.sentBatches++
		p.live.Add(int64(b.msgs))
		if intended.Before(pl.mstart) {
			continue // warmup
		}
		if p.first.IsZero() {
			p.first = sent
		}
		p.msgs += int64(b.msgs)
		p.batches++
		p.lastAck = ack
		record(p.hist, ack.Sub(intended))
		if pl.pacer != nil {
			record(p.lag, sent.Sub(intended))
		}
	}
}

// awaitOK reads the reply to a publish.
func (p *publisher) awaitOK() error {
	for {
		ft, data, err := p.link.next()
		if err != nil {
			return fmt.Errorf("%s: waiting for OK: %w", p.link.addr(), err)
		}
		switch ft {
		case wire.FrameTypeResponse:
			if string(data) == "OK" {
				return nil
			}
		case wire.FrameTypeError:
			return fmt.Errorf("%s: publish failed: %s", p.link.addr(), data)
		}
	}
}
