package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/nsqd"
)

func noEnv(string) string { return "" }

// syncBuffer is a bytes.Buffer safe for the logger and the test.
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

func runWith(t *testing.T, stdin io.Reader, sigc chan os.Signal, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := run(args, noEnv, stdin, &stdout, &stderr, sigc)
	return code, stdout.String(), stderr.String()
}

func startNSQD(t *testing.T) *nsqd.NSQD {
	t.Helper()
	o := nsqd.NewOptions()
	o.TCPAddress, o.HTTPAddress, o.HTTPSAddress = "127.0.0.1:0", "127.0.0.1:0", ""
	o.DataPath = t.TempDir()
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

func depth(t *testing.T, n *nsqd.NSQD, topic string) int64 {
	t.Helper()
	tp, err := n.GetExistingTopic(topic)
	if err != nil {
		return -1
	}
	return tp.Depth()
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nsqd-tcp-address=127.0.0.1:4150"}, "--topic required"},
		{[]string{"--topic=t"}, "--nsqd-tcp-address or --lookupd-http-address required"},
		{[]string{"--topic=a b", "--nsqd-tcp-address=127.0.0.1:4150"}, "not a valid topic name"},
		{[]string{"--topic=" + strings.Repeat("x", 65), "--nsqd-tcp-address=127.0.0.1:4150"}, "not a valid topic name"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--delimiter="}, "--delimiter must not be empty"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", `--delimiter=\k`}, `unknown escape \k`},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--mode=broadcast"}, "--mode must be fanout or round-robin"},
		{[]string{"--topic=t", "--lookupd-http-address=127.0.0.1:4161", "--mode=fanout"}, "--mode=fanout needs --nsqd-tcp-address"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--lookupd-http-address=127.0.0.1:4161"}, "not both"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--batch-size=0"}, "--batch-size must be at least 1"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--rate=x"}, "invalid value"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--no-such-flag"}, "flag provided but not defined"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--producer-opt=no_such,1"}, "no_such"},
		{[]string{"--topic=t", "--nsqd-tcp-address=127.0.0.1:4150", "--producer-opt=publish_timeout,x"}, "publish_timeout"},
		{[]string{"--topic=t", "--nsqd-tcp-address=nocolon"}, "--nsqd-tcp-address"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runWith(t, nil, nil, tt.args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", tt.args, code, stderr)
			continue
		}
		first, rest, _ := strings.Cut(stderr, "\n")
		if !strings.HasPrefix(first, "to_nsq: ") || !strings.Contains(first, tt.want) {
			t.Errorf("%q: stderr %q, want one line with %q", tt.args, stderr, tt.want)
		}
		if rest != "Run 'to_nsq --help' for usage.\n" || stdout != "" {
			t.Errorf("%q: more output: %q / %q", tt.args, rest, stdout)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, stdout, _ := runWith(t, nil, nil, "--help")
	for _, want := range []string{"--topic", "--nsqd-tcp-address", "--delimiter", "--rate", "--producer-opt", "--mode",
		"--lookupd-http-address", "--batch-size", "round-robin", `(default "\n")`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if code != 0 {
		t.Errorf("--help exit %d", code)
	}
	code, stdout, _ = runWith(t, nil, nil, "-version")
	if code != 0 || !strings.HasPrefix(stdout, "to_nsq v1.3.0") {
		t.Errorf("--version: %d %q", code, stdout)
	}
}

func TestPublishes(t *testing.T) {
	n := startNSQD(t)
	addr := n.TCPAddr().String()
	in := "a||b||||c||d"
	code, _, stderr := runWith(t, strings.NewReader(in), nil,
		"-topic", "t1", "-nsqd-tcp-address", addr, "--delimiter=||", "--log-level=warn", "extra")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if d := depth(t, n, "t1"); d != 4 {
		t.Errorf("depth %d, want 4", d)
	}
	for _, want := range []string{`ignoring arguments ["extra"]`, "published 4 records (4 B)", "skipped 1 empty"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// Fan-out (the default) sends every record to every nsqd; round-robin
// spreads them.
func TestModes(t *testing.T) {
	a, b := startNSQD(t), startNSQD(t)
	addrs := []string{"--nsqd-tcp-address=" + a.TCPAddr().String(), "--nsqd-tcp-address=" + b.TCPAddr().String()}
	var in strings.Builder
	for i := range 5000 {
		in.WriteString(strings.Repeat("x", i%50+1) + "\n")
	}
	args := append([]string{"--topic=fan", "--batch-size=100", "--log-level=warn"}, addrs...)
	if code, _, stderr := runWith(t, strings.NewReader(in.String()), nil, args...); code != 0 {
		t.Fatalf("fanout: exit %d: %s", code, stderr)
	}
	if da, db := depth(t, a, "fan"), depth(t, b, "fan"); da != 5000 || db != 5000 {
		t.Errorf("fanout: depths %d and %d, want 5000 each", da, db)
	}
	args = append([]string{"--topic=rr", "--batch-size=100", "--mode=round-robin", "--log-level=warn"}, addrs...)
	if code, _, stderr := runWith(t, strings.NewReader(in.String()), nil, args...); code != 0 {
		t.Fatalf("round-robin: exit %d: %s", code, stderr)
	}
	if da, db := depth(t, a, "rr"), depth(t, b, "rr"); da+db != 5000 || da == 0 || db == 0 {
		t.Errorf("round-robin: depths %d and %d, want 5000 between them", da, db)
	}
}

func TestNSQDDown(t *testing.T) {
	addr := closedPort(t)
	code, _, stderr := runWith(t, strings.NewReader("1\n2\n3\n"), nil,
		"--topic=t", "--nsqd-tcp-address="+addr, "--producer-opt=publish_timeout,300ms")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"3 not acknowledged", "error: 3 records not published", "publish timed out", "connection refused"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestOversizedIsAnError(t *testing.T) {
	n := startNSQD(t)
	in := "ok\n" + strings.Repeat("x", 101) + "\nfine\n"
	code, _, stderr := runWith(t, strings.NewReader(in), nil, "--topic=big", "--nsqd-tcp-address="+n.TCPAddr().String(),
		"--producer-opt=publish_max_msg_size,100", "--log-level=warn")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "1 over the size limit not sent") || !strings.Contains(stderr, "error: 1 record not published: longer than the 100-byte") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if d := depth(t, n, "big"); d != 2 {
		t.Errorf("depth %d, want 2", d)
	}
}

// A signal stops reading; what was read is published; exit 0.
func TestSignal(t *testing.T) {
	n := startNSQD(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	sigc := make(chan os.Signal, 1)
	type out struct {
		code   int
		stderr string
	}
	res := make(chan out, 1)
	go func() {
		code, _, stderr := runWith(t, pr, sigc, "--topic=sig", "--nsqd-tcp-address="+n.TCPAddr().String(), "--log-level=warn")
		res <- out{code, stderr}
	}()
	if _, err := io.WriteString(pw, "one\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for depth(t, n, "sig") != 2 {
		if time.Now().After(deadline) {
			t.Fatal("records not published before the signal")
		}
		time.Sleep(5 * time.Millisecond)
	}
	sigc <- syscall.SIGTERM
	r := <-res
	if r.code != 0 || !strings.Contains(r.stderr, "published 2 records") || !strings.Contains(r.stderr, "interrupted") {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
}
