package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/nsqkit/nsqkit/core/logger"
)

// ClientFlags are the options every tool that talks to nsqd shares: where
// the nsqd are (given, or discovered through nsqlookupd), go-nsq style
// client options, TLS, compression, auth and the log level. AddressFlags
// and ConnFlags render them (a tool places its own flags around them);
// Apply turns them into client options.
type ClientFlags struct {
	NSQDTCPAddresses     []string
	LookupdHTTPAddresses []string
	// Opts are --consumer-opt or --producer-opt values: "name,value", or
	// "name" alone for true.
	Opts []string

	TLS                   bool
	TLSCert               string
	TLSKey                string
	TLSRootCAFile         string
	TLSInsecureSkipVerify bool
	Snappy                bool
	Deflate               bool
	AuthSecret            string

	LogLevel logger.Level
}

// NewClientFlags returns ClientFlags with their defaults (log level info).
func NewClientFlags() *ClientFlags { return &ClientFlags{LogLevel: logger.Info} }

// NSQDTCPAddresses is the repeatable --nsqd-tcp-address flag.
func NSQDTCPAddresses(p *[]string, usage string) *Flag {
	return Strings("nsqd-tcp-address", p, usage).WithPlaceholder("host:port").WithKey("")
}

// LookupdHTTPAddresses is the repeatable --lookupd-http-address flag.
func LookupdHTTPAddresses(p *[]string, usage string) *Flag {
	return Strings("lookupd-http-address", p, usage).WithPlaceholder("host:port").WithKey("")
}

// NSQDHTTPAddresses is the repeatable --nsqd-http-address flag.
func NSQDHTTPAddresses(p *[]string, usage string) *Flag {
	return Strings("nsqd-http-address", p, usage).WithPlaceholder("host:port").WithKey("")
}

// AddressFlags returns --nsqd-tcp-address and --lookupd-http-address; the
// usages say what the tool does with each kind.
func (c *ClientFlags) AddressFlags(nsqdUsage, lookupdUsage string) []*Flag {
	return []*Flag{
		NSQDTCPAddresses(&c.NSQDTCPAddresses, nsqdUsage),
		LookupdHTTPAddresses(&c.LookupdHTTPAddresses, lookupdUsage),
	}
}

// ConnFlags returns the client option flag optFlag ("consumer-opt" or
// "producer-opt"), then TLS, compression, auth and --log-level, in help
// order.
func (c *ClientFlags) ConnFlags(optFlag string) []*Flag {
	kind := strings.TrimSuffix(optFlag, "-opt")
	example := "max_attempts,10"
	if kind == "producer" {
		example = "publish_timeout,30s"
	}
	return []*Flag{
		Strings(optFlag, &c.Opts, "a "+kind+" option as name,value (go-nsq's option names, e.g.\n"+
			example+" or tls_v1,true; name alone means true)").WithPlaceholder("name,value").WithKey(""),
		Bool("tls", &c.TLS, "connect to nsqd with TLS (tls_v1)").WithKey(""),
		String("tls-root-ca-file", &c.TLSRootCAFile, "CA bundle that verifies nsqd's certificate").WithPlaceholder("path").WithKey(""),
		String("tls-cert", &c.TLSCert, "client certificate (PEM) for nsqd's --tls-client-auth-policy").WithPlaceholder("path").WithKey(""),
		String("tls-key", &c.TLSKey, "key of --tls-cert (PEM)").WithPlaceholder("path").WithKey(""),
		Bool("tls-insecure-skip-verify", &c.TLSInsecureSkipVerify, "do not verify nsqd's certificate").WithKey(""),
		Bool("snappy", &c.Snappy, "negotiate snappy compression").WithKey(""),
		Bool("deflate", &c.Deflate, "negotiate deflate compression").WithKey(""),
		String("auth-secret", &c.AuthSecret, "secret sent with AUTH to an nsqd that has --auth-http-address").WithKey(""),
		Level("log-level", &c.LogLevel, "log level: debug, info, warn, error or fatal").WithKey(""),
	}
}

