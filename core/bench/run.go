package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// lateAfter is the send lag past which a batch counts as late: well above
// the ~1 ms by which timers wake up late, so it flags a publisher that
// cannot keep up rather than timer noise.
const lateAfter = 5 * time.Millisecond

// Run connects every client, runs the load described by o and returns what
// was measured. Cancelling ctx ends the run early (the result covers what
// was done). Errors: bad options (see Options.Validate), a failed
// connection, or an error from nsqd.
func Run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	d := &dialer{
		userAgent:           o.UserAgent,
		cfg:                 o.Client,
		outputBufferSize:    o.OutputBufferSize,
		outputBufferTimeout: o.OutputBufferTimeout,
	}
	wantPub, wantSub := o.Mode != ModeSub, o.Mode != ModePub

	var pubs []*publisher
	var subs []*consumer
	var links []link
	defer func() {
		for _, l := range links {
			l.close()
		}
	}()

	// Connect everyone first (consumers subscribed), in parallel.
	type dialed struct {
		i   int
		l   link
		err error
	}
	nsubs := 0
	if wantSub {
		nsubs = o.Clients
		if o.Mode == ModePubSub {
			nsubs = o.Subs
		}
	}
	npubs := 0
	if wantPub {
		npubs = o.Clients
	}
	results := make(chan dialed)
	for i := range nsubs + npubs {
		go func() {
			consumer := i < nsubs
			j := i
			if !consumer {
				j = i - nsubs
			}
			addr := o.Addrs[j%len(o.Addrs)]
			l, err := d.dial(ctx, addr, consumer)
			if err == nil && consumer {
				if err = subscribe(l, o.Topic, o.Channel); err != nil {
					l.close()
				}
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", addr, err)
			}
			results <- dialed{i, l, err}
		}()
	}
	slots := make([]link, nsubs+npubs)
	var dialErrs []error
	for range nsubs + npubs {
		r := <-results
		if r.err != nil {
			dialErrs = append(dialErrs, r.err)
			continue
		}
		slots[r.i] = r.l
		links = append(links, r.l)
	}
	if dialErr := joinDistinct(dialErrs...); dialErr != nil {
		return nil, dialErr
	}
	for i := range nsubs {
		subs = append(subs, &consumer{id: i + 1, link: slots[i], hist: newHist()})
	}
	for i := range npubs {
		p := &publisher{id: i, link: slots[nsubs+i], hist: newHist()}
		p.full = newBatch(o.Topic, o.BatchSize, o.Size, o.BatchSize == 1, int64(i+1))
		if o.Count > 0 && o.Count%int64(o.BatchSize) != 0 {
			rest := int(o.Count % int64(o.BatchSize))
			p.rest = newBatch(o.Topic, rest, o.Size, rest == 1, int64(i+1))
		}
		if o.Rate > 0 {
			p.lag = newHist()
		}
		pubs = append(pubs, p)
	}

	start := time.Now()
	mstart := start.Add(o.Warmup)
	var end time.Time
	if o.Runfor > 0 {
		end = mstart.Add(o.Runfor)
	}
	res := &Result{
		Mode: o.Mode, Topic: o.Topic, Addrs: o.Addrs, Size: o.Size,
		Clients: o.Clients, Rate: o.Rate, Start: mstart, Transport: transport(o),
	}
	if wantSub {
		res.Channel = o.Channel
		res.RDY = o.RDY
	}
	if wantPub {
		res.BatchSize = o.BatchSize
	}
	if o.Mode == ModePubSub {
		res.Subs = nsubs
	}

	// Consumers end on a deadline: the run's end, the pubsub drain, or
	// at once when stopped; once stopped, no later deadline revives them.
	var stopped atomic.Bool
	var deadlineMu sync.Mutex
	setSubDeadline := func(t time.Time, stop bool) {
		deadlineMu.Lock()
		defer deadlineMu.Unlock()
		if stopped.Load() {
			return
		}
		for _, c := range subs {
			c.link.setDeadline(t)
		}
		if stop {
			stopped.Store(true)
		}
	}
	stopSubs := func() { setSubDeadline(time.Unix(1, 0), true) }
	// cancelling ctx stops everyone
	var pubStopped atomic.Bool
	unwatch := context.AfterFunc(ctx, func() {
		pubStopped.Store(true)
		stopSubs()
		for _, p := range pubs {
			p.link.setDeadline(time.Unix(1, 0))
		}
	})
	defer unwatch()

	var prog *progress
	if o.Progress != nil {
		prog = startProgress(o.Progress, o, start, mstart, end, pubs, subs)
	}

	// consumers
	var subWG sync.WaitGroup
	subErrs := make([]error, len(subs))
	var target, all, received atomic.Int64
	if len(subs) > 0 {
		sp := &subPlan{
			rdy:      o.RDY,
			latency:  o.Mode == ModePubSub,
			mstart:   mstart,
			target:   &target,
			all:      &all,
			received: &received,
			stopped:  &stopped,
			stop:     stopSubs,
		}
		if o.Mode == ModeSub {
			sp.count = o.Count
			if !end.IsZero() {
				setSubDeadline(end, false)
			}
		}
		for i, c := range subs {
			subWG.Add(1)
			go func() {
				defer subWG.Done()
				if err := c.run(sp); err != nil {
					subErrs[i] = err
					stopSubs()
				}
			}()
		}
	}

	// publishers
	var pacer *Pacer
	var sched *Schedule
	var pubErr error
	if len(pubs) > 0 {
		pl := &pubPlan{
			clients: len(pubs),
			claim:   new(atomic.Int64),
			mstart:  mstart,
			end:     end,
			grace:   100 * time.Millisecond,
			stamp:   o.Mode == ModePubSub,
			stopped: &pubStopped,
		}
		if o.Count > 0 {
			pl.total = (o.Count + int64(o.BatchSize) - 1) / int64(o.BatchSize)
		}
		if o.Rate > 0 {
			sched = &Schedule{Start: start, Rate: o.Rate, Batch: o.BatchSize}
			pacer = &Pacer{Schedule: sched, Clock: o.Clock, LateAfter: lateAfter}
			pl.pacer = pacer
		}
		errs := make([]error, len(pubs))
		var wg sync.WaitGroup
		for i, p := range pubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.run(pl); err != nil {
					errs[i] = err
					pubStopped.Store(true) // one failure ends the run
				}
			}()
		}
		wg.Wait()
		pubErr = joinDistinct(errs...)
		if sched != nil {
			due := pl.total
			if due == 0 {
				due = sched.Batches(end.Sub(start))
			} else if !end.IsZero() {
				due = min(due, sched.Batches(end.Sub(start)))
			}
			st := &ScheduleStats{TargetRate: o.Rate, Due: due, Late: pacer.Late(), MaxLag: pacer.MaxLag()}
			lags := make([]*hdrhistogram.Histogram, len(pubs))
			for i, p := range pubs {
				st.Sent += p.sentBatches
				lags[i] = p.lag
			}
			st.Lag = Summarize(merge(lags...))
			res.Schedule = st
		}
	}

	// pubsub: consumers get what was published, within the drain time
	if o.Mode == ModePubSub {
		var published int64
		for _, p := range pubs {
			published += p.live.Load()
		}
		if pubErr != nil || published == 0 {
			stopSubs()
		} else {
			setSubDeadline(time.Now().Add(o.Drain), false)
			target.Store(published)
			if all.Load() >= published {
				stopSubs()
			}
		}
	}
	subWG.Wait()
	if prog != nil {
		prog.stop()
	}
	if err := joinDistinct(append([]error{pubErr}, subErrs...)...); err != nil {
		return nil, err
	}

	if len(pubs) > 0 {
		res.Pub = pubSide(pubs, mstart, o.Size)
		if o.Mode == ModePubSub {
			res.Pub.LatencyOf = "publish_ok"
		}
	}
	if len(subs) > 0 {
		res.Sub = subSide(subs, mstart)
		if o.Mode == ModePubSub {
			res.Sub.LatencyOf = "publish_to_delivery"
			if got, want := all.Load(), target.Load(); got < want {
				res.Warnings = append(res.Warnings, fmt.Sprintf(
					"consumers received %s of the %s messages published within --drain %s", fmtInt(got), fmtInt(want), o.Drain))
			}
		}
	}
	if st := res.Schedule; st != nil {
		if st.Sent < st.Due {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"fell behind the rate: %s of %s batches were due before the end but not sent", fmtInt(st.Due-st.Sent), fmtInt(st.Due)))
		}
		if st.Sent > 0 && st.Late*100 > st.Sent {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"fell behind the rate: %s of %s batches (%.1f%%) were sent more than %s late (max %s); latency counts from the intended send times",
				fmtInt(st.Late), fmtInt(st.Sent), 100*float64(st.Late)/float64(st.Sent), lateAfter, fmtDur(st.MaxLag)))
		}
		st.Behind = st.Sent < st.Due || (st.Sent > 0 && st.Late*100 > st.Sent)
	}
	if o.Warn != nil {
		for _, w := range res.Warnings {
			fmt.Fprintf(o.Warn, "nsq_bench: warning: %s\n", w)
		}
	}
	return res, nil
}

