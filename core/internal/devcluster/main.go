// Command devcluster runs local clusters from the binaries in --bin.
//
// `make run` (devcluster --data DIR): one nsqlookupd and one nsqd
// registered with it (the defaults: TCP 4150/4160, HTTP 4151/4161), data
// under DIR; Ctrl-C (SIGINT) or SIGTERM stops both cleanly; the exit status
// is 1 if a daemon failed, else 0.
//
// `make demo` (devcluster --demo --data DIR): one nsqlookupd and two nsqd
// (the second on TCP 4250, HTTP 4251) with synthetic traffic — producers
// and consumers of several speeds, a consumer falling behind, a paused
// channel — and nsqtop opened on the cluster; quitting nsqtop stops
// everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	bin := flag.String("bin", "./bin", "directory holding nsqd, nsqlookupd (and nsqtop for --demo)")
	data := flag.String("data", "./data", "data directory (nsqd --data-path; --demo: one subdirectory per nsqd)")
	demo := flag.Bool("demo", false, "two nsqd, synthetic traffic and nsqtop (make demo)")
	flag.Parse()
	if *demo {
		os.Exit(runDemo(*bin, *data))
	}
	os.Exit(run(*bin, *data))
}

// daemon is one started daemon.
type daemon struct {
	cmd *exec.Cmd
	err error
}

// cluster is the daemons of a run, in start order.
type cluster struct {
	daemons []*daemon
	exited  chan int // index of a daemon that ended
	done    []bool   // guarded by the caller's goroutine
}

// start runs the daemons in order, their output to out; it stops at the
// first that cannot be started.
func start(out io.Writer, cmds ...*exec.Cmd) (*cluster, error) {
	c := &cluster{exited: make(chan int, len(cmds))}
	for _, cmd := range cmds {
		cmd.Stdout, cmd.Stderr = out, out
		// Own process group: a terminal's Ctrl-C reaches us, and we stop
		// the daemons in order, rather than all at once.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			c.stop()
			return nil, fmt.Errorf("starting %s: %w", filepath.Base(cmd.Path), err)
		}
		d := &daemon{cmd: cmd}
		i := len(c.daemons)
		c.daemons = append(c.daemons, d)
		c.done = append(c.done, false)
		go func() {
			d.err = cmd.Wait()
			c.exited <- i
		}()
	}
	return c, nil
}

// stop sends SIGTERM to the daemons still running, last started first (so
// nsqd can unregister from a lookupd still up), and waits for all; it
// returns 1 if any failed.
func (c *cluster) stop() int {
	for i := len(c.daemons) - 1; i >= 0; i-- {
		if !c.done[i] {
			_ = c.daemons[i].cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for i := range c.daemons {
		for !c.done[i] {
			c.done[<-c.exited] = true
		}
	}
	status := 0
	for _, d := range c.daemons {
		if d.err != nil {
			fmt.Fprintf(os.Stderr, "devcluster: %s: %v\n", filepath.Base(d.cmd.Path), d.err)
			status = 1
		}
	}
	return status
}

// run is make run: lookupd + one nsqd until a signal or a daemon ends.
func run(bin, data string) int {
	if err := os.MkdirAll(data, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		return 1
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	c, err := start(os.Stdout,
		// Broadcast 127.0.0.1: consumers that find nsqd through lookupd
		// reach it even where the host name does not resolve.
		exec.Command(filepath.Join(bin, "nsqlookupd"), "--broadcast-address=127.0.0.1"),
		exec.Command(filepath.Join(bin, "nsqd"), "--data-path="+data, "--lookupd-tcp-address=127.0.0.1:4160",
			"--broadcast-address=127.0.0.1"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		return 1
	}
	select {
	case <-sigc:
	case i := <-c.exited:
		c.done[i] = true
	}
	return c.stop()
}

// runDemo is make demo: lookupd + two nsqd, traffic, and nsqtop in the
// foreground until it quits.
func runDemo(bin, data string) int {
	dirs := []string{filepath.Join(data, "nsqd-a"), filepath.Join(data, "nsqd-b")}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "devcluster:", err)
			return 1
		}
	}
	// The daemons' logs would scribble over nsqtop's screen.
	logFile, err := os.Create(filepath.Join(data, "demo.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		return 1
	}
	defer logFile.Close()
	nsqd := func(dir, tcp, http string) *exec.Cmd {
		return exec.Command(filepath.Join(bin, "nsqd"), "--data-path="+dir, "--tcp-address=127.0.0.1:"+tcp,
			"--http-address=127.0.0.1:"+http, "--https-address=", "--broadcast-address=127.0.0.1",
			"--lookupd-tcp-address=127.0.0.1:4160", "--e2e-processing-latency-percentile=0.99,0.5")
	}
	cmds := []*exec.Cmd{
		exec.Command(filepath.Join(bin, "nsqlookupd"), "--broadcast-address=127.0.0.1",
			"--tcp-address=127.0.0.1:4160", "--http-address=127.0.0.1:4161"),
		nsqd(dirs[0], "4150", "4151"),
		nsqd(dirs[1], "4250", "4251"),
	}
	c, err := start(logFile, cmds...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	traffic, err := startTraffic(ctx, logFile)
	if err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, "devcluster: traffic:", err)
		c.stop()
		return 1
	}

	// nsqtop in the foreground; the terminal's keys go to it.
	signal.Ignore(syscall.SIGINT)
	top := exec.Command(filepath.Join(bin, "nsqtop"), "--lookupd-http-address=127.0.0.1:4161", "--interval=1s")
	top.Stdin, top.Stdout, top.Stderr = os.Stdin, os.Stdout, os.Stderr
	topErr := top.Run()

	cancel()
	traffic.wait()
	status := c.stop()
	if topErr != nil {
		fmt.Fprintln(os.Stderr, "devcluster: nsqtop:", topErr)
		status = 1
	}
	fmt.Fprintf(os.Stderr, "devcluster: demo stopped; daemon logs in %s\n", logFile.Name())
	return status
}
