package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Mode is what a run does.
type Mode string

// The modes of nsq_bench.
const (
	ModePub    Mode = "pub"    // publish only; latency = MPUB → OK per batch
	ModeSub    Mode = "sub"    // consume only
	ModePubSub Mode = "pubsub" // both at once; latency = publish → delivery
)

// Defaults of the options (see Options).
const (
	DefaultTopic     = "sub_bench"
	DefaultChannel   = "ch"
	DefaultSize      = 100
	DefaultBatchSize = 200
	DefaultRDY       = 2500
	DefaultRunfor    = 10 * time.Second
	DefaultDrain     = 10 * time.Second
)

// Options describe one run.
type Options struct {
	Mode Mode
	// Addrs are nsqd TCP addresses; client i connects to Addrs[i % len].
	Addrs []string
	// Topic and Channel (the channel is used by consumers only).
	Topic, Channel string
	// Size is the body size in bytes (>= 8 in pubsub mode, which keeps the
	// send time in the first 8 bytes); bodies are random bytes.
	Size int
	// BatchSize is the number of messages per MPUB; 1 sends PUB.
	BatchSize int
	// Clients is the number of connections: publishers in pub and pubsub
	// mode, consumers in sub mode.
	Clients int
	// Subs is the number of consumers in pubsub mode (0: Clients).
	Subs int
	// Runfor bounds the measured part of the run (0: no time limit, then
	// Count must be set).
	Runfor time.Duration
	// Count stops publishers after publishing this many messages, and
	// consumers (sub mode) after receiving this many (0: no limit).
	Count int64
	// Rate is the fixed publish rate in messages per second over all
	// publishers (0: as fast as nsqd acknowledges).
	Rate float64
	// RDY is each consumer's RDY count.
	RDY int
	// Warmup runs before the measured part; nothing of it is counted.
	Warmup time.Duration
	// Drain is how long pubsub consumers may take, after the publishers
	// stopped, to receive what was published (0: DefaultDrain).
	Drain time.Duration

	// OutputBufferSize and OutputBufferTimeout are asked of nsqd in the
	// consumers' IDENTIFY (0: nsqd's defaults).
	OutputBufferSize    int
	OutputBufferTimeout time.Duration

	// Client, when set, makes every connection a core/client Conn with
	// this configuration (TLS, snappy, deflate, AUTH, options); nil means
	// raw connections.
	Client *client.Config
	// UserAgent is sent in IDENTIFY.
	UserAgent string

	// Progress, when set, receives a progress line (\r-rewritten) every
	// 250 ms; Warn receives warnings such as falling behind the rate.
	Progress io.Writer
	Warn     io.Writer

	// Clock paces fixed-rate publishing (nil: the system clock).
	Clock Clock
}

// withDefaults fills zero values with the defaults.
func (o Options) withDefaults() Options {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Clients == 0 {
		o.Clients = 1
	}
	if o.Subs == 0 {
		o.Subs = o.Clients
	}
	if o.RDY == 0 {
		o.RDY = DefaultRDY
	}
	if o.Drain == 0 {
		o.Drain = DefaultDrain
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.UserAgent == "" {
		o.UserAgent = "nsq_bench"
	}
	return o
}

// Validate checks the options (zero values stand for the defaults); its
// errors are usage errors, worded with the nsq_bench flag names.
func (o Options) Validate() error { return o.withDefaults().validate() }

func (o Options) validate() error {
	switch o.Mode {
	case ModePub, ModeSub, ModePubSub:
	default:
		return fmt.Errorf("unknown mode %q", o.Mode)
	}
	pubs := o.Mode != ModeSub
	subs := o.Mode != ModePub
	switch {
	case len(o.Addrs) == 0:
		return errors.New("--nsqd-tcp-address required")
	case !wire.IsValidTopicName(o.Topic):
		return fmt.Errorf("--topic %q is not a valid topic name", o.Topic)
	case subs && !wire.IsValidChannelName(o.Channel):
		return fmt.Errorf("--channel %q is not a valid channel name", o.Channel)
	case o.Size < 1:
		return fmt.Errorf("--size must be at least 1 (got %d)", o.Size)
	case o.Mode == ModePubSub && o.Size < 8:
		return fmt.Errorf("--size must be at least 8 in pubsub mode (the send time takes 8 bytes; got %d)", o.Size)
	case pubs && o.BatchSize < 1:
		return fmt.Errorf("--batch-size must be at least 1 (got %d)", o.BatchSize)
	case pubs && o.BatchSize > 1 && (o.Size+4)*o.BatchSize+4 > client.DefaultMaxPublishBodySize:
		return fmt.Errorf("--batch-size × (--size + 4) exceeds nsqd's default --max-body-size (%d bytes)", client.DefaultMaxPublishBodySize)
	case o.Clients < 1:
		return fmt.Errorf("--clients must be at least 1 (got %d)", o.Clients)
	case o.Subs < 1:
		return fmt.Errorf("--subs must be at least 1 (got %d)", o.Subs)
	case o.Runfor < 0:
		return errors.New("--runfor must not be negative")
	case o.Count < 0:
		return errors.New("--count must not be negative")
	case o.Runfor == 0 && o.Count == 0:
		return errors.New("--runfor or --count required")
	case o.Rate < 0:
		return errors.New("--rate must not be negative")
	case o.Rate > 0 && !pubs:
		return errors.New("--rate applies to publishing (pub, pubsub)")
	case subs && (o.RDY < 1 || o.RDY > 1e9):
		return fmt.Errorf("--rdy must be at least 1 (got %d)", o.RDY)
	case o.Warmup < 0:
		return errors.New("--warmup must not be negative")
	case o.Warmup > 0 && o.Count > 0:
		return errors.New("--warmup and --count do not go together (what would count?)")
	}
	return nil
}
