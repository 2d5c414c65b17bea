package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJSONShapeDiff(t *testing.T) {
	skipTimes := func(p string) bool { return strings.HasSuffix(p, ".time") }
	for _, tc := range []struct {
		name      string
		got, want string
		opts      []Option
		err       string // "" when equal; else a substring of the error
	}{
		{"same", `{"a":1,"b":[true,"x",null]}`, `{"a":2,"b":[false,"y",null]}`, nil, ""},
		{"key order", `{"b":1,"a":2}`, `{"a":1,"b":2}`, nil, "$: keys"},
		{"missing key", `{"a":1}`, `{"a":1,"b":2}`, nil, "$: keys"},
		{"extra key", `{"a":1,"b":2,"c":3}`, `{"a":1,"b":2}`, nil, "$: keys"},
		{"type", `{"a":"1"}`, `{"a":1}`, nil, "$.a: string, fixture has number"},
		{"null vs array", `{"a":null}`, `{"a":[]}`, nil, "$.a: null, fixture has array"},
		{"length", `{"a":[1,2]}`, `{"a":[1]}`, nil, "$.a: 2 elements, fixture has 1"},
		{"nested path", `{"a":[{"b":{"c":"x"}}]}`, `{"a":[{"b":{"c":1}}]}`, nil, "$.a[0].b.c: string"},
		{"values", `{"a":1,"time":5}`, `{"a":2,"time":6}`, []Option{Values(nil)}, "$.a: 1, fixture has 2"},
		{"values skipped", `{"a":1,"time":5}`, `{"a":1,"time":6}`, []Option{Values(skipTimes)}, ""},
		{"number text", `{"a":1.0}`, `{"a":1}`, []Option{Values(nil)}, "$.a: 1.0, fixture has 1"},
		{"any length", `[{"a":1},{"a":2},{"a":3}]`, `[{"a":0}]`, []Option{AnyLength()}, ""},
		{"any length, bad element", `[{"a":1},{"b":2}]`, `[{"a":0}]`, []Option{AnyLength()}, "$[1]: keys"},
		{"any length, empty fixture", `[1,"x"]`, `[]`, []Option{AnyLength()}, ""},
		{"any keys", `{"m":{"x":[1],"y":[2,3]}}`, `{"m":{"k":[0]}}`, []Option{AnyKeys(func(p string) bool { return p == "$.m" }), AnyLength()}, ""},
		{"any keys, bad value", `{"m":{"x":"s"}}`, `{"m":{"k":[0]}}`, []Option{AnyKeys(func(p string) bool { return p == "$.m" })}, "$.m.x: string"},
		{"any keys elsewhere", `{"n":{"x":1}}`, `{"n":{"k":1}}`, []Option{AnyKeys(func(p string) bool { return p == "$.m" })}, "$.n: keys"},
		{"invalid", `{"a":`, `{}`, nil, "invalid JSON"},
		{"trailing data", `{} {}`, `{}`, nil, "invalid JSON"},
		{"invalid fixture", `{}`, `nope`, nil, "invalid fixture JSON"},
	} {
		err := JSONShapeDiff([]byte(tc.got), []byte(tc.want), tc.opts...)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
	CompareJSONShape(t, "passes", []byte(`{"a":[1]}`), []byte(`{"a":[2]}`))
}

func TestReadHeaders(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.headers")
	os.WriteFile(p, []byte("HTTP/1.1 404 Not Found\r\nContent-Type: application/json; charset=utf-8\r\nX-Nsq-Content-Type: nsq; version=1.0\r\nContent-Length: 29\r\n\r\n"), 0o644)
	code, hdr := ReadHeaders(t, p)
	if code != 404 || hdr.Get("X-NSQ-Content-Type") != "nsq; version=1.0" || hdr.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%d %v", code, hdr)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	start := time.Now()
	Eventually(t, 5*time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 || time.Since(start) > time.Second {
		t.Fatalf("%d polls in %s", n, time.Since(start))
	}
}
