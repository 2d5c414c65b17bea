package pipe

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"go.uber.org/goleak"
)

// tailAnswers records how the writer answered fake messages.
type tailAnswers struct {
	mu      sync.Mutex
	fin     []int // message numbers, in answer order
	req     []int
	touches map[int]int
	bad     []string // protocol mistakes seen
	// onFinish, when set, is called (under mu) with the message finished.
	onFinish func(n int)
}

func (a *tailAnswers) finished() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.fin...)
}

func (a *tailAnswers) requeued() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.req...)
}

func (a *tailAnswers) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.fin) + len(a.req)
}

func (a *tailAnswers) touched(n int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.touches[n]
}

// tailFakeMsg is a message that records its answer.
type tailFakeMsg struct {
	n        int
	a        *tailAnswers
	answered bool
}

func (m *tailFakeMsg) Finish() {
	m.a.mu.Lock()
	defer m.a.mu.Unlock()
	if m.answered {
		m.a.bad = append(m.a.bad, fmt.Sprintf("message %d answered twice", m.n))
	}
	m.answered = true
	m.a.fin = append(m.a.fin, m.n)
	if m.a.onFinish != nil {
		m.a.onFinish(m.n)
	}
}

func (m *tailFakeMsg) RequeueWithoutBackoff(d time.Duration) {
	m.a.mu.Lock()
	defer m.a.mu.Unlock()
	if m.answered {
		m.a.bad = append(m.a.bad, fmt.Sprintf("message %d answered twice", m.n))
	}
	if d != 0 {
		m.a.bad = append(m.a.bad, fmt.Sprintf("message %d requeued with delay %s", m.n, d))
	}
	m.answered = true
	m.a.req = append(m.a.req, m.n)
}

func (m *tailFakeMsg) Touch() {
	m.a.mu.Lock()
	defer m.a.mu.Unlock()
	if m.a.touches == nil {
		m.a.touches = map[int]int{}
	}
	m.a.touches[m.n]++
}

// tailLine is the output line of message n.
func tailLine(n int) string { return fmt.Sprintf("message %d", n) }

// tailRig runs a tailWriter the way Tail does, fed by the test.
type tailRig struct {
	t       *testing.T
	w       *tailWriter
	a       *tailAnswers
	stopped chan struct{}
	done    chan struct{}
	watched chan struct{}
	next    int
}

func newTailRig(t *testing.T, out tailOutput, topics, count, maxBatch int) *tailRig {
	t.Helper()
	var tracker ReadTracker
	if tr, ok := out.(ReadTracker); ok {
		tracker = tr
	}
	w := newTailWriter(out, tracker, Raw{}, topics, count, maxBatch)
	w.in = make(chan tailDelivery, 1000)
	r := &tailRig{t: t, w: w, a: &tailAnswers{}, stopped: make(chan struct{}), done: make(chan struct{}), watched: make(chan struct{})}
	return r
}

// tailOutput is an io.Writer, possibly a ReadTracker.
type tailOutput interface {
	Write(p []byte) (int, error)
}

func (r *tailRig) start() {
	go func() {
		defer close(r.done)
		r.w.run(r.stopped)
	}()
	if r.w.tracker != nil {
		go func() {
			defer close(r.watched)
			if r.w.tracker.WaitReaderClosed(r.done) {
				close(r.w.readerClosed)
			}
		}()
	} else {
		close(r.watched)
	}
}

// send delivers messages numbered from r.next, one per topic index given.
func (r *tailRig) send(topics ...int) {
	for _, tp := range topics {
		r.next++
		n := r.next
		r.w.in <- tailDelivery{topic: tp, rec: &Record{Body: Body(tailLine(n))}, msg: &tailFakeMsg{n: n, a: r.a}}
	}
}

// sendN delivers n messages of topic 0.
func (r *tailRig) sendN(n int) {
	for i := 0; i < n; i++ {
		r.send(0)
	}
}

