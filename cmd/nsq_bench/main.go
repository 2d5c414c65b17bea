// Command nsq_bench is nsqkit's load tester: it publishes to and consumes
// from nsqd as fast as it can (or at a fixed rate) and reports rates and
// HDR latency percentiles, as text, JSON or CSV. The work lives in
// core/bench; this file turns a subcommand and its flags into
// bench.Options and a signal into a stop.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/nsqkit/nsqkit/core/bench"
	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/version"
)

func main() {
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, sigc))
}

const name = "nsq_bench"

// userAgent is sent in IDENTIFY.
var userAgent = name + "/" + version.Reported

// run is nsq_bench's whole life; it returns the exit status: 0 after a
// run (also one cut short by a signal, whose partial result is printed)
// and after --help/--version, 1 on a runtime failure, 2 on bad usage.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer, sigc <-chan os.Signal) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "%s: a subcommand is required: pub, sub or pubsub\nRun '%s --help' for usage.\n", name, name)
		return cli.ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		io.WriteString(stdout, topUsage)
		return cli.ExitOK
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version.String(name))
		return cli.ExitOK
	}
	mode := bench.Mode(args[0])
	if mode != bench.ModePub && mode != bench.ModeSub && mode != bench.ModePubSub {
		fmt.Fprintf(stderr, "%s: unknown subcommand %q (pub, sub or pubsub)\nRun '%s --help' for usage.\n", name, args[0], name)
		return cli.ExitUsage
	}
	inv, err := parse(mode, args[1:], getenv, stdout, stderr)
	if err != nil {
		code := cli.ExitCode(err)
		if code == cli.ExitFailure {
			fmt.Fprintf(stderr, "%s: %s\n", name, err)
		}
		return code
	}

	if f, ok := stderr.(*os.File); ok && cli.IsTerminal(f) && !inv.quiet {
		inv.opts.Progress = stderr
	}
	if inv.json || inv.csv {
		inv.opts.Warn = stderr // the text report has its warnings
	}

	lg := logger.New(stderr, "["+name+"] ", inv.logLevel)
	return cli.RunJob(cli.Job{
		Run: func(ctx context.Context) error {
			if inv.cpuProfile != "" {
				f, err := os.Create(inv.cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := bench.Run(ctx, inv.opts)
			if err != nil {
				return err
			}
			switch {
			case inv.json:
				return res.WriteJSON(stdout)
			case inv.csv:
				return res.WriteCSV(stdout)
			}
			return res.WriteText(stdout)
		},
		Stopping: "stopping (the result so far follows)",
		Abandon:  "exiting without a result",
	}, lg, sigc)
}

// invocation is a parsed command line.
type invocation struct {
	opts       bench.Options
	json, csv  bool
	quiet      bool
	cpuProfile string
	logLevel   logger.Level
}

// parse turns a subcommand's flags into an invocation. Errors come from
// cli.Command (map them with cli.ExitCode); help and usage errors are
// already printed.
func parse(mode bench.Mode, args []string, getenv func(string) string, stdout, stderr io.Writer) (*invocation, error) {
	o := bench.Options{
		Mode:      mode,
		Topic:     bench.DefaultTopic,
		Channel:   bench.DefaultChannel,
		Size:      bench.DefaultSize,
		BatchSize: bench.DefaultBatchSize,
		Clients:   runtime.GOMAXPROCS(0),
		Runfor:    bench.DefaultRunfor,
		RDY:       bench.DefaultRDY,
		Drain:     bench.DefaultDrain,
		UserAgent: userAgent,
	}
	inv := &invocation{}
	var rate int64
	pubs, subs := mode != bench.ModeSub, mode != bench.ModePub
	cf := cli.NewClientFlags()
	cf.LogLevel = logger.Info

	k := func(f *cli.Flag) *cli.Flag { return f.WithKey("") }
	flags := []*cli.Flag{
		cli.NSQDTCPAddresses(&cf.NSQDTCPAddresses, "nsqd TCP address; repeat it to spread the clients over several nsqd\n(client i uses address i mod n) (default 127.0.0.1:4150)"),
		k(cli.String("topic", &o.Topic, "topic to "+map[bench.Mode]string{bench.ModePub: "publish to", bench.ModeSub: "consume", bench.ModePubSub: "publish to and consume"}[mode])),
	}
	if subs {
		flags = append(flags, k(cli.String("channel", &o.Channel, "channel to consume")))
	}
	flags = append(flags, k(cli.Int("size", &o.Size, sizeUsage(mode))))
	if pubs {
		flags = append(flags,
			k(cli.Int("batch-size", &o.BatchSize, "messages per MPUB; 1 publishes each message with PUB")),
			k(cli.Int64("rate", &rate, "publish at this fixed rate (messages per second, all publishers together);\n"+
				"each batch has an intended send time and latency counts from it; 0: as fast as nsqd answers")),
		)
	}
	clientsUsage := "publishing connections"
	if mode == bench.ModeSub {
		clientsUsage = "consuming connections"
	}
	flags = append(flags, k(cli.Int("clients", &o.Clients, clientsUsage+" (GOMAXPROCS by default, like bench_writer)")))
	if mode == bench.ModePubSub {
		flags = append(flags, k(cli.Int("subs", &o.Subs, "consuming connections (default: --clients)")))
	}
	runforFlag := k(cli.Duration("runfor", &o.Runfor, "how long to run (the measured part, after --warmup)"))
	countUsage := "stop after publishing this many messages"
	if mode == bench.ModeSub {
		countUsage = "stop after receiving this many messages (without --runfor: no time limit)"
	} else {
		countUsage += " (without --runfor: no time limit)"
	}
	flags = append(flags,
		runforFlag,
		k(cli.Int64("count", &o.Count, countUsage)),
		k(cli.Duration("warmup", &o.Warmup, "run this long first without measuring")),
	)
	if subs {
		flags = append(flags,
			k(cli.Int("rdy", &o.RDY, "RDY count of each consumer")),
			k(cli.Int("output-buffer-size", &o.OutputBufferSize, "nsqd's output buffer for each consumer, bytes (-1: none; 0: nsqd's default)")),
			k(cli.Duration("output-buffer-timeout", &o.OutputBufferTimeout, "nsqd's output buffer flush timeout for each consumer (-1ms: no timed flush;\n0: nsqd's default, 250ms)")),
		)
	}
	if mode == bench.ModePubSub {
		flags = append(flags, k(cli.Duration("drain", &o.Drain, "after publishing stops, wait this long at most for the consumers to get every message")))
	}
	flags = append(flags,
		k(cli.Bool("json", &inv.json, "print the result as one JSON document")),
		k(cli.Bool("csv", &inv.csv, "print the result as CSV: one row per connection and a total per side")),
		k(cli.Bool("quiet", &inv.quiet, "no progress line on a terminal")),
		k(cli.String("cpuprofile", &inv.cpuProfile, "write nsq_bench's own CPU profile to this file (is the tool the bottleneck?)")).WithPlaceholder("path"),
	)
	optFlag := "producer-opt"
	if mode == bench.ModeSub {
		optFlag = "consumer-opt"
	}
	flags = append(flags, cf.ConnFlags(optFlag)...)

	cmd := &cli.Command{
		Name:        name + " " + string(mode),
		Summary:     summaries[mode],
		Description: strings.TrimLeft(description, "\n"),
		Flags:       flags,
		BriefUsage:  true,
		Stdout:      stdout,
		Stderr:      stderr,
		Getenv:      getenv,
	}
	rest, err := cmd.Parse(args)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, cmd.Usage(fmt.Errorf("unexpected arguments %q", rest))
	}
	if inv.json && inv.csv {
		return nil, cmd.Usage(errors.New("use --json or --csv, not both"))
	}
	// Zero means "the default" to core/bench; on the command line it is
	// a mistake.
	for _, v := range []struct {
		flag string
		n    int
		used bool
	}{{"size", o.Size, true}, {"batch-size", o.BatchSize, pubs}, {"clients", o.Clients, true}, {"rdy", o.RDY, subs}} {
		if v.used && v.n < 1 {
			return nil, cmd.Usage(fmt.Errorf("--%s must be at least 1 (got %d)", v.flag, v.n))
		}
	}
	if o.Count > 0 && !runforFlag.IsSet() {
		o.Runfor = 0
	}
	o.Rate = float64(rate)
	o.Addrs = cf.NSQDTCPAddresses
	if len(o.Addrs) == 0 {
		o.Addrs = []string{"127.0.0.1:4150"}
	}
	if mode == bench.ModePubSub && o.Subs == 0 {
		o.Subs = o.Clients
	}
	if err := o.Validate(); err != nil {
		return nil, cmd.Usage(err)
	}
	if cf.TLS || cf.Snappy || cf.Deflate || cf.AuthSecret != "" || cf.TLSCert != "" || cf.TLSRootCAFile != "" || len(cf.Opts) > 0 {
		cfg := client.NewConfig()
		if err := cf.Apply(cfg, optFlag, "user_agent"); err != nil {
			return nil, cmd.Usage(err)
		}
		cfg.UserAgent = userAgent
		cfg.Logger = logger.New(stderr, "["+name+"] ", max(cf.LogLevel, logger.Warn))
		if err := cfg.Validate(); err != nil {
			return nil, cmd.Usage(fmt.Errorf("--%s: %w", optFlag, err))
		}
		o.Client = cfg
	}
	inv.opts = o
	inv.logLevel = cf.LogLevel
	return inv, nil
}

