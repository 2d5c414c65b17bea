package nsqd

import (
	"testing"

	"github.com/nsqkit/nsqkit/core/internal/testcerts"
)

type testCerts = testcerts.Certs

// makeTestCerts is the shared test PKI written to t.TempDir().
func makeTestCerts(t testing.TB) *testCerts { return testcerts.New(t) }

// makeOtherCerts is an unrelated PKI whose CA the broker does not trust.
func makeOtherCerts(t testing.TB) *testCerts { return testcerts.Other(t) }
