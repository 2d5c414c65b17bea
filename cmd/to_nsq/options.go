package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/pipe"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Publishing modes (--mode).
const (
	modeFanout     = "fanout"
	modeRoundRobin = "round-robin"
)

// options is to_nsq's command line.
type options struct {
	Topic     string
	Delimiter string
	Rate      int
	Mode      string
	BatchSize int
	Client    *cli.ClientFlags

	delim []byte         // Delimiter parsed
	cfg   *client.Config // the producer options
	rest  []string
}

func newOptions() *options {
	return &options{Delimiter: `\n`, BatchSize: pipe.DefaultPublishBatchSize, Client: cli.NewClientFlags()}
}

const description = `Each record of stdin (the text between two delimiters) becomes one message.
The delimiter is removed; empty records are skipped and counted; the last
record is published even when the input does not end with a delimiter.

Records are sent in MPUB batches of up to --batch-size, several batches in
flight at once; a batch goes out as soon as the input has nothing more ready,
so a slow trickle is published at once. A record longer than the producer's
publish_max_msg_size (nsqd's --max-msg-size, 1 MiB unless set with
--producer-opt=publish_max_msg_size,N) is counted as an error and not sent.

Where records go (--mode):
  fanout       every record to every --nsqd-tcp-address (one connection each);
               the default with --nsqd-tcp-address, as in NSQ's to_nsq
  round-robin  each batch to the next connected nsqd; a batch whose nsqd fails
               is retried on another; the only mode with --lookupd-http-address,
               where the nsqd are those lookupd lists (and those it lists later)

A batch that still fails after the producer's retries (publish_attempts,
within publish_timeout, 10s unless set with --producer-opt) stops to_nsq.
A user_agent given with --producer-opt is ignored (to_nsq sends its own).
On a terminal a progress line shows on stderr; a one-line summary follows at
the end. SIGINT or SIGTERM: stop reading, publish the complete records read,
report and exit; a second signal exits without waiting for acknowledgements.

Exit status: 0 when every record was acknowledged, 1 when any record was not
published (the summary says how many and why), 2 on bad usage.`

// toFlags lists every to_nsq flag bound to o.
func toFlags(o *options) []*cli.Flag {
	flags := []*cli.Flag{
		cli.String("topic", &o.Topic, "NSQ topic to publish to (required)").WithKey(""),
	}
	flags = append(flags, o.Client.AddressFlags(
		"nsqd TCP address to publish to; with several, every record goes to every one\n"+
			"unless --mode=round-robin",
		"nsqlookupd HTTP address: publish to the nsqd it lists, round-robin")...)
	flags = append(flags,
		cli.String("mode", &o.Mode, "where records go: fanout (the default with --nsqd-tcp-address: every\n"+
			"nsqd gets every record) or round-robin (records spread over the nsqd; the\n"+
			"default, and the only mode, with --lookupd-http-address)").WithPlaceholder("fanout|round-robin").WithKey(""),
		cli.String("delimiter", &o.Delimiter, "record separator: one byte as is, or several bytes with the escapes\n"+
			`\n \r \t \0 \\ \xHH (e.g. --delimiter='\0' after find -print0)`).WithKey(""),
		cli.Int("rate", &o.Rate, "throttle to this many records per second (0: no limit)").WithKey(""),
		cli.Int("batch-size", &o.BatchSize, "most records in one MPUB").WithKey(""),
	)
	flags = append(flags, o.Client.ConnFlags("producer-opt")...)
	return flags
}

// newCommand describes to_nsq's command line, bound to o.
func newCommand(o *options, getenv func(string) string, stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:        "to_nsq",
		Summary:     "to_nsq publishes stdin to an NSQ topic, one message per record.",
		Description: description,
		Version:     version.String("to_nsq"),
		Flags:       toFlags(o),
		BriefUsage:  true,
		Stdout:      stdout,
		Stderr:      stderr,
		Getenv:      getenv,
	}
}

// parseOptions parses and checks the command line. Errors come from
// cli.Command.Parse or Command.Usage (already printed; map them with
// cli.ExitCode).
func parseOptions(args []string, getenv func(string) string, stdout, stderr io.Writer) (*options, error) {
	o := newOptions()
	cmd := newCommand(o, getenv, stdout, stderr)
	rest, err := cmd.Parse(args)
	if err != nil {
		return nil, err
	}
	o.rest = rest
	if err := o.check(); err != nil {
		return nil, cmd.Usage(err)
	}
	return o, nil
}

// check validates the values given, with NSQ's messages where it has them.
func (o *options) check() error {
	if o.Topic == "" {
		return errors.New("--topic required")
	}
	if !wire.IsValidTopicName(o.Topic) {
		return fmt.Errorf("--topic %q is not a valid topic name (1-64 characters of [.a-zA-Z0-9_-], optionally ending in #ephemeral)", o.Topic)
	}
	if err := o.Client.Sources(); err != nil {
		return err
	}
	d, err := pipe.ParseDelimiter(o.Delimiter)
	if err != nil {
		return err
	}
	o.delim = d
	lookupd := len(o.Client.LookupdHTTPAddresses) > 0
	switch strings.ToLower(o.Mode) {
	case "":
		o.Mode = modeFanout
		if lookupd {
			o.Mode = modeRoundRobin
		}
	case modeFanout, "fan-out":
		if lookupd {
			return errors.New("--mode=fanout needs --nsqd-tcp-address (with --lookupd-http-address records are spread round-robin)")
		}
		o.Mode = modeFanout
	case modeRoundRobin, "roundrobin":
		o.Mode = modeRoundRobin
	default:
		return fmt.Errorf("--mode must be fanout or round-robin, not %q", o.Mode)
	}
	if o.BatchSize < 1 {
		return fmt.Errorf("--batch-size must be at least 1, not %d", o.BatchSize)
	}
	for _, a := range o.Client.NSQDTCPAddresses {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return fmt.Errorf("--nsqd-tcp-address %q: want host:port", a)
		}
	}
	// The producer options, as NSQ's to_nsq: its own user agent wins.
	o.cfg = client.NewConfig()
	if err := o.Client.Apply(o.cfg, "producer-opt", "user_agent"); err != nil {
		return err
	}
	o.cfg.UserAgent = fmt.Sprintf("to_nsq/%s %s", version.Reported, o.cfg.UserAgent)
	if o.Mode == modeRoundRobin {
		o.cfg.PublishRoundRobin = true
	}
	if err := o.cfg.Validate(); err != nil {
		return fmt.Errorf("--producer-opt: %w", err)
	}
	return nil
}