// transport names the connection kind for reports.
func transport(o Options) string {
	if o.Client == nil {
		return "tcp"
	}
	s := "tcp"
	if o.Client.TLSV1 {
		s += "+tls"
	}
	if o.Client.Snappy {
		s += "+snappy"
	}
	if o.Client.Deflate {
		s += "+deflate"
	}
	if s == "tcp" {
		s = "tcp (core/client)"
	}
	return s
}

func pubSide(pubs []*publisher, mstart time.Time, size int) *Side {
	s := &Side{LatencyOf: "mpub_ok"}
	hs := make([]*hdrhistogram.Histogram, len(pubs))
	for i, p := range pubs {
		c := ClientStats{ID: i + 1, Addr: p.link.addr(), Msgs: p.msgs, Bytes: p.msgs * int64(size), Latency: Summarize(p.hist)}
		if !p.lastAck.IsZero() {
			c.Elapsed = p.lastAck.Sub(mstart)
		}
		c.fill()
		s.Clients = append(s.Clients, c)
		hs[i] = p.hist
	}
	s.total()
	s.Latency = Summarize(merge(hs...))
	return s
}

func subSide(subs []*consumer, mstart time.Time) *Side {
	s := &Side{}
	hs := make([]*hdrhistogram.Histogram, len(subs))
	for i, c := range subs {
		cs := ClientStats{ID: c.id, Addr: c.link.addr(), Msgs: c.msgs, Bytes: c.bytes, Latency: Summarize(c.hist)}
		if !c.lastMsg.IsZero() {
			cs.Elapsed = c.lastMsg.Sub(mstart)
		}
		cs.fill()
		s.Clients = append(s.Clients, cs)
		hs[i] = c.hist
	}
	s.total()
	s.Latency = Summarize(merge(hs...))
	return s
}

// joinDistinct joins the non-nil errors, each message once (every client
// of a run usually fails the same way).
func joinDistinct(errs ...error) error {
	var out []error
	seen := make(map[string]bool)
	for _, err := range errs {
		if err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}
