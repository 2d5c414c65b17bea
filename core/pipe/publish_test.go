package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/wire"
)

// pubFakeTarget records the batches it is given. With hold set, answers wait
// until release; fail makes the answer of batch i (0-based) an error.
type pubFakeTarget struct {
	mu       sync.Mutex
	batches  [][]string
	pending  []*client.ProducerTransaction
	outNow   int
	outMax   int
	hold     bool
	fail     func(i int) error
	refuse   error // returned by MultiPublishAsync itself
	done     chan *client.ProducerTransaction
	received chan int // batch sizes, if not nil
}

func (f *pubFakeTarget) MultiPublishAsync(topic string, bodies [][]byte, done chan *client.ProducerTransaction, args ...any) error {
	if f.refuse != nil {
		return f.refuse
	}
	b := make([]string, len(bodies))
	for i, body := range bodies {
		b[i] = string(body)
	}
	f.mu.Lock()
	i := len(f.batches)
	f.batches = append(f.batches, b)
	t := &client.ProducerTransaction{Args: args}
	if f.fail != nil {
		t.Error = f.fail(i)
	}
	f.done = done
	f.outNow++
	f.outMax = max(f.outMax, f.outNow)
	if f.hold {
		f.pending = append(f.pending, t)
	}
	f.mu.Unlock()
	if f.received != nil {
		f.received <- len(b)
	}
	if !f.hold {
		f.answer(t)
	}
	return nil
}

func (f *pubFakeTarget) answer(t *client.ProducerTransaction) {
	f.mu.Lock()
	f.outNow--
	done := f.done
	f.mu.Unlock()
	done <- t
}

// release answers the n oldest held batches.
func (f *pubFakeTarget) release(n int) {
	f.mu.Lock()
	n = min(n, len(f.pending))
	ts := f.pending[:n]
	f.pending = f.pending[n:]
	f.mu.Unlock()
	for _, t := range ts {
		f.answer(t)
	}
}

func (f *pubFakeTarget) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []int
	for _, b := range f.batches {
		s = append(s, len(b))
	}
	return s
}

func (f *pubFakeTarget) records() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []string
	for _, b := range f.batches {
		all = append(all, b...)
	}
	return all
}

func pubLines(n int) (string, []string) {
	var b strings.Builder
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprint(i + 1)
		b.WriteString(want[i])
		b.WriteByte('\n')
	}
	return b.String(), want
}

