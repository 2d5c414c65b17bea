package pipe

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// PublishProgressInterval is how often the progress line is redrawn.
const PublishProgressInterval = 250 * time.Millisecond

// PublishProgress keeps a live progress line of a Publisher on a terminal:
// records acknowledged, records per second, bytes, errors and skipped
// records, redrawn in place a few times a second. Log lines written
// through it (it is an io.Writer) clear the line first and redraw it
// after, so the two never mix. Use it only when w is a terminal.
type PublishProgress struct {
	w      io.Writer
	prefix string
	stats  func() PublishStats

	mu     sync.Mutex
	line   string // what is on screen, "" if nothing
	lastAt time.Time
	lastN  uint64
	rate   float64

	started    bool
	quit, done chan struct{}
	stopOnce   sync.Once
}

// NewPublishProgress returns a progress line for w that reads the counters
// with stats (e.g. Publisher.Stats); prefix starts the line ("to_nsq: ").
func NewPublishProgress(w io.Writer, prefix string, stats func() PublishStats) *PublishProgress {
	return &PublishProgress{w: w, prefix: prefix, stats: stats, quit: make(chan struct{}), done: make(chan struct{})}
}

// Start redraws the line every PublishProgressInterval until Stop.
func (pp *PublishProgress) Start() {
	pp.mu.Lock()
	pp.lastAt = time.Now()
	pp.started = true
	pp.mu.Unlock()
	go func() {
		defer close(pp.done)
		t := time.NewTicker(PublishProgressInterval)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				pp.Tick(now)
			case <-pp.quit:
				return
			}
		}
	}()
}

// Tick redraws the line with the counters as of now.
func (pp *PublishProgress) Tick(now time.Time) {
	st := pp.stats()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if dt := now.Sub(pp.lastAt).Seconds(); dt > 0 {
		inst := float64(st.Published-pp.lastN) / dt
		if pp.lastN == 0 && pp.rate == 0 {
			pp.rate = inst
		} else {
			pp.rate = 0.5*pp.rate + 0.5*inst // smooth the jitter of acknowledgements
		}
		pp.lastAt, pp.lastN = now, st.Published
	}
	pp.drawLocked(pp.prefix + PublishProgressLine(st, pp.rate))
}

func (pp *PublishProgress) drawLocked(line string) {
	io.WriteString(pp.w, "\r"+line+"\x1b[K")
	pp.line = line
}

func (pp *PublishProgress) clearLocked() {
	if pp.line != "" {
		io.WriteString(pp.w, "\r\x1b[K")
		pp.line = ""
	}
}

// Write writes log lines above the progress line.
func (pp *PublishProgress) Write(b []byte) (int, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	line := pp.line
	pp.clearLocked()
	n, err := pp.w.Write(b)
	if line != "" {
		pp.drawLocked(line)
	}
	return n, err
}

// Stop stops the redraws and clears the line.
func (pp *PublishProgress) Stop() {
	pp.stopOnce.Do(func() {
		close(pp.quit)
		pp.mu.Lock()
		started := pp.started
		pp.mu.Unlock()
		if started {
			<-pp.done
		}
		pp.mu.Lock()
		pp.clearLocked()
		pp.mu.Unlock()
	})
}

// PublishProgressLine is the text of the progress line.
func PublishProgressLine(st PublishStats, perSecond float64) string {
	return fmt.Sprintf("%d records  %.0f/s  %s  %d errors  %d skipped",
		st.Published, perSecond, publishByteCount(st.PublishedBytes), st.Errors(), st.Empty)
}

// PublishSummary is the one-line report at the end of a run, e.g.
// "published 1000 records (3.9 kB) in 12ms (83333 records/s); skipped 2
// empty". Every kind of lost record is named with its count.
func PublishSummary(st PublishStats, elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "published %s (%s) in %s", PublishRecords(st.Published), publishByteCount(st.PublishedBytes), roundDuration(elapsed))
	if s := elapsed.Seconds(); s > 0 && st.Published > 0 {
		fmt.Fprintf(&b, " (%.0f records/s)", float64(st.Published)/s)
	}
	if st.Empty > 0 {
		fmt.Fprintf(&b, "; skipped %d empty", st.Empty)
	}
	if st.Oversized > 0 {
		fmt.Fprintf(&b, "; %d over the size limit not sent", st.Oversized)
	}
	if st.NotAcked > 0 {
		fmt.Fprintf(&b, "; %d not acknowledged", st.NotAcked)
		if len(st.Targets) > 1 {
			// Fan-out: say which targets missed them.
			var missed []string
			for _, t := range st.Targets {
				if t.NotAcked > 0 {
					missed = append(missed, fmt.Sprintf("%s missed %d", t.Name, t.NotAcked))
				}
			}
			fmt.Fprintf(&b, " (%s)", strings.Join(missed, ", "))
		}
	}
	if st.Unsent > 0 {
		fmt.Fprintf(&b, "; %d not sent after the failure", st.Unsent)
	}
	if st.Interrupted {
		b.WriteString("; interrupted")
	}
	return b.String()
}

// PublishRecords writes a count of records: "1 record", "2 records".
func PublishRecords(n uint64) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}

// publishByteCount writes a byte count with a decimal unit: 999 B, 1.2 kB, 3.4 MB.
func publishByteCount(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}
