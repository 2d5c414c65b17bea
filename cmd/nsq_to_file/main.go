// Command nsq_to_file archives NSQ topics into rotating files, finishing
// each message only once it is safely on disk. The work lives in
// core/archive; this file turns flags into archive.Options and signals
// into a stop (SIGINT, SIGTERM) or a file rotation (SIGHUP).
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsqkit/nsqkit/core/archive"
	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/version"
)

func main() {
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, sigc))
}

// userAgent is sent in IDENTIFY: nsq_to_file's, with a version that
// compares as NSQ's.
var userAgent = "nsq_to_file/" + version.Reported

// defaultLogPrefix starts nsq_to_file's diagnostics on stderr.
const defaultLogPrefix = "[nsq_to_file] "

// run is nsq_to_file's whole life; it returns the exit status: 0 after a
// clean stop on SIGINT/SIGTERM (and after --help/--version), 1 on a
// runtime failure, 2 on bad usage. SIGHUP closes the current files. A
// second SIGINT/SIGTERM (a second or more after the first) gives up the
// graceful stop and returns 1 at once (nothing unsynced was finished, so
// nothing is lost).
func run(args []string, getenv func(string) string, stdout, stderr io.Writer, sigc <-chan os.Signal) int {
	opts, lg, err := buildOptions(args, getenv, stdout, stderr)
	if err != nil {
		code := cli.ExitCode(err)
		if code == cli.ExitFailure {
			logger.New(stderr, defaultLogPrefix, logger.Info).Fatalf("%s", err)
		}
		return code
	}
	a, err := archive.New(opts)
	if err != nil {
		lg.Fatalf("%s", err)
		return cli.ExitFailure
	}

	return cli.RunJob(cli.Job{
		Run:      a.Run,
		Stopping: "stopping",
		Abandon:  "exiting without waiting (unsynced messages were not finished and will be redelivered)",
		Hup: func() {
			lg.Infof("SIGHUP: closing current files")
			a.Hup()
		},
	}, lg, sigc)
}

