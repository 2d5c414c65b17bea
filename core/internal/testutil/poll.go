package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond every few milliseconds until it holds, failing
// the test (Fatal) after timeout; what names the awaited condition.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
