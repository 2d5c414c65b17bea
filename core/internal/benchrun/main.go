// Command benchrun is the program behind `make bench`: it compares our
// nsqd with another nsqd binary (the peer, e.g. NSQ 1.3.0's) on fixed
// scenarios, each run against a fresh nsqd, with core/bench generating the
// load in process.
//
//	go run ./core/internal/benchrun --bin ./bin [--peer /path/to/nsqd] [--runs 3] [--json]
//
// Scenarios (100-byte messages, MPUB batches of 200, 2 publishers and 2
// consumers, as the table):
//
//	benchsh   NSQ's bench.sh setting: topic and channel created first,
//	          --mem-queue-size=1000000, PUB for 4 s, then
//	          SUB the same messages (at most 4 s)
//	nospill   --mem-queue-size=20000000, PUB 3 s then SUB; also resident memory per
//	          queued message: (VmRSS after PUB − VmRSS before) / messages queued
//	big       as benchsh with 1000-byte messages
//	pubsub    publish and consume at once for 3 s at half the peer's (else our)
//	          nospill PUB rate: p50/p99/p99.9 publish→delivery latency
//	spill     --mem-queue-size=0 (every message goes to disk), PUB 3 s, set
//	          against the go-diskqueue ceiling
//	diskqueue not an nsqd run: a bare loop of Put of 126-byte records (a
//	          100-byte body plus the 26-byte header) on go-diskqueue with nsqd's
//	          defaults (100 MiB files, sync every 2500, sync timeout 2 s), 2 s
//
// With a peer, each scenario runs ours then the peer's, --runs rounds, and
// the table shows the medians, ours/peer and whether the targets
// hold. Without one, our medians only. --smoke runs one tiny round of
// everything against our nsqd (for `make test`).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	diskqueue "github.com/nsqio/go-diskqueue"

	"github.com/nsqkit/nsqkit/core/bench"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	bin, peer string
	runs      int
	json      bool
	smoke     bool
	only      map[string]bool
	scale     float64
	keep      bool
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var only string
	fs.StringVar(&c.bin, "bin", "./bin", "directory holding our nsqd")
	fs.StringVar(&c.peer, "peer", "", "the nsqd binary to compare with (e.g. NSQ 1.3.0's); empty: ours only")
	fs.IntVar(&c.runs, "runs", 3, "rounds (each scenario once per binary per round); the table shows medians")
	fs.BoolVar(&c.json, "json", false, "print the results as JSON")
	fs.BoolVar(&c.smoke, "smoke", false, "one tiny round of every scenario against our nsqd (a test, not a measurement)")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (default all: "+strings.Join(scenarioNames(), ",")+")")
	fs.Float64Var(&c.scale, "scale", 1, "multiply every scenario's duration by this")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "benchrun: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if c.runs < 1 || c.scale <= 0 {
		fmt.Fprintln(stderr, "benchrun: --runs and --scale must be positive")
		return 2
	}
	if only != "" {
		c.only = map[string]bool{}
		for _, s := range strings.Split(only, ",") {
			if !slices.Contains(scenarioNames(), s) {
				fmt.Fprintf(stderr, "benchrun: unknown scenario %q (%s)\n", s, strings.Join(scenarioNames(), ", "))
				return 2
			}
			c.only[s] = true
		}
	}
	if c.smoke {
		c.runs, c.peer, c.scale = 1, "", 0.05
	}
	ours, err := filepath.Abs(filepath.Join(c.bin, "nsqd"))
	if err == nil {
		_, err = os.Stat(ours)
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchrun: our nsqd: %v (run make build, or give --bin)\n", err)
		return 1
	}
	targets := []*target{{name: "ours", bin: ours}}
	if c.peer != "" {
		p, err := exec.LookPath(c.peer)
		if err == nil {
			p, err = filepath.Abs(p)
		}
		if err != nil {
			fmt.Fprintf(stderr, "benchrun: peer nsqd: %v\n", err)
			return 1
		}
		targets = append(targets, &target{name: "peer", bin: p})
	}
	rep, err := measure(context.Background(), c, targets, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "benchrun: %v\n", err)
		return 1
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchrun: %v\n", err)
		return 1
	}
	return 0
}

