package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

func TestRunJob(t *testing.T) {
	var log bytes.Buffer
	lg := logger.New(&log, "[t] ", logger.Info)

	// done on its own: 0; failing: 1 with the error logged
	if code := RunJob(Job{Run: func(context.Context) error { return nil }}, lg, nil); code != ExitOK {
		t.Fatalf("clean job: %d", code)
	}
	if code := RunJob(Job{Run: func(context.Context) error { return errors.New("boom") }}, lg, nil); code != ExitFailure ||
		!strings.Contains(log.String(), "FATAL: boom") {
		t.Fatalf("failing job: %d, log %q", code, log.String())
	}

	// SIGHUP goes to Hup; SIGTERM stops gracefully; a second signal
	// right after is the same stop
	sigc := make(chan os.Signal, 4)
	hups := 0
	sigc <- syscall.SIGHUP
	sigc <- syscall.SIGTERM
	sigc <- syscall.SIGINT
	code := RunJob(Job{
		Run: func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // finishing up, while the duplicate arrives
			return nil
		},
		Stopping: "stopping",
		Hup:      func() { hups++ },
	}, lg, sigc)
	if code != ExitOK || hups != 1 || !strings.Contains(log.String(), "terminated: stopping") {
		t.Fatalf("graceful stop: code %d, hups %d, log %q", code, hups, log.String())
	}

	// a second signal later gives up waiting
	old := duplicateStop
	duplicateStop = 0
	defer func() { duplicateStop = old }()
	sigc <- syscall.SIGINT
	sigc <- syscall.SIGINT
	stuck := make(chan struct{})
	defer close(stuck)
	code = RunJob(Job{Run: func(context.Context) error { <-stuck; return nil }, Abandon: "giving up"}, lg, sigc)
	if code != ExitFailure || !strings.Contains(log.String(), "interrupt again: giving up") {
		t.Fatalf("second signal: code %d, log %q", code, log.String())
	}
}
