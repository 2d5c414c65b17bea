package cli

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	ucli "github.com/urfave/cli/v2"
)

// testOpts is a small options struct covering every value type.
type testOpts struct {
	S     string
	I     int
	I64   int64
	B     bool
	D     time.Duration
	L     []string
	F     []float64
	Lvl   logger.Level
	TLSR  int
	TLSV  uint16
	Other string
}

func newTestOpts() *testOpts {
	return &testOpts{S: "def", I: 1, I64: 2, B: true, D: time.Second, L: []string{}, Lvl: logger.Info, TLSV: tls.VersionTLS10}
}

func testCommand(o *testOpts, env map[string]string) (*Command, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &Command{
		Name:       "tool",
		Summary:    "a test tool",
		Version:    "tool v1",
		ConfigFlag: "config",
		EnvPrefix:  "TOOL_",
		Flags: []*Flag{
			String("s", &o.S, "a string"),
			Int("i", &o.I, "an int"),
			Int64("i64", &o.I64, "an int64"),
			Bool("b", &o.B, "a bool"),
			Duration("d", &o.D, "a duration"),
			Strings("l", &o.L, "a list").WithKey("list_key"),
			Floats("f", &o.F, "floats"),
			Level("log-level", &o.Lvl, "level"),
			TLSRequired("tls-required", &o.TLSR, "tls"),
			TLSMinVersion("tls-min-version", &o.TLSV, "min version"),
			String("other", &o.Other, "no key").WithKey(""),
		},
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
	}, &stdout, &stderr
}

func parse(t *testing.T, args []string, env map[string]string) (*testOpts, []string, error) {
	t.Helper()
	o := newTestOpts()
	c, _, _ := testCommand(o, env)
	rest, err := c.Parse(args)
	return o, rest, err
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsUntouched(t *testing.T) {
	o, rest, err := parse(t, nil, nil)
	if err != nil || len(rest) != 0 {
		t.Fatal(err, rest)
	}
	if !reflect.DeepEqual(o, newTestOpts()) {
		t.Fatalf("got %+v", o)
	}
}

func TestFlagSpellings(t *testing.T) {
	for _, args := range [][]string{
		{"-i=0x10"}, {"-i", "0x10"}, {"--i=0x10"}, {"--i", "0x10"}, {"--i=020"}, {"--i=16"},
	} {
		o, _, err := parse(t, args, nil)
		if err != nil || o.I != 16 {
			t.Errorf("%v: %v %d", args, err, o.I)
		}
	}
}

func TestValues(t *testing.T) {
	o, rest, err := parse(t, []string{
		"--s=x", "--i64=-5", "--b=false", "--d=1m30s", "--l=a,b", "-l", "c",
		"--f=0.5,1.0", "--f", "0.99", "--log-level=WARN", "--tls-required", "--tls-min-version=TLS1.3",
		"--other=o", "pos", "--s=ignored",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &testOpts{S: "x", I: 1, I64: -5, B: false, D: 90 * time.Second, L: []string{"a,b", "c"},
		F: []float64{1, 0.99, 0.5}, Lvl: logger.Warn, TLSR: 2, TLSV: tls.VersionTLS13, Other: "o"}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got  %+v\nwant %+v", o, want)
	}
	if !reflect.DeepEqual(rest, []string{"pos", "--s=ignored"}) {
		t.Fatalf("rest %q", rest)
	}
}

func TestBoolSpaceValueIsPositional(t *testing.T) {
	o := newTestOpts()
	o.B = false
	c, _, _ := testCommand(o, nil)
	rest, err := c.Parse([]string{"--b", "false"})
	if err != nil || !o.B || !reflect.DeepEqual(rest, []string{"false"}) {
		t.Fatal(err, o.B, rest)
	}
}

func TestTLSRequired(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 0},
		{[]string{"--tls-required"}, 2},
		{[]string{"-tls-required"}, 2},
		{[]string{"--tls-required=true"}, 2},
		{[]string{"--tls-required=tcp-https"}, 1},
		{[]string{"--tls-required=false"}, 0},
		{[]string{"--tls-required=1"}, 2},
	} {
		o, _, err := parse(t, tc.args, nil)
		if err != nil || o.TLSR != tc.want {
			t.Errorf("%v: %v %d", tc.args, err, o.TLSR)
		}
	}
	if _, _, err := parse(t, []string{"--tls-required=maybe"}, nil); ExitCode(err) != ExitUsage {
		t.Errorf("bad value: %v", err)
	}
}

