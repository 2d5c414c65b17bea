// Command nsqlookupd is NSQ's discovery daemon. Flags, an optional TOML
// --config file and NSQLOOKUPD_* environment variables resolve into
// nsqlookupd.Options; everything else lives in core/nsqlookupd.
package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/nsqlookupd"
)

func main() {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, sigc))
}

// run is nsqlookupd's whole life; it returns the exit status: 0 after a
// clean shutdown on a signal (or --help/--version), 1 on a fatal error,
// 2 on bad usage.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer, sigc <-chan os.Signal) int {
	opts, err := buildOptions(args, getenv, stdout, stderr)
	if err != nil {
		code := cli.ExitCode(err)
		if code == cli.ExitFailure {
			logger.New(stderr, nsqlookupd.NewOptions().LogPrefix, logger.Info).Fatalf("%s", err)
		}
		return code
	}
	lg := logger.New(stderr, opts.LogPrefix, opts.LogLevel)
	opts.Logger = lg

	l, err := nsqlookupd.New(opts)
	if err != nil {
		lg.Fatalf("failed to instantiate nsqlookupd - %s", err)
		return cli.ExitFailure
	}
	return cli.RunDaemon(l, lg, sigc)
}
