package testutil

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"testing"
)

// ReadHeaders reads a captured NAME.headers file (a status line and
// headers as curl -D writes them) and returns the status and headers.
func ReadHeaders(t testing.TB, path string) (int, http.Header) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
