package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/nsqd"
	"github.com/nsqkit/nsqkit/core/version"
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func build(t *testing.T, args []string, env map[string]string) (*nsqd.Options, error) {
	t.Helper()
	return buildOptions(args, envOf(env), io.Discard, io.Discard)
}

func mustBuild(t *testing.T, args []string, env map[string]string) *nsqd.Options {
	t.Helper()
	opts, err := build(t, args, env)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return opts
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nsqd.toml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	opts := mustBuild(t, nil, nil)
	if want := nsqd.NewOptions(); !reflect.DeepEqual(opts, want) {
		t.Fatalf("got  %+v\nwant %+v", opts, want)
	}
}

// spec is cli-flags.md §2: every nsqd flag, its default as shown in help
// and the Options field it sets ("" for the deprecated no-op flags); "*"
// marks hostname-derived defaults.
var spec = []struct{ name, def, field string }{
	{"log-level", "info", "LogLevel"},
	{"log-prefix", "[nsqd] ", "LogPrefix"},
	{"verbose", "false", ""},
	{"node-id", "*", "NodeID"}, // hostname-derived
	{"worker-id", "false", ""},
	{"tcp-address", "0.0.0.0:4150", "TCPAddress"},
	{"http-address", "0.0.0.0:4151", "HTTPAddress"},
	{"https-address", "0.0.0.0:4152", "HTTPSAddress"},
	{"broadcast-address", "*", "BroadcastAddress"}, // hostname
	{"broadcast-tcp-port", "0", "BroadcastTCPPort"},
	{"broadcast-http-port", "0", "BroadcastHTTPPort"},
	{"lookupd-tcp-address", "", "NSQLookupdTCPAddresses"},
	{"auth-http-address", "", "AuthHTTPAddresses"},
	{"http-client-connect-timeout", "2s", "HTTPClientConnectTimeout"},
	{"http-client-request-timeout", "5s", "HTTPClientRequestTimeout"},
	{"data-path", "", "DataPath"},
	{"mem-queue-size", "10000", "MemQueueSize"},
	{"max-bytes-per-file", "104857600", "MaxBytesPerFile"},
	{"sync-every", "2500", "SyncEvery"},
	{"sync-timeout", "2s", "SyncTimeout"},
	{"queue-scan-worker-pool-max", "4", "QueueScanWorkerPoolMax"},
	{"queue-scan-selection-count", "20", "QueueScanSelectionCount"},
	{"msg-timeout", "1m0s", "MsgTimeout"},
	{"max-msg-timeout", "15m0s", "MaxMsgTimeout"},
	{"max-msg-size", "1048576", "MaxMsgSize"},
	{"max-req-timeout", "1h0m0s", "MaxReqTimeout"},
	{"max-body-size", "5242880", "MaxBodySize"},
	{"max-heartbeat-interval", "1m0s", "MaxHeartbeatInterval"},
	{"max-rdy-count", "2500", "MaxRdyCount"},
	{"max-output-buffer-size", "65536", "MaxOutputBufferSize"},
	{"max-output-buffer-timeout", "30s", "MaxOutputBufferTimeout"},
	{"min-output-buffer-timeout", "25ms", "MinOutputBufferTimeout"},
	{"output-buffer-timeout", "250ms", "OutputBufferTimeout"},
	{"max-channel-consumers", "0", "MaxChannelConsumers"},
	{"statsd-address", "", "StatsdAddress"},
	{"statsd-interval", "1m0s", "StatsdInterval"},
	{"statsd-mem-stats", "true", "StatsdMemStats"},
	{"statsd-prefix", "nsq.%s", "StatsdPrefix"},
	{"statsd-udp-packet-size", "508", "StatsdUDPPacketSize"},
	{"statsd-exclude-ephemeral", "false", "StatsdExcludeEphemeral"},
	{"e2e-processing-latency-percentile", "", "E2EProcessingLatencyPercentiles"},
	{"e2e-processing-latency-window-time", "10m0s", "E2EProcessingLatencyWindowTime"},
	{"tls-cert", "", "TLSCert"},
	{"tls-key", "", "TLSKey"},
	{"tls-client-auth-policy", "", "TLSClientAuthPolicy"},
	{"tls-root-ca-file", "", "TLSRootCAFile"},
	{"tls-required", "false", "TLSRequired"},
	{"tls-min-version", "tls1.0", "TLSMinVersion"},
	{"deflate", "true", "DeflateEnabled"},
	{"max-deflate-level", "6", "MaxDeflateLevel"},
	{"snappy", "true", "SnappyEnabled"},
}

