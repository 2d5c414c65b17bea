// Command nsq_tail prints the messages of one or more topics to stdout:
// raw bodies as NSQ's nsq_tail does, or rendered by a Go template
// (--format) or as JSON lines (--json). The work lives in core/pipe; this
// file turns flags into pipe.TailOptions and signals into a stop.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/pipe"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

func main() {
	// A closed stdout (nsq_tail | head) must surface as EPIPE from
	// write, which Tail treats as a clean end, not kill the process.
	signal.Ignore(syscall.SIGPIPE)
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, sigc))
}

// userAgent is sent in IDENTIFY: nsq_tail's, with a version that compares
// as NSQ's.
var userAgent = "nsq_tail/" + version.Reported

// run is nsq_tail's whole life; it returns the exit status: 0 after -n
// messages, a signal or a closed stdout (and after --help/--version), 1 on
// a runtime failure, 2 on bad usage. A second signal gives up waiting for
// the graceful stop and returns 1 at once.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer, sigc <-chan os.Signal) int {
	opts, lg, err := buildOptions(args, getenv, stdout, stderr)
	if err != nil {
		code := cli.ExitCode(err)
		if code == cli.ExitFailure {
			logger.New(stderr, logPrefix, logger.Info).Fatalf("%s", err)
		}
		return code
	}

	return cli.RunJob(cli.Job{
		Run:      func(ctx context.Context) error { return pipe.Tail(ctx, *opts) },
		Stopping: "stopping (requeueing what was not printed)",
		Abandon:  "exiting without waiting for the consumers",
	}, lg, sigc)
}

// logPrefix starts nsq_tail's diagnostics on stderr.
const logPrefix = "[nsq_tail] "