// waitAnswered polls until n messages were answered.
func (r *tailRig) waitAnswered(n int) {
	r.t.Helper()
	testutil.Eventually(r.t, 10*time.Second, fmt.Sprintf("%d tailAnswers", n), func() bool { return r.a.count() >= n })
}

// finish stops the writer as Tail does and returns its result.
func (r *tailRig) finish() error {
	r.t.Helper()
	r.w.quit()
	close(r.stopped)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Fatal("writer did not return")
	}
	<-r.watched
	r.a.mu.Lock()
	defer r.a.mu.Unlock()
	if len(r.a.bad) > 0 {
		r.t.Fatalf("protocol mistakes: %v", r.a.bad)
	}
	return r.w.result()
}

func (r *tailRig) isDone() bool {
	select {
	case <-r.w.done:
		return true
	default:
		return false
	}
}

func tailSeq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func tailEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tailCountingWriter records what was written; with failAfter >= 0 it
// accepts that many lines in total and then fails with err.
type tailCountingWriter struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	failAfter int
	err       error
	writes    int
}

func (c *tailCountingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.failAfter < 0 {
		return c.buf.Write(p)
	}
	n := 0
	for c.failAfter > 0 && n < len(p) {
		i := bytes.IndexByte(p[n:], '\n')
		if i < 0 {
			break
		}
		n += i + 1
		c.failAfter--
	}
	c.buf.Write(p[:n])
	if n < len(p) {
		return n, c.err
	}
	return n, nil
}

func (c *tailCountingWriter) written() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}

func (c *tailCountingWriter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func tailLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(tailLine(i) + "\n")
	}
	return b.String()
}

// TestWriterFinishesAfterWrite: every message is written before it is
// finished, in order, whether messages come one by one or in bursts.
func TestWriterFinishesAfterWrite(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, maxBatch := range []int{1, 30, 1 << 20} {
		t.Run(fmt.Sprintf("batch %d", maxBatch), func(t *testing.T) {
			out := &tailCountingWriter{failAfter: -1}
			r := newTailRig(t, out, 1, 0, maxBatch)
			r.a.onFinish = func(n int) {
				// the bytes up to and including message n's line are out
				if need := len(tailLines(1, n)); out.written() < need {
					r.a.bad = append(r.a.bad, fmt.Sprintf("message %d finished with %d bytes written, need %d", n, out.written(), need))
				}
			}
			r.sendN(20) // a burst before the writer runs
			r.start()
			r.waitAnswered(20)
			for i := 0; i < 5; i++ { // then one at a time
				r.send(0)
				r.waitAnswered(21 + i)
			}
			if err := r.finish(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tailLines(1, 25) {
				t.Fatalf("output %q", got)
			}
			if got := r.a.finished(); !tailEqual(got, tailSeq(1, 25)) {
				t.Fatalf("finished %v", got)
			}
			if maxBatch == 1<<20 && out.writes >= 25 {
				t.Errorf("%d writes for 25 messages: the burst was not batched", out.writes)
			}
		})
	}
}

// TestWriterWriteFailure: a writer that fails after k messages: the
// first k are finished, the rest requeued (REQ 0) — with a broken pipe
// a clean end, with another error a failure.
func TestWriterWriteFailure(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tests := []struct {
		name     string
		err      error
		maxBatch int
		wantErr  bool
	}{
		{"EPIPE, one message per write", syscall.EPIPE, 1, false},
		{"EPIPE, batched", syscall.EPIPE, 1 << 20, false},
		{"wrapped EPIPE", fmt.Errorf("write /dev/stdout: %w", syscall.EPIPE), 1 << 20, false},
		{"disk full", syscall.ENOSPC, 1, true},
		{"disk full, batched", syscall.ENOSPC, 1 << 20, true},
	}
	const k, total = 4, 10
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &tailCountingWriter{failAfter: k, err: tt.err}
			r := newTailRig(t, out, 1, 0, tt.maxBatch)
			r.sendN(total)
			r.start()
			r.waitAnswered(total)
			testutil.Eventually(t, 10*time.Second, "writer asks to stop", r.isDone)
			r.sendN(3) // still delivered while the consumers stop: requeued
			r.waitAnswered(total + 3)
			err := r.finish()
			if tt.wantErr != (err != nil) {
				t.Fatalf("result %v, want error: %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, tt.err) {
				t.Fatalf("result %v does not wrap %v", err, tt.err)
			}
			if got := r.a.finished(); !tailEqual(got, tailSeq(1, k)) {
				t.Fatalf("finished %v, want 1..%d", got, k)
			}
			if got := r.a.requeued(); !tailEqual(got, tailSeq(k+1, total+3)) {
				t.Fatalf("requeued %v, want %d..%d", got, k+1, total+3)
			}
			if got := out.String(); got != tailLines(1, k) {
				t.Fatalf("output %q", got)
			}
		})
	}
}

