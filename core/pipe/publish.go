package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/wire"
)

// PublishTarget is where a Publisher sends its batches; a *client.Producer
// is one. MultiPublishAsync must neither change bodies nor keep them after
// it returns (the producer encodes them into its command at once), and
// must deliver exactly one transaction on done for every call that
// returned nil, with the args it was given.
type PublishTarget interface {
	MultiPublishAsync(topic string, bodies [][]byte, done chan *client.ProducerTransaction, args ...any) error
}

// Publisher defaults.
const (
	// DefaultPublishBatchSize is how many records one MPUB carries at most.
	DefaultPublishBatchSize = 1000
	// DefaultPublishInFlight is how many batches may await their
	// acknowledgement at once.
	DefaultPublishInFlight = 16
	// DefaultPublishInFlightBytes bounds the bytes of those batches.
	DefaultPublishInFlightBytes = 32 << 20
	// DefaultPublishReadSize is the size of one read of the input.
	DefaultPublishReadSize = 256 << 10
)

// PublishOptions configure a Publisher. Zero values mean the defaults
// above and nsqd's default limits (client.DefaultMaxPublishMsgSize,
// client.DefaultMaxPublishBodySize).
type PublishOptions struct {
	Topic     string
	Delimiter []byte // default "\n"

	// BatchSize is the most records in one MPUB. A batch goes out when it
	// is full, when the next record would take its body over MaxBodySize,
	// or as soon as the input has nothing more ready and a slot is free.
	BatchSize int
	// MaxMsgSize is the largest record published (nsqd's --max-msg-size);
	// longer records are counted in Oversized and never sent.
	MaxMsgSize int
	// MaxBodySize is the largest MPUB body (nsqd's --max-body-size),
	// counting the 4-byte count and the 4-byte size of each record.
	MaxBodySize int
	// Rate limits records per second (0: no limit). The token bucket holds
	// up to Rate tokens and starts with one, as the original to_nsq's did.
	Rate int
	// InFlight and InFlightBytes bound the batches sent and not yet
	// acknowledged (each by every target).
	InFlight      int
	InFlightBytes int
	// ReadSize is the buffer size of one read.
	ReadSize int

	// Targets receive every batch (fan-out). For load balancing use one
	// producer that spreads its publishes over several nsqd.
	Targets []PublishTarget
	// TargetNames name the targets in errors (default "target N").
	TargetNames []string
}

// PublishStats count records. Every record read ends in exactly one of
// Published, NotAcked, Unsent, Empty or Oversized once Run has returned.
type PublishStats struct {
	Read           uint64 // records read that were publishable (not empty, not too long)
	ReadBytes      uint64 // their bytes
	Published      uint64 // records acknowledged by every target
	PublishedBytes uint64 // their bytes
	NotAcked       uint64 // records sent but not acknowledged by every target
	Unsent         uint64 // records read but not sent because publishing had failed (no more input is read then)
	Empty          uint64 // empty records, skipped
	Oversized      uint64 // records over MaxMsgSize, never sent
	InFlight       uint64 // records sent and awaiting their acknowledgement
	Batches        uint64 // batches acknowledged
	Interrupted    bool   // Run's context ended before the end of the input

	// Targets has each target's own account (fan-out: a record is
	// Published only when every target acknowledged it).
	Targets []PublishTargetStats
}

// PublishTargetStats count one target's answers.
type PublishTargetStats struct {
	Name     string
	Acked    uint64 // records it acknowledged
	NotAcked uint64 // records it failed
}

// Errors is how many records could not be published.
func (s PublishStats) Errors() uint64 { return s.NotAcked + s.Unsent + s.Oversized }

