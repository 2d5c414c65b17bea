package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/cli"
	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/nsqd"
	"github.com/nsqkit/nsqkit/core/pipe"
)

func noEnv(string) string { return "" }

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
		{[]string{"--nsqd-tcp-address=127.0.0.1:4150"}, "--topic required"},
		{[]string{"--topic=t"}, "--nsqd-tcp-address or --lookupd-http-address required"},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "--lookupd-http-address=b:2"}, "use --nsqd-tcp-address or --lookupd-http-address not both"},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "--format={{.Nope}}"}, "--format: "},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "--format={{"}, "--format: "},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "--format=x", "--json"}, "use --format or --json, not both"},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "--json", "--print-topic"}, "--print-topic only applies to raw output"},
		{[]string{"--topic=bad/topic", "--nsqd-tcp-address=a:1"}, `invalid --topic "bad/topic"`},
		{[]string{"--topic=t", "--channel=bad/ch", "--nsqd-tcp-address=a:1"}, `invalid --channel "bad/ch"`},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "--consumer-opt=nope,1"}, "--consumer-opt nope,1"},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "--max-in-flight=0"}, "--max-in-flight must be at least 1"},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "-n=-1"}, "-n must not be negative"},
		{[]string{"--topic=t", "--nsqd-tcp-address=a:1", "-n=x"}, "invalid value"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, noEnv, &stdout, &stderr, nil)
		if code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", tt.args, code, stderr.String())
			continue
		}
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "nsq_tail: ") || !strings.Contains(lines[0], tt.want) ||
			lines[1] != "Run 'nsq_tail --help' for usage." {
			t.Errorf("%q: stderr %q, want one line with %q and the hint", tt.args, stderr.String(), tt.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: stdout %q", tt.args, stdout.String())
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"--help"}, noEnv, &stdout, io.Discard, nil); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"--topic", "--channel", "--nsqd-tcp-address", "--lookupd-http-address", "--max-in-flight",
		"--n int", "--print-topic", "--consumer-opt", "--format", "--json", ".Timestamp", ".Attempts", ".NSQDAddress",
		"body_encoding", "unless the template"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	for _, flag := range []string{"--version", "-version"} {
		stdout.Reset()
		if code := run([]string{flag}, noEnv, &stdout, io.Discard, nil); code != 0 || !strings.HasPrefix(stdout.String(), "nsq_tail v1.3.0") {
			t.Errorf("%s: exit %d, %q", flag, code, stdout.String())
		}
	}
}

func TestBuildOptions(t *testing.T) {
	opts, _, err := buildOptions([]string{"-topic", "a", "--topic=b", "-n", "5", "--nsqd-tcp-address", "h:1",
		"--consumer-opt=max_in_flight,7", "--consumer-opt", "user_agent,x", "--consumer-opt=max_attempts,9",
		"--print-topic", "extra", "args"}, noEnv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(opts.Topics, ",") != "a,b" || opts.Count != 5 || opts.MaxInFlight != 200 || opts.Channel != "" ||
		strings.Join(opts.NSQDTCPAddresses, ",") != "h:1" || len(opts.LookupdHTTPAddresses) != 0 {
		t.Fatalf("options %+v", opts)
	}
	if opts.Config.UserAgent != userAgent || opts.Config.MaxAttempts != 9 || opts.Config.MaxInFlight == 7 {
		t.Fatalf("client config: user agent %q, max attempts %d, max in flight %d",
			opts.Config.UserAgent, opts.Config.MaxAttempts, opts.Config.MaxInFlight)
	}
	if f, ok := opts.Format.(pipe.Raw); !ok || !f.PrintTopic || f.Color {
		t.Fatalf("format %#v", opts.Format)
	}

	opts, _, err = buildOptions([]string{"--topic=a", "--lookupd-http-address=l:1", "--json", "--channel=c"}, noEnv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := opts.Format.(*pipe.JSON); !ok || opts.Channel != "c" {
		t.Fatalf("options %+v", opts)
	}
	opts, _, err = buildOptions([]string{"--topic=a", "--lookupd-http-address=l:1", "--format={{.Body}}"}, noEnv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := opts.Format.(*pipe.Template); !ok {
		t.Fatalf("format %#v", opts.Format)
	}
}

// startNSQD runs an in-process nsqd until the end of the test.
func startNSQD(t *testing.T) *nsqd.NSQD {
	t.Helper()
	o := nsqd.NewOptions()
	o.TCPAddress = "127.0.0.1:0"
	o.HTTPAddress = "127.0.0.1:0"
	o.HTTPSAddress = ""
	o.DataPath = t.TempDir()
	o.BroadcastAddress = "127.0.0.1"
	o.LogOutput = io.Discard
	n, err := nsqd.New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Main() }()
	t.Cleanup(func() {
		n.Exit()
		<-done
	})
	return n
}

func publishN(t *testing.T, addr, topic string, n int) {
	t.Helper()
	cfg := client.NewConfig()
	cfg.Logger = logger.Discard()
	p, err := client.NewProducer(cfg, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for i := 1; i <= n; i++ {
		if err := p.Publish(topic, []byte(fmt.Sprintf("%s %d", topic, i))); err != nil {
			t.Fatal(err)
		}
	}
}

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

func TestRunCount(t *testing.T) {
	n := startNSQD(t)
	addr := n.TCPAddr().String()
	publishN(t, addr, "rc", 5)
	var stdout, stderr syncBuffer
	code := run([]string{"--topic=rc", "--nsqd-tcp-address=" + addr, "-n", "3", "--print-topic"}, noEnv, &stdout, &stderr, nil)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if got, want := stdout.String(), "rc | rc 1\nrc | rc 2\nrc | rc 3\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
}

func TestRunSignal(t *testing.T) {
	n := startNSQD(t)
	addr := n.TCPAddr().String()
	publishN(t, addr, "rs", 2)
	var stdout, stderr syncBuffer
	sigc := make(chan os.Signal, 2)
	codec := make(chan int, 1)
	go func() {
		codec <- run([]string{"--topic=rs", "--channel=c", "--nsqd-tcp-address=" + addr, "--format={{.Attempts}} {{.Body}}"},
			noEnv, &stdout, &stderr, sigc)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for stdout.String() != "1 rs 1\n1 rs 2\n" {
		if time.Now().After(deadline) {
			t.Fatalf("stdout %q after 20s; stderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	sigc <- syscall.SIGTERM
	select {
	case code := <-codec:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestRunUnreachable(t *testing.T) {
	n := startNSQD(t)
	addr := n.TCPAddr().String()
	n.Exit()
	var stderr syncBuffer
	code := run([]string{"--topic=t", "--nsqd-tcp-address=" + addr}, noEnv, io.Discard, &stderr, nil)
	if code != cli.ExitFailure || !strings.Contains(stderr.String(), "connecting to nsqd") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
}