func sizeUsage(mode bench.Mode) string {
	switch mode {
	case bench.ModeSub:
		return "(unused by sub: the MB/s figure counts the bodies received)"
	case bench.ModePubSub:
		return "message size in bytes (random bytes; the first 8 hold the send time)"
	}
	return "message size in bytes (random bytes)"
}

var summaries = map[bench.Mode]string{
	bench.ModePub:    "nsq_bench pub publishes to nsqd as fast as it acknowledges (or at --rate) and reports msgs/s and MPUB→OK latency.",
	bench.ModeSub:    "nsq_bench sub consumes a topic's channel and reports msgs/s.",
	bench.ModePubSub: "nsq_bench pubsub publishes and consumes at once and reports publish→delivery latency.",
}

// topUsage is the help of nsq_bench without a subcommand.
var topUsage = `Usage: nsq_bench pub|sub|pubsub [flags]

nsq_bench is nsqkit's load tester for nsqd (NSQ's bench_writer and
bench_reader in one tool, with latency percentiles).

SUBCOMMANDS
  pub      publish (MPUB batches, or PUB with --batch-size 1) for --runfor or
           --count messages; latency is each batch's MPUB→OK round trip
  sub      consume a channel (RDY, FIN in batches) for --runfor or --count
  pubsub   both at once; the first 8 bytes of each body carry the send time,
           latency is publish→delivery

Run 'nsq_bench SUBCOMMAND --help' for the flags of each.
` + strings.TrimLeft(description, "\n") + "\n"

// description is the help text between the summary and the flags.
var description = `
Defaults: 100-byte messages (the size of the issue's benchmarks; bench_writer
uses 200), MPUB batches of 200, GOMAXPROCS connections, --runfor 10s, topic
sub_bench, channel ch, RDY 2500. Plain TCP connections are raw and cheap;
--tls, --snappy, --deflate, --auth-secret or an --*-opt make them core/client
connections, which do the upgrades.

RATE
  --rate N schedules batch n of the run at start + n×batch/N on the clock;
  a late publisher sends at once, latency counts from the intended time (no
  coordinated omission) and the report says when the tool fell behind.

OUTPUT
  A report on stdout like nats bench: msgs/sec and MB/sec (MB = 1024×1024
  bytes of bodies) in total and per connection, and latency min, p50, p90,
  p99, p99.9 and max from an HDR histogram. --json prints one JSON document
  (durations in ns), --csv one row per connection. On a terminal a progress
  line is shown on stderr. Exit status: 0 after a run (a signal stops it
  early and the partial result is printed), 1 on a failure, 2 on bad usage.`