// buildOptions parses the command line into TailOptions and the logger
// for diagnostics. Errors come from cli.Command (map them with
// cli.ExitCode); help, version and usage errors are already printed.
func buildOptions(args []string, getenv func(string) string, stdout, stderr io.Writer) (*pipe.TailOptions, *logger.Logger, error) {
	var (
		topics      []string
		channel     string
		maxInFlight = pipe.DefaultMaxInFlight
		count       int
		printTopic  bool
		format      string
		jsonOut     bool
	)
	cf := cli.NewClientFlags()
	flags := []*cli.Flag{
		cli.Strings("topic", &topics, "NSQ topic to print; each topic gets its own consumer, all on --channel").WithKey(""),
		cli.String("channel", &channel, "NSQ channel (default: a random tail<NNNNNN>#ephemeral)").WithKey(""),
	}
	flags = append(flags, cf.AddressFlags(
		"nsqd TCP address to read from",
		"nsqlookupd HTTP address to discover the topic's nsqd from")...)
	flags = append(flags,
		cli.Int("max-in-flight", &maxInFlight, "messages each topic's consumer may have in flight").WithKey(""),
		cli.Int("n", &count, "exit (status 0) after this many messages of one topic; 0: run until stopped.\n"+
			"max-in-flight is lowered to n when n is smaller").WithKey(""),
		cli.Bool("print-topic", &printTopic, "start each line with \"<topic> | \"").WithKey(""),
		cli.String("format", &format, "render each message with this Go text/template (see TEMPLATE)").WithPlaceholder("template").WithKey(""),
		cli.Bool("json", &jsonOut, "print each message as one JSON object per line (see JSON)").WithKey(""),
	)
	flags = append(flags, cf.ConnFlags("consumer-opt")...)
	cmd := &cli.Command{
		Name:        "nsq_tail",
		Summary:     "nsq_tail prints the messages of NSQ topics to stdout, one per line.",
		Description: description,
		Version:     version.String("nsq_tail"),
		Flags:       flags,
		BriefUsage:  true,
		Stdout:      stdout,
		Stderr:      stderr,
		Getenv:      getenv,
	}
	if _, err := cmd.Parse(args); err != nil {
		return nil, nil, err
	}

	switch {
	case len(topics) == 0:
		return nil, nil, cmd.Usage(errors.New("--topic required"))
	case format != "" && jsonOut:
		return nil, nil, cmd.Usage(errors.New("use --format or --json, not both"))
	case printTopic && (format != "" || jsonOut):
		return nil, nil, cmd.Usage(errors.New("--print-topic only applies to raw output (--json has the topic; use {{.Topic}} in --format)"))
	case maxInFlight < 1:
		return nil, nil, cmd.Usage(fmt.Errorf("--max-in-flight must be at least 1 (got %d)", maxInFlight))
	case count < 0:
		return nil, nil, cmd.Usage(fmt.Errorf("-n must not be negative (got %d)", count))
	}
	if err := cf.Sources(); err != nil {
		return nil, nil, cmd.Usage(err)
	}
	for _, t := range topics {
		if !wire.IsValidTopicName(t) {
			return nil, nil, cmd.Usage(fmt.Errorf("invalid --topic %q", t))
		}
	}
	if channel != "" && !wire.IsValidChannelName(channel) {
		return nil, nil, cmd.Usage(fmt.Errorf("invalid --channel %q", channel))
	}

	var formatter pipe.Formatter
	switch {
	case jsonOut:
		formatter = &pipe.JSON{}
	case format != "":
		t, err := pipe.NewTemplate(format)
		if err != nil {
			return nil, nil, cmd.Usage(fmt.Errorf("--format: %w", err))
		}
		formatter = t
	default:
		useColor := false
		if f, ok := stdout.(*os.File); ok {
			useColor = cli.UseColor(f, getenv)
		}
		formatter = pipe.Raw{PrintTopic: printTopic, Color: useColor}
	}

	lg := logger.New(stderr, logPrefix, cf.LogLevel)
	cfg := client.NewConfig()
	if err := cf.Apply(cfg, "consumer-opt", "max_in_flight", "user_agent"); err != nil {
		return nil, nil, cmd.Usage(err)
	}
	cfg.UserAgent = userAgent
	cfg.Logger = lg
	if err := cfg.Validate(); err != nil {
		return nil, nil, cmd.Usage(fmt.Errorf("--consumer-opt: %w", err))
	}
	return &pipe.TailOptions{
		Topics:               topics,
		Channel:              channel,
		NSQDTCPAddresses:     cf.NSQDTCPAddresses,
		LookupdHTTPAddresses: cf.LookupdHTTPAddresses,
		MaxInFlight:          maxInFlight,
		Count:                count,
		Config:               cfg,
		Format:               formatter,
		Out:                  stdout,
		Log:                  lg,
	}, lg, nil
}

// description is the help text between the summary and the flags.
var description = `Each message is printed when it arrives and finished (FIN) only once it was
written to stdout (on Linux, when stdout is a pipe: once the reader has read
it); messages received but not printed (on -n, a signal or a closed stdout, as
with nsq_tail ... | head) are requeued at once. A reader such as head reads
whole blocks, so what it read and dropped counts as delivered. Exactly one
of --nsqd-tcp-address and --lookupd-http-address must be given. Diagnostics go
to stderr. Exit status: 0 after -n messages, SIGINT/SIGTERM or a closed stdout;
1 on a runtime failure; 2 on bad usage.

OUTPUT
  By default each body is printed byte for byte followed by a newline (binary
  bodies too); --print-topic prefixes "<topic> | " (dimmed on a terminal,
  unless NO_COLOR is set).

TEMPLATE
  --format '{{.ID}} {{.Attempts}} {{printf "%s" .Body}}'
` + "  " + strings.ReplaceAll(pipe.TemplateHelp, "\n", "\n  ") + `

JSON
  --json prints {"topic","channel","id","timestamp","attempts","nsqd_address",
  "body"} per line; timestamp is RFC 3339 in UTC with nanoseconds. A body that
  is not valid UTF-8 is base64 and the object has "body_encoding":"base64".`