// Publisher reads records from a stream and publishes them in batches.
// Make one with NewPublisher and call Run once.
type Publisher struct {
	opts  PublishOptions
	names []string
	lim   *rate.Limiter
	// The clock of the rate limit (a fake one in tests).
	now   func() time.Time
	after func(time.Duration) <-chan time.Time

	// Live counters, read by Stats while Run goes on.
	read, readBytes, published, publishedBytes atomic.Uint64
	notAcked, unsent, empty, oversized         atomic.Uint64
	inFlight, batches                          atomic.Uint64
	targetAcked, targetNotAcked                []atomic.Uint64

	abandonOnce sync.Once
	abandonCh   chan struct{}

	// Owned by the Run goroutine.
	split       *Splitter
	arena       []byte // bodies of the open batch, back to back
	ends        []int  // end offset in arena of each body
	bodies      [][]byte
	done        chan *client.ProducerTransaction
	outBatches  int // batches awaiting their acknowledgements
	outBytes    int
	failure     error // the first publish failure: no more sending
	interrupted bool
	sawEOF      bool // the input ended (rather than a read error or an interrupt)
}

// pubBatch is one batch sent to every target.
type pubBatch struct {
	records, bytes, size int
	left                 int   // targets yet to answer
	err                  error // first failure among the targets
}

// NewPublisher checks opts and returns a Publisher.
func NewPublisher(opts PublishOptions) (*Publisher, error) {
	if !wire.IsValidTopicName(opts.Topic) {
		return nil, fmt.Errorf("invalid topic name %q", opts.Topic)
	}
	if len(opts.Targets) == 0 {
		return nil, errors.New("no publish target")
	}
	if len(opts.Delimiter) == 0 {
		opts.Delimiter = []byte{'\n'}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultPublishBatchSize
	}
	if opts.MaxMsgSize <= 0 {
		opts.MaxMsgSize = client.DefaultMaxPublishMsgSize
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = client.DefaultMaxPublishBodySize
	}
	// One record of the largest size must fit in a batch of its own.
	opts.MaxMsgSize = min(opts.MaxMsgSize, opts.MaxBodySize-8)
	if opts.MaxMsgSize < 1 {
		return nil, fmt.Errorf("max body size %d cannot hold a message", opts.MaxBodySize)
	}
	if opts.InFlight <= 0 {
		opts.InFlight = DefaultPublishInFlight
	}
	if opts.InFlightBytes <= 0 {
		opts.InFlightBytes = DefaultPublishInFlightBytes
	}
	if opts.ReadSize <= 0 {
		opts.ReadSize = DefaultPublishReadSize
	}
	p := &Publisher{
		opts:      opts,
		now:       time.Now,
		after:     time.After,
		abandonCh: make(chan struct{}),
		split:     NewSplitter(opts.Delimiter, opts.MaxMsgSize),
		ends:      make([]int, 0, opts.BatchSize),
		bodies:    make([][]byte, 0, opts.BatchSize),
		done:      make(chan *client.ProducerTransaction, opts.InFlight*len(opts.Targets)),

		targetAcked:    make([]atomic.Uint64, len(opts.Targets)),
		targetNotAcked: make([]atomic.Uint64, len(opts.Targets)),
	}
	for i := range opts.Targets {
		name := fmt.Sprintf("target %d", i+1)
		if i < len(opts.TargetNames) && opts.TargetNames[i] != "" {
			name = opts.TargetNames[i]
		}
		p.names = append(p.names, name)
	}
	if opts.Rate > 0 {
		p.lim = rate.NewLimiter(rate.Limit(opts.Rate), opts.Rate)
	}
	return p, nil
}

// Stats is a snapshot of the counters, safe to call while Run goes on.
func (p *Publisher) Stats() PublishStats {
	return PublishStats{
		Read:           p.read.Load(),
		ReadBytes:      p.readBytes.Load(),
		Published:      p.published.Load(),
		PublishedBytes: p.publishedBytes.Load(),
		NotAcked:       p.notAcked.Load(),
		Unsent:         p.unsent.Load(),
		Empty:          p.empty.Load(),
		Oversized:      p.oversized.Load(),
		InFlight:       p.inFlight.Load(),
		Batches:        p.batches.Load(),
		Targets:        p.targetStats(),
	}
}

func (p *Publisher) targetStats() []PublishTargetStats {
	ts := make([]PublishTargetStats, len(p.names))
	for i, name := range p.names {
		ts[i] = PublishTargetStats{Name: name, Acked: p.targetAcked[i].Load(), NotAcked: p.targetNotAcked[i].Load()}
	}
	return ts
}

