package nsqlookupd

import (
	"io"
	"os"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// Options holds every nsqlookupd setting. NewOptions has every default;
// cmd/nsqlookupd fills it from flags, the environment and a TOML file.
type Options struct {
	LogLevel  logger.Level
	LogPrefix string
	Logger    *logger.Logger // when nil, New makes one on LogOutput
	LogOutput io.Writer      // stderr when nil

	TCPAddress       string // nsqd registrations (protocol V1)
	HTTPAddress      string // the HTTP API
	BroadcastAddress string // returned to nsqd in the IDENTIFY reply

	// InactiveProducerTimeout hides producers not seen (IDENTIFY, PING)
	// for longer from /lookup and /nodes.
	InactiveProducerTimeout time.Duration
	// TombstoneLifetime is how long /topic/tombstone hides a producer of
	// a topic from /lookup.
	TombstoneLifetime time.Duration
	// ClientTimeout is how long a TCP peer may take to send its protocol
	// magic and then each command line and body (not a flag). nsqd pings
	// every 15 s, so only a stalled or half-sent connection hits it;
	// NSQ 1.3.0 waits for ever.
	ClientTimeout time.Duration
}

// NewOptions returns nsqlookupd's defaults (cli-flags.md §3).
func NewOptions() *Options {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "localhost"
	}
	return &Options{
		LogLevel:  logger.Info,
		LogPrefix: "[nsqlookupd] ",

		TCPAddress:       "0.0.0.0:4160",
		HTTPAddress:      "0.0.0.0:4161",
		BroadcastAddress: hostname,

		InactiveProducerTimeout: 300 * time.Second,
		ClientTimeout:           60 * time.Second,
		TombstoneLifetime:       45 * time.Second,
	}
}
