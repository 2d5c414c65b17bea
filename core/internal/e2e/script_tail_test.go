package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the nsq_tail scripts:
//
//	headpipe N prog args...       run prog with stdout into a pipe, read N lines from it one
//	                              byte at a time (nothing beyond them leaves the pipe), close
//	                              the pipe and wait (≤ 60 s) for prog: it must exit 0 with no
//	                              panic or goroutine dump on stderr. The lines go to stdout,
//	                              prog's stderr to stderr.
//	jsonlines FILE N [KEY[=VALUE]...]  FILE holds exactly N lines, each a JSON object that
//	                              has every KEY (with VALUE, compared as text, if given)
//	waitlookup ADDR TOPIC         wait (≤ 60 s) until nsqlookupd at ADDR (HTTP) lists an nsqd
//	                              for TOPIC
func init() {
	scriptCmds["headpipe"] = cmdHeadPipe
	scriptCmds["jsonlines"] = cmdJSONLines
	scriptCmds["waitlookup"] = cmdWaitLookup
}

func cmdHeadPipe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: headpipe N prog args...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	path := filepath.Join(binDir, args[1])
	if _, err := os.Stat(path); err != nil {
		path = args[1]
	}
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = scriptEnv(ts)
	r, w, err := os.Pipe()
	ts.Check(err)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		ts.Fatalf("start %s: %v", args[1], err)
	}
	w.Close() // the child has its own copy
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	type readResult struct {
		lines []byte
		err   error
	}
	readc := make(chan readResult, 1)
	go func() {
		var got []byte
		one := make([]byte, 1)
		for n := 0; n < want; {
			if _, err := io.ReadFull(r, one); err != nil {
				readc <- readResult{got, err}
				return
			}
			got = append(got, one[0])
			if one[0] == '\n' {
				n++
			}
		}
		readc <- readResult{got, nil}
	}()
	var res readResult
	select {
	case res = <-readc:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		res = <-readc
		res.err = fmt.Errorf("no %d lines after 60s", want)
	}
	r.Close()
	ts.Stdout().Write(res.lines)
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-exited
		ts.Fatalf("%s still running 60s after its stdout was closed; stderr:\n%s", args[1], stderr.String())
	}
	ts.Stderr().Write(stderr.Bytes())
	if res.err != nil {
		ts.Fatalf("reading %d lines: %v (read %q); stderr:\n%s", want, res.err, res.lines, stderr.String())
	}
	if werr != nil {
		ts.Fatalf("%s: %v; stderr:\n%s", args[1], werr, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		ts.Fatalf("%s wrote a panic or stack trace:\n%s", args[1], s)
	}
}

func cmdJSONLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: jsonlines FILE N [KEY[=VALUE]...]")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	text := string(data)
	if want > 0 && !strings.HasSuffix(text, "\n") {
		ts.Fatalf("%s does not end with a newline", args[0])
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	if len(lines) != want {
		ts.Fatalf("%s has %d lines, want %d", args[0], len(lines), want)
	}
	for i, line := range lines {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&obj); err != nil || dec.More() || obj == nil {
			ts.Fatalf("line %d is not one JSON object (%v): %q", i+1, err, line)
		}
		for _, kv := range args[2:] {
			key, value, hasValue := strings.Cut(kv, "=")
			v, ok := obj[key]
			if !ok {
				ts.Fatalf("line %d has no %q: %q", i+1, key, line)
			}
			if hasValue && fmt.Sprint(v) != value {
				ts.Fatalf("line %d: %s is %v, want %s", i+1, key, v, value)
			}
		}
	}
}

func cmdWaitLookup(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitlookup ADDR TOPIC")
	}
	waitFor(ts, "nsqlookupd to list topic "+args[1], func() bool {
		var res struct {
			Producers []json.RawMessage `json:"producers"`
		}
		return getJSONTS("http://"+args[0]+"/lookup?topic="+args[1], &res) == nil && len(res.Producers) > 0
	})
}
