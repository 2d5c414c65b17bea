package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/nsqlookupd"
	"github.com/nsqkit/nsqkit/core/version"
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func build(t *testing.T, args []string, env map[string]string) (*nsqlookupd.Options, error) {
	t.Helper()
	return buildOptions(args, envOf(env), io.Discard, io.Discard)
}

func mustBuild(t *testing.T, args []string, env map[string]string) *nsqlookupd.Options {
	t.Helper()
	opts, err := build(t, args, env)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return opts
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nsqlookupd.toml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	opts := mustBuild(t, nil, nil)
	want := nsqlookupd.NewOptions()
	if !reflect.DeepEqual(opts, want) {
		t.Fatalf("got  %+v\nwant %+v", opts, want)
	}
	host, _ := os.Hostname()
	if want.BroadcastAddress != host || want.InactiveProducerTimeout != 5*time.Minute || want.TombstoneLifetime != 45*time.Second ||
		want.TCPAddress != "0.0.0.0:4160" || want.HTTPAddress != "0.0.0.0:4161" || want.LogLevel != logger.Info ||
		want.LogPrefix != "[nsqlookupd] " {
		t.Fatalf("defaults %+v", want)
	}
}

// spec is cli-flags.md §3: every flag, its default as help shows it and
// the Options field it sets ("" for the deprecated no-op flag).
var spec = []struct{ name, def, field, sample string }{
	{"log-level", "info", "LogLevel", "DEBUG"},
	{"log-prefix", "[nsqlookupd] ", "LogPrefix", "sample:1"},
	{"verbose", "false", "", "true"},
	{"tcp-address", "0.0.0.0:4160", "TCPAddress", "sample:1"},
	{"http-address", "0.0.0.0:4161", "HTTPAddress", "sample:1"},
	{"broadcast-address", "*", "BroadcastAddress", "sample:1"}, // hostname
	{"inactive-producer-timeout", "5m0s", "InactiveProducerTimeout", "1m30s"},
	{"tombstone-lifetime", "45s", "TombstoneLifetime", "1m30s"},
}

// changedFields lists the Options fields that differ from the defaults.
func changedFields(opts *nsqlookupd.Options) map[string]any {
	def := reflect.ValueOf(nsqlookupd.NewOptions()).Elem()
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
	flags := lookupdFlags(nsqlookupd.NewOptions())
	if len(flags) != len(spec) {
		t.Errorf("%d flags, spec has %d", len(flags), len(spec))
	}
	byName := map[string]*cli.Flag{}
	for _, f := range flags {
		byName[f.Name] = f
	}
	wantValue := map[string]any{
		"LogLevel": logger.Debug, "LogPrefix": "sample:1", "TCPAddress": "sample:1", "HTTPAddress": "sample:1",
		"BroadcastAddress": "sample:1", "InactiveProducerTimeout": 90 * time.Second, "TombstoneLifetime": 90 * time.Second,
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
		if want := strings.ReplaceAll(s.name, "-", "_"); s.field != "" && f.Key != want {
			t.Errorf("--%s config key %q", s.name, f.Key)
		}
		forms := [][]string{{"-" + s.name + "=" + s.sample}, {"--" + s.name + "=" + s.sample}}
		if s.name != "verbose" {
			forms = append(forms, []string{"-" + s.name, s.sample}, []string{"--" + s.name, s.sample})
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
			if len(changed) != 1 || !reflect.DeepEqual(changed[s.field], wantValue[s.field]) {
				t.Errorf("%q: changed %v, want only %s=%v", args, changed, s.field, wantValue[s.field])
			}
		}
	}
	// a bare boolean means true; the value after it is positional
	if _, err := build(t, []string{"--verbose", "false", "--tombstone-lifetime=1s"}, nil); err != nil {
		t.Errorf("bare --verbose: %v", err)
	}
	if o := mustBuild(t, []string{"--verbose", "x", "--tombstone-lifetime=1s"}, nil); o.TombstoneLifetime != 45*time.Second {
		t.Errorf("parsing did not stop at the first positional argument: %v", o.TombstoneLifetime)
	}
}