// The values work on their own with Go's flag package and urfave's
// GenericFlag (the --tls-required value must be accepted bare).
func TestValuesStandalone(t *testing.T) {
	var n int
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(NewTLSRequiredValue(&n), "tls-required", "")
	if err := fs.Parse([]string{"--tls-required"}); err != nil || n != 2 {
		t.Fatal(err, n)
	}

	var m int
	var fl []float64
	app := &ucli.App{
		Flags: []ucli.Flag{
			&ucli.GenericFlag{Name: "tls-required", Value: NewTLSRequiredValue(&m)},
			&ucli.GenericFlag{Name: "p", Value: NewFloatsValue(&fl)},
		},
		Action: func(*ucli.Context) error { return nil },
	}
	if err := app.Run([]string{"x", "--p=0.5,1", "-p", "0.9", "--tls-required"}); err != nil {
		t.Fatal(err)
	}
	if m != 2 || !reflect.DeepEqual(fl, []float64{1, 0.9, 0.5}) {
		t.Fatal(m, fl)
	}
}

func TestFloatsError(t *testing.T) {
	var f []float64
	err := NewFloatsValue(&f).Set("1.0,abc")
	if err == nil || err.Error() != "Could not parse: abc" {
		t.Fatalf("%v", err)
	}
	o, _, err := parse(t, []string{"--f=1.0,abc"}, nil)
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "Could not parse: abc") {
		t.Fatal(err, o.F)
	}
}

func TestTLSMinVersion(t *testing.T) {
	for in, want := range map[string]uint16{
		"tls1.0": tls.VersionTLS10, "TLS1.1": tls.VersionTLS11, "Tls1.2": tls.VersionTLS12,
		"tls1.3": tls.VersionTLS13, "": tls.VersionTLS10,
	} {
		o, _, err := parse(t, []string{"--tls-min-version=" + in}, nil)
		if err != nil || o.TLSV != want {
			t.Errorf("%q: %v %x", in, err, o.TLSV)
		}
	}
	for _, in := range []string{"ssl3.0", "tls1.4", "x"} {
		if _, _, err := parse(t, []string{"--tls-min-version=" + in}, nil); ExitCode(err) != ExitUsage {
			t.Errorf("%q accepted: %v", in, err)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"}, {"-i=abc"}, {"--i=99999999999999999999"}, {"--d=5"}, {"--b=maybe"},
		{"--log-level=loud"}, {"--s"},
	} {
		o := newTestOpts()
		c, stdout, stderr := testCommand(o, nil)
		_, err := c.Parse(args)
		var ue *UsageError
		if !errors.As(err, &ue) || ExitCode(err) != ExitUsage {
			t.Errorf("%v: %v", args, err)
			continue
		}
		if s := stderr.String(); !strings.HasPrefix(s, err.Error()+"\n") || !strings.Contains(s, "Usage: tool [flags]") ||
			strings.Contains(s, "Incorrect Usage") {
			t.Errorf("%v: stderr %q", args, s)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: stdout %q", args, stdout)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"--help", "topic"}} {
		o := newTestOpts()
		c, stdout, _ := testCommand(o, nil)
		_, err := c.Parse(args)
		if err != ErrHelp || ExitCode(err) != 0 {
			t.Errorf("%v: %v", args, err)
		}
		s := stdout.String()
		for _, want := range []string{"Usage: tool [flags]", "--tls-required\n", "--l string  (repeatable)",
			"[config: list_key, env: TOOL_LIST_KEY]", "(default \"def\")", "(default 1s)", "--other string\n        no key\n",
			"command line > environment > config file > built-in default"} {
			if !strings.Contains(s, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, s)
			}
		}
	}
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--version", "--config=/nonexistent"}} {
		o := newTestOpts()
		c, stdout, _ := testCommand(o, nil)
		_, err := c.Parse(args)
		if err != ErrVersion || ExitCode(err) != 0 || stdout.String() != "tool v1\n" {
			t.Errorf("%v: %v %q", args, err, stdout)
		}
	}
}