// TestWriterCount: -n counts per topic; the first topic to reach n ends
// the output, and later messages of every topic are requeued.
func TestWriterCount(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := &tailCountingWriter{failAfter: -1}
	r := newTailRig(t, out, 3, 3, 1<<20)
	// topic 0: 1, 4 ; topic 1: 2, 5, 7 (third: n reached) ; topic 2: 3, 6
	r.send(0, 1, 2, 0, 1, 2, 1)
	// after the end
	r.send(0, 1, 2)
	r.start()
	r.waitAnswered(10)
	testutil.Eventually(t, 10*time.Second, "writer asks to stop", r.isDone)
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	if got := r.a.finished(); !tailEqual(got, tailSeq(1, 7)) {
		t.Fatalf("finished %v", got)
	}
	if got := r.a.requeued(); !tailEqual(got, []int{8, 9, 10}) {
		t.Fatalf("requeued %v", got)
	}
	if got := out.String(); got != tailLines(1, 7) {
		t.Fatalf("output %q", got)
	}
}

// TestWriterCountOneByOne: with messages arriving one at a time, the
// n-th message of a topic ends the output at once.
func TestWriterCountOneByOne(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := &tailCountingWriter{failAfter: -1}
	r := newTailRig(t, out, 2, 2, 1<<20)
	r.start()
	r.send(1)
	r.waitAnswered(1)
	r.send(0)
	r.waitAnswered(2)
	if r.isDone() {
		t.Fatal("done before any topic reached n")
	}
	r.send(1) // topic 1's second
	testutil.Eventually(t, 10*time.Second, "writer asks to stop", r.isDone)
	r.send(0, 1)
	r.waitAnswered(5)
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	if got := r.a.finished(); !tailEqual(got, []int{1, 2, 3}) {
		t.Fatalf("finished %v", got)
	}
	if got := r.a.requeued(); !tailEqual(got, []int{4, 5}) {
		t.Fatalf("requeued %v", got)
	}
}

// TestWriterQuit: after quit (a signal) nothing more is written; later
// messages are requeued.
func TestWriterQuit(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := &tailCountingWriter{failAfter: -1}
	r := newTailRig(t, out, 1, 0, 1<<20)
	r.start()
	r.sendN(3)
	r.waitAnswered(3)
	r.w.quit()
	r.sendN(2)
	r.waitAnswered(5)
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	if got := r.a.finished(); !tailEqual(got, []int{1, 2, 3}) {
		t.Fatalf("finished %v", got)
	}
	if got := r.a.requeued(); !tailEqual(got, []int{4, 5}) {
		t.Fatalf("requeued %v", got)
	}
	if got := out.String(); got != tailLines(1, 3) {
		t.Fatalf("output %q", got)
	}
}

// tailFailingFormat fails on bodies containing "bad".
type tailFailingFormat struct{}