// sample is a non-default command-line value for f and the value it must
// give the field.
func sample(f *cli.Flag) (string, any) {
	switch v := f.Value.(type) {
	case *cli.StringValue:
		return "sample:1", "sample:1"
	case *cli.IntValue:
		return "0x11", 17
	case *cli.Int64Value:
		return "0x11", int64(17)
	case *cli.BoolValue:
		if v.String() == "true" {
			return "false", false
		}
		return "true", true
	case *cli.DurationValue:
		return "1m30s", 90 * time.Second
	case *cli.StringsValue:
		return "a:1", []string{"a:1"}
	case *cli.FloatsValue:
		return "0.5", []float64{0.5}
	case *cli.LevelValue:
		return "DEBUG", logger.Debug
	case *cli.TLSRequiredValue:
		return "tcp-https", nsqd.TLSRequiredExceptHTTP
	case *cli.TLSVersionValue:
		return "TLS1.2", uint16(tls.VersionTLS12)
	}
	panic("no sample for " + f.Name)
}

// changedFields lists the Options fields that differ from the defaults.
func changedFields(opts *nsqd.Options) map[string]any {
	def := reflect.ValueOf(nsqd.NewOptions()).Elem()
	got := reflect.ValueOf(opts).Elem()
	out := map[string]any{}
	for i := 0; i < def.NumField(); i++ {
		if !reflect.DeepEqual(def.Field(i).Interface(), got.Field(i).Interface()) {
			out[def.Type().Field(i).Name] = got.Field(i).Interface()
		}
	}
	return out
}

func TestEveryFlag(t *testing.T) {
	flags := nsqdFlags(nsqd.NewOptions())
	if len(flags) != len(spec) {
		t.Errorf("%d flags, spec has %d", len(flags), len(spec))
	}
	byName := map[string]*cli.Flag{}
	for _, f := range flags {
		byName[f.Name] = f
	}
	for _, s := range spec {
		f := byName[s.name]
		if f == nil {
			t.Errorf("--%s missing", s.name)
			continue
		}
		if s.def != "*" {
			if got := f.Value.String(); got != s.def {
				t.Errorf("--%s default %q, spec %q", s.name, got, s.def)
			}
		}
		val, want := sample(f)
		forms := [][]string{{"-" + s.name + "=" + val}, {"--" + s.name + "=" + val}}
		if !strings.HasPrefix(reflect.TypeOf(f.Value).String(), "*cli.Bool") &&
			!strings.HasPrefix(reflect.TypeOf(f.Value).String(), "*cli.TLSRequired") {
			forms = append(forms, []string{"-" + s.name, val}, []string{"--" + s.name, val})
		}
		for _, args := range forms {
			opts, err := build(t, args, nil)
			if err != nil {
				t.Errorf("%q: %v", args, err)
				continue
			}
			changed := changedFields(opts)
			if s.field == "" {
				if len(changed) != 0 {
					t.Errorf("%q (deprecated) changed %v", args, changed)
				}
				continue
			}
			if s.name == "tls-client-auth-policy" {
				// a policy implies --tls-required=true
				if changed["TLSRequired"] != nsqd.TLSRequired {
					t.Errorf("%q: TLSRequired %v", args, changed["TLSRequired"])
				}
				delete(changed, "TLSRequired")
			}
			if len(changed) != 1 || !reflect.DeepEqual(changed[s.field], want) {
				t.Errorf("%q: changed %v, want only %s=%v", args, changed, s.field, want)
			}
		}
	}
	// Bare boolean flags mean true.
	opts := mustBuild(t, []string{"--statsd-exclude-ephemeral", "-verbose", "--worker-id"}, nil)
	if !opts.StatsdExcludeEphemeral {
		t.Error("bare --statsd-exclude-ephemeral")
	}
}

