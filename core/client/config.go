package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/version"
)

// Backoff strategies (option backoff_strategy).
const (
	BackoffExponential = "exponential"
	BackoffFullJitter  = "full_jitter"
)

// Defaults that are not plain option values.
const (
	// DefaultMaxPublishMsgSize is nsqd's default --max-msg-size: the largest
	// body the producer sends unless publish_max_msg_size says otherwise.
	DefaultMaxPublishMsgSize = 1024 * 1024
	// DefaultMaxPublishBodySize is nsqd's default --max-body-size: the
	// largest MPUB body (count and size fields included).
	DefaultMaxPublishBodySize = 5 * 1024 * 1024
)

// Config holds every option of a Producer or a Consumer. Make one with
// NewConfig (the zero value is not valid), change fields directly or with
// Set, and check it with Validate. NewProducer and NewConsumer copy it, so
// a Config can be reused.
//
// The options of client-behaviour.md §9 keep their names and defaults;
// the fields after "nsqkit additions" are ours.
type Config struct {
	DialTimeout  time.Duration // dial_timeout: TCP connect timeout
	ReadTimeout  time.Duration // read_timeout: deadline of each socket read
	WriteTimeout time.Duration // write_timeout: deadline of each socket write
	LocalAddr    net.Addr      // local_addr: local address to dial from

	LookupdPollInterval time.Duration // lookupd_poll_interval
	LookupdPollJitter   float64       // lookupd_poll_jitter (0..1)
	LookupdPollTimeout  time.Duration // lookupd_poll_timeout

	MaxRequeueDelay     time.Duration // max_requeue_delay
	DefaultRequeueDelay time.Duration // default_requeue_delay (× attempts)
	BackoffStrategy     string        // backoff_strategy: exponential | full_jitter
	MaxBackoffDuration  time.Duration // max_backoff_duration (0 disables backoff)
	BackoffMultiplier   time.Duration // backoff_multiplier
	MaxAttempts         int           // max_attempts (0 = unlimited)

	LowRdyIdleTimeout       time.Duration // low_rdy_idle_timeout
	LowRdyTimeout           time.Duration // low_rdy_timeout
	RDYRedistributeInterval time.Duration // rdy_redistribute_interval

	ClientID          string        // client_id
	Hostname          string        // hostname
	UserAgent         string        // user_agent
	HeartbeatInterval time.Duration // heartbeat_interval (negative disables)
	SampleRate        int           // sample_rate (0..99)

	TLSV1                 bool        // tls_v1: negotiate TLS
	TLSConfig             *tls.Config // base TLS configuration (nil: built from the tls_* options)
	TLSRootCAFile         string      // tls_root_ca_file
	TLSCert               string      // tls_cert
	TLSKey                string      // tls_key
	TLSInsecureSkipVerify bool        // tls_insecure_skip_verify
	TLSMinVersion         string      // tls_min_version: ssl3.0 | tls1.0 | tls1.1 | tls1.2 | tls1.3

	Deflate      bool // deflate
	DeflateLevel int  // deflate_level (1..9)
	Snappy       bool // snappy

	OutputBufferSize    int           // output_buffer_size (bytes, -1 disables buffering)
	OutputBufferTimeout time.Duration // output_buffer_timeout (negative disables the timed flush)

	MaxInFlight int           // max_in_flight
	MsgTimeout  time.Duration // msg_timeout (0 = server default)
	MaxMsgSize  int           // max_msg_size: largest message frame accepted (0 = unlimited)

	AuthSecret               string // auth_secret
	SkipLookupdAuthorization bool   // skip_lookupd_authorization (true: the Bearer header IS sent)

	// nsqkit additions.

	// ReconnectInitialInterval, ReconnectMaxInterval and ReconnectJitter
	// (reconnect_initial_interval, reconnect_max_interval,
	// reconnect_jitter) are the reconnect policy of a dropped nsqd,
	// separate from lookupd_poll_interval: attempt n waits
	// min(max, initial × 2^(n-1)), shortened by up to jitter × that.
	ReconnectInitialInterval time.Duration
	ReconnectMaxInterval     time.Duration
	ReconnectJitter          float64

	// probeInterval is how often a consumer checks, between reconnect
	// attempts, whether a dropped nsqd accepts TCP again (0: 1 s); tests
	// shorten it.
	probeInterval time.Duration

	// PublishAttempts (publish_attempts) bounds how many times one publish
	// is sent (1 = never retried); PublishTimeout (publish_timeout) bounds
	// the whole publish, waiting for a connection and retries included
	// (0 = no deadline). PublishRoundRobin (publish_round_robin) spreads
	// publishes over every connected nsqd instead of using the first.
	PublishAttempts   int
	PublishTimeout    time.Duration
	PublishRoundRobin bool

	// PublishMaxMsgSize and PublishMaxBodySize (publish_max_msg_size,
	// publish_max_body_size) are the limits checked before sending: nsqd's
	// --max-msg-size and --max-body-size (1 MiB and 5 MiB by default).
	PublishMaxMsgSize  int
	PublishMaxBodySize int

	// StopTimeout (stop_timeout) bounds Stop: a consumer's wait for its
	// in-flight messages, a producer's flush of outstanding publishes.
	StopTimeout time.Duration

	// Logger receives the client's log lines (default: stderr, warnings
	// and above).
	Logger *logger.Logger

	// tlsOptsSet records that a tls_* option was set with Set, which (as
	// in go-nsq) caps the TLS version at 1.2.
	tlsOptsSet bool
}