// Abandon makes Run return without waiting for the acknowledgements still
// outstanding; their records count as not acknowledged. Safe to call from
// any goroutine, any number of times.
func (p *Publisher) Abandon() { p.abandonOnce.Do(func() { close(p.abandonCh) }) }

// Run reads r to its end, publishing every record, and returns once every
// batch sent was acknowledged or failed. When ctx ends it stops reading,
// publishes the complete records already read (those of chunks already
// read too, unless throttled by Rate; an unterminated record is dropped
// unless the input had ended) and returns with Interrupted set.
//
// A batch that fails (after the producer's own retries and
// publish_timeout) stops the run: nothing more is read or sent, the
// records already read count as Unsent, and Run returns the error once
// the outstanding batches have answered. A read error also stops it. The
// stats are complete in every case.
//
// A read blocked in r cannot be interrupted: after an interrupt Run
// returns without waiting for it, leaving a goroutine that ends when that
// read returns.
func (p *Publisher) Run(ctx context.Context, r io.Reader) (PublishStats, error) {
	if p.lim != nil {
		p.lim.AllowN(p.now(), p.opts.Rate-1) // start with one token
	}
	rd := startChunkReader(r, p.opts.ReadSize)
	defer rd.stop()
	readErr := p.loop(ctx, rd)
	if p.failure != nil {
		p.drainRead(rd)
	}
	if readErr == nil && p.sawEOF {
		// the last record, without a delimiter (unsent after a failure)
		if rec, ok := p.split.End(); ok {
			p.add(rec)
		}
	}
	p.countSplit()
	if p.failure == nil && len(p.ends) > 0 {
		p.flush()
	}
	p.dropOpen()
	p.waitAll()
	st := p.Stats()
	st.Interrupted = p.interrupted
	switch {
	case p.failure != nil:
		return st, p.failure
	case readErr != nil:
		return st, fmt.Errorf("reading input: %w", readErr)
	}
	return st, nil
}

// loop splits and publishes chunks until the input ends (nil), a read
// fails, publishing fails or ctx ends.
func (p *Publisher) loop(ctx context.Context, rd *chunkReader) error {
	for {
		p.collect()
		if p.failure != nil {
			return nil
		}
		if ctx.Err() != nil {
			p.interrupt(rd)
			return nil
		}
		var c inChunk
		select {
		case c = <-rd.full:
		default:
			// Nothing more is ready: send the open batch now if a slot
			// is free, rather than hold a slow trickle back.
			if len(p.ends) > 0 && p.canSend(p.batchSize()) {
				p.flush()
				continue
			}
			select {
			case c = <-rd.full:
			case t := <-p.done:
				p.complete(t)
				continue
			case <-ctx.Done():
				p.interrupt(rd)
				return nil
			case <-p.abandonCh:
				p.interrupted = true
				return nil
			}
		}
		p.consume(ctx, rd, c)
		if c.err != nil {
			return p.endOfInput(c.err)
		}
	}
}

// endOfInput notes how the input ended: nil at EOF, else the read error.
func (p *Publisher) endOfInput(err error) error {
	if err == io.EOF {
		p.sawEOF = true
		return nil
	}
	return err
}

// consume splits one chunk and hands its buffer back to the reader.
func (p *Publisher) consume(ctx context.Context, rd *chunkReader, c inChunk) {
	if len(c.data) > 0 {
		p.split.Feed(c.data)
		for {
			rec, ok := p.split.Next()
			if !ok {
				break
			}
			if p.lim != nil && !p.wait(ctx) {
				// Interrupted while throttled: the rest of the chunk was
				// not published.
				p.split.Reset()
				break
			}
			// After a failure add only counts the records as unsent:
			// those of this chunk are accounted for, no more is read.
			p.add(rec)
		}
		p.countSplit()
	}
	rd.recycle(c.data)
}

// drainGrace is how long, after a failure, the publisher waits for a read
// that is under way (it returns at once when the input has data; on an
// idle input it has taken nothing yet).
const drainGrace = 100 * time.Millisecond