// target is an nsqd binary under test.
type target struct {
	name string // "ours" or "peer"
	bin  string
}

// scenario is one fixed measurement.
type scenario struct {
	name     string
	memQueue int64
	size     int
	pubFor   time.Duration
	sub      bool          // consume what was published, after publishing
	rss      bool          // measure resident memory per queued message
	pubsub   time.Duration // publish and consume at once for this long
	disk     bool          // the go-diskqueue ceiling (no nsqd)
}

var scenarios = []scenario{
	{name: "benchsh", memQueue: 1000000, size: 100, pubFor: 4 * time.Second, sub: true},
	{name: "nospill", memQueue: 20000000, size: 100, pubFor: 3 * time.Second, sub: true, rss: true},
	{name: "big", memQueue: 1000000, size: 1000, pubFor: 4 * time.Second, sub: true},
	{name: "spill", memQueue: 0, size: 100, pubFor: 3 * time.Second},
	{name: "pubsub", memQueue: 20000000, size: 100, pubsub: 3 * time.Second},
	{name: "diskqueue", disk: true, pubFor: 2 * time.Second},
}

// title describes a scenario with its (scaled) durations.
func (c *config) title(sc scenario) string {
	d := func(x time.Duration) string { return c.dur(x).String() }
	switch sc.name {
	case "benchsh":
		return fmt.Sprintf("bench.sh setting: --mem-queue-size=%d, %d B, PUB %s then SUB", sc.memQueue, sc.size, d(sc.pubFor))
	case "nospill":
		return fmt.Sprintf("nothing spills: --mem-queue-size=%d, %d B, PUB %s then SUB; RSS growth / messages queued", sc.memQueue, sc.size, d(sc.pubFor))
	case "big":
		return fmt.Sprintf("%d B messages at the bench.sh setting: PUB %s then SUB", sc.size, d(sc.pubFor))
	case "spill":
		return fmt.Sprintf("spill path: --mem-queue-size=0 (every message to disk), %d B, PUB %s", sc.size, d(sc.pubFor))
	case "pubsub":
		return fmt.Sprintf("publish and consume at a fixed rate (half the peak nospill PUB rate) for %s: publish→delivery latency", d(sc.pubsub))
	case "diskqueue":
		return fmt.Sprintf("go-diskqueue ceiling: bare Put loop of 126-byte records with nsqd's defaults, %s", d(sc.pubFor))
	}
	return sc.name
}

func scenarioNames() []string {
	var s []string
	for _, sc := range scenarios {
		s = append(s, sc.name)
	}
	return s
}

// The load shared by every scenario.
const (
	clients   = 2
	batchSize = 200
)

// metric names and how the table shows them.
type metricDef struct {
	key, label string
	higher     bool    // higher is better
	target     float64 // required ours/peer ratio (0: none)
	format     func(float64) string
}

var metricDefs = map[string]metricDef{
	"pub_msgs_per_sec": {key: "pub_msgs_per_sec", label: "PUB msgs/s", higher: true, format: fmtRate},
	"sub_msgs_per_sec": {key: "sub_msgs_per_sec", label: "SUB msgs/s", higher: true, format: fmtRate},
	"rss_per_msg":      {key: "rss_per_msg", label: "RSS bytes/msg", format: fmtFloat1},
	"e2e_p50_us":       {key: "e2e_p50_us", label: "e2e p50", format: fmtMicros},
	"e2e_p99_us":       {key: "e2e_p99_us", label: "e2e p99", format: fmtMicros},
	"e2e_p999_us":      {key: "e2e_p999_us", label: "e2e p99.9", format: fmtMicros},
	"rate":             {key: "rate", label: "target rate msgs/s", format: fmtRate},
	"records_per_sec":  {key: "records_per_sec", label: "Put records/s", higher: true, format: fmtRate},
}

