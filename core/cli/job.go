package cli

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// duplicateStop is how soon after the first stop signal a second one
// counts as the same stop delivered twice.
var duplicateStop = time.Second

// Job is a tool's long-running work, run by RunJob.
type Job struct {
	// Run does the work until it is done or ctx is cancelled (a graceful
	// stop: it finishes what it must and returns nil).
	Run func(ctx context.Context) error
	// Stopping is logged at the first SIGINT/SIGTERM after the signal's
	// name, e.g. "stopping (requeueing what was not printed)".
	Stopping string
	// Abandon is logged when a second signal gives up waiting, after the
	// signal's name and "again: ".
	Abandon string
	// Hup, if set, is called on SIGHUP (which otherwise stops the job).
	Hup func()
}

// RunJob runs job until Run returns — ExitOK, or ExitFailure with its
// error logged as FATAL. The first SIGINT or SIGTERM on sigc cancels Run's
// context; a second one, a second or more after the first (timeout(1) and
// a terminal's process group can deliver one stop twice), returns
// ExitFailure without waiting.
func RunJob(job Job, lg *logger.Logger, sigc <-chan os.Signal) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- job.Run(ctx) }()
	var stopAt time.Time
	for {
		select {
		case err := <-errc:
			if err != nil {
				lg.Fatalf("%s", err)
				return ExitFailure
			}
			return ExitOK
		case s := <-sigc:
			switch {
			case s == syscall.SIGHUP && job.Hup != nil:
				job.Hup()
			case ctx.Err() == nil:
				lg.Infof("%s: %s", s, job.Stopping)
				stopAt = time.Now()
				cancel()
			case time.Since(stopAt) < duplicateStop:
				// the same stop delivered twice
			default:
				lg.Errorf("%s again: %s", s, job.Abandon)
				return ExitFailure
			}
		}
	}
}