// buildOptions parses the command line into archive.Options and the
// logger for diagnostics. Errors come from cli.Command (map them with
// cli.ExitCode); help, version and usage errors are already printed.
func buildOptions(args []string, getenv func(string) string, stdout, stderr io.Writer) (*archive.Options, *logger.Logger, error) {
	o := archive.NewOptions()
	logPrefix := defaultLogPrefix
	cf := cli.NewClientFlags()
	hf := cli.NewHTTPClientFlags()
	addrFlags := cf.AddressFlags(
		"nsqd TCP address to consume from",
		"nsqlookupd HTTP address to discover nsqd (and, without --topic, topics) from")
	connFlags := cf.ConnFlags("consumer-opt")
	flags := []*cli.Flag{
		cli.Strings("topic", &o.Topics, "NSQ topic to archive; each topic gets its own consumer and files").WithKey(""),
		cli.String("topic-pattern", &o.TopicPattern, "only archive topics matching this regular expression (unanchored);\n"+
			"without --topic, topics are discovered from nsqlookupd").WithPlaceholder("regexp").WithKey(""),
		cli.Duration("topic-refresh", &o.TopicRefresh, "how often to ask nsqlookupd for new topics (without --topic)").WithKey(""),
		cli.String("channel", &o.Channel, "NSQ channel").WithKey(""),
	}
	flags = append(flags, addrFlags...)
	flags = append(flags,
		cli.Int("max-in-flight", &o.MaxInFlight, "messages each topic's consumer may have in flight; also the largest\n"+
			"batch written between two fsyncs, during which nsqd waits (NSQ's default is\n"+
			"200; 1000 archives about twice as fast)").WithKey(""),
		cli.String("output-dir", &o.OutputDir, "directory to write finished files to").WithPlaceholder("dir").WithKey(""),
		cli.String("work-dir", &o.WorkDir, "directory for files being written, moved to --output-dir once closed\n"+
			"(default: --output-dir itself)").WithPlaceholder("dir").WithKey(""),
		cli.String("filename-format", &o.FilenameFormat, "file name template: <TOPIC>, <HOST>, <PID>, <DATETIME> and <REV> are\n"+
			"replaced; <REV> (-NNNNNN) is required with --gzip, rotation or --work-dir").WithPlaceholder("format").WithKey(""),
		cli.String("datetime-format", &o.DatetimeFormat, "strftime format of <DATETIME>: %Y %y %m %d %H %I %M %S %p %b %B %a %A\n"+
			"%Z %z %%; other %x are copied literally").WithPlaceholder("format").WithKey(""),
		cli.String("host-identifier", &o.HostIdentifier, "value of <HOST> (default: the short hostname); may contain <SHORT_HOST>\n"+
			"and <HOSTNAME>").WithKey(""),
		cli.Bool("gzip", &o.GZIP, "gzip the files (.gz is appended to the name); each sync ends a gzip member").WithKey(""),
		cli.Int("gzip-level", &o.GZIPLevel, "gzip compression level, 1 (fastest) to 9 (smallest)").WithKey(""),
		cli.Int64("rotate-size", &o.RotateSize, "start a new file when this one holds more than this many bytes\n"+
			"(uncompressed); 0: never").WithPlaceholder("bytes").WithKey(""),
		cli.Duration("rotate-interval", &o.RotateInterval, "start a new file when this one has been open this long; 0: never").WithKey(""),
		cli.Duration("sync-interval", &o.SyncInterval, "fsync and finish pending messages at least this often").WithKey(""),
		cli.Bool("skip-empty-files", &o.SkipEmptyFiles, "on a timed rotation only close the file; open the next one when a\n"+
			"message arrives").WithKey(""),
		cli.String("log-prefix", &logPrefix, "text at the start of every log line").WithKey(""),
	)
	flags = append(flags, hf.Flags()...)
	flags = append(flags, connFlags...)
	cmd := &cli.Command{
		Name:        "nsq_to_file",
		Summary:     "nsq_to_file archives NSQ topics into rotating files, one message per line.",
		Description: description,
		Version:     version.String("nsq_to_file"),
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
	if len(rest) > 0 {
		return nil, nil, cmd.Usage(fmt.Errorf("unknown arguments: %v", rest))
	}

	o.NSQDTCPAddresses = cf.NSQDTCPAddresses
	o.LookupdHTTPAddresses = cf.LookupdHTTPAddresses
	o.HTTPConnectTimeout = hf.ConnectTimeout
	o.HTTPRequestTimeout = hf.RequestTimeout
	if err := o.Validate(); err != nil {
		return nil, nil, cmd.Usage(err)
	}

	lg := logger.New(stderr, logPrefix, cf.LogLevel)
	cfg := client.NewConfig()
	// An archiver must not give a message up unwritten: unlimited
	// attempts unless --consumer-opt max_attempts says otherwise.
	cfg.MaxAttempts = 0
	if err := cf.Apply(cfg, "consumer-opt", "max_in_flight", "user_agent"); err != nil {
		return nil, nil, cmd.Usage(err)
	}
	cfg.UserAgent = userAgent
	cfg.MaxInFlight = o.MaxInFlight
	cfg.Logger = lg
	if err := cfg.Validate(); err != nil {
		return nil, nil, cmd.Usage(fmt.Errorf("--consumer-opt: %w", err))
	}
	o.Client = cfg
	o.Logger = lg
	return o, lg, nil
}

// description is the help text between the summary and the flags.
var description = `Each message body is written as one line. A message is finished (FIN) only
after the bytes holding it were fsynced: when --max-in-flight messages are
pending, when nsqd stops sending until some are finished, when no message has
come for 250ms, every --sync-interval, on rotation and on shutdown. A crash loses nothing (nsqd
redelivers what was not finished; duplicates are possible and logged).

File names: <TOPIC> topic, <HOST> short hostname or --host-identifier, <PID>
process id, <DATETIME> --datetime-format, <REV> -NNNNNN revision (bumped when
a name is taken). Directories in a name are created.

Signals: SIGINT/SIGTERM stop cleanly (sync, close, move to --output-dir,
exit 0); SIGHUP closes the current files (the next message opens new ones).

Example:
  nsq_to_file --topic=test --output-dir=/var/archive --lookupd-http-address=127.0.0.1:4161`