// targets are the issue's: ours/peer ratios per scenario and metric.
var ratioTargets = map[string]map[string]float64{
	"nospill": {"pub_msgs_per_sec": 2, "sub_msgs_per_sec": 2, "rss_per_msg": 0.5},
	"benchsh": {"pub_msgs_per_sec": 1.2, "sub_msgs_per_sec": 1.2},
	"big":     {"pub_msgs_per_sec": 1.5, "sub_msgs_per_sec": 1.5},
	"pubsub":  {"e2e_p99_us": 0.5},
}

// spillTarget: our spill PUB rate against the go-diskqueue ceiling.
const spillTarget = 0.8

// metricOrder is the table's row order.
var metricOrder = []string{"rate", "pub_msgs_per_sec", "sub_msgs_per_sec", "rss_per_msg", "e2e_p50_us", "e2e_p99_us", "e2e_p999_us", "records_per_sec"}

// report is everything measured.
type report struct {
	Rounds    int               `json:"rounds"`
	Ours      string            `json:"ours"`
	Peer      string            `json:"peer,omitempty"`
	Scenarios []*scenarioResult `json:"scenarios"`
	Seconds   float64           `json:"seconds"`
}

type scenarioResult struct {
	Name    string        `json:"name"`
	Title   string        `json:"title"`
	Metrics []*metricRuns `json:"metrics"`
	Checks  []check       `json:"checks,omitempty"`
	Notes   []string      `json:"notes,omitempty"`
	sc      scenario
}

// metricRuns holds every run's value of one metric.
type metricRuns struct {
	Name       string    `json:"name"`
	Ours       []float64 `json:"ours"`
	Peer       []float64 `json:"peer,omitempty"`
	OursMedian float64   `json:"ours_median"`
	PeerMedian float64   `json:"peer_median,omitempty"`
	Ratio      float64   `json:"ratio,omitempty"` // ours/peer
}

// check is a target and whether it holds.
type check struct {
	Metric string  `json:"metric"`
	What   string  `json:"what"`
	Want   float64 `json:"want"`
	Got    float64 `json:"got"`
	Holds  bool    `json:"holds"`
}

func (s *scenarioResult) metric(name string) *metricRuns {
	for _, m := range s.Metrics {
		if m.Name == name {
			return m
		}
	}
	m := &metricRuns{Name: name}
	s.Metrics = append(s.Metrics, m)
	return m
}

func (s *scenarioResult) add(who string, values map[string]float64) {
	for k, v := range values {
		m := s.metric(k)
		if who == "peer" {
			m.Peer = append(m.Peer, v)
		} else {
			m.Ours = append(m.Ours, v)
		}
	}
}

func (c *config) wants(name string) bool { return c.only == nil || c.only[name] }

func (c *config) dur(d time.Duration) time.Duration {
	return max(time.Duration(float64(d)*c.scale), 50*time.Millisecond)
}

