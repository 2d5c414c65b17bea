package cli

import (
	"os"

	"github.com/nsqkit/nsqkit/core/logger"
)

// Daemon is a long-running server: Main serves until Exit is called or a
// fatal error happens; Exit shuts down gracefully.
type Daemon interface {
	Main() error
	Exit()
}

// RunDaemon serves d until a signal arrives on sigc (a clean stop, ExitOK)
// or Main fails (logged as FATAL, ExitFailure). Either way d has exited
// when it returns.
func RunDaemon(d Daemon, lg *logger.Logger, sigc <-chan os.Signal) int {
	mainErr := make(chan error, 1)
	go func() { mainErr <- d.Main() }()
	select {
	case <-sigc:
		d.Exit()
		<-mainErr
		return ExitOK
	case err := <-mainErr:
		d.Exit()
		if err != nil {
			lg.Fatalf("%s", err)
			return ExitFailure
		}
		return ExitOK
	}
}
