package pipe

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeOutput is a pipe's write end: how much of it is unread comes from
// the FIONREAD ioctl, and poll reports POLLERR once no reader is left.
type pipeOutput struct {
	*os.File
	fd int
}

// TrackPipe returns f as a ReadTracker when f is a pipe (Linux), else
// nil.
func TrackPipe(f *os.File) ReadTracker {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return nil
	}
	return &pipeOutput{File: f, fd: int(f.Fd())}
}

// Unread implements ReadTracker.
func (p *pipeOutput) Unread() (int, error) {
	return unix.IoctlGetInt(p.fd, unix.TIOCINQ) // TIOCINQ is FIONREAD
}

// pipeWatchInterval bounds how long WaitReaderClosed takes to notice done.
const pipeWatchInterval = 100 // milliseconds

// WaitReaderClosed implements ReadTracker. Asking poll for no event
// still reports POLLERR (no reader left) and POLLHUP.
func (p *pipeOutput) WaitReaderClosed(done <-chan struct{}) bool {
	fds := []unix.PollFd{{Fd: int32(p.fd)}}
	for {
		select {
		case <-done:
			return false
		default:
		}
		fds[0].Revents = 0
		n, err := unix.Poll(fds, pipeWatchInterval)
		if err != nil && err != unix.EINTR {
			return false // cannot watch: a failed write will tell
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			return fds[0].Revents&unix.POLLNVAL == 0
		}
	}
}
