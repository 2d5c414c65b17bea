package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress rewrites one status line on a terminal every 250 ms.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

const progressEvery = 250 * time.Millisecond

func startProgress(w io.Writer, o Options, start, mstart, end time.Time, pubs []*publisher, subs []*consumer) *progress {
	p := &progress{done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var lastPub, lastSub int64
		last := start
		width := 0
		for {
			select {
			case <-p.done:
				fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", width))
				return
			case now := <-t.C:
				var np, ns int64
				for _, x := range pubs {
					np += x.live.Load()
				}
				for _, x := range subs {
					ns += x.live.Load()
				}
				dt := now.Sub(last).Seconds()
				line := progressLine(o, now, start, mstart, end, np, ns, float64(np-lastPub)/dt, float64(ns-lastSub)/dt, len(pubs) > 0, len(subs) > 0)
				lastPub, lastSub, last = np, ns, now
				pad := ""
				if n := len([]rune(line)); n < width {
					pad = strings.Repeat(" ", width-n)
				} else {
					width = n
				}
				fmt.Fprintf(w, "\r%s%s", line, pad)
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

// progressLine renders the status: a bar when the run's length is known,
// the messages so far and the current rates.
func progressLine(o Options, now, start, mstart, end time.Time, np, ns int64, pubRate, subRate float64, hasPub, hasSub bool) string {
	var b strings.Builder
	b.WriteString("nsq_bench " + string(o.Mode) + " ")
	frac := -1.0
	switch {
	case !end.IsZero():
		frac = now.Sub(start).Seconds() / end.Sub(start).Seconds()
	case o.Count > 0 && o.Mode == ModeSub:
		frac = float64(ns) / float64(o.Count)
	case o.Count > 0:
		frac = float64(np) / float64(o.Count)
	}
	if frac >= 0 {
		frac = min(frac, 1)
		const w = 20
		n := int(frac * w)
		b.WriteString("[" + strings.Repeat("=", n) + strings.Repeat(" ", w-n) + "] ")
	}
	if now.Before(mstart) {
		b.WriteString("warmup ")
	}
	fmt.Fprintf(&b, "%s", fmtDur(now.Sub(start).Truncate(100*time.Millisecond)))
	if hasPub {
		fmt.Fprintf(&b, "  pub %s msgs %s/s", fmtInt(np), fmtInt(int64(pubRate)))
	}
	if hasSub {
		fmt.Fprintf(&b, "  sub %s msgs %s/s", fmtInt(ns), fmtInt(int64(subRate)))
	}
	return b.String()
}
