package testutil

import (
	"os"
	"testing"
)

// LongEnv is the environment variable `make test-long` sets.
const LongEnv = "NSQKIT_LONG"

// Long skips t, saying why, unless the long tests were asked for
// (`make test-long`): tests that run for minutes, need privileges, or
// load the machine.
func Long(t testing.TB) {
	t.Helper()
	if os.Getenv(LongEnv) == "" {
		t.Skipf("long test: run with `make test-long` (%s=1)", LongEnv)
	}
}
