package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/bench"
	"github.com/nsqkit/nsqkit/core/cli"
)

func parseArgs(t *testing.T, mode bench.Mode, args ...string) (*invocation, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	inv, err := parse(mode, args, func(string) string { return "" }, &stdout, &stderr)
	return inv, stderr.String(), err
}

func TestParseDefaults(t *testing.T) {
	inv, _, err := parseArgs(t, bench.ModePub)
	if err != nil {
		t.Fatal(err)
	}
	o := inv.opts
	if o.Size != 100 || o.BatchSize != 200 || o.Runfor != 10*time.Second || o.Topic != "sub_bench" ||
		len(o.Addrs) != 1 || o.Addrs[0] != "127.0.0.1:4150" || o.Client != nil || o.Rate != 0 {
		t.Errorf("defaults %+v", o)
	}
}

func TestParseFlags(t *testing.T) {
	inv, _, err := parseArgs(t, bench.ModePubSub, "--nsqd-tcp-address=a:1", "-nsqd-tcp-address", "b:2", "--count=10",
		"--rate=500", "--subs=3", "--clients=4", "--snappy", "--json", "--output-buffer-timeout=25ms")
	if err != nil {
		t.Fatal(err)
	}
	o := inv.opts
	if strings.Join(o.Addrs, ",") != "a:1,b:2" || o.Count != 10 || o.Runfor != 0 || o.Rate != 500 || o.Subs != 3 || o.Clients != 4 {
		t.Errorf("options %+v", o)
	}
	if o.Client == nil || !o.Client.Snappy || !strings.HasPrefix(o.Client.UserAgent, "nsq_bench/") {
		t.Errorf("--snappy must go through core/client: %+v", o.Client)
	}
	if !inv.json || o.OutputBufferTimeout != 25*time.Millisecond {
		t.Errorf("json %v, obt %v", inv.json, o.OutputBufferTimeout)
	}
	// --count with an explicit --runfor keeps both
	inv, _, err = parseArgs(t, bench.ModeSub, "--count=10", "--runfor=2s")
	if err != nil || inv.opts.Runfor != 2*time.Second || inv.opts.Count != 10 {
		t.Errorf("count+runfor: %v %+v", err, inv.opts)
	}
}

func TestParseUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		mode bench.Mode
		args []string
		want string
	}{
		{bench.ModeSub, []string{"--rate=5"}, "flag provided but not defined: -rate"},
		{bench.ModePub, []string{"--json", "--csv"}, "use --json or --csv, not both"},
		{bench.ModePub, []string{"--clients=0"}, "--clients must be at least 1"},
		{bench.ModePubSub, []string{"--size=7"}, "at least 8 in pubsub mode"},
		{bench.ModePub, []string{"--producer-opt=nope,1"}, "--producer-opt"},
		{bench.ModePub, []string{"x"}, "unexpected arguments"},
	} {
		_, stderr, err := parseArgs(t, tc.mode, tc.args...)
		if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s %v: exit %d, stderr %q; want 2 and %q", tc.mode, tc.args, cli.ExitCode(err), stderr, tc.want)
		}
	}
}

func TestRunTopLevel(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "a subcommand is required"},
		{[]string{"nope"}, 2, `unknown subcommand "nope"`},
		{[]string{"--help"}, 0, "SUBCOMMANDS"},
		{[]string{"--version"}, 0, "nsq_bench v"},
		{[]string{"pub", "--help"}, 0, "--batch-size"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, func(string) string { return "" }, &stdout, &stderr, make(chan os.Signal))
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tc.args, code, stdout.String()+stderr.String(), tc.code, tc.out)
		}
	}
}