// drainRead takes back, after a failure, every buffer of the chunk reader
// so that nothing more is read, and counts the records of the chunks that
// were read but not yet split as unsent: they were taken from the input,
// so the stats must say they were not published.
func (p *Publisher) drainRead(rd *chunkReader) {
	grace := time.NewTimer(drainGrace)
	defer grace.Stop()
	for back := 0; back < chunkBuffers; back++ {
		select {
		case c := <-rd.full:
			if len(c.data) > 0 {
				p.split.Feed(c.data)
				for {
					rec, ok := p.split.Next()
					if !ok {
						break
					}
					p.add(rec) // counted as unsent
				}
				p.countSplit()
			}
			if c.err != nil {
				p.endOfInput(c.err)
				return // the reader has ended
			}
		case <-rd.free:
		case <-grace.C:
			return
		}
	}
}

// interrupt marks the run interrupted and publishes the complete records
// of the chunks already read.
func (p *Publisher) interrupt(rd *chunkReader) {
	p.interrupted = true
	for p.failure == nil && p.lim == nil {
		select {
		case c := <-rd.full:
			p.consume(context.Background(), rd, c)
			if c.err != nil {
				p.endOfInput(c.err)
				return
			}
		default:
			return
		}
	}
}

// wait takes a token of the rate limiter, sending the open batch first if
// it has to sleep; false if ctx ended meanwhile.
func (p *Publisher) wait(ctx context.Context) bool {
	res := p.lim.ReserveN(p.now(), 1)
	if res.DelayFrom(p.now()) <= 0 {
		return true
	}
	if len(p.ends) > 0 && !p.flush() {
		res.CancelAt(p.now())
		return false
	}
	d := res.DelayFrom(p.now())
	if d <= 0 {
		return true
	}
	wake := p.after(d)
	for {
		select {
		case <-wake:
			return true
		case tr := <-p.done:
			p.complete(tr)
		case <-ctx.Done():
			res.CancelAt(p.now())
			p.interrupted = true
			return false
		}
	}
}

// add appends a record to the open batch, sending the batch when the
// record would not fit or when it is full; false once publishing failed.
func (p *Publisher) add(rec []byte) bool {
	if p.failure != nil || (len(p.ends) > 0 && p.batchSize()+4+len(rec) > p.opts.MaxBodySize && !p.flush()) {
		p.lose(1, len(rec))
		return false
	}
	p.arena = append(p.arena, rec...)
	p.ends = append(p.ends, len(p.arena))
	if len(p.ends) >= p.opts.BatchSize {
		return p.flush()
	}
	return true
}

// batchSize is the MPUB body size of the open batch.
func (p *Publisher) batchSize() int { return 4 + 4*len(p.ends) + len(p.arena) }

// countSplit moves the splitter's skip counts to the live counters.
func (p *Publisher) countSplit() {
	p.empty.Store(p.split.Empty())
	p.oversized.Store(p.split.Oversized())
}

// canSend says whether a batch of size bytes may go out now.
func (p *Publisher) canSend(size int) bool {
	return p.outBatches == 0 || (p.outBatches < p.opts.InFlight && p.outBytes+size <= p.opts.InFlightBytes)
}

// flush sends the open batch to every target, first waiting for a slot;
// false if publishing failed (the batch is then dropped as unsent).
func (p *Publisher) flush() bool {
	size := p.batchSize()
	for !p.canSend(size) && p.failure == nil {
		select {
		case t := <-p.done:
			p.complete(t)
		case <-p.abandonCh:
			p.failure = errors.New("abandoned")
		}
	}
	if p.failure != nil {
		p.dropOpen()
		return false
	}
	b := &pubBatch{records: len(p.ends), bytes: len(p.arena), size: size, left: len(p.opts.Targets)}
	p.bodies = p.bodies[:0]
	start := 0
	for _, end := range p.ends {
		p.bodies = append(p.bodies, p.arena[start:end:end])
		start = end
	}
	p.read.Add(uint64(b.records))
	p.readBytes.Add(uint64(b.bytes))
	p.inFlight.Add(uint64(b.records))
	p.outBatches++
	p.outBytes += size
	for i, t := range p.opts.Targets {
		if err := t.MultiPublishAsync(p.opts.Topic, p.bodies, p.done, b, i); err != nil {
			p.answer(b, i, err)
		}
	}
	clear(p.bodies)
	p.arena, p.ends = p.arena[:0], p.ends[:0]
	return p.failure == nil
}

