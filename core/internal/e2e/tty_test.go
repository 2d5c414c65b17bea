package e2e

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/hinshun/vt10x"
)

// ttyApp is a built binary running in a real pseudo-terminal whose output
// feeds a terminal emulator, so a test reads the screen as a person sees
// it and types keys as a person would.
type ttyApp struct {
	t    testing.TB
	cmd  *exec.Cmd
	pty  *os.File
	term vt10x.Terminal
	done chan struct{}
	err  error

	mu  sync.Mutex
	raw strings.Builder // everything the program wrote, for failure reports
}

// startTTY runs bin/name with args in a cols×rows terminal.
func startTTY(t testing.TB, cols, rows int, env []string, name string, args ...string) *ttyApp {
	t.Helper()
	a := &ttyApp{t: t, done: make(chan struct{})}
	a.cmd = exec.Command(filepath.Join(binDir, name), args...)
	a.cmd.Env = append(os.Environ(), "TERM=xterm-256color", "COLORTERM=")
	a.cmd.Env = append(a.cmd.Env, env...)
	a.term = vt10x.New(vt10x.WithSize(cols, rows))
	f, err := pty.StartWithSize(a.cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		t.Fatalf("starting %s in a pty: %v", name, err)
	}
	a.pty = f
	go func() {
		buf := make([]byte, 32*1024)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				a.mu.Lock()
				a.raw.Write(buf[:n])
				a.mu.Unlock()
				a.term.Write(buf[:n])
				a.answerQueries(buf[:n])
			}
			if err != nil {
				break
			}
		}
	}()
	go func() {
		a.err = a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			a.cmd.Process.Kill()
			<-a.done
		}
		f.Close()
		if t.Failed() {
			t.Logf("%s screen at the end:\n%s", name, a.screen())
		}
	})
	return a
}

// answerQueries answers what a real terminal answers and the emulator
// does not: the background colour (OSC 11, which bubbletea asks at start
// and waits up to 5 s for) and the cursor position (DSR).
func (a *ttyApp) answerQueries(out []byte) {
	s := string(out)
	if strings.Contains(s, "\x1b]11;?") {
		io.WriteString(a.pty, "\x1b]11;rgb:0000/0000/0000\x1b\\")
	}
	if strings.Contains(s, "\x1b[6n") {
		io.WriteString(a.pty, "\x1b[1;1R")
	}
}

// screen is what the terminal shows, one line per row.
func (a *ttyApp) screen() string { return a.term.String() } // String locks the terminal

// keys types s (raw bytes: "\r" for enter, "\x1b" for esc, "\x1b[B" for
// down, …).
func (a *ttyApp) keys(s string) {
	a.t.Helper()
	if _, err := io.WriteString(a.pty, s); err != nil {
		a.t.Fatalf("typing %q: %v", s, err)
	}
}

// waitScreen polls the screen until ok holds, failing after timeout.
func (a *ttyApp) waitScreen(timeout time.Duration, what string, ok func(screen string) bool) string {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := a.screen()
		if ok(s) {
			return s
		}
		select {
		case <-a.done:
			a.t.Fatalf("exited (%v) while waiting for %s; screen:\n%s", a.err, what, s)
		default:
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("timed out after %s waiting for %s; screen:\n%s", timeout, what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitText waits until the screen contains every one of texts.
func (a *ttyApp) waitText(timeout time.Duration, texts ...string) string {
	a.t.Helper()
	return a.waitScreen(timeout, strings.Join(texts, ", "), func(s string) bool {
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	})
}

// wait waits for the program to exit and returns its exit code.
func (a *ttyApp) wait(timeout time.Duration) int {
	a.t.Helper()
	select {
	case <-a.done:
	case <-time.After(timeout):
		a.t.Fatalf("still running after %s; screen:\n%s", timeout, a.screen())
	}
	var ee *exec.ExitError
	if errors.As(a.err, &ee) {
		return ee.ExitCode()
	}
	if a.err != nil {
		a.t.Fatalf("wait: %v", a.err)
	}
	return 0
}