func TestConfigCoercions(t *testing.T) {
	for _, tc := range []struct {
		file  string
		check func(*testOpts) bool
	}{
		{`s = "x"`, func(o *testOpts) bool { return o.S == "x" }},
		{`s = 12`, func(o *testOpts) bool { return o.S == "12" }},
		{`i = 7`, func(o *testOpts) bool { return o.I == 7 }},
		{`i = "7"`, func(o *testOpts) bool { return o.I == 7 }},
		{`i64 = "0x10"`, func(o *testOpts) bool { return o.I64 == 16 }},
		{`i64 = 5000000000`, func(o *testOpts) bool { return o.I64 == 5000000000 }},
		{`b = false`, func(o *testOpts) bool { return !o.B }},
		{`b = "false"`, func(o *testOpts) bool { return !o.B }},
		{`b = "f"`, func(o *testOpts) bool { return !o.B }},
		{`b = "0"`, func(o *testOpts) bool { return !o.B }},
		{`d = "1m30s"`, func(o *testOpts) bool { return o.D == 90*time.Second }},
		{`d = 60000`, func(o *testOpts) bool { return o.D == time.Minute }},
		{`d = 250`, func(o *testOpts) bool { return o.D == 250*time.Millisecond }},
		{`list_key = ["a:1", "b:2"]`, func(o *testOpts) bool { return reflect.DeepEqual(o.L, []string{"a:1", "b:2"}) }},
		{`list_key = "a:1, b:2"`, func(o *testOpts) bool { return reflect.DeepEqual(o.L, []string{"a:1", "b:2"}) }},
		{`list_key = "a:1"`, func(o *testOpts) bool { return reflect.DeepEqual(o.L, []string{"a:1"}) }},
		{`l = ["ignored"]`, func(o *testOpts) bool { return len(o.L) == 0 }},
		{`f = [0.95, 1.0, 0.99]`, func(o *testOpts) bool { return reflect.DeepEqual(o.F, []float64{1, 0.99, 0.95}) }},
		{`f = [1, 0.5]`, func(o *testOpts) bool { return reflect.DeepEqual(o.F, []float64{1, 0.5}) }},
		{`f = "0.5,1.0"`, func(o *testOpts) bool { return reflect.DeepEqual(o.F, []float64{1, 0.5}) }},
		{`log_level = "DEBUG"`, func(o *testOpts) bool { return o.Lvl == logger.Debug }},
		{`log_level = "warn"`, func(o *testOpts) bool { return o.Lvl == logger.Warn }},
		{`tls_required = true`, func(o *testOpts) bool { return o.TLSR == 2 }},
		{`tls_required = "true"`, func(o *testOpts) bool { return o.TLSR == 2 }},
		{`tls_required = false`, func(o *testOpts) bool { return o.TLSR == 0 }},
		{`tls_required = "tcp-https"`, func(o *testOpts) bool { return o.TLSR == 1 }},
		{`tls_min_version = "tls1.2"`, func(o *testOpts) bool { return o.TLSV == tls.VersionTLS12 }},
		{`tls_min_version = ""`, func(o *testOpts) bool { return o.TLSV == tls.VersionTLS10 }},
		{"unknown = 1\nconfig = \"x\"\nversion = true\nother = \"x\"\n[table]\nk = 1",
			func(o *testOpts) bool { return reflect.DeepEqual(o, newTestOpts()) }},
	} {
		o, _, err := parse(t, []string{"--config", writeFile(t, tc.file)}, nil)
		if err != nil || !tc.check(o) {
			t.Errorf("%s: %v %+v", tc.file, err, o)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		file  string
		args  []string
		want  string // exact, or prefix when it ends in "…"
		exact bool
	}{
		{`log_level = "loud"`, nil, "failed parsing log_level loud", true},
		{`log_level = 3`, nil, "failed parsing log_level 3", true},
		// validated even when the command line overrides it
		{`log_level = "loud"`, []string{"--log-level=debug"}, "failed parsing log_level loud", true},
		{`tls_required = "maybe"`, nil, "failed parsing tls_required maybe", true},
		{`tls_min_version = "ssl3.0"`, nil, "failed parsing tls_min_version ssl3.0", true},
		{`i = "abc"`, nil, "failed parsing i abc - ", false},
		{`i = 1.5`, nil, "failed parsing i 1.5 - ", false},
		{`b = "maybe"`, nil, "failed parsing b maybe - ", false},
		{`d = "5"`, nil, "failed parsing d 5 - ", false},
		{`d = true`, nil, "failed parsing d true - ", false},
		{`list_key = 5`, nil, "failed parsing list_key 5 - ", false},
		{`f = ["x"]`, nil, "failed parsing f [x] - Could not parse: x", true},
		{`s = [1]`, nil, "failed parsing s [1] - ", false},
	} {
		_, _, err := parse(t, append([]string{"--config=" + writeFile(t, tc.file)}, tc.args...), nil)
		if err == nil || ExitCode(err) != ExitFailure {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if tc.exact && err.Error() != tc.want || !tc.exact && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got %q want %q", tc.file, err, tc.want)
		}
	}

	p := writeFile(t, "this is = = not toml")
	_, _, err := parse(t, []string{"--config=" + p}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "failed to load config file "+p+" - ") || ExitCode(err) != 1 {
		t.Errorf("invalid toml: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.toml")
	_, _, err = parse(t, []string{"--config=" + missing}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "failed to load config file "+missing+" - ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "i = 10\nlist_key = [\"file\"]\ns = \"file\"\nb = false")
	env := map[string]string{"TOOL_I": "20", "TOOL_LIST_KEY": "env1,env2", "TOOL_OTHER": "x"}
	o, _, err := parse(t, []string{"--config", file, "--i=30", "--l=flag"}, env)
	if err != nil || o.I != 30 || !reflect.DeepEqual(o.L, []string{"flag"}) || o.S != "file" || o.B || o.Other != "" {
		t.Fatalf("flag: %v %+v", err, o)
	}
	o, _, err = parse(t, []string{"--config", file}, env)
	if err != nil || o.I != 20 || !reflect.DeepEqual(o.L, []string{"env1", "env2"}) || o.S != "file" {
		t.Fatalf("env: %v %+v", err, o)
	}
	o, _, err = parse(t, []string{"--config", file}, nil)
	if err != nil || o.I != 10 || !reflect.DeepEqual(o.L, []string{"file"}) {
		t.Fatalf("file: %v %+v", err, o)
	}
	o, _, err = parse(t, nil, nil)
	if err != nil || o.I != 1 {
		t.Fatalf("default: %v %+v", err, o)
	}
	// Empty env vars count as unset; bad ones are fatal.
	o, _, err = parse(t, nil, map[string]string{"TOOL_I": ""})
	if err != nil || o.I != 1 {
		t.Fatalf("empty env: %v %+v", err, o)
	}
	_, _, err = parse(t, nil, map[string]string{"TOOL_I": "abc"})
	if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), "TOOL_I") {
		t.Fatalf("bad env: %v", err)
	}
	_, _, err = parse(t, nil, map[string]string{"TOOL_LOG_LEVEL": "DEBUG", "TOOL_TLS_REQUIRED": "tcp-https", "TOOL_D": "2s"})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNoEnvNoConfig(t *testing.T) {
	var n int
	c := &Command{Name: "t", Flags: []*Flag{Int("n", &n, "")}, Getenv: func(string) string { return "5" },
		Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	if _, err := c.Parse(nil); err != nil || n != 0 {
		t.Fatal(err, n)
	}
	c = &Command{Name: "t", Flags: []*Flag{Int("n", &n, "")}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	if _, err := c.Parse([]string{"--version"}); ExitCode(err) != ExitUsage {
		t.Fatal("--version defined without Version", err)
	}
	if _, err := c.Parse([]string{"--config=x"}); ExitCode(err) != ExitUsage {
		t.Fatal("--config defined without ConfigFlag", err)
	}
}

func TestExitCode(t *testing.T) {
	for err, want := range map[error]int{
		nil: 0, ErrHelp: 0, ErrVersion: 0, &UsageError{errors.New("x")}: 2, errors.New("x"): 1,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("%v: %d", err, got)
		}
	}
}