// NewConfig returns a Config with every default.
func NewConfig() *Config {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	clientID, _, _ := strings.Cut(hostname, ".")
	return &Config{
		DialTimeout:  time.Second,
		ReadTimeout:  60 * time.Second,
		WriteTimeout: time.Second,

		LookupdPollInterval: 60 * time.Second,
		LookupdPollJitter:   0.3,
		LookupdPollTimeout:  time.Minute,

		MaxRequeueDelay:     15 * time.Minute,
		DefaultRequeueDelay: 90 * time.Second,
		BackoffStrategy:     BackoffExponential,
		MaxBackoffDuration:  2 * time.Minute,
		BackoffMultiplier:   time.Second,
		MaxAttempts:         5,

		LowRdyIdleTimeout:       10 * time.Second,
		LowRdyTimeout:           30 * time.Second,
		RDYRedistributeInterval: 5 * time.Second,

		ClientID:          clientID,
		Hostname:          hostname,
		UserAgent:         "nsqkit/" + version.Nsqkit,
		HeartbeatInterval: 30 * time.Second,

		TLSMinVersion: "tls1.0",
		DeflateLevel:  6,

		OutputBufferSize:    16384,
		OutputBufferTimeout: 250 * time.Millisecond,

		MaxInFlight: 1,

		SkipLookupdAuthorization: true,

		ReconnectInitialInterval: 250 * time.Millisecond,
		ReconnectMaxInterval:     30 * time.Second,
		ReconnectJitter:          0.3,

		PublishAttempts:    3,
		PublishTimeout:     10 * time.Second,
		PublishMaxMsgSize:  DefaultMaxPublishMsgSize,
		PublishMaxBodySize: DefaultMaxPublishBodySize,

		StopTimeout: 30 * time.Second,
	}
}

// Clone returns a copy (the TLS configuration is cloned too).
func (c *Config) Clone() *Config {
	out := *c
	if c.TLSConfig != nil {
		out.TLSConfig = c.TLSConfig.Clone()
	}
	return &out
}

// option is one settable option: its name, how to set it from a string
// and how to check its value.
type option struct {
	name  string
	set   func(c *Config, v string) error
	check func(c *Config) error
}

var options = map[string]*option{}

func addOption(o *option) { options[o.name] = o }

