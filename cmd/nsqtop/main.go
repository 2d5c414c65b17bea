// Command nsqtop shows what an NSQ cluster is doing right now, in a
// terminal: topics, channels, nodes, clients and lookupd registrations,
// with rates, lag and drain ETAs, drill-down from the cluster to a
// client, and nsqadmin's actions behind a confirm dialog. --once prints
// one snapshot as text or JSON instead. The UI lives in core/top, the
// data in core/top/cluster; this file turns flags into their options.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top"
	"github.com/nsqkit/nsqkit/core/top/cluster"
	"github.com/nsqkit/nsqkit/core/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// defaultLookupd is the lookupd of `make run`, asked when no address is
// given.
const defaultLookupd = "127.0.0.1:4161"

// options are nsqtop's settings after parsing.
type options struct {
	source    cluster.Source
	interval  time.Duration
	readOnly  bool
	once      bool
	json      bool
	noRates   bool
	warn      int64
	crit      int64
	history   int
	noMouse   bool
	httpFlags *cli.HTTPClientFlags
}

// run is nsqtop's whole life; it returns the exit status: 0 on success
// (and after --help/--version), 1 on a runtime failure (--once: no nsqd
// answered), 2 on bad usage.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, cmd, err := parse(args, getenv, stdout, stderr)
	if err != nil {
		return cli.ExitCode(err)
	}
	client := lookup.NewClient(lookup.Options{
		ConnectTimeout: o.httpFlags.ConnectTimeout,
		RequestTimeout: o.httpFlags.RequestTimeout,
		UserAgent:      "nsqtop/" + version.Reported,
	})
	defer client.Close()
	popts := cluster.NewOptions()
	popts.Source = o.source
	popts.Client = client
	popts.Interval = o.interval
	popts.History = o.history
	poller := cluster.NewPoller(popts)

	if o.once {
		return once(poller, o, stdout, stderr)
	}
	out, _ := stdout.(*os.File)
	if !cli.IsTerminal(out) {
		return cli.ExitCode(cmd.Usage(errors.New("stdout is not a terminal: use --once (or --once --json) for a snapshot")))
	}
	mode := top.Mono
	if cli.UseColor(out, getenv) {
		mode = top.Color
	}
	m := top.New(top.Config{
		Poller:    poller,
		Source:    o.source,
		Interval:  o.interval,
		ReadOnly:  o.readOnly,
		WarnDepth: o.warn,
		CritDepth: o.crit,
		Styles:    top.NewStyles(mode, out),
		Execute: func(ctx context.Context, p *cluster.Plan) *cluster.Result {
			return cluster.Execute(ctx, client, p)
		},
	})
	defer m.Close()
	popt := []tea.ProgramOption{tea.WithAltScreen(), tea.WithOutput(stdout), tea.WithInput(stdin)}
	if !o.noMouse {
		popt = append(popt, tea.WithMouseCellMotion())
	}
	if _, err := tea.NewProgram(m, popt...).Run(); err != nil {
		fmt.Fprintf(stderr, "nsqtop: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// once prints one snapshot: two polls one interval apart (rates need
// two), or one with --no-rates.
func once(p *cluster.Poller, o *options, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st := p.Poll(ctx)
	if !o.noRates {
		select {
		case <-time.After(o.interval):
		case <-ctx.Done():
			return cli.ExitFailure
		}
		st = p.Poll(ctx)
	}
	write := cluster.WriteText
	if o.json {
		write = cluster.WriteJSON
	}
	if err := write(stdout, st); err != nil {
		fmt.Fprintf(stderr, "nsqtop: %v\n", err)
		return cli.ExitFailure
	}
	if st.Cluster.NodesUp == 0 {
		fmt.Fprintln(stderr, "nsqtop: no nsqd answered")
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// parse reads the command line. Errors come from cli.Command (help,
// version and usage errors are already printed).
func parse(args []string, getenv func(string) string, stdout, stderr io.Writer) (*options, *cli.Command, error) {
	o := &options{
		interval:  top.DefaultInterval,
		warn:      top.DefaultWarnDepth,
		crit:      top.DefaultCritDepth,
		history:   cluster.DefaultHistory,
		httpFlags: cli.NewHTTPClientFlags(),
	}
	var lookupds, nsqds []string
	flags := []*cli.Flag{
		cli.LookupdHTTPAddresses(&lookupds, "nsqlookupd HTTP address to discover the nsqd from (default\n"+
			defaultLookupd+" when no address is given)"),
		cli.NSQDHTTPAddresses(&nsqds, "nsqd HTTP address to watch directly (may be combined with\n"+
			"--lookupd-http-address)"),
		cli.Duration("interval", &o.interval, "time between polls (+ and - change it while running)").WithKey(""),
		cli.Bool("read-only", &o.readOnly, "no actions: pause, empty, delete, create and tombstone are off").WithKey(""),
		cli.Bool("once", &o.once, "print one snapshot as tables and exit (polls twice, --interval\n"+
			"apart, for the rates)").WithKey(""),
		cli.Bool("json", &o.json, "with --once: print the snapshot as one JSON document").WithKey(""),
		cli.Bool("no-rates", &o.noRates, "with --once: poll once and print at once, without rates").WithKey(""),
		cli.Int64("warn-depth", &o.warn, "depths at or past this are shown as a warning (0: never)").WithKey(""),
		cli.Int64("crit-depth", &o.crit, "depths at or past this are shown as critical (0: never)").WithKey(""),
		cli.Int("history", &o.history, "polls of history kept for sparklines and trends").WithKey(""),
		cli.Bool("no-mouse", &o.noMouse, "leave the mouse to the terminal (no wheel scrolling; text\n"+
			"selection works)").WithKey(""),
	}
	flags = append(flags, o.httpFlags.Flags()...)
	cmd := &cli.Command{
		Name:        "nsqtop",
		Summary:     "nsqtop shows what an NSQ cluster is doing right now, top-style.",
		Description: description,
		Version:     version.String("nsqtop"),
		Flags:       flags,
		BriefUsage:  true,
		Stdout:      stdout,
		Stderr:      stderr,
		Getenv:      getenv,
	}
	rest, err := cmd.Parse(args)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case len(rest) > 0:
		return nil, nil, cmd.Usage(fmt.Errorf("unexpected argument %q", rest[0]))
	case o.interval < 100*time.Millisecond:
		return nil, nil, cmd.Usage(fmt.Errorf("--interval must be at least 100ms (got %s)", o.interval))
	case o.json && !o.once:
		return nil, nil, cmd.Usage(errors.New("--json needs --once"))
	case o.noRates && !o.once:
		return nil, nil, cmd.Usage(errors.New("--no-rates needs --once"))
	case o.warn < 0 || o.crit < 0:
		return nil, nil, cmd.Usage(errors.New("--warn-depth and --crit-depth must not be negative"))
	case o.warn > 0 && o.crit > 0 && o.crit < o.warn:
		return nil, nil, cmd.Usage(fmt.Errorf("--crit-depth (%d) must not be below --warn-depth (%d)", o.crit, o.warn))
	case o.history < 2:
		return nil, nil, cmd.Usage(fmt.Errorf("--history must be at least 2 (got %d)", o.history))
	}
	if err := o.httpFlags.Check(); err != nil {
		return nil, nil, cmd.Usage(err)
	}
	for _, a := range append(append([]string{}, lookupds...), nsqds...) {
		if _, err := lookup.ParseAddr(a); err != nil {
			return nil, nil, cmd.Usage(fmt.Errorf("bad address %q: %v", a, err))
		}
	}
	if len(lookupds) == 0 && len(nsqds) == 0 {
		lookupds = []string{defaultLookupd}
	}
	o.source = cluster.Source{LookupdHTTPAddrs: lookupds, NSQDHTTPAddrs: nsqds}
	return o, cmd, nil
}

// description is the help text between the summary and the flags: the
// views and the keys (generated from the keymap).
var description = `nsqtop polls every nsqd's /stats (found through nsqlookupd, or given with
--nsqd-http-address) every --interval and shows the cluster: a header with the
nodes up/stale/down, totals, msgs/s in and out with sparklines and the number
of messages processed, then one of these views. A slow or dead node never
freezes the screen: it is shown stale (greyed, its last data) and then down.

VIEWS
  1 topics    every topic: depth, memory + disk, messages, msgs/s in, channels,
              paused, the slowest channel's drain ETA (home)
  2 channels  every channel of the cluster: depth, in-flight, requeued/s,
              msgs/s out, lag (depth trend) and drain ETA (∞: growing);
              sort by ETA or LAG to find the consumer that is behind
  3 nodes     every nsqd: version (! differs), status, health, lookupd
              registrations, topics, depth, heap, uptime
  4 clients   every consumer connection: host, topic/channel, user agent,
              attributes, nsqd, RDY, in-flight, finished/s, connected for
  5 lookup    what each nsqlookupd has registered (topics without an nsqd
              too), producers and tombstones (asked only while shown)
  enter drills down: topic (a row per nsqd + total, its channels), channel
  (a row per nsqd, its clients), node (its topics, channels, clients),
  client (every detail); esc goes back up.

KEYS
` + top.HelpText(false) + `

ACTIONS
  Each action shows what it will do, on which nodes, with which HTTP calls,
  and runs only on y/enter (nsqadmin's fan-out: pause/empty go to every nsqd
  with the topic, delete and create to the lookupds too). p, e and d act on
  the selected row's channel, or its topic on a topic row; t tombstones a
  topic on the node of the selected node row (topic view) or topic row (node
  view); c asks for "topic" or "topic/channel". --read-only turns them off.

OUTPUT
  Colours on a terminal unless NO_COLOR is set. --once prints tables (or
  --json) to stdout; it polls twice, --interval apart, so rates are filled
  (--no-rates: poll once, no wait). Exit status: 0 ok; 1 no nsqd answered
  (--once) or the terminal failed; 2 bad usage.`
