// Command devcluster is `make run`: a local cluster with defaults — one
// nsqlookupd and one nsqd registered with it, data under --data — started
// from the binaries in --bin. Ctrl-C (SIGINT) or SIGTERM stops both
// cleanly; the exit status is 1 if either daemon failed, else 0.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	bin := flag.String("bin", "./bin", "directory holding nsqd and nsqlookupd")
	data := flag.String("data", "./data", "nsqd --data-path")
	flag.Parse()
	os.Exit(run(*bin, *data))
}

func run(bin, data string) int {
	if err := os.MkdirAll(data, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		return 1
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)

	daemons := []*exec.Cmd{
		// Broadcast 127.0.0.1: consumers that find nsqd through lookupd
		// reach it even where the host name does not resolve.
		exec.Command(filepath.Join(bin, "nsqlookupd"), "--broadcast-address=127.0.0.1"),
		exec.Command(filepath.Join(bin, "nsqd"), "--data-path="+data, "--lookupd-tcp-address=127.0.0.1:4160",
			"--broadcast-address=127.0.0.1"),
	}
	exited := make(chan int, len(daemons)) // index of a daemon that ended
	errs := make([]error, len(daemons))
	started := 0
	for i, cmd := range daemons {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		// Own process group: a terminal's Ctrl-C reaches us, and we stop
		// the daemons in order, rather than all at once.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "devcluster:", err)
			errs[i] = err
			break
		}
		started++
		go func() {
			errs[i] = cmd.Wait()
			exited <- i
		}()
	}

	// Run until a signal or until a daemon ends, then stop the others:
	// nsqd first, so it can unregister from a lookupd still up.
	done := make([]bool, len(daemons))
	if started == len(daemons) {
		select {
		case <-sigc:
		case i := <-exited:
			done[i] = true
		}
	}
	for i := started - 1; i >= 0; i-- {
		if !done[i] {
			_ = daemons[i].Process.Signal(syscall.SIGTERM)
		}
	}
	for i := range started {
		for !done[i] {
			done[<-exited] = true
		}
	}
	status := 0
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(os.Stderr, "devcluster: %s: %v\n", filepath.Base(daemons[i].Path), err)
			status = 1
		}
	}
	return status
}