// OptionNames lists every option name accepted by Set, sorted.
func OptionNames() []string {
	out := make([]string, 0, len(options))
	for n := range options {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Set sets the option name (client-behaviour.md §9 names; "-" is read as
// "_") from its string form: durations in Go syntax ("5s") or as an
// integer number of milliseconds, booleans as true/false/1/0 (an empty
// value means true), numbers in decimal. The value is range-checked.
func (c *Config) Set(name, value string) error {
	key := strings.ReplaceAll(strings.TrimSpace(name), "-", "_")
	o, ok := options[key]
	if !ok {
		return fmt.Errorf("invalid option %q", name)
	}
	if err := o.set(c, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("invalid %s %q: %w", key, value, err)
	}
	if o.check != nil {
		if err := o.check(c); err != nil {
			return err
		}
	}
	return nil
}

// SetOpt applies one "name,value" flag value (--producer-opt,
// --consumer-opt); "name" alone means "name,true".
func (c *Config) SetOpt(opt string) error {
	name, value, _ := strings.Cut(opt, ",")
	return c.Set(name, value)
}

// Validate checks every option's range and the combinations: read_timeout
// above heartbeat_interval, not both deflate and snappy, a TLS key with its
// certificate.
func (c *Config) Validate() error {
	for _, n := range OptionNames() {
		if o := options[n]; o.check != nil {
			if err := o.check(c); err != nil {
				return err
			}
		}
	}
	if c.HeartbeatInterval > 0 && c.ReadTimeout <= c.HeartbeatInterval {
		return fmt.Errorf("read_timeout (%s) must be greater than heartbeat_interval (%s)", c.ReadTimeout, c.HeartbeatInterval)
	}
	if c.Deflate && c.Snappy {
		return errors.New("deflate and snappy cannot both be enabled")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls_cert and tls_key must be set together")
	}
	if c.ReconnectMaxInterval < c.ReconnectInitialInterval {
		return fmt.Errorf("reconnect_max_interval (%s) must not be below reconnect_initial_interval (%s)", c.ReconnectMaxInterval, c.ReconnectInitialInterval)
	}
	return nil
}

// ParseDuration reads a Go duration ("1.5s") or an integer number of
// milliseconds ("1500").
func ParseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	return time.ParseDuration(s)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "true", "1", "t", "yes", "on":
		return true, nil
	case "false", "0", "f", "no", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// none is the absent bound of a range.
const none = -1 << 63

func durOpt(name string, p func(*Config) *time.Duration, min, max time.Duration) {
	addOption(&option{
		name: name,
		set: func(c *Config, v string) error {
			d, err := ParseDuration(v)
			if err != nil {
				return err
			}
			*p(c) = d
			return nil
		},
		check: func(c *Config) error {
			d := *p(c)
			if (min != none && d < min) || (max != none && d > max) {
				return fmt.Errorf("invalid %s %s: %s", name, d, rangeText(fmtDur(min), fmtDur(max)))
			}
			return nil
		},
	})
}

func fmtDur(d time.Duration) string {
	if d == none {
		return ""
	}
	return d.String()
}

func intOpt(name string, p func(*Config) *int, min, max int) {
	addOption(&option{
		name: name,
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errors.New("not an integer")
			}
			*p(c) = n
			return nil
		},
		check: func(c *Config) error {
			n := *p(c)
			if (min != none && n < min) || (max != none && n > max) {
				return fmt.Errorf("invalid %s %d: %s", name, n, rangeText(fmtInt(min), fmtInt(max)))
			}
			return nil
		},
	})
}

func fmtInt(n int) string {
	if n == none {
		return ""
	}
	return strconv.Itoa(n)
}

func floatOpt(name string, p func(*Config) *float64, min, max float64) {
	addOption(&option{
		name: name,
		set: func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) {
				return errors.New("not a number")
			}
			*p(c) = f
			return nil
		},
		check: func(c *Config) error {
			f := *p(c)
			if f < min || f > max {
				return fmt.Errorf("invalid %s %g: %s", name, f, rangeText(strconv.FormatFloat(min, 'g', -1, 64), strconv.FormatFloat(max, 'g', -1, 64)))
			}
			return nil
		},
	})
}

func boolOpt(name string, p func(*Config) *bool, tlsOpt bool) {
	addOption(&option{
		name: name,
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			if err != nil {
				return err
			}
			*p(c) = b
			if tlsOpt {
				c.tlsOptsSet = true
			}
			return nil
		},
	})
}

