// Command nsqd is the NSQ daemon. Flags, an optional TOML --config file and
// NSQD_* environment variables resolve into nsqd.Options; everything else
// lives in core/nsqd.
package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/nsqd"
)

func main() {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, sigc))
}

// run is nsqd's whole life; it returns the exit status: 0 after a clean
// shutdown on a signal (or --help/--version), 1 on a fatal error, 2 on bad
// usage.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer, sigc <-chan os.Signal) int {
	opts, err := buildOptions(args, getenv, stdout, stderr)
	if err != nil {
		code := cli.ExitCode(err)
		if code == cli.ExitFailure {
			logger.New(stderr, nsqd.NewOptions().LogPrefix, logger.Info).Fatalf("%s", err)
		}
		return code
	}
	lg := logger.New(stderr, opts.LogPrefix, opts.LogLevel)
	opts.Logger = lg

	n, err := nsqd.New(opts)
	if err != nil {
		lg.Fatalf("failed to instantiate nsqd - %s", err)
		return cli.ExitFailure
	}
	return cli.RunDaemon(n, lg, sigc)
}