func TestSpecificFlags(t *testing.T) {
	opts := mustBuild(t, []string{"--lookupd-tcp-address=a:4160", "-lookupd-tcp-address", "b:4160",
		"--auth-http-address=http://x/auth", "--auth-http-address=y:1"}, nil)
	if !reflect.DeepEqual(opts.NSQLookupdTCPAddresses, []string{"a:4160", "b:4160"}) ||
		!reflect.DeepEqual(opts.AuthHTTPAddresses, []string{"http://x/auth", "y:1"}) {
		t.Errorf("repeatable: %q %q", opts.NSQLookupdTCPAddresses, opts.AuthHTTPAddresses)
	}
	opts = mustBuild(t, []string{"--e2e-processing-latency-percentile=1.0,0.99", "--e2e-processing-latency-percentile=0.95"}, nil)
	if !reflect.DeepEqual(opts.E2EProcessingLatencyPercentiles, []float64{1, 0.99, 0.95}) {
		t.Errorf("percentiles %v", opts.E2EProcessingLatencyPercentiles)
	}
	opts = mustBuild(t, []string{"--e2e-processing-latency-percentile=0.5", "--e2e-processing-latency-percentile=0.99,1"}, nil)
	if !reflect.DeepEqual(opts.E2EProcessingLatencyPercentiles, []float64{1, 0.99, 0.5}) {
		t.Errorf("percentiles sorted %v", opts.E2EProcessingLatencyPercentiles)
	}
	if opts := mustBuild(t, []string{"--msg-timeout=30s"}, nil); opts.MsgTimeout != 30*time.Second {
		t.Errorf("msg-timeout %v", opts.MsgTimeout)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--tls-required"}, nsqd.TLSRequired},
		{[]string{"--tls-required=true"}, nsqd.TLSRequired},
		{[]string{"--tls-required=tcp-https"}, nsqd.TLSRequiredExceptHTTP},
		{[]string{"--tls-required=false"}, nsqd.TLSNotRequired},
		{[]string{"--tls-client-auth-policy=require"}, nsqd.TLSRequired},
		{[]string{"--tls-client-auth-policy=require", "--tls-required=tcp-https"}, nsqd.TLSRequiredExceptHTTP},
	} {
		if opts := mustBuild(t, tc.args, nil); opts.TLSRequired != tc.want {
			t.Errorf("%q: TLSRequired %d want %d", tc.args, opts.TLSRequired, tc.want)
		}
	}
	// The seeds' command line.
	opts = mustBuild(t, []string{"--lookupd-tcp-address=127.0.0.1:4160", "--data-path=/tmp/nsq1",
		"-http-address=0.0.0.0:4152", "-tcp-address=0.0.0.0:4153"}, nil)
	want := nsqd.NewOptions()
	want.NSQLookupdTCPAddresses = []string{"127.0.0.1:4160"}
	want.DataPath = "/tmp/nsq1"
	want.HTTPAddress = "0.0.0.0:4152"
	want.TCPAddress = "0.0.0.0:4153"
	if !reflect.DeepEqual(opts, want) {
		t.Errorf("seed command line: changed %v", changedFields(opts))
	}
}