func strOpt(name string, p func(*Config) *string, tlsOpt bool, allowed ...string) {
	o := &option{
		name: name,
		set: func(c *Config, v string) error {
			*p(c) = v
			if tlsOpt {
				c.tlsOptsSet = true
			}
			return nil
		},
	}
	if len(allowed) > 0 {
		o.check = func(c *Config) error {
			v := *p(c)
			for _, a := range allowed {
				if v == a {
					return nil
				}
			}
			return fmt.Errorf("invalid %s %q: must be one of %s", name, v, strings.Join(allowed, ", "))
		}
	}
	addOption(o)
}

func rangeText(min, max string) string {
	switch {
	case min != "" && max != "":
		return "must be in " + min + "–" + max
	case min != "":
		return "must be ≥ " + min
	default:
		return "must be ≤ " + max
	}
}

func init() {
	durOpt("dial_timeout", func(c *Config) *time.Duration { return &c.DialTimeout }, 0, none)
	durOpt("read_timeout", func(c *Config) *time.Duration { return &c.ReadTimeout }, 100*time.Millisecond, 5*time.Minute)
	durOpt("write_timeout", func(c *Config) *time.Duration { return &c.WriteTimeout }, 100*time.Millisecond, 5*time.Minute)
	addOption(&option{
		name: "local_addr",
		set: func(c *Config, v string) error {
			if v == "" {
				c.LocalAddr = nil
				return nil
			}
			if !strings.Contains(v, ":") {
				v += ":0"
			}
			a, err := net.ResolveTCPAddr("tcp", v)
			if err != nil {
				return err
			}
			c.LocalAddr = a
			return nil
		},
	})
	durOpt("lookupd_poll_interval", func(c *Config) *time.Duration { return &c.LookupdPollInterval }, 10*time.Millisecond, 5*time.Minute)
	floatOpt("lookupd_poll_jitter", func(c *Config) *float64 { return &c.LookupdPollJitter }, 0, 1)
	durOpt("lookupd_poll_timeout", func(c *Config) *time.Duration { return &c.LookupdPollTimeout }, 0, none)
	durOpt("max_requeue_delay", func(c *Config) *time.Duration { return &c.MaxRequeueDelay }, 0, 60*time.Minute)
	durOpt("default_requeue_delay", func(c *Config) *time.Duration { return &c.DefaultRequeueDelay }, 0, 60*time.Minute)
	strOpt("backoff_strategy", func(c *Config) *string { return &c.BackoffStrategy }, false, BackoffExponential, BackoffFullJitter)
	durOpt("max_backoff_duration", func(c *Config) *time.Duration { return &c.MaxBackoffDuration }, 0, 60*time.Minute)
	durOpt("backoff_multiplier", func(c *Config) *time.Duration { return &c.BackoffMultiplier }, 0, 60*time.Minute)
	intOpt("max_attempts", func(c *Config) *int { return &c.MaxAttempts }, 0, 65535)
	durOpt("low_rdy_idle_timeout", func(c *Config) *time.Duration { return &c.LowRdyIdleTimeout }, time.Second, 5*time.Minute)
	durOpt("low_rdy_timeout", func(c *Config) *time.Duration { return &c.LowRdyTimeout }, time.Second, 5*time.Minute)
	durOpt("rdy_redistribute_interval", func(c *Config) *time.Duration { return &c.RDYRedistributeInterval }, time.Millisecond, 5*time.Second)
	strOpt("client_id", func(c *Config) *string { return &c.ClientID }, false)
	strOpt("hostname", func(c *Config) *string { return &c.Hostname }, false)
	strOpt("user_agent", func(c *Config) *string { return &c.UserAgent }, false)
	durOpt("heartbeat_interval", func(c *Config) *time.Duration { return &c.HeartbeatInterval }, none, none)
	intOpt("sample_rate", func(c *Config) *int { return &c.SampleRate }, 0, 99)
	boolOpt("tls_v1", func(c *Config) *bool { return &c.TLSV1 }, false)
	strOpt("tls_root_ca_file", func(c *Config) *string { return &c.TLSRootCAFile }, true)
	strOpt("tls_cert", func(c *Config) *string { return &c.TLSCert }, true)
	strOpt("tls_key", func(c *Config) *string { return &c.TLSKey }, true)
	boolOpt("tls_insecure_skip_verify", func(c *Config) *bool { return &c.TLSInsecureSkipVerify }, true)
	strOpt("tls_min_version", func(c *Config) *string { return &c.TLSMinVersion }, true, "ssl3.0", "tls1.0", "tls1.1", "tls1.2", "tls1.3")
	boolOpt("deflate", func(c *Config) *bool { return &c.Deflate }, false)
	intOpt("deflate_level", func(c *Config) *int { return &c.DeflateLevel }, 1, 9)
	boolOpt("snappy", func(c *Config) *bool { return &c.Snappy }, false)
	intOpt("output_buffer_size", func(c *Config) *int { return &c.OutputBufferSize }, -1, none)
	durOpt("output_buffer_timeout", func(c *Config) *time.Duration { return &c.OutputBufferTimeout }, none, none)
	intOpt("max_in_flight", func(c *Config) *int { return &c.MaxInFlight }, 0, none)
	durOpt("msg_timeout", func(c *Config) *time.Duration { return &c.MsgTimeout }, 0, none)
	intOpt("max_msg_size", func(c *Config) *int { return &c.MaxMsgSize }, 0, none)
	strOpt("auth_secret", func(c *Config) *string { return &c.AuthSecret }, false)
	boolOpt("skip_lookupd_authorization", func(c *Config) *bool { return &c.SkipLookupdAuthorization }, false)

	durOpt("reconnect_initial_interval", func(c *Config) *time.Duration { return &c.ReconnectInitialInterval }, time.Millisecond, 5*time.Minute)
	durOpt("reconnect_max_interval", func(c *Config) *time.Duration { return &c.ReconnectMaxInterval }, time.Millisecond, 60*time.Minute)
	floatOpt("reconnect_jitter", func(c *Config) *float64 { return &c.ReconnectJitter }, 0, 1)
	intOpt("publish_attempts", func(c *Config) *int { return &c.PublishAttempts }, 1, 100)
	durOpt("publish_timeout", func(c *Config) *time.Duration { return &c.PublishTimeout }, 0, none)
	boolOpt("publish_round_robin", func(c *Config) *bool { return &c.PublishRoundRobin }, false)
	intOpt("publish_max_msg_size", func(c *Config) *int { return &c.PublishMaxMsgSize }, 1, math.MaxInt32)
	intOpt("publish_max_body_size", func(c *Config) *int { return &c.PublishMaxBodySize }, 9, math.MaxInt32)
	durOpt("stop_timeout", func(c *Config) *time.Duration { return &c.StopTimeout }, 0, none)
}

