package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binDir string

// httpClient bounds every request a test makes.
var httpClient = &http.Client{Timeout: 10 * time.Second}

func TestMain(m *testing.M) {
	if dir := os.Getenv(netnsBinEnv); dir != "" {
		// re-executed inside a network namespace (netns_test.go): the
		// binaries are built already
		binDir = dir
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "nsqkit-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "github.com/nsqkit/nsqkit/cmd/...")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a goroutine-safe output buffer.
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

// daemon is a running binary.
type daemon struct {
	t       testing.TB
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	err     error
	tcp     string
	http    string
	stopped bool
}

// startNSQD runs bin/nsqd with the given data path and extra flags on
// fresh loopback ports, and waits until /ping answers.
func startNSQD(t testing.TB, dataPath string, extra ...string) *daemon {
	t.Helper()
	tcp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{
		"--tcp-address=" + tcp,
		"--http-address=" + httpAddr,
		"--https-address=",
		"--data-path=" + dataPath,
		"--broadcast-address=127.0.0.1",
	}, extra...)
	d := run(t, "nsqd", args...)
	d.tcp, d.http = tcp, httpAddr
	d.waitHTTP("/ping")
	return d
}

func run(t testing.TB, name string, args ...string) *daemon {
	t.Helper()
	return runCmd(t, name, exec.Command(filepath.Join(binDir, name), args...))
}

// runCmd starts cmd (running binary name) and kills it at cleanup,
// showing its output if the test failed.
func runCmd(t testing.TB, name string, cmd *exec.Cmd) *daemon {
	t.Helper()
	d := &daemon{t: t, out: &syncBuffer{}, done: make(chan struct{}), cmd: cmd}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(d.out.String(), 60))
		}
	})
	return d
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func (d *daemon) waitHTTP(path string) {
	d.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			d.t.Fatalf("daemon exited early: %v\n%s", d.err, d.out.String())
		default:
		}
		resp, err := httpClient.Get("http://" + d.http + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("daemon not ready after 15s\n%s", d.out.String())
}

// stop sends sig and waits for the exit status.
func (d *daemon) stop(sig syscall.Signal) int {
	d.t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.t.Fatalf("daemon did not exit within 30s after %s", sig)
	}
	return d.cmd.ProcessState.ExitCode()
}

// do makes an HTTP request the way curl would.
func do(t testing.TB, method, url string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
