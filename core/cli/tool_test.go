package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// setRecorder records Set calls, failing for names in bad.
type setRecorder struct {
	got []string
	bad map[string]bool
}

func (r *setRecorder) Set(name, value string) error {
	if r.bad[name] {
		return errors.New("invalid option")
	}
	r.got = append(r.got, name+"="+value)
	return nil
}

func toolCommand(cf *ClientFlags, hf *HTTPClientFlags) (*Command, *bytes.Buffer) {
	var stderr bytes.Buffer
	flags := cf.AddressFlags("nsqd to consume from", "lookupd to discover nsqd from")
	flags = append(flags, cf.ConnFlags("consumer-opt")...)
	flags = append(flags, hf.Flags()...)
	return &Command{Name: "nsq_tool", Summary: "a tool", Version: "nsq_tool v1", BriefUsage: true,
		Flags: flags, Stdout: &bytes.Buffer{}, Stderr: &stderr}, &stderr
}

func TestClientFlagsParseAndApply(t *testing.T) {
	cf, hf := NewClientFlags(), NewHTTPClientFlags()
	cmd, _ := toolCommand(cf, hf)
	_, err := cmd.Parse([]string{
		"--nsqd-tcp-address=a:4150", "-nsqd-tcp-address", "b:4150",
		"--consumer-opt=max_attempts,10", "--consumer-opt", "snappy",
		"--tls", "--tls-root-ca-file=ca.pem", "--tls-cert=c.pem", "--tls-key=k.pem",
		"--tls-insecure-skip-verify", "--deflate", "--auth-secret=s3", "--log-level=debug",
		"--http-client-connect-timeout=1s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.NSQDTCPAddresses, []string{"a:4150", "b:4150"}) || cf.LogLevel != logger.Debug ||
		hf.ConnectTimeout != time.Second || hf.RequestTimeout != 5*time.Second {
		t.Fatalf("parsed %+v %+v", cf, hf)
	}
	if err := cf.Sources(); err != nil {
		t.Fatal(err)
	}
	r := &setRecorder{}
	if err := cf.Apply(r, "consumer-opt", "auth_secret"); err != nil {
		t.Fatal(err)
	}
	want := []string{"tls_v1=true", "tls_root_ca_file=ca.pem", "tls_cert=c.pem", "tls_key=k.pem",
		"tls_insecure_skip_verify=true", "deflate=true", "max_attempts=10", "snappy=true"}
	if !reflect.DeepEqual(r.got, want) {
		t.Fatalf("Apply set %q, want %q (auth_secret ignored)", r.got, want)
	}

	r = &setRecorder{bad: map[string]bool{"max_attempts": true}}
	if err := cf.Apply(r, "consumer-opt"); err == nil || !strings.Contains(err.Error(), "--consumer-opt max_attempts,10: invalid option") {
		t.Fatalf("bad option: %v", err)
	}
	r = &setRecorder{bad: map[string]bool{"tls_cert": true}}
	if err := cf.Apply(r, "consumer-opt"); err == nil || !strings.HasPrefix(err.Error(), "--tls-cert: ") {
		t.Fatalf("bad tls flag: %v", err)
	}
}

// NSQ's tools' address rules, with their messages.
func TestClientFlagsSources(t *testing.T) {
	for _, tc := range []struct {
		nsqd, lookupd []string
		want          string
	}{
		{nil, nil, "--nsqd-tcp-address or --lookupd-http-address required"},
		{[]string{"a"}, []string{"b"}, "use --nsqd-tcp-address or --lookupd-http-address not both"},
		{[]string{"a"}, nil, ""},
		{nil, []string{"b", "c"}, ""},
	} {
		cf := &ClientFlags{NSQDTCPAddresses: tc.nsqd, LookupdHTTPAddresses: tc.lookupd}
		err := cf.Sources()
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%v/%v: %v, want %q", tc.nsqd, tc.lookupd, err, tc.want)
		}
	}
}

func TestHTTPClientFlagsCheck(t *testing.T) {
	h := NewHTTPClientFlags()
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	h.ConnectTimeout = 0
	if err := h.Check(); fmt.Sprint(err) != "--http-client-connect-timeout should be positive" {
		t.Fatal(err)
	}
	h.ConnectTimeout, h.RequestTimeout = time.Second, -1
	if err := h.Check(); fmt.Sprint(err) != "--http-client-request-timeout should be positive" {
		t.Fatal(err)
	}
}

// A tool's usage errors are one line and a hint, from Parse and from Usage;
// both exit 2.
func TestBriefUsageErrors(t *testing.T) {
	cmd, stderr := toolCommand(NewClientFlags(), NewHTTPClientFlags())
	_, err := cmd.Parse([]string{"--bogus"})
	if ExitCode(err) != ExitUsage {
		t.Fatalf("unknown flag: %v", err)
	}
	want := "nsq_tool: flag provided but not defined: -bogus\nRun 'nsq_tool --help' for usage.\n"
	if stderr.String() != want {
		t.Fatalf("stderr %q, want %q", stderr.String(), want)
	}

	stderr.Reset()
	err = cmd.Usage(errors.New("--topic required"))
	if ExitCode(err) != ExitUsage || err.Error() != "--topic required" {
		t.Fatalf("Usage: %v", err)
	}
	if stderr.String() != "nsq_tool: --topic required\nRun 'nsq_tool --help' for usage.\n" {
		t.Fatalf("stderr %q", stderr.String())
	}

	// --help lists the shared flags
	var out bytes.Buffer
	cmd, _ = toolCommand(NewClientFlags(), NewHTTPClientFlags())
	cmd.Stdout = &out
	if _, err := cmd.Parse([]string{"--help"}); ExitCode(err) != ExitOK {
		t.Fatal(err)
	}
	for _, f := range []string{"--nsqd-tcp-address host:port  (repeatable)", "--consumer-opt name,value  (repeatable)",
		"--tls\n", "--log-level level", "--http-client-request-timeout duration"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("help lacks %q:\n%s", f, out.String())
		}
	}
	if strings.Contains(out.String(), "[config:") {
		t.Errorf("a tool's help mentions config keys:\n%s", out.String())
	}
}

func TestUseColor(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	// a file is never a terminal
	f, err := createTemp(t)
	if err != nil {
		t.Fatal(err)
	}
	if IsTerminal(f) || UseColor(f, env()) || IsTerminal(nil) {
		t.Fatal("a regular file counts as a terminal")
	}
	if UseColor(nil, env("NO_COLOR", "")) {
		t.Fatal("nil file")
	}
}

func createTemp(t *testing.T) (*os.File, error) {
	f, err := os.CreateTemp(t.TempDir(), "notatty")
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}