// measure runs every scenario for every round and target.
func measure(ctx context.Context, c config, targets []*target, log io.Writer) (*report, error) {
	began := time.Now()
	rep := &report{Rounds: c.runs, Ours: targets[0].bin}
	if len(targets) > 1 {
		rep.Peer = targets[1].bin
	}
	results := map[string]*scenarioResult{}
	for _, sc := range scenarios {
		if c.wants(sc.name) {
			r := &scenarioResult{Name: sc.name, Title: c.title(sc), sc: sc}
			results[sc.name] = r
			rep.Scenarios = append(rep.Scenarios, r)
		}
	}
	// Phase 1: everything but pubsub, which needs the nospill peak rate.
	for round := 1; round <= c.runs; round++ {
		for _, sc := range scenarios {
			r := results[sc.name]
			if r == nil || sc.pubsub > 0 {
				continue
			}
			if sc.disk {
				v, err := diskQueueCeiling(c.dur(sc.pubFor))
				if err != nil {
					return nil, fmt.Errorf("diskqueue: %w", err)
				}
				fmt.Fprintf(log, "round %d/%d %-9s %s records/s\n", round, c.runs, sc.name, fmtRate(v))
				r.add("ours", map[string]float64{"records_per_sec": v})
				continue
			}
			for _, t := range targets {
				began := time.Now()
				vals, err := runScenario(ctx, c, sc, t, 0)
				if err != nil {
					return nil, fmt.Errorf("%s on %s: %w", sc.name, t.name, err)
				}
				fmt.Fprintf(log, "round %d/%d %-9s %-4s %s (%.1fs, nsqd stop %.1fs)\n", round, c.runs, sc.name, t.name, fmtValues(vals),
					time.Since(began).Seconds(), lastStop.Seconds())
				r.add(t.name, vals)
			}
		}
	}
	// Phase 2: pubsub at half the peak PUB rate without spilling.
	if r := results["pubsub"]; r != nil {
		peak := 0.0
		if ns := results["nospill"]; ns != nil {
			m := ns.metric("pub_msgs_per_sec")
			peak = median(m.Ours)
			if len(m.Peer) > 0 {
				peak = median(m.Peer)
			}
		} else {
			// no nospill this time: measure the peak once, quickly
			who := targets[len(targets)-1]
			vals, err := runScenario(ctx, c, scenario{name: "peak", memQueue: 20000000, size: 100, pubFor: c.dur(2 * time.Second)}, who, 0)
			if err != nil {
				return nil, fmt.Errorf("peak rate on %s: %w", who.name, err)
			}
			peak = vals["pub_msgs_per_sec"]
		}
		rate := math.Round(peak / 2)
		if c.smoke {
			rate = 20000 // a test of the machinery, not of nsqd
		}
		rate = max(rate, 1000)
		for round := 1; round <= c.runs; round++ {
			for _, t := range targets {
				vals, err := runScenario(ctx, c, r.sc, t, rate)
				if err != nil {
					return nil, fmt.Errorf("pubsub on %s: %w", t.name, err)
				}
				fmt.Fprintf(log, "round %d/%d %-9s %-4s %s\n", round, c.runs, "pubsub", t.name, fmtValues(vals))
				r.add(t.name, vals)
			}
		}
	}
	// medians, ratios and targets
	for _, r := range rep.Scenarios {
		slices.SortFunc(r.Metrics, func(a, b *metricRuns) int {
			return slices.Index(metricOrder, a.Name) - slices.Index(metricOrder, b.Name)
		})
		for _, m := range r.Metrics {
			m.OursMedian = median(m.Ours)
			if len(m.Peer) > 0 {
				m.PeerMedian = median(m.Peer)
				if m.PeerMedian != 0 {
					m.Ratio = m.OursMedian / m.PeerMedian
				}
				if want, ok := ratioTargets[r.Name][m.Name]; ok {
					ch := check{Metric: m.Name, Want: want, Got: m.Ratio}
					if metricDefs[m.Name].higher {
						ch.What, ch.Holds = fmt.Sprintf("ours/peer ≥ %g", want), m.Ratio >= want
					} else {
						ch.What, ch.Holds = fmt.Sprintf("ours/peer ≤ %g", want), m.Ratio > 0 && m.Ratio <= want
					}
					r.Checks = append(r.Checks, ch)
				}
			}
		}
	}
	if ps := results["pubsub"]; ps != nil {
		rate := ps.metric("rate").OursMedian
		for _, who := range []string{"ours", "peer"} {
			m := ps.metric("pub_msgs_per_sec")
			got := m.OursMedian
			if who == "peer" {
				if len(m.Peer) == 0 {
					continue
				}
				got = median(m.Peer)
			}
			if rate > 0 && got < 0.95*rate {
				ps.Notes = append(ps.Notes, fmt.Sprintf("%s published %s of the %s msgs/s asked: it fell behind, and its latency includes the backlog",
					who, fmtRate(got), fmtRate(rate)))
			}
		}
	}
	if sp, dq := results["spill"], results["diskqueue"]; sp != nil && dq != nil {
		ceiling := dq.metric("records_per_sec").OursMedian
		got := sp.metric("pub_msgs_per_sec").OursMedian
		if ceiling > 0 {
			sp.Checks = append(sp.Checks, check{Metric: "pub_msgs_per_sec",
				What: fmt.Sprintf("ours ≥ %g × go-diskqueue ceiling (%s records/s)", spillTarget, fmtRate(ceiling)),
				Want: spillTarget, Got: got / ceiling, Holds: got >= spillTarget*ceiling})
		}
	}
	rep.Seconds = time.Since(began).Seconds()
	return rep, nil
}