func (tailFailingFormat) Format(dst []byte, r *Record) ([]byte, error) {
	if bytes.Contains(r.Body, []byte("bad")) {
		return dst, errors.New("cannot render")
	}
	return Raw{}.Format(dst, r)
}

// TestWriterFormatError: a message that cannot be rendered ends the
// output with an error; what came before is written and finished.
func TestWriterFormatError(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := &tailCountingWriter{failAfter: -1}
	r := newTailRig(t, out, 1, 0, 1<<20)
	r.w.format = tailFailingFormat{}
	r.sendN(2)
	r.w.in <- tailDelivery{rec: &Record{ID: "ID3", Topic: "tp", Body: Body("bad")}, msg: &tailFakeMsg{n: 3, a: r.a}}
	r.next = 3
	r.sendN(2)
	r.start()
	r.waitAnswered(5)
	err := r.finish()
	if err == nil || !strings.Contains(err.Error(), "formatting message ID3 of topic tp: cannot render") {
		t.Fatalf("result %v", err)
	}
	if got := r.a.finished(); !tailEqual(got, []int{1, 2}) {
		t.Fatalf("finished %v", got)
	}
	if got := r.a.requeued(); !tailEqual(got, []int{3, 4, 5}) {
		t.Fatalf("requeued %v", got)
	}
}

// tailFakePipe is a ReadTracker: written bytes wait until the test reads
// them; the test can close the reading end.
type tailFakePipe struct {
	mu     sync.Mutex
	unread []byte
	closed chan struct{}
	once   sync.Once
}

func newTailFakePipe() *tailFakePipe { return &tailFakePipe{closed: make(chan struct{})} }

func (p *tailFakePipe) Write(b []byte) (int, error) {
	select {
	case <-p.closed:
		return 0, syscall.EPIPE
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unread = append(p.unread, b...)
	return len(b), nil
}

func (p *tailFakePipe) Unread() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.unread), nil
}

func (p *tailFakePipe) WaitReaderClosed(done <-chan struct{}) bool {
	select {
	case <-p.closed:
		return true
	case <-done:
		return false
	}
}

// readLines reads n lines (they must be there).
func (p *tailFakePipe) readLines(t *testing.T, n int) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	end := 0
	for i := 0; i < n; i++ {
		j := bytes.IndexByte(p.unread[end:], '\n')
		if j < 0 {
			t.Fatalf("only %d lines in the pipe", i)
		}
		end += j + 1
	}
	s := string(p.unread[:end])
	p.unread = p.unread[end:]
	return s
}

func (p *tailFakePipe) buffered() int {
	n, _ := p.Unread()
	return n
}

func (p *tailFakePipe) closeReader() { p.once.Do(func() { close(p.closed) }) }

// TestWriterPipeReaderCloses: with a pipe, messages are finished as the
// reader reads them; when it closes its end, what it left unread is
// requeued and the output ends cleanly — even with no further message.
func TestWriterPipeReaderCloses(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := newTailFakePipe()
	r := newTailRig(t, p, 1, 0, 1<<20)
	r.start()
	r.sendN(10)
	testutil.Eventually(t, 10*time.Second, "10 lines in the pipe", func() bool { return p.buffered() == len(tailLines(1, 10)) })
	if n := r.a.count(); n != 0 {
		t.Fatalf("%d messages answered before the reader read anything", n)
	}
	if got := p.readLines(t, 3); got != tailLines(1, 3) {
		t.Fatalf("read %q", got)
	}
	r.waitAnswered(3)
	p.closeReader()
	testutil.Eventually(t, 10*time.Second, "writer asks to stop", r.isDone)
	r.sendN(2) // arriving after the reader left
	r.waitAnswered(12)
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	if got := r.a.finished(); !tailEqual(got, tailSeq(1, 3)) {
		t.Fatalf("finished %v", got)
	}
	if got := r.a.requeued(); !tailEqual(got, tailSeq(4, 12)) {
		t.Fatalf("requeued %v", got)
	}
}