// dropOpen counts the records of the open batch as unsent.
func (p *Publisher) dropOpen() {
	if n := len(p.ends); n > 0 {
		p.lose(n, len(p.arena))
		p.arena, p.ends = p.arena[:0], p.ends[:0]
	}
}

// lose counts records read but never sent.
func (p *Publisher) lose(records, bytes int) {
	p.read.Add(uint64(records))
	p.readBytes.Add(uint64(bytes))
	p.unsent.Add(uint64(records))
}

// collect handles the acknowledgements that have arrived, without waiting.
func (p *Publisher) collect() {
	for {
		select {
		case t := <-p.done:
			p.complete(t)
		default:
			return
		}
	}
}

// complete handles one target's answer for a batch.
func (p *Publisher) complete(t *client.ProducerTransaction) {
	b, i := t.Args[0].(*pubBatch), t.Args[1].(int)
	p.answer(b, i, t.Error)
}

func (p *Publisher) answer(b *pubBatch, target int, err error) {
	if err != nil {
		p.targetNotAcked[target].Add(uint64(b.records))
	} else {
		p.targetAcked[target].Add(uint64(b.records))
	}
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("publishing to %s: %w", p.names[target], err)
		if p.failure == nil {
			p.failure = fmt.Errorf("%s: %w", p.names[target], err)
		}
	}
	b.left--
	if b.left > 0 {
		return
	}
	p.outBatches--
	p.outBytes -= b.size
	p.inFlight.Add(^uint64(b.records - 1))
	if b.err != nil {
		p.notAcked.Add(uint64(b.records))
		return
	}
	p.published.Add(uint64(b.records))
	p.publishedBytes.Add(uint64(b.bytes))
	p.batches.Add(1)
}

// waitAll waits for every outstanding batch (or Abandon).
func (p *Publisher) waitAll() {
	for p.outBatches > 0 {
		select {
		case t := <-p.done:
			p.complete(t)
		case <-p.abandonCh:
			// Whatever is still out counts as not acknowledged; late
			// answers land in the buffered channel and are ignored.
			p.notAcked.Add(p.inFlight.Swap(0))
			p.outBatches = 0
			if p.failure == nil {
				p.failure = errors.New("gave up waiting for acknowledgements")
			}
		}
	}
}

// inChunk is what one read returned.
type inChunk struct {
	data []byte
	err  error
}

// chunkReader reads the input on its own goroutine, so that the publisher
// can see that nothing is ready (and send a partial batch) instead of
// blocking in Read. A few buffers circulate between the two.
type chunkReader struct {
	full     chan inChunk
	free     chan []byte
	quit     chan struct{}
	quitOnce sync.Once
}

const chunkBuffers = 4

func startChunkReader(r io.Reader, size int) *chunkReader {
	rd := &chunkReader{
		full: make(chan inChunk, chunkBuffers),
		free: make(chan []byte, chunkBuffers),
		quit: make(chan struct{}),
	}
	for range chunkBuffers {
		rd.free <- make([]byte, size)
	}
	go rd.run(r)
	return rd
}

func (rd *chunkReader) run(r io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-rd.free:
		case <-rd.quit:
			return
		}
		buf = buf[:cap(buf)]
		var n int
		var err error
		for n == 0 && err == nil {
			n, err = r.Read(buf)
		}
		select {
		case rd.full <- inChunk{data: buf[:n], err: err}:
		case <-rd.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// recycle hands a buffer back for the next read.
func (rd *chunkReader) recycle(buf []byte) {
	if cap(buf) == 0 {
		return
	}
	select {
	case rd.free <- buf:
	default:
	}
}

// stop ends the reader goroutine (once its current read returns).
func (rd *chunkReader) stop() { rd.quitOnce.Do(func() { close(rd.quit) }) }
