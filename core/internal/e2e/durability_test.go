package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
)

// Durability of acknowledged messages across a stop under load: go-nsq
// producers publish continuously (MPUB, PUB and DPUB) and count what nsqd
// acknowledged, go-nsq consumers on two channels count what they receive,
// bin/nsqd gets a signal mid-load and is started again on the same data
// path, the consumers go on there, and every acknowledged message must
// have reached every channel (before or after the restart), or, where
// loss is expected, the loss is measured.

const (
	durTopic       = "durable"
	durProducers   = 4
	durMPUBSize    = 50
	durMaxInFlight = 100
	durDefer       = 300 * time.Millisecond
)

var durChannels = []string{"ch1", "ch2"}

// durRun is one publish → signal → restart → consume cycle.
type durRun struct {
	t      *testing.T
	dir    string
	flags  []string
	noDPUB bool // publish a PUB instead of each DPUB

	acked    [durProducers]atomic.Int64 // messages 0..n-1 of producer i were acknowledged
	deferred atomic.Int64               // acknowledged DPUBs
	pubErrs  [durProducers]error

	mu        sync.Mutex
	got       map[string]map[string]int // channel → body → deliveries
	last      time.Time                 // of the last new distinct delivery
	restarted bool                      // deliveries from the restarted nsqd are counted in after
	after     map[string]int            // channel → deliveries after the restart
}

func newDurRun(t *testing.T, flags ...string) *durRun {
	r := &durRun{t: t, dir: t.TempDir(), flags: append([]string{"--log-level=warn"}, flags...), got: map[string]map[string]int{}, after: map[string]int{}}
	for _, ch := range durChannels {
		r.got[ch] = map[string]int{}
	}
	return r
}

func durBody(producer int, seq int64) string {
	return fmt.Sprintf("p%d-%09d-%s", producer, seq, strings.Repeat("x", 48))
}

func (r *durRun) record(ch string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.got[ch]
	if m[string(body)] == 0 {
		r.last = time.Now()
	}
	m[string(body)]++
	if r.restarted {
		r.after[ch]++
	}
}