// TestWriterPipePartlyRead: a line read in part is not finished.
func TestWriterPipePartlyRead(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := newTailFakePipe()
	r := newTailRig(t, p, 1, 0, 1<<20)
	r.start()
	r.sendN(3)
	testutil.Eventually(t, 10*time.Second, "3 lines in the pipe", func() bool { return p.buffered() == len(tailLines(1, 3)) })
	p.mu.Lock()
	p.unread = p.unread[len(tailLine(1))+1+2:] // line 1 and two bytes of line 2
	p.mu.Unlock()
	r.waitAnswered(1)
	p.closeReader()
	r.waitAnswered(3)
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	if got := r.a.finished(); !tailEqual(got, []int{1}) {
		t.Fatalf("finished %v", got)
	}
	if got := r.a.requeued(); !tailEqual(got, []int{2, 3}) {
		t.Fatalf("requeued %v", got)
	}
}

// TestWriterPipeStopWithLiveReader: stopping while messages wait in the
// pipe of a live reader finishes them once read, or after the settle
// wait (they are in the pipe: the reader will get them).
func TestWriterPipeStopWithLiveReader(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Run("read during the stop", func(t *testing.T) {
		p := newTailFakePipe()
		r := newTailRig(t, p, 1, 0, 1<<20)
		r.w.settleWait = time.Hour
		r.start()
		r.sendN(4)
		testutil.Eventually(t, 10*time.Second, "4 lines in the pipe", func() bool { return p.buffered() == len(tailLines(1, 4)) })
		r.w.quit()
		p.readLines(t, 4)
		r.waitAnswered(4)
		if err := r.finish(); err != nil {
			t.Fatal(err)
		}
		if got := r.a.finished(); !tailEqual(got, tailSeq(1, 4)) {
			t.Fatalf("finished %v", got)
		}
	})
	t.Run("never read", func(t *testing.T) {
		p := newTailFakePipe()
		r := newTailRig(t, p, 1, 0, 1<<20)
		r.w.settleWait = 10 * time.Millisecond
		r.start()
		r.sendN(4)
		testutil.Eventually(t, 10*time.Second, "4 lines in the pipe", func() bool { return p.buffered() == len(tailLines(1, 4)) })
		if err := r.finish(); err != nil {
			t.Fatal(err)
		}
		if got := r.a.finished(); !tailEqual(got, tailSeq(1, 4)) {
			t.Fatalf("finished %v", got)
		}
	})
	t.Run("-n reached, then the reader closes", func(t *testing.T) {
		p := newTailFakePipe()
		r := newTailRig(t, p, 1, 3, 1<<20)
		r.w.settleWait = time.Hour
		r.start()
		r.sendN(3)
		testutil.Eventually(t, 10*time.Second, "3 lines in the pipe", func() bool { return p.buffered() == len(tailLines(1, 3)) })
		p.readLines(t, 1)
		r.waitAnswered(1)
		p.closeReader()
		r.waitAnswered(3)
		if err := r.finish(); err != nil {
			t.Fatal(err)
		}
		if got := r.a.requeued(); !tailEqual(got, []int{2, 3}) {
			t.Fatalf("requeued %v", got)
		}
	})
}

// TestWriterPipeTouch: messages waiting long in the pipe are touched so
// nsqd does not time them out.
func TestWriterPipeTouch(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := newTailFakePipe()
	r := newTailRig(t, p, 1, 0, 1<<20)
	r.w.touchEvery = time.Millisecond
	r.start()
	r.sendN(2)
	testutil.Eventually(t, 10*time.Second, "both messages touched", func() bool { return r.a.touched(1) > 0 && r.a.touched(2) > 0 })
	p.readLines(t, 2)
	r.waitAnswered(2)
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
}