// lastStop is how long the last nsqd took to stop (for the log).
var lastStop time.Duration

// runScenario starts a fresh nsqd, runs one scenario against it and
// returns the figures.
func runScenario(ctx context.Context, c config, sc scenario, t *target, rate float64) (map[string]float64, error) {
	d, err := startNSQD(t.bin, sc.memQueue)
	if err != nil {
		return nil, err
	}
	topic := "bench_" + sc.name
	defer func() {
		began := time.Now()
		// Deleting the topic drops what is still queued, so that stopping
		// does not spend seconds writing it to disk first.
		d.post("/topic/delete?topic=" + topic)
		d.stop()
		lastStop = time.Since(began)
	}()
	addr := []string{d.tcp}
	vals := map[string]float64{}
	fail := func(err error) (map[string]float64, error) {
		return nil, fmt.Errorf("%w\nnsqd output:\n%s", err, d.output())
	}
	if sc.pubsub > 0 {
		res, err := bench.Run(ctx, bench.Options{Mode: bench.ModePubSub, Addrs: addr, Topic: topic, Size: sc.size,
			BatchSize: batchSize, Clients: clients, Subs: clients, Rate: rate, Runfor: c.dur(sc.pubsub), UserAgent: "benchrun"})
		if err != nil {
			return fail(err)
		}
		vals["rate"] = rate
		vals["pub_msgs_per_sec"] = res.Pub.MsgsPerSec
		vals["sub_msgs_per_sec"] = res.Sub.MsgsPerSec
		if l := res.Sub.Latency; l != nil {
			vals["e2e_p50_us"] = us(l.P50)
			vals["e2e_p99_us"] = us(l.P99)
			vals["e2e_p999_us"] = us(l.P999)
		}
		return vals, nil
	}
	if sc.sub {
		// as NSQ's bench.sh: the topic and the consumers' channel exist
		// before publishing, so messages flow to the channel (and its
		// memory queue) while they are published
		if err := d.create(topic, bench.DefaultChannel); err != nil {
			return fail(err)
		}
	}
	rssBefore, err := d.rss()
	if err != nil {
		return nil, err
	}
	pub, err := bench.Run(ctx, bench.Options{Mode: bench.ModePub, Addrs: addr, Topic: topic, Size: sc.size,
		BatchSize: batchSize, Clients: clients, Runfor: c.dur(sc.pubFor), UserAgent: "benchrun"})
	if err != nil {
		return fail(err)
	}
	vals["pub_msgs_per_sec"] = pub.Pub.MsgsPerSec
	if sc.rss {
		rssAfter, err := d.rss()
		if err != nil {
			return nil, err
		}
		if pub.Pub.Msgs > 0 {
			vals["rss_per_msg"] = float64(rssAfter-rssBefore) / float64(pub.Pub.Msgs)
		}
	}
	if sc.sub && pub.Pub.Msgs > 0 {
		sub, err := bench.Run(ctx, bench.Options{Mode: bench.ModeSub, Addrs: addr, Topic: topic, Clients: clients,
			Count: pub.Pub.Msgs, Runfor: c.dur(sc.pubFor), UserAgent: "benchrun"})
		if err != nil {
			return fail(err)
		}
		vals["sub_msgs_per_sec"] = sub.Sub.MsgsPerSec
	}
	return vals, nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// diskQueueCeiling times a bare loop of Put of 126-byte records on
// go-diskqueue with nsqd's default settings.
func diskQueueCeiling(d time.Duration) (float64, error) {
	dir, err := os.MkdirTemp("", "benchrun-dq")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	const (
		maxBytesPerFile = 104857600
		syncEvery       = 2500
		syncTimeout     = 2 * time.Second
		minMsgSize      = 26           // message header
		maxMsgSize      = 1048576 + 26 // --max-msg-size + header
	)
	logf := func(diskqueue.LogLevel, string, ...any) {}
	q := diskqueue.New("ceiling", dir, maxBytesPerFile, minMsgSize, maxMsgSize, syncEvery, syncTimeout, logf)
	rec := make([]byte, 126)
	for i := range rec {
		rec[i] = byte(i)
	}
	n := 0
	start := time.Now()
	end := start.Add(d)
	for {
		for range 1000 {
			if err := q.Put(rec); err != nil {
				q.Close()
				return 0, err
			}
		}
		n += 1000
		if time.Now().After(end) {
			break
		}
	}
	el := time.Since(start)
	if err := q.Close(); err != nil {
		return 0, err
	}
	return float64(n) / el.Seconds(), nil
}

// nsqdProc is a running nsqd.
type nsqdProc struct {
	cmd  *exec.Cmd
	dir  string
	tcp  string
	http string
	out  *strings.Builder
	done chan struct{}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startNSQD starts bin on fresh loopback ports with an empty data dir and
// waits until it answers /ping.
func startNSQD(bin string, memQueue int64) (*nsqdProc, error) {
	dir, err := os.MkdirTemp("", "benchrun-nsqd")
	if err != nil {
		return nil, err
	}
	tp, err := freePort()
	if err != nil {
		return nil, err
	}
	hp, err := freePort()
	if err != nil {
		return nil, err
	}
	tcp, httpAddr := fmt.Sprintf("127.0.0.1:%d", tp), fmt.Sprintf("127.0.0.1:%d", hp)
	d := &nsqdProc{dir: dir, tcp: tcp, http: httpAddr, out: &strings.Builder{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "--tcp-address="+tcp, "--http-address="+httpAddr, "--https-address=",
		"--data-path="+dir, "--log-level=warn", "--mem-queue-size="+strconv.FormatInt(memQueue, 10))
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	if err := d.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	pw.Close()
	outDone := make(chan struct{})
	go func() {
		b, _ := io.ReadAll(io.LimitReader(pr, 1<<20))
		io.Copy(io.Discard, pr)
		pr.Close()
		d.out.Write(b)
		close(outDone)
	}()
	go func() {
		d.cmd.Wait()
		<-outDone
		close(d.done)
	}()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-d.done:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%s exited at start:\n%s", bin, d.out.String())
		default:
		}
		if resp, err := hc.Get("http://" + httpAddr + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("%s not answering /ping after 15s", bin)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post sends an HTTP POST to nsqd (errors ignored).
func (d *nsqdProc) post(path string) {
	hc := &http.Client{Timeout: 10 * time.Second}
	if resp, err := hc.Post("http://"+d.http+path, "", nil); err == nil {
		resp.Body.Close()
	}
}

// create makes a topic and one of its channels over nsqd's HTTP API.
func (d *nsqdProc) create(topic, channel string) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/topic/create?topic=" + topic, "/channel/create?topic=" + topic + "&channel=" + channel} {
		resp, err := hc.Post("http://"+d.http+path, "", nil)
		if err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s: %s", path, resp.Status)
		}
	}
	return nil
}

// rss is the process's resident memory in bytes (VmRSS).
func (d *nsqdProc) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/<pid>/status")
}

