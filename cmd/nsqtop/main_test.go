package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsqkit/nsqkit/core/top/cluster/clustertest"
)

func noenv(string) string { return "" }

func runArgs(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, noenv, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestOnceText(t *testing.T) {
	c := clustertest.Start(t)
	code, out, errs := runArgs("--once", "--interval=100ms", "--lookupd-http-address="+c.Lookupd)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"orders", "billing", "clicks", "analytics"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestOnceJSON(t *testing.T) {
	c := clustertest.Start(t)
	code, out, errs := runArgs("--once", "--json", "--no-rates", "--nsqd-http-address="+c.NSQDA, "--nsqd-http-address="+c.NSQDB)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"orders"`) {
		t.Fatalf("no orders topic:\n%s", out)
	}
}

func TestOnceNothingAnswers(t *testing.T) {
	c := clustertest.Start(t)
	c.SetDown(c.NSQDA, true)
	code, _, errs := runArgs("--once", "--no-rates", "--nsqd-http-address="+c.NSQDA)
	if code != 1 || !strings.Contains(errs, "no nsqd answered") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--nosuch"}, 2, "nosuch"},
		{[]string{"--json"}, 2, "--json needs --once"},
		{[]string{"--no-rates"}, 2, "--no-rates needs --once"},
		{[]string{"--interval=10ms", "--once"}, 2, "--interval must be at least"},
		{[]string{"--interval=soon"}, 2, "interval"},
		{[]string{"--warn-depth=100", "--crit-depth=10", "--once"}, 2, "--crit-depth"},
		{[]string{"--warn-depth=-1"}, 2, "negative"},
		{[]string{"--history=1"}, 2, "--history"},
		{[]string{"--http-client-request-timeout=0"}, 2, "positive"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--lookupd-http-address=http://[::1"}, 2, "bad address"},
		// Not a terminal and no --once.
		{nil, 2, "not a terminal: use --once"},
	} {
		code, _, errs := runArgs(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.err)
		}
		if code == 2 && strings.Count(strings.TrimSpace(errs), "\n") > 1 {
			t.Errorf("%v: usage error longer than a line and a hint: %q", tc.args, errs)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runArgs("--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"VIEWS", "KEYS", "--read-only", "--once", "tombstone", "freeze", "--warn-depth"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	code, out, _ = runArgs("--version")
	if code != 0 || !strings.HasPrefix(out, "nsqtop v") {
		t.Fatalf("--version: %d %q", code, out)
	}
}
