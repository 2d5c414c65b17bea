package main

import (
	"io"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/nsqlookupd"
	"github.com/nsqkit/nsqkit/core/version"
)

// envPrefix: every keyed option can be set by NSQLOOKUPD_<KEY>, e.g.
// NSQLOOKUPD_TOMBSTONE_LIFETIME=1m.
const envPrefix = "NSQLOOKUPD_"

// lookupdFlags lists every nsqlookupd flag (cli-flags.md §3) bound to
// opts. The deprecated --verbose is accepted and ignored.
func lookupdFlags(opts *nsqlookupd.Options) []*cli.Flag {
	var verbose bool
	return []*cli.Flag{
		cli.Level("log-level", &opts.LogLevel, "log verbosity: debug, info, warn, error or fatal (any case)"),
		cli.String("log-prefix", &opts.LogPrefix, "text written at the start of every log line"),
		cli.Bool("verbose", &verbose, "[deprecated] has no effect, use --log-level").WithKey(""),

		cli.String("tcp-address", &opts.TCPAddress,
			"<addr>:<port> to listen on for nsqd registrations (TCP)").WithPlaceholder("host:port"),
		cli.String("http-address", &opts.HTTPAddress,
			"<addr>:<port> to listen on for HTTP clients").WithPlaceholder("host:port"),
		cli.String("broadcast-address", &opts.BroadcastAddress,
			"address of this lookupd given to nsqd in the IDENTIFY reply (nsqd queries it over\n"+
				"HTTP); the default is the OS hostname").WithPlaceholder("host"),

		cli.Duration("inactive-producer-timeout", &opts.InactiveProducerTimeout,
			"producers not seen (IDENTIFY, PING) for longer are left out of /lookup and /nodes"),
		cli.Duration("tombstone-lifetime", &opts.TombstoneLifetime,
			"how long /topic/tombstone hides a producer of a topic from /lookup"),
	}
}

// newCommand describes nsqlookupd's command line, bound to opts.
func newCommand(opts *nsqlookupd.Options, getenv func(string) string, stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:       "nsqlookupd",
		Summary:    "nsqlookupd is NSQ's discovery daemon: nsqd register their topics, consumers look them up.",
		Version:    version.String("nsqlookupd"),
		ConfigFlag: "config",
		EnvPrefix:  envPrefix,
		Flags:      lookupdFlags(opts),
		Stdout:     stdout,
		Stderr:     stderr,
		Getenv:     getenv,
	}
}

// buildOptions turns nsqlookupd's arguments (without the program name)
// and environment into Options: command line > NSQLOOKUPD_* environment
// > --config file > default. Errors come from cli.Command.Parse (map
// them with cli.ExitCode); help, version and usage errors are already
// printed.
func buildOptions(args []string, getenv func(string) string, stdout, stderr io.Writer) (*nsqlookupd.Options, error) {
	opts := nsqlookupd.NewOptions()
	if _, err := newCommand(opts, getenv, stdout, stderr).Parse(args); err != nil {
		return nil, err
	}
	return opts, nil
}