// output is what nsqd printed (once it exited).
func (d *nsqdProc) output() string {
	select {
	case <-d.done:
		return d.out.String()
	default:
		return "(still running)"
	}
}

// stop sends SIGTERM, waits (killing it after 60 s) and removes the data.
func (d *nsqdProc) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
	os.RemoveAll(d.dir)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtRate(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtFloat1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// fmtMicros shows a latency held in µs as a duration with 3 significant
// digits (312µs, 1.23ms).
func fmtMicros(v float64) string {
	d := time.Duration(v * 1e3)
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(v, 'f', 0, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(v/1e3, 'f', max(0, 2-int(math.Log10(v/1e3))), 64) + "ms"
	}
	return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "s"
}

func fmtValues(vals map[string]float64) string {
	var parts []string
	for _, k := range metricOrder {
		if v, ok := vals[k]; ok {
			parts = append(parts, metricDefs[k].label+" "+metricDefs[k].format(v))
		}
	}
	return strings.Join(parts, ", ")
}

// writeTable prints one table per scenario.
func (r *report) writeTable(w io.Writer) error {
	peer := r.Peer != ""
	fmt.Fprintf(w, "make bench: %d round(s), ours %s", r.Rounds, r.Ours)
	if peer {
		fmt.Fprintf(w, ", peer %s", r.Peer)
	}
	fmt.Fprintf(w, " (%.0fs)\n", r.Seconds)
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "\n== %s: %s\n", s.Name, s.Title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		if peer && s.Name != "diskqueue" {
			fmt.Fprintln(tw, "metric\tours (median)\tpeer (median)\tours/peer\ttarget\tholds\t")
		} else {
			fmt.Fprintln(tw, "metric\tours (median)\truns\t")
		}
		for _, m := range s.Metrics {
			def := metricDefs[m.Name]
			if peer && s.Name != "diskqueue" {
				tgt, holds := "", ""
				for _, ch := range s.Checks {
					if ch.Metric == m.Name && strings.HasPrefix(ch.What, "ours/peer") {
						tgt = strings.TrimPrefix(ch.What, "ours/peer ")
						holds = yesNo(ch.Holds)
					}
				}
				ratio := ""
				if m.Ratio != 0 {
					ratio = fmtRatio(m.Ratio)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", def.label, def.format(m.OursMedian), def.format(m.PeerMedian), ratio, tgt, holds)
			} else {
				var runs []string
				for _, v := range m.Ours {
					runs = append(runs, def.format(v))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t\n", def.label, def.format(m.OursMedian), strings.Join(runs, " "))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "Note: %s\n", n)
		}
		for _, ch := range s.Checks {
			if !strings.HasPrefix(ch.What, "ours/peer") {
				fmt.Fprintf(w, "%s: %s: %.2f — %s\n", metricDefs[ch.Metric].label, ch.What, ch.Got, holdsWord(ch.Holds))
			}
		}
	}
	if peer {
		var failed []string
		n := 0
		for _, s := range r.Scenarios {
			for _, ch := range s.Checks {
				n++
				if !ch.Holds {
					failed = append(failed, s.Name+" "+metricDefs[ch.Metric].label)
				}
			}
		}
		fmt.Fprintf(w, "\nTargets: %d of %d hold", n-len(failed), n)
		if len(failed) > 0 {
			fmt.Fprintf(w, "; not yet: %s", strings.Join(failed, ", "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// fmtRatio shows two decimals, or three significant digits below 0.1.
func fmtRatio(v float64) string {
	if v < 0.1 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func holdsWord(b bool) string {
	if b {
		return "holds"
	}
	return "does NOT hold"
}