func pubMust(t *testing.T, opts PublishOptions) *Publisher {
	t.Helper()
	if opts.Topic == "" {
		opts.Topic = "test"
	}
	p, err := NewPublisher(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pubSameStrings(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestPublisherBatchesBySize(t *testing.T) {
	in, want := pubLines(1200)
	f := &pubFakeTarget{}
	p := pubMust(t, PublishOptions{BatchSize: 500, Targets: []PublishTarget{f}})
	st, err := p.Run(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	pubSameStrings(t, f.records(), want)
	if s := f.sizes(); len(s) != 3 || s[0] != 500 || s[1] != 500 || s[2] != 200 {
		t.Errorf("batch sizes %v, want [500 500 200]", s)
	}
	if st.Published != 1200 || st.Read != 1200 || st.Batches != 3 || st.Errors() != 0 || st.InFlight != 0 ||
		st.PublishedBytes != uint64(len(in)-1200) {
		t.Errorf("stats %+v", st)
	}
}

// The MPUB body limit counts the count field and a size field per record.
func TestPublisherBatchesByBodyLimit(t *testing.T) {
	rec := strings.Repeat("r", 92) // 96 bytes in the body
	in := strings.Repeat(rec+"\n", 25)
	f := &pubFakeTarget{}
	p := pubMust(t, PublishOptions{BatchSize: 1000, MaxBodySize: 4 + 96*10, Targets: []PublishTarget{f}})
	st, err := p.Run(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s := f.sizes(); fmt.Sprint(s) != "[10 10 5]" {
		t.Errorf("batch sizes %v, want [10 10 5]", s)
	}
	if st.Published != 25 {
		t.Errorf("stats %+v", st)
	}
}

func TestPublisherSkipsEmptyAndOversized(t *testing.T) {
	in := "a\n\n" + strings.Repeat("x", 11) + "\nb\n\n\nc" // no trailing delimiter
	f := &pubFakeTarget{}
	p := pubMust(t, PublishOptions{MaxMsgSize: 10, Targets: []PublishTarget{f}})
	st, err := p.Run(context.Background(), pubOneByte(in))
	if err != nil {
		t.Fatal(err)
	}
	pubSameStrings(t, f.records(), []string{"a", "b", "c"})
	if st.Empty != 3 || st.Oversized != 1 || st.Published != 3 || st.Errors() != 1 {
		t.Errorf("stats %+v", st)
	}
}

func pubOneByte(s string) io.Reader { return &splitChunkedReader{data: []byte(s), sizes: []int{1}} }

func TestPublisherMultiByteDelimiter(t *testing.T) {
	in := "one<|>two<|><|>three<|"
	f := &pubFakeTarget{}
	p := pubMust(t, PublishOptions{Delimiter: []byte("<|>"), Targets: []PublishTarget{f}})
	st, err := p.Run(context.Background(), &splitChunkedReader{data: []byte(in), sizes: []int{2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	pubSameStrings(t, f.records(), []string{"one", "two", "three<|"})
	if st.Empty != 1 {
		t.Errorf("stats %+v", st)
	}
}

// pubScriptedReader hands out one pushed piece per Read, waiting for the
// next when there is none, and EOF once closed and drained.
type pubScriptedReader struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []string
	closed bool
	idle   bool
}

func newPubScriptedReader() *pubScriptedReader {
	r := &pubScriptedReader{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *pubScriptedReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.queue) == 0 && !r.closed {
		r.idle = true
		r.cond.Wait()
	}
	r.idle = false
	if len(r.queue) == 0 {
		return 0, io.EOF
	}
	s := r.queue[0]
	r.queue = r.queue[1:]
	return copy(p, s), nil
}

func (r *pubScriptedReader) push(s string) {
	r.mu.Lock()
	r.queue = append(r.queue, s)
	r.mu.Unlock()
	r.cond.Broadcast()
}

func (r *pubScriptedReader) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cond.Broadcast()
}

// waitIdle waits until every piece was read and Read waits for more (so
// the pieces read are in the publisher's hands).
func (r *pubScriptedReader) waitIdle(t *testing.T) {
	t.Helper()
	pubWaitFor(t, "the reader to wait for input", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.idle && len(r.queue) == 0
	})
}

func pubWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A record is sent as soon as the input has nothing more ready: a slow
// trickle is never held back waiting for a batch to fill.
func TestPublisherFlushesWhenIdle(t *testing.T) {
	r := newPubScriptedReader()
	f := &pubFakeTarget{received: make(chan int, 10)}
	p := pubMust(t, PublishOptions{BatchSize: 1000, Targets: []PublishTarget{f}})
	res := make(chan error, 1)
	go func() {
		_, err := p.Run(context.Background(), r)
		res <- err
	}()
	r.push("first\n")
	if n := <-f.received; n != 1 { // no timer involved: the input going quiet sends it
		t.Errorf("first: batch of %d", n)
	}
	r.push("second\nthird\n")
	if n := <-f.received; n != 2 {
		t.Errorf("second: batch of %d", n)
	}
	// An unterminated record waits for the rest of it.
	r.push("fou")
	r.waitIdle(t)
	r.push("rth")
	r.close()
	if n := <-f.received; n != 1 {
		t.Errorf("last batch of %d", n)
	}
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	pubSameStrings(t, f.records(), []string{"first", "second", "third", "fourth"})
}

// With every slot taken, records accumulate and go out as one batch when
// a slot frees; never more than InFlight batches are outstanding.
func TestPublisherPipelinesBounded(t *testing.T) {
	r := newPubScriptedReader()
	f := &pubFakeTarget{hold: true, received: make(chan int, 100)}
	p := pubMust(t, PublishOptions{BatchSize: 1000, InFlight: 2, Targets: []PublishTarget{f}})
	res := make(chan PublishStats, 1)
	go func() {
		st, _ := p.Run(context.Background(), r)
		res <- st
	}()
	r.push("a\n")
	<-f.received
	r.push("b\n")
	<-f.received // two batches out, none answered
	for i := range 8 {
		r.push(fmt.Sprintf("c%d\n", i))
	}
	r.waitIdle(t)
	if st := p.Stats(); st.InFlight != 2 || st.Published != 0 {
		t.Fatalf("stats while held: %+v", st)
	}
	f.release(1)
	if n := <-f.received; n != 8 {
		t.Errorf("after a slot freed: batch of %d, want the 8 records read meanwhile", n)
	}
	r.close()
	pubWaitFor(t, "two batches held", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.pending) == 2 })
	f.release(2)
	st := <-res
	if f.outMax != 2 {
		t.Errorf("%d batches outstanding at once, limit 2", f.outMax)
	}
	if st.Published != 10 || st.Batches != 3 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Fan-out: every target gets every record.
func TestPublisherFanout(t *testing.T) {
	in, want := pubLines(3000)
	a, b := &pubFakeTarget{}, &pubFakeTarget{}
	p := pubMust(t, PublishOptions{BatchSize: 100, Targets: []PublishTarget{a, b}})
	st, err := p.Run(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	pubSameStrings(t, a.records(), want)
	pubSameStrings(t, b.records(), want)
	if st.Published != 3000 {
		t.Errorf("stats %+v", st)
	}
}

// A failed batch stops the run; every record is accounted for.
func TestPublisherFailure(t *testing.T) {
	in, _ := pubLines(5000)
	boom := errors.New("publish timed out")
	a := &pubFakeTarget{}
	b := &pubFakeTarget{fail: func(i int) error {
		if i == 3 {
			return boom
		}
		return nil
	}}
	p := pubMust(t, PublishOptions{BatchSize: 100, InFlight: 1, Targets: []PublishTarget{a, b}, TargetNames: []string{"A", "B"}})
	st, err := p.Run(context.Background(), strings.NewReader(in))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "B") {
		t.Fatalf("err %v", err)
	}
	if st.NotAcked != 100 || st.Published != 300 {
		t.Errorf("stats %+v", st)
	}
	if st.Read != st.Published+st.NotAcked+st.Unsent || st.InFlight != 0 {
		t.Errorf("records unaccounted for: %+v", st)
	}
	if len(b.sizes()) != 4 {
		t.Errorf("%d batches sent after the failure", len(b.sizes())-4)
	}
	if tg := st.Targets; len(tg) != 2 || tg[0] != (PublishTargetStats{"A", 400, 0}) || tg[1] != (PublishTargetStats{"B", 300, 100}) {
		t.Errorf("targets %+v", tg)
	}
	if s := PublishSummary(st, time.Second); !strings.Contains(s, "; 100 not acknowledged (B missed 100)") {
		t.Errorf("summary %q", s)
	}
}

func TestPublisherRefused(t *testing.T) {
	f := &pubFakeTarget{refuse: client.ErrStopped}
	p := pubMust(t, PublishOptions{Targets: []PublishTarget{f}})
	st, err := p.Run(context.Background(), strings.NewReader("a\nb\n"))
	if !errors.Is(err, client.ErrStopped) || st.NotAcked != 2 {
		t.Fatalf("%+v %v", st, err)
	}
}

type pubErrReader struct{ err error }

func (r pubErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestPublisherReadError(t *testing.T) {
	f := &pubFakeTarget{}
	p := pubMust(t, PublishOptions{Targets: []PublishTarget{f}})
	r := io.MultiReader(strings.NewReader("a\nb"), pubErrReader{errors.New("disk on fire")})
	st, err := p.Run(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err %v", err)
	}
	// The complete record went out; the unterminated one is not trusted.
	if st.Published != 1 {
		t.Errorf("stats %+v", st)
	}
}

// An interrupt stops reading, publishes what was read and returns.
func TestPublisherInterrupt(t *testing.T) {
	r := newPubScriptedReader()
	f := &pubFakeTarget{received: make(chan int, 10)}
	p := pubMust(t, PublishOptions{Targets: []PublishTarget{f}})
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan PublishStats, 1)
	go func() {
		st, _ := p.Run(ctx, r)
		res <- st
	}()
	r.push("a\nb\npartial")
	<-f.received
	r.waitIdle(t)
	cancel()
	st := <-res
	if !st.Interrupted || st.Published != 2 || st.Errors() != 0 {
		t.Errorf("stats %+v", st)
	}
	r.close() // ends the reader goroutine
}

// Abandon gives up on acknowledgements that never come.
func TestPublisherAbandon(t *testing.T) {
	f := &pubFakeTarget{hold: true, received: make(chan int, 10)}
	p := pubMust(t, PublishOptions{Targets: []PublishTarget{f}})
	res := make(chan error, 1)
	var st PublishStats
	go func() {
		var err error
		st, err = p.Run(context.Background(), strings.NewReader("a\nb\nc\n"))
		res <- err
	}()
	<-f.received
	p.Abandon()
	if err := <-res; err == nil {
		t.Fatal("no error after Abandon")
	}
	if st.NotAcked != 3 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// pubFakeClock advances only when the publisher sleeps.
type pubFakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func (c *pubFakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *pubFakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func TestPublisherRate(t *testing.T) {
	in, want := pubLines(31)
	f := &pubFakeTarget{}
	p := pubMust(t, PublishOptions{Rate: 10, Targets: []PublishTarget{f}})
	clock := &pubFakeClock{now: time.Unix(1e9, 0)}
	p.now, p.after = clock.Now, clock.After
	st, err := p.Run(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	pubSameStrings(t, f.records(), want)
	if st.Published != 31 {
		t.Errorf("stats %+v", st)
	}
	// One token to start with, then one every 100ms; every wait sends
	// the record before it.
	if clock.slept != 3*time.Second {
		t.Errorf("slept %s for 31 records at 10/s, want 3s", clock.slept)
	}
	for i, n := range f.sizes() {
		if n != 1 {
			t.Fatalf("batch %d of %d records", i, n)
		}
	}
}

func TestNewPublisherChecks(t *testing.T) {
	for _, opts := range []PublishOptions{
		{Topic: "bad topic", Targets: []PublishTarget{&pubFakeTarget{}}},
		{Topic: "ok"},
		{Topic: "ok", MaxBodySize: 8, Targets: []PublishTarget{&pubFakeTarget{}}},
	} {
		if _, err := NewPublisher(opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
	}
}

func TestPublishSummary(t *testing.T) {
	st := PublishStats{Published: 1000, PublishedBytes: 3900, Empty: 2, Oversized: 1, NotAcked: 500, Unsent: 7, Interrupted: true}
	got := PublishSummary(st, 2*time.Second)
	want := "published 1000 records (3.9 kB) in 2s (500 records/s); skipped 2 empty; 1 over the size limit not sent; " +
		"500 not acknowledged; 7 not sent after the failure; interrupted"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := PublishProgressLine(st, 123.4); got != "1000 records  123/s  3.9 kB  508 errors  2 skipped" {
		t.Errorf("progress line %q", got)
	}
	for n, want := range map[uint64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1234567: "1.2 MB", 5e9: "5.0 GB"} {
		if got := publishByteCount(n); got != want {
			t.Errorf("publishByteCount(%d) = %q, want %q", n, got, want)
		}
	}
}

// Log lines written through the progress writer clear the line and
// redraw it after.
func TestPublishProgress(t *testing.T) {
	var buf strings.Builder
	pp := NewPublishProgress(&buf, "to_nsq: ", func() PublishStats { return PublishStats{Published: 10, Empty: 1} })
	pp.Tick(time.Now())
	fmt.Fprintf(pp, "a log line\n")
	pp.Stop()
	want := "\rto_nsq: 10 records  0/s  0 B  0 errors  1 skipped\x1b[K" +
		"\r\x1b[Ka log line\n" +
		"\rto_nsq: 10 records  0/s  0 B  0 errors  1 skipped\x1b[K" +
		"\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// discardTarget encodes each batch as the producer would and acknowledges
// it at once.
type discardTarget struct{ buf []byte }

func (d *discardTarget) MultiPublishAsync(topic string, bodies [][]byte, done chan *client.ProducerTransaction, args ...any) error {
	d.buf = wire.MultiPublish(topic, bodies).Append(d.buf[:0])
	done <- &client.ProducerTransaction{Args: args}
	return nil
}

// BenchmarkPublisher is the publisher's own cost per record (seq-like
// lines), without a network.
func BenchmarkPublisher(b *testing.B) {
	in, _ := pubLines(1000000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		p, err := NewPublisher(PublishOptions{Topic: "bench", Targets: []PublishTarget{&discardTarget{}}})
		if err != nil {
			b.Fatal(err)
		}
		st, err := p.Run(context.Background(), strings.NewReader(in))
		if err != nil || st.Published != 1000000 {
			b.Fatal(st, err)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "records/s")
}