// OptionSetter is what Apply sets options on (core/client's Config).
type OptionSetter interface {
	Set(name, value string) error
}

// Apply sets the TLS, compression and auth flags, then every
// --consumer-opt/--producer-opt, on cfg; ignore lists option names the
// tool owns (e.g. user_agent), which are skipped. An unknown or invalid
// option is an error naming the flag.
func (c *ClientFlags) Apply(cfg OptionSetter, optFlag string, ignore ...string) error {
	set := func(name, value string) error {
		for _, ig := range ignore {
			if name == ig {
				return nil
			}
		}
		return cfg.Set(name, value)
	}
	builtin := []struct {
		on          bool
		name, value string
	}{
		{c.TLS, "tls_v1", "true"},
		{c.TLSRootCAFile != "", "tls_root_ca_file", c.TLSRootCAFile},
		{c.TLSCert != "", "tls_cert", c.TLSCert},
		{c.TLSKey != "", "tls_key", c.TLSKey},
		{c.TLSInsecureSkipVerify, "tls_insecure_skip_verify", "true"},
		{c.Snappy, "snappy", "true"},
		{c.Deflate, "deflate", "true"},
		{c.AuthSecret != "", "auth_secret", c.AuthSecret},
	}
	for _, b := range builtin {
		if b.on {
			if err := set(b.name, b.value); err != nil {
				return fmt.Errorf("--%s: %w", strings.ReplaceAll(b.name, "_", "-"), err)
			}
		}
	}
	for _, opt := range c.Opts {
		name, value, ok := strings.Cut(opt, ",")
		if !ok {
			value = "true"
		}
		if err := set(strings.TrimSpace(name), value); err != nil {
			return fmt.Errorf("--%s %s: %w", optFlag, opt, err)
		}
	}
	return nil
}

// Sources checks the address flags as NSQ's tools do: one kind, not both.
func (c *ClientFlags) Sources() error {
	switch {
	case len(c.NSQDTCPAddresses) == 0 && len(c.LookupdHTTPAddresses) == 0:
		return errors.New("--nsqd-tcp-address or --lookupd-http-address required")
	case len(c.NSQDTCPAddresses) > 0 && len(c.LookupdHTTPAddresses) > 0:
		return errors.New("use --nsqd-tcp-address or --lookupd-http-address not both")
	}
	return nil
}

// HTTPClientFlags are the timeouts of a tool's HTTP requests to lookupd and
// nsqd.
type HTTPClientFlags struct {
	ConnectTimeout time.Duration
	RequestTimeout time.Duration
}

// NewHTTPClientFlags returns NSQ's defaults: 2 s to connect, 5 s a request.
func NewHTTPClientFlags() *HTTPClientFlags {
	return &HTTPClientFlags{ConnectTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second}
}

// Flags returns --http-client-connect-timeout and --http-client-request-timeout.
func (h *HTTPClientFlags) Flags() []*Flag {
	return []*Flag{
		Duration("http-client-connect-timeout", &h.ConnectTimeout, "timeout for connecting to lookupd or nsqd over HTTP").WithKey(""),
		Duration("http-client-request-timeout", &h.RequestTimeout, "timeout of one HTTP request to lookupd or nsqd").WithKey(""),
	}
}

// Check validates the timeouts with NSQ's messages.
func (h *HTTPClientFlags) Check() error {
	if h.ConnectTimeout <= 0 {
		return errors.New("--http-client-connect-timeout should be positive")
	}
	if h.RequestTimeout <= 0 {
		return errors.New("--http-client-request-timeout should be positive")
	}
	return nil
}

// IsTerminal reports whether f is a terminal (for progress lines and
// colour, which a tool shows only there).
func IsTerminal(f *os.File) bool {
	return f != nil && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// UseColor reports whether output to f may be coloured: f is a terminal,
// NO_COLOR is unset (or empty) and TERM is not "dumb".
func UseColor(f *os.File, getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	return IsTerminal(f) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}