func TestConfigFile(t *testing.T) {
	file := writeConfig(t, `
log_level = "DEBUG"
id = 42
node_id = 7
tcp_address = "127.0.0.1:5150"
nsqlookupd_tcp_addresses = ["a:4160", "b:4160"]
lookupd_tcp_address = ["ignored:1"]
auth_http_addresses = "x:1,y:2"
mem_queue_size = "500"
max_bytes_per_file = 1024
sync_every = "0x10"
msg_timeout = "30s"
max_msg_timeout = 120000
statsd_mem_stats = "false"
deflate = false
snappy = "f"
e2e_processing_latency_percentiles = [0.95, 1.0, 0.99]
tls_required = "tcp-https"
tls_min_version = "TLS1.2"
verbose = true
worker_id = true
version = true
unknown_key = "whatever"
`)
	opts := mustBuild(t, []string{"--config=" + file}, nil)
	want := nsqd.NewOptions()
	want.LogLevel = logger.Debug
	want.NodeID = 42
	want.TCPAddress = "127.0.0.1:5150"
	want.NSQLookupdTCPAddresses = []string{"a:4160", "b:4160"}
	want.AuthHTTPAddresses = []string{"x:1", "y:2"}
	want.MemQueueSize = 500
	want.MaxBytesPerFile = 1024
	want.SyncEvery = 16
	want.MsgTimeout = 30 * time.Second
	want.MaxMsgTimeout = 2 * time.Minute
	want.StatsdMemStats = false
	want.DeflateEnabled = false
	want.SnappyEnabled = false
	want.E2EProcessingLatencyPercentiles = []float64{1, 0.99, 0.95}
	want.TLSRequired = nsqd.TLSRequiredExceptHTTP
	want.TLSMinVersion = tls.VersionTLS12
	if !reflect.DeepEqual(opts, want) {
		t.Fatalf("changed %v", changedFields(opts))
	}

	for file, check := range map[string]func(*nsqd.Options) bool{
		`e2e_processing_latency_percentiles = "0.5,0.9"`: func(o *nsqd.Options) bool {
			return reflect.DeepEqual(o.E2EProcessingLatencyPercentiles, []float64{0.9, 0.5})
		},
		`nsqlookupd_tcp_addresses = "a:1"`: func(o *nsqd.Options) bool {
			return reflect.DeepEqual(o.NSQLookupdTCPAddresses, []string{"a:1"})
		},
		`tls_required = true`:       func(o *nsqd.Options) bool { return o.TLSRequired == nsqd.TLSRequired },
		`tls_required = "false"`:    func(o *nsqd.Options) bool { return o.TLSRequired == nsqd.TLSNotRequired },
		`tls_min_version = ""`:      func(o *nsqd.Options) bool { return o.TLSMinVersion == tls.VersionTLS10 },
		`log_level = "warn"`:        func(o *nsqd.Options) bool { return o.LogLevel == logger.Warn },
		`sync_timeout = 500`:        func(o *nsqd.Options) bool { return o.SyncTimeout == 500*time.Millisecond },
		`max_channel_consumers = 3`: func(o *nsqd.Options) bool { return o.MaxChannelConsumers == 3 },
		`tls_client_auth_policy = "require"`: func(o *nsqd.Options) bool {
			return o.TLSClientAuthPolicy == "require" && o.TLSRequired == nsqd.TLSRequired
		},
	} {
		if o := mustBuild(t, []string{"--config", writeConfig(t, file)}, nil); !check(o) {
			t.Errorf("%s: changed %v", file, changedFields(o))
		}
	}
}