// tlsMinVersions maps tls_min_version values to crypto/tls versions.
var tlsMinVersions = map[string]uint16{
	"ssl3.0": 0x0300, // Go no longer speaks SSL 3.0; the handshake then uses its own minimum
	"tls1.0": tls.VersionTLS10,
	"tls1.1": tls.VersionTLS11,
	"tls1.2": tls.VersionTLS12,
	"tls1.3": tls.VersionTLS13,
}

// clientTLS builds the TLS configuration for a connection to host: the
// TLSConfig field (cloned) or a new one, completed by the tls_* options.
func (c *Config) clientTLS(host string) (*tls.Config, error) {
	var tc *tls.Config
	if c.TLSConfig != nil {
		tc = c.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
		if v, ok := tlsMinVersions[c.TLSMinVersion]; ok {
			tc.MinVersion = v
		}
		if c.tlsOptsSet {
			tc.MaxVersion = tls.VersionTLS12
		}
	}
	if c.TLSRootCAFile != "" {
		pem, err := os.ReadFile(c.TLSRootCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls_root_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_root_ca_file %s: no certificate found", c.TLSRootCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		pair, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if c.TLSInsecureSkipVerify {
		tc.InsecureSkipVerify = true
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	return tc, nil
}

// logger is the configured logger or the default one.
func (c *Config) logger() *logger.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return defaultLogger
}

var defaultLogger = logger.New(os.Stderr, "", logger.Warn)