// consumers subscribes a go-nsq consumer to each channel on addr.
func (r *durRun) consumers(addr string) []*nsq.Consumer {
	r.t.Helper()
	var cs []*nsq.Consumer
	for _, ch := range durChannels {
		cfg := nsq.NewConfig()
		cfg.MaxInFlight = durMaxInFlight
		c, err := nsq.NewConsumer(durTopic, ch, cfg)
		if err != nil {
			r.t.Fatal(err)
		}
		c.SetLogger(nil, nsq.LogLevelError)
		c.AddConcurrentHandlers(nsq.HandlerFunc(func(m *nsq.Message) error {
			r.record(ch, m.Body)
			return nil
		}), 4)
		if err := c.ConnectToNSQD(addr); err != nil {
			r.t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

func durStopConsumers(t *testing.T, cs []*nsq.Consumer) {
	for _, c := range cs {
		c.Stop()
	}
	for _, c := range cs {
		select {
		case <-c.StopChan:
		case <-time.After(10 * time.Second):
			t.Errorf("a consumer did not stop within 10s")
		}
	}
}

// produce publishes as producer i until a publish fails or stop closes:
// of every 10 operations 6 are an MPUB of 50, 3 a PUB and 1 a DPUB.
func (r *durRun) produce(i int, addr string, stop <-chan struct{}) {
	cfg := nsq.NewConfig()
	p, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		r.pubErrs[i] = err
		return
	}
	p.SetLogger(nil, nsq.LogLevelError)
	defer p.Stop()
	var seq int64
	batch := make([][]byte, durMPUBSize)
	for op := 0; ; op++ {
		select {
		case <-stop:
			return
		default:
		}
		var n int64 = 1
		switch {
		case op%10 == 9 && !r.noDPUB:
			err = p.DeferredPublish(durTopic, durDefer, []byte(durBody(i, seq)))
			if err == nil {
				r.deferred.Add(1)
			}
		case op%10 >= 6:
			err = p.Publish(durTopic, []byte(durBody(i, seq)))
		default:
			n = durMPUBSize
			for j := range batch {
				batch[j] = []byte(durBody(i, seq+int64(j)))
			}
			err = p.MultiPublish(durTopic, batch)
		}
		if err != nil {
			r.pubErrs[i] = err
			return
		}
		seq += n
		r.acked[i].Store(seq)
	}
}

func (r *durRun) totalAcked() int64 {
	var n int64
	for i := range r.acked {
		n += r.acked[i].Load()
	}
	return n
}

// missing lists, per channel, the acknowledged messages not delivered.
func (r *durRun) missing() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, ch := range durChannels {
		for i := range r.acked {
			for seq := int64(0); seq < r.acked[i].Load(); seq++ {
				if b := durBody(i, seq); r.got[ch][b] == 0 {
					out[ch] = append(out[ch], b[:strings.IndexByte(b[3:], '-')+3])
				}
			}
		}
	}
	return out
}

// waitDelivered waits until every acknowledged message reached every
// channel, or nothing new arrived for quiet.
func (r *durRun) waitDelivered(quiet, limit time.Duration) map[string][]string {
	deadline := time.Now().Add(limit)
	for {
		miss := r.missing()
		if len(miss) == 0 {
			return miss
		}
		r.mu.Lock()
		idle := time.Since(r.last)
		r.mu.Unlock()
		if idle > quiet || time.Now().After(deadline) {
			return miss
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type durStats struct {
	Topics []struct {
		Name         string `json:"topic_name"`
		Depth        int64  `json:"depth"`
		BackendDepth int64  `json:"backend_depth"`
		Channels     []struct {
			Name         string `json:"channel_name"`
			Depth        int64  `json:"depth"`
			BackendDepth int64  `json:"backend_depth"`
			InFlight     int64  `json:"in_flight_count"`
			Deferred     int64  `json:"deferred_count"`
		} `json:"channels"`
	} `json:"topics"`
}

func durStatsOf(d *daemon) (*durStats, error) {
	resp, err := httpClient.Get("http://" + d.http + "/stats?format=json&topic=" + durTopic)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("stats: status %d", resp.StatusCode)
	}
	var s durStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return &s, nil
}

// durMemoryHeld is what the topic and its channels hold outside their disk
// queues (memory queue, in flight, deferred), per channel: the topic's
// memory plus the channel's. It describes d a moment before the signal.
func durMemoryHeld(d *daemon) (map[string]int64, string) {
	s, err := durStatsOf(d)
	if err != nil || len(s.Topics) == 0 {
		return nil, fmt.Sprintf("no stats: %v", err)
	}
	tp := s.Topics[0]
	held := map[string]int64{}
	desc := fmt.Sprintf("topic depth %d (disk %d)", tp.Depth, tp.BackendDepth)
	for _, c := range tp.Channels {
		held[c.Name] = tp.Depth - tp.BackendDepth + c.Depth - c.BackendDepth + c.InFlight + c.Deferred
		desc += fmt.Sprintf("; %s depth %d (disk %d) in flight %d deferred %d", c.Name, c.Depth, c.BackendDepth, c.InFlight, c.Deferred)
	}
	return held, desc
}

// cycle runs the load for loadFor, sends sig to nsqd, restarts it on the
// same data path and consumes until everything acknowledged arrived or
// nothing more comes. It returns the acknowledged messages missing per
// channel and what nsqd held in memory just before the signal.
func (r *durRun) cycle(sig syscall.Signal, loadFor time.Duration) (map[string][]string, map[string]int64) {
	t := r.t
	d := startNSQD(t, r.dir, r.flags...)
	if code, body := do(t, "POST", "http://"+d.http+"/topic/create?topic="+durTopic, nil); code != 200 {
		t.Fatalf("topic/create: %d %s", code, body)
	}
	for _, ch := range durChannels {
		if code, body := do(t, "POST", "http://"+d.http+"/channel/create?topic="+durTopic+"&channel="+ch, nil); code != 200 {
			t.Fatalf("channel/create: %d %s", code, body)
		}
	}
	cs := r.consumers(d.tcp)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < durProducers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.produce(i, d.tcp, stop)
		}()
	}
	time.Sleep(loadFor)
	held, desc := durMemoryHeld(d)
	ackedAtSignal := r.totalAcked()
	code := d.stop(sig)
	wg.Wait() // every producer's last publish failed: nsqd is gone
	close(stop)
	durStopConsumers(t, cs)
	for i, err := range r.pubErrs {
		if err == nil {
			t.Errorf("producer %d ended without an error while nsqd was stopped", i)
		}
	}
	if sig == syscall.SIGTERM && code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	r.mu.Lock()
	before := map[string]int{}
	for ch, m := range r.got {
		before[ch] = len(m)
	}
	r.mu.Unlock()
	t.Logf("%s after %s: %d messages acknowledged (%d at the signal, %d of them DPUB), delivered before: %v; in nsqd just before: %s",
		sig, loadFor, r.totalAcked(), ackedAtSignal, r.deferred.Load(), before, desc)

	d2 := startNSQD(t, r.dir, r.flags...)
	// What it reports queued once the topic moved its backlog on to the
	// channels (nothing consumes yet) is what each channel will deliver.
	queued := map[string]int64{}
	testutil.Eventually(t, 30*time.Second, "the topic's backlog moved to the channels", func() bool {
		s, err := durStatsOf(d2)
		if err != nil || len(s.Topics) != 1 || s.Topics[0].Depth != 0 || len(s.Topics[0].Channels) != len(durChannels) {
			return false
		}
		for _, c := range s.Topics[0].Channels {
			queued[c.Name] = c.Depth
		}
		return true
	})
	r.mu.Lock()
	r.restarted = true
	r.mu.Unlock()
	// the depths /stats reports while the backlog drains: never negative
	var lowest atomic.Int64
	pollDone, pollStop := make(chan struct{}), make(chan struct{})
	stopPoll := sync.OnceFunc(func() { close(pollStop); <-pollDone })
	t.Cleanup(stopPoll)
	go func() {
		defer close(pollDone)
		for {
			if s, err := durStatsOf(d2); err == nil {
				for _, tp := range s.Topics {
					low := min(tp.Depth, tp.BackendDepth)
					for _, c := range tp.Channels {
						low = min(low, c.Depth, c.BackendDepth, c.InFlight, c.Deferred)
					}
					if low < lowest.Load() {
						lowest.Store(low)
					}
				}
			}
			select {
			case <-pollStop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	cs = r.consumers(d2.tcp)
	miss := r.waitDelivered(5*time.Second, 120*time.Second)
	r.mu.Lock()
	dups := 0
	for _, m := range r.got {
		for _, n := range m {
			if n > 1 {
				dups++
			}
		}
	}
	after := map[string]int{}
	for ch, m := range r.got {
		after[ch] = len(m)
	}
	r.mu.Unlock()
	t.Logf("after the restart: %v queued, %v distinct messages delivered per channel in all, %d delivered more than once", queued, after, dups)
	if w := durRepairLines(d2.out.String()); w != "" {
		t.Logf("restarted nsqd logged:\n%s", w)
	}

	// the restarted nsqd serves as usual
	p, err := nsq.NewProducer(d2.tcp, nsq.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	p.SetLogger(nil, nsq.LogLevelError)
	for i := 0; i < 10; i++ {
		if err := p.Publish(durTopic, []byte(fmt.Sprintf("after-%d", i))); err != nil {
			t.Fatalf("publish after the restart: %v", err)
		}
	}
	p.Stop()
	testutil.Eventually(t, 10*time.Second, "messages published after the restart", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, ch := range durChannels {
			for i := 0; i < 10; i++ {
				if r.got[ch][fmt.Sprintf("after-%d", i)] == 0 {
					return false
				}
			}
		}
		return true
	})
	testutil.Eventually(t, 10*time.Second, "depth 0 and nothing in flight once all was consumed", func() bool {
		s, err := durStatsOf(d2)
		if err != nil || len(s.Topics) != 1 || s.Topics[0].Depth != 0 {
			return false
		}
		for _, c := range s.Topics[0].Channels {
			if c.Depth != 0 || c.InFlight != 0 || c.Deferred != 0 {
				return false
			}
		}
		return true
	})
	stopPoll()
	r.mu.Lock()
	for _, ch := range durChannels {
		// the 10 published after the restart come on top
		if got := int64(r.after[ch]); got != queued[ch]+10 {
			t.Errorf("%s: the restarted nsqd reported %d queued and delivered %d (and 10 published later)", ch, queued[ch], got-10)
		}
	}
	r.mu.Unlock()
	if low := lowest.Load(); low < 0 {
		t.Errorf("/stats reported a depth of %d after the restart", low)
	}
	durStopConsumers(t, cs)
	if code := d2.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("restarted nsqd: exit status %d after SIGTERM", code)
	}
	return miss, held
}

// durRepairLines are the disk queue lines of nsqd's log (warnings about what
// it found on disk).
func durRepairLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "DISKQUEUE") || strings.Contains(l, "nsqd.dat") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func durSample(s []string) []string {
	sort.Strings(s)
	if len(s) > 10 {
		return append(s[:10:10], "…")
	}
	return s
}

// TestDurabilitySIGTERMUnderLoad: SIGTERM while 4 producers publish and
// 2 channels consume; nothing acknowledged is lost (memory queues, in
// flight and deferred messages are written to disk at shutdown), with
// nsqd's defaults and with a memory queue small enough to spill to disk.
func TestDurabilitySIGTERMUnderLoad(t *testing.T) {
	testutil.Long(t)
	for _, flags := range [][]string{nil, {"--mem-queue-size=100"}} {
		name := "defaults"
		if len(flags) > 0 {
			name = strings.TrimPrefix(strings.Join(flags, " "), "--")
		}
		t.Run(name, func(t *testing.T) {
			r := newDurRun(t, flags...)
			miss, _ := r.cycle(syscall.SIGTERM, 2*time.Second)
			for ch, m := range miss {
				t.Errorf("%s: %d of %d acknowledged messages lost: %v", ch, len(m), r.totalAcked(), durSample(m))
			}
		})
	}
}

// TestDurabilitySIGKILLNoMemoryQueue: with --mem-queue-size=0 every
// published message is written to a disk queue before it is
// acknowledged, so SIGKILL (which loses memory, not what was written to
// the page cache) loses nothing acknowledged. DPUBs are left out: a
// deferred message waits in memory until it is due, with any
// --mem-queue-size (as in 1.3.0), and SIGKILL loses it.
func TestDurabilitySIGKILLNoMemoryQueue(t *testing.T) {
	testutil.Long(t)
	const runs = 2
	for run := 0; run < runs; run++ {
		r := newDurRun(t, "--mem-queue-size=0")
		r.noDPUB = true
		miss, _ := r.cycle(syscall.SIGKILL, 2*time.Second)
		for ch, m := range miss {
			t.Errorf("run %d, %s: %d of %d acknowledged messages lost: %v", run, ch, len(m), r.totalAcked(), durSample(m))
		}
	}
}

// TestDurabilitySIGKILLDefaults measures the loss window of nsqd's
// defaults (--mem-queue-size=10000, --sync-every=2500): SIGKILL loses what
// was held in memory (each channel's and the topic's memory queue, in
// flight and deferred messages), never what was written to a disk queue.
//
// What --sync-every promises: a disk queue fsyncs its data file and
// rewrites its metadata after that many reads and writes (and every
// --sync-timeout, 2 s, when anything happened), so a power cut or kernel
// crash loses at most the disk queue writes since the last sync. It
// promises nothing about messages in memory, and a process crash
// (SIGKILL, panic, OOM kill) loses none of the disk queue writes, synced
// or not: they are in the page cache, and on restart nsqd counts the
// records written after the last sync and serves them. A power cut
// cannot be simulated here.
func TestDurabilitySIGKILLDefaults(t *testing.T) {
	testutil.Long(t)
	const runs = 3
	var lost, acked int64
	for run := 0; run < runs; run++ {
		r := newDurRun(t)
		miss, held := r.cycle(syscall.SIGKILL, 2*time.Second)
		total := r.totalAcked()
		for _, ch := range durChannels {
			n := int64(len(miss[ch]))
			lost += n
			acked += total
			t.Logf("run %d, %s: %d of %d acknowledged messages lost (%.2f%%); nsqd held %d in memory a moment before SIGKILL",
				run, ch, n, total, 100*float64(n)/float64(max(total, 1)), held[ch])
			// only what memory can hold may be lost: the topic's and
			// the channel's memory queues, a batch on its way from one
			// to the other (1024), in flight, deferred
			if bound := int64(2*10000+1024+durMaxInFlight) + r.deferred.Load(); n > bound {
				t.Errorf("run %d, %s: lost %d, more than memory holds (%d): %v", run, ch, n, bound, durSample(miss[ch]))
			}
		}
	}
	t.Logf("SIGKILL with defaults: %d of %d acknowledged channel deliveries lost over %d runs (%.2f%%)",
		lost, acked, runs, 100*float64(lost)/float64(max(acked, 1)))
}