func TestConfigErrors(t *testing.T) {
	bad := writeConfig(t, "mem_queue_size = = 3")
	for _, tc := range []struct{ file, want string }{
		{`log_level = "verbose"`, "failed parsing log_level verbose"},
		{`tls_required = "sometimes"`, "failed parsing tls_required sometimes"},
		{`tls_min_version = "ssl3.0"`, "failed parsing tls_min_version ssl3.0"},
	} {
		_, err := build(t, []string{"--config=" + writeConfig(t, tc.file)}, nil)
		if err == nil || err.Error() != tc.want || cli.ExitCode(err) != 1 {
			t.Errorf("%s: %v", tc.file, err)
		}
	}
	_, err := build(t, []string{"--config=" + bad}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "failed to load config file "+bad+" - ") || cli.ExitCode(err) != 1 {
		t.Errorf("invalid toml: %v", err)
	}
	_, err = build(t, []string{"--config=" + writeConfig(t, `mem_queue_size = "lots"`)}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "failed parsing mem_queue_size lots") || cli.ExitCode(err) != 1 {
		t.Errorf("bad int: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeConfig(t, "mem_queue_size = 1\nnsqlookupd_tcp_addresses = [\"file:1\"]\nid = 5")
	env := map[string]string{"NSQD_MEM_QUEUE_SIZE": "2", "NSQD_NSQLOOKUPD_TCP_ADDRESSES": "env:1,env:2"}
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		mem     int64
		lookupd []string
	}{
		{[]string{"--config", file, "--mem-queue-size=3", "--lookupd-tcp-address=flag:1"}, env, 3, []string{"flag:1"}},
		{[]string{"--config", file}, env, 2, []string{"env:1", "env:2"}},
		{[]string{"--config", file}, nil, 1, []string{"file:1"}},
		{nil, nil, 10000, []string{}},
		{nil, env, 2, []string{"env:1", "env:2"}},
	} {
		opts := mustBuild(t, tc.args, tc.env)
		if opts.MemQueueSize != tc.mem || !reflect.DeepEqual(opts.NSQLookupdTCPAddresses, tc.lookupd) {
			t.Errorf("%q env=%v: mem %d lookupd %q", tc.args, tc.env != nil, opts.MemQueueSize, opts.NSQLookupdTCPAddresses)
		}
		if tc.args != nil && opts.NodeID != 5 {
			t.Errorf("%q: id from file lost: %d", tc.args, opts.NodeID)
		}
	}
	opts := mustBuild(t, nil, map[string]string{"NSQD_ID": "9", "NSQD_LOG_LEVEL": "error",
		"NSQD_E2E_PROCESSING_LATENCY_PERCENTILES": "0.9,1", "NSQD_TLS_REQUIRED": "true", "NSQD_MSG_TIMEOUT": "5s",
		"NSQD_STATSD_MEM_STATS": "false", "NSQD_VERBOSE": "junk", "NSQD_CONFIG": "/nonexistent"})
	if opts.NodeID != 9 || opts.LogLevel != logger.Error || opts.TLSRequired != nsqd.TLSRequired ||
		!reflect.DeepEqual(opts.E2EProcessingLatencyPercentiles, []float64{1, 0.9}) ||
		opts.MsgTimeout != 5*time.Second || opts.StatsdMemStats {
		t.Errorf("env: changed %v", changedFields(opts))
	}
	if _, err := build(t, nil, map[string]string{"NSQD_MEM_QUEUE_SIZE": "many"}); err == nil || cli.ExitCode(err) != 1 {
		t.Errorf("bad env value: %v", err)
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--bogus"}, 2, "", "flag provided but not defined: -bogus\n\nUsage: nsqd"},
		{[]string{"--mem-queue-size=abc"}, 2, "", `invalid value "abc" for flag -mem-queue-size`},
		{[]string{"--e2e-processing-latency-percentile=0.9,x"}, 2, "", "Could not parse: x"},
		{[]string{"--msg-timeout=30"}, 2, "", "invalid value"},
		{[]string{"--help"}, 0, "Usage: nsqd [flags]", ""},
		{[]string{"-h"}, 0, "NSQD_MEM_QUEUE_SIZE", ""},
		{[]string{"--version"}, 0, version.String("nsqd") + "\n", ""},
		{[]string{"-version"}, 0, version.String("nsqd") + "\n", ""},
		{[]string{"--config=/nonexistent/nsqd.toml"}, 1, "", "FATAL: failed to load config file /nonexistent/nsqd.toml - "},
		{[]string{"--max-deflate-level=10", "--data-path=" + t.TempDir(), "--tcp-address=127.0.0.1:0",
			"--http-address=", "--https-address="}, 1, "", "FATAL: failed to instantiate nsqd - --max-deflate-level must be [1,9]"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, noEnv, &stdout, &stderr, nil)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%q: code %d\nstdout %q\nstderr %q", tc.args, code, stdout.String(), stderr.String())
		}
		if strings.Contains(stderr.String(), "Incorrect Usage") {
			t.Errorf("%q: urfave noise in %q", tc.args, stderr.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunSignal(t *testing.T) {
	dir := t.TempDir()
	sigc := make(chan os.Signal, 1)
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--data-path=" + dir, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
			"--https-address="}, noEnv, io.Discard, &stderr, sigc)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "TCP: listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("nsqd did not start: %s", stderr.String())
		}
		select {
		case code := <-done:
			t.Fatalf("nsqd exited early (%d): %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	sigc <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nsqd did not stop on SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "nsqd.dat")); err != nil {
		t.Errorf("no metadata after shutdown: %v", err)
	}
}
