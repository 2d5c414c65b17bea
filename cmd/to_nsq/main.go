// Command to_nsq publishes stdin to an NSQ topic, one message per record.
// Flags become a core/pipe Publisher over core/client producers; the
// splitting, batching, pipelining and counting live in core/pipe.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/pipe"
)

func main() {
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, sigc))
}

// run is to_nsq's whole life; it returns the exit status: 0 when every
// record was acknowledged (or after --help/--version), 1 when any was not
// published or nothing could be set up, 2 on bad usage. The first signal
// on sigc stops reading, the second stops waiting for acknowledgements.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, sigc <-chan os.Signal) int {
	o, err := parseOptions(args, getenv, stdout, stderr)
	if err != nil {
		return cli.ExitCode(err)
	}
	if len(o.rest) > 0 {
		fmt.Fprintf(stderr, "to_nsq: ignoring arguments %q (to_nsq reads stdin)\n", o.rest)
	}

	// On a terminal, log lines go through the progress line.
	var logw io.Writer = stderr
	var progress *pipe.PublishProgress
	var stats func() pipe.PublishStats
	if f, ok := stderr.(*os.File); ok && cli.IsTerminal(f) {
		progress = pipe.NewPublishProgress(stderr, "to_nsq: ", func() pipe.PublishStats { return stats() })
		logw = progress
	}
	lg := logger.New(logw, "[to_nsq] ", o.Client.LogLevel)

	producers, names, cfg, err := newProducers(o, lg)
	if err != nil {
		fmt.Fprintf(stderr, "to_nsq: error: %s\n", err)
		return cli.ExitFailure
	}
	stopped := false
	stopAll := func() {
		if !stopped {
			stopped = true
			for _, p := range producers {
				p.Stop()
			}
		}
	}
	defer stopAll()

	targets := make([]pipe.PublishTarget, len(producers))
	for i, p := range producers {
		targets[i] = p
	}
	pub, err := pipe.NewPublisher(pipe.PublishOptions{
		Topic:       o.Topic,
		Delimiter:   o.delim,
		BatchSize:   o.BatchSize,
		MaxMsgSize:  cfg.PublishMaxMsgSize,
		MaxBodySize: cfg.PublishMaxBodySize,
		Rate:        o.Rate,
		Targets:     targets,
		TargetNames: names,
	})
	if err != nil {
		fmt.Fprintf(stderr, "to_nsq: %s\n", err)
		return cli.ExitFailure
	}
	stats = pub.Stats

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		st  pipe.PublishStats
		err error
	}
	res := make(chan result, 1)
	start := time.Now()
	if progress != nil {
		progress.Start()
	}
	go func() {
		st, err := pub.Run(ctx, stdin)
		res <- result{st, err}
	}()

	var r result
	abandoned := false
wait:
	for signals := 0; ; {
		select {
		case r = <-res:
			break wait
		case sig := <-sigc:
			signals++
			if signals == 1 {
				cancel()
				st := pub.Stats()
				fmt.Fprintf(logw, "to_nsq: %s: stopped reading; waiting for %s to be acknowledged (again to quit at once)\n",
					sig, pipe.PublishRecords(st.InFlight))
				continue
			}
			abandoned = true
			pub.Abandon()
		}
	}
	elapsed := time.Since(start)
	if progress != nil {
		progress.Stop()
	}
	if !abandoned {
		// Nothing is outstanding any more: Stop only closes connections.
		stopAll()
	} else {
		stopped = true // Stop would wait for what we gave up on
	}

	st := r.st
	fmt.Fprintf(stderr, "to_nsq: %s\n", pipe.PublishSummary(st, elapsed))
	if n := st.Errors(); n > 0 || r.err != nil {
		why := "unknown error"
		switch {
		case r.err != nil:
			why = r.err.Error()
		case st.Oversized > 0:
			why = fmt.Sprintf("longer than the %d-byte message limit (publish_max_msg_size)", min(cfg.PublishMaxMsgSize, cfg.PublishMaxBodySize-8))
		}
		if n > 0 {
			fmt.Fprintf(stderr, "to_nsq: error: %s not published: %s\n", pipe.PublishRecords(n), why)
		} else {
			fmt.Fprintf(stderr, "to_nsq: error: %s\n", why)
		}
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// newProducers makes the producers of o's mode: one per nsqd for fanout,
// one over every nsqd (given or discovered) for round-robin. names name
// each producer in errors.
func newProducers(o *options, lg *logger.Logger) (ps []*client.Producer, names []string, cfg *client.Config, err error) {
	cfg = o.cfg.Clone()
	cfg.Logger = lg
	defer func() {
		if err != nil {
			for _, p := range ps {
				p.Stop()
			}
		}
	}()
	if o.Mode == modeFanout {
		for _, addr := range o.Client.NSQDTCPAddresses {
			p, err := client.NewProducer(cfg, addr)
			if err != nil {
				return ps, nil, nil, fmt.Errorf("producer for %s: %w", addr, err)
			}
			ps = append(ps, p)
			names = append(names, addr)
		}
		return ps, names, cfg, nil
	}
	p, err := client.NewProducer(cfg, o.Client.NSQDTCPAddresses...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("producer: %w", err)
	}
	ps = append(ps, p)
	if lookupds := o.Client.LookupdHTTPAddresses; len(lookupds) > 0 {
		// The first /nodes query is made here, before reading.
		if err := p.ConnectToNSQLookupd(lookupds...); err != nil {
			return ps, nil, nil, fmt.Errorf("--lookupd-http-address: %w", err)
		}
		if len(p.Nodes()) == 0 {
			return ps, nil, nil, fmt.Errorf("no nsqd to publish to: none found through nsqlookupd at %s (unreachable, or no nsqd registered)", strings.Join(lookupds, ", "))
		}
		return ps, []string{"nsqd from " + strings.Join(lookupds, ", ")}, cfg, nil
	}
	return ps, []string{strings.Join(o.Client.NSQDTCPAddresses, ", ")}, cfg, nil
}
