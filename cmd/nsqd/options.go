package main

import (
	"io"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/nsqd"
	"github.com/nsqkit/nsqkit/core/version"
)

// envPrefix: every keyed option can be set by NSQD_<KEY>, e.g.
// NSQD_MEM_QUEUE_SIZE=20000 or NSQD_NSQLOOKUPD_TCP_ADDRESSES=a:4160,b:4160.
const envPrefix = "NSQD_"

// nsqdFlags lists every nsqd flag (cli-flags.md §2) bound to opts. The
// deprecated --verbose and --worker-id are accepted and ignored.
func nsqdFlags(opts *nsqd.Options) []*cli.Flag {
	var verbose, workerID bool
	return []*cli.Flag{
		cli.Level("log-level", &opts.LogLevel, "log verbosity: debug, info, warn, error or fatal (any case)"),
		cli.String("log-prefix", &opts.LogPrefix, "text written at the start of every log line"),
		cli.Bool("verbose", &verbose, "[deprecated] has no effect, use --log-level").WithKey(""),
		cli.Int64("node-id", &opts.NodeID,
			"node number embedded in message IDs, 0-1023; the default is derived from the hostname").WithKey("id"),
		cli.Bool("worker-id", &workerID, "[deprecated] has no effect, use --node-id").WithKey(""),

		cli.String("tcp-address", &opts.TCPAddress,
			"<addr>:<port> to listen on for TCP clients, or a path for a unix socket").WithPlaceholder("host:port"),
		cli.String("http-address", &opts.HTTPAddress,
			"<addr>:<port> to listen on for HTTP clients, or a unix socket path; empty disables HTTP").WithPlaceholder("host:port"),
		cli.String("https-address", &opts.HTTPSAddress,
			"<addr>:<port> to listen on for HTTPS clients (needs --tls-cert and --tls-key); empty disables").WithPlaceholder("host:port"),
		cli.String("broadcast-address", &opts.BroadcastAddress,
			"address this node registers with nsqlookupd; the default is the OS hostname").WithPlaceholder("host"),
		cli.Int("broadcast-tcp-port", &opts.BroadcastTCPPort,
			"TCP port registered with nsqlookupd (0 = the port actually listened on)"),
		cli.Int("broadcast-http-port", &opts.BroadcastHTTPPort,
			"HTTP port registered with nsqlookupd (0 = the port actually listened on)"),
		cli.Strings("lookupd-tcp-address", &opts.NSQLookupdTCPAddresses,
			"nsqlookupd TCP address to register with (give once per lookupd)").
			WithKey("nsqlookupd_tcp_addresses").WithPlaceholder("host:port"),
		cli.Strings("auth-http-address", &opts.AuthHTTPAddresses,
			"auth server <addr>:<port> or full URL to query; enables authorization (give once per server)").
			WithKey("auth_http_addresses").WithPlaceholder("host:port"),
		cli.Duration("http-client-connect-timeout", &opts.HTTPClientConnectTimeout,
			"timeout for connecting to nsqlookupd and auth servers over HTTP"),
		cli.Duration("http-client-request-timeout", &opts.HTTPClientRequestTimeout,
			"timeout for HTTP requests to nsqlookupd and auth servers"),

		cli.String("data-path", &opts.DataPath,
			"directory for disk-backed queues and nsqd.dat (default: current directory)").WithPlaceholder("dir"),
		cli.Int64("mem-queue-size", &opts.MemQueueSize,
			"messages kept in memory per topic and per channel before spilling to disk"),
		cli.Int64("max-bytes-per-file", &opts.MaxBytesPerFile,
			"bytes per disk queue file before rolling to a new one"),
		cli.Int64("sync-every", &opts.SyncEvery,
			"disk queue reads and writes between fsyncs"),
		cli.Duration("sync-timeout", &opts.SyncTimeout,
			"longest time between fsyncs of an active disk queue"),
		cli.Int("queue-scan-worker-pool-max", &opts.QueueScanWorkerPoolMax,
			"most workers checking in-flight and deferred message timeouts"),
		cli.Int("queue-scan-selection-count", &opts.QueueScanSelectionCount,
			"channels sampled per 100ms scan for timed-out messages"),

		cli.Duration("msg-timeout", &opts.MsgTimeout,
			"default time a message may stay in flight before it is requeued"),
		cli.Duration("max-msg-timeout", &opts.MaxMsgTimeout,
			"largest msg_timeout a client may ask for in IDENTIFY; also caps TOUCH"),
		cli.Int64("max-msg-size", &opts.MaxMsgSize,
			"largest message body in bytes a client may publish"),
		cli.Duration("max-req-timeout", &opts.MaxReqTimeout,
			"largest REQ delay (longer ones are clamped) and DPUB/defer (longer ones are rejected)"),
		cli.Int64("max-body-size", &opts.MaxBodySize,
			"largest command body in bytes (IDENTIFY, AUTH, MPUB)"),
		cli.Duration("max-heartbeat-interval", &opts.MaxHeartbeatInterval,
			"largest heartbeat_interval a client may ask for"),
		cli.Int64("max-rdy-count", &opts.MaxRdyCount,
			"largest RDY count a client may send"),
		cli.Int64("max-output-buffer-size", &opts.MaxOutputBufferSize,
			"largest output_buffer_size in bytes a client may ask for"),
		cli.Duration("max-output-buffer-timeout", &opts.MaxOutputBufferTimeout,
			"largest output_buffer_timeout a client may ask for"),
		cli.Duration("min-output-buffer-timeout", &opts.MinOutputBufferTimeout,
			"smallest output_buffer_timeout a client may ask for"),
		cli.Duration("output-buffer-timeout", &opts.OutputBufferTimeout,
			"default time data may sit in a client's output buffer before it is flushed"),
		cli.Int("max-channel-consumers", &opts.MaxChannelConsumers,
			"most subscribers per channel (0 = unlimited)"),

		cli.String("statsd-address", &opts.StatsdAddress,
			"UDP <addr>:<port> of a statsd daemon to push metrics to; empty disables").WithPlaceholder("host:port"),
		cli.Duration("statsd-interval", &opts.StatsdInterval,
			"how often metrics are pushed to statsd (use more than 1s)"),
		cli.Bool("statsd-mem-stats", &opts.StatsdMemStats,
			"also push Go memory and GC metrics (mem.*) to statsd"),
		cli.String("statsd-prefix", &opts.StatsdPrefix,
			"prefix of statsd metric names; %s becomes the host key <broadcast-address>_<http-port>"),
		cli.Int("statsd-udp-packet-size", &opts.StatsdUDPPacketSize,
			"largest statsd UDP datagram in bytes"),
		cli.Bool("statsd-exclude-ephemeral", &opts.StatsdExcludeEphemeral,
			"leave #ephemeral topics and channels out of statsd metrics"),

		cli.Floats("e2e-processing-latency-percentile", &opts.E2EProcessingLatencyPercentiles,
			"end-to-end latency percentile to track, in (0, 1]; repeat it or give a\n"+
				"comma-separated list, e.g. --e2e-processing-latency-percentile=1.0,0.99,0.95").
			WithKey("e2e_processing_latency_percentiles"),
		cli.Duration("e2e-processing-latency-window-time", &opts.E2EProcessingLatencyWindowTime,
			"time window the end-to-end latency percentiles are computed over"),

		cli.String("tls-cert", &opts.TLSCert, "path to the server certificate (PEM)").WithPlaceholder("file"),
		cli.String("tls-key", &opts.TLSKey, "path to the server private key (PEM)").WithPlaceholder("file"),
		cli.String("tls-client-auth-policy", &opts.TLSClientAuthPolicy,
			"client certificate policy: require (must present one) or require-verify (must verify\n"+
				"against --tls-root-ca-file); any value implies --tls-required=true").WithPlaceholder("policy"),
		cli.String("tls-root-ca-file", &opts.TLSRootCAFile,
			"CA bundle (PEM) to verify client certificates and for outgoing HTTPS").WithPlaceholder("file"),
		cli.TLSRequired("tls-required", &opts.TLSRequired,
			"require TLS from clients: --tls-required alone or =true (TCP and HTTP), =tcp-https\n"+
				"(TCP needs TLS, plain HTTP still served), =false (TLS optional); the value needs ="),
		cli.TLSMinVersion("tls-min-version", &opts.TLSMinVersion,
			"lowest TLS version accepted: tls1.0, tls1.1, tls1.2 or tls1.3"),

		cli.Bool("deflate", &opts.DeflateEnabled, "let clients negotiate deflate compression"),
		cli.Int("max-deflate-level", &opts.MaxDeflateLevel, "highest deflate level a client may ask for, 1-9"),
		cli.Bool("snappy", &opts.SnappyEnabled, "let clients negotiate snappy compression"),
	}
}

// newCommand describes nsqd's command line, bound to opts.
func newCommand(opts *nsqd.Options, getenv func(string) string, stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:       "nsqd",
		Summary:    "nsqd is the NSQ daemon: it receives, queues and delivers messages to clients.",
		Version:    version.String("nsqd"),
		ConfigFlag: "config",
		EnvPrefix:  envPrefix,
		Flags:      nsqdFlags(opts),
		Stdout:     stdout,
		Stderr:     stderr,
		Getenv:     getenv,
	}
}

// buildOptions turns nsqd's arguments (without the program name) and
// environment into Options: command line > NSQD_* environment > --config
// file > default. Errors come from cli.Command.Parse (map them with
// cli.ExitCode); help, version and usage errors are already printed.
func buildOptions(args []string, getenv func(string) string, stdout, stderr io.Writer) (*nsqd.Options, error) {
	opts := nsqd.NewOptions()
	if _, err := newCommand(opts, getenv, stdout, stderr).Parse(args); err != nil {
		return nil, err
	}
	// A client auth policy implies TLS is required.
	if opts.TLSClientAuthPolicy != "" && opts.TLSRequired == nsqd.TLSNotRequired {
		opts.TLSRequired = nsqd.TLSRequired
	}
	return opts, nil
}