func TestConfigFile(t *testing.T) {
	file := writeConfig(t, `
log_level = "WARN"
log_prefix = "[lookup] "
tcp_address = "127.0.0.1:5160"
http_address = "127.0.0.1:5161"
broadcast_address = "lookupd.example"
inactive_producer_timeout = "10s"
tombstone_lifetime = 1500
verbose = true
version = true
unknown_key = "whatever"
`)
	opts := mustBuild(t, []string{"--config=" + file}, nil)
	want := nsqlookupd.NewOptions()
	want.LogLevel = logger.Warn
	want.LogPrefix = "[lookup] "
	want.TCPAddress = "127.0.0.1:5160"
	want.HTTPAddress = "127.0.0.1:5161"
	want.BroadcastAddress = "lookupd.example"
	want.InactiveProducerTimeout = 10 * time.Second
	want.TombstoneLifetime = 1500 * time.Millisecond
	if !reflect.DeepEqual(opts, want) {
		t.Fatalf("changed %v", changedFields(opts))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`log_level = "verbose"`, "failed parsing log_level verbose"},
		{`tombstone_lifetime = "soon"`, "failed parsing tombstone_lifetime soon"},
		{`inactive_producer_timeout = true`, "failed parsing inactive_producer_timeout true"},
		{`tcp_address = = 5`, "failed to load config file "},
	} {
		_, err := build(t, []string{"--config=" + writeConfig(t, tc.file)}, nil)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || cli.ExitCode(err) != 1 {
			t.Errorf("%s: %v", tc.file, err)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeConfig(t, "tombstone_lifetime = \"1s\"\nbroadcast_address = \"file\"\nhttp_address = \"file:1\"")
	env := map[string]string{"NSQLOOKUPD_TOMBSTONE_LIFETIME": "2s", "NSQLOOKUPD_BROADCAST_ADDRESS": "env"}
	for _, tc := range []struct {
		args      []string
		env       map[string]string
		lifetime  time.Duration
		broadcast string
	}{
		{[]string{"--config", file, "--tombstone-lifetime=3s", "--broadcast-address=flag"}, env, 3 * time.Second, "flag"},
		{[]string{"--config", file}, env, 2 * time.Second, "env"},
		{[]string{"--config", file}, nil, time.Second, "file"},
		{nil, env, 2 * time.Second, "env"},
	} {
		opts := mustBuild(t, tc.args, tc.env)
		if opts.TombstoneLifetime != tc.lifetime || opts.BroadcastAddress != tc.broadcast {
			t.Errorf("%q env=%v: %v %q", tc.args, tc.env != nil, opts.TombstoneLifetime, opts.BroadcastAddress)
		}
		if tc.args != nil && opts.HTTPAddress != "file:1" {
			t.Errorf("%q: http_address from the file lost", tc.args)
		}
	}
	opts := mustBuild(t, nil, map[string]string{"NSQLOOKUPD_LOG_LEVEL": "error", "NSQLOOKUPD_INACTIVE_PRODUCER_TIMEOUT": "2.5s",
		"NSQLOOKUPD_VERBOSE": "junk", "NSQLOOKUPD_CONFIG": "/nonexistent", "NSQLOOKUPD_TCP_ADDRESS": "127.0.0.1:1"})
	if opts.LogLevel != logger.Error || opts.InactiveProducerTimeout != 2500*time.Millisecond || opts.TCPAddress != "127.0.0.1:1" {
		t.Errorf("env: changed %v", changedFields(opts))
	}
	if _, err := build(t, nil, map[string]string{"NSQLOOKUPD_TOMBSTONE_LIFETIME": "later"}); err == nil || cli.ExitCode(err) != 1 {
		t.Errorf("bad env value: %v", err)
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--bogus"}, 2, "", "flag provided but not defined: -bogus\n\nUsage: nsqlookupd"},
		{[]string{"--tombstone-lifetime=45"}, 2, "", `invalid value "45" for flag -tombstone-lifetime`},
		{[]string{"--log-level=loud"}, 2, "", "invalid value"},
		{[]string{"--help"}, 0, "Usage: nsqlookupd [flags]", ""},
		{[]string{"-h"}, 0, "NSQLOOKUPD_TOMBSTONE_LIFETIME", ""},
		{[]string{"--version"}, 0, version.String("nsqlookupd") + "\n", ""},
		{[]string{"-version"}, 0, version.String("nsqlookupd") + "\n", ""},
		{[]string{"--config=/nonexistent/nsqlookupd.toml"}, 1, "", "[nsqlookupd] "},
		{[]string{"--config=/nonexistent/nsqlookupd.toml"}, 1, "", "FATAL: failed to load config file /nonexistent/nsqlookupd.toml - "},
		{[]string{"--tcp-address=nonsense", "--http-address=127.0.0.1:0"}, 1, "",
			"FATAL: failed to instantiate nsqlookupd - listen (nonsense) failed - "},
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
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		sigc := make(chan os.Signal, 1)
		var stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run([]string{"--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--log-prefix=[L] "},
				noEnv, io.Discard, &stderr, sigc)
		}()
		re := regexp.MustCompile(`HTTP: listening on (127\.0\.0\.1:\d+)`)
		var addr string
		for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(5 * time.Millisecond) {
			select {
			case code := <-done:
				t.Fatalf("exited early (%d): %s", code, stderr.String())
			default:
			}
			if m := re.FindStringSubmatch(stderr.String()); m != nil {
				addr = m[1]
			} else if time.Now().After(deadline) {
				t.Fatal("timed out waiting for nsqlookupd to start")
			}
		}
		resp, err := http.Get("http://" + addr + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sigc <- sig
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", sig, code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("nsqlookupd did not stop on %v", sig)
		}
		if !strings.HasPrefix(stderr.String(), "[L] ") || !strings.Contains(stderr.String(), "INFO: 200 GET /ping (") {
			t.Fatalf("log: %s", stderr.String())
		}
	}
}
