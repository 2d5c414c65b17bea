package lookup

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// route is one canned response.
type route struct {
	status int
	header http.Header
	body   []byte
}

// fixture loads testdata/NAME and the status and headers of NAME.headers
// (minus those the server computes itself: Date, Content-Length,
// Transfer-Encoding).
func fixture(t testing.TB, name string) route {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", name+".headers"))
	if err != nil {
		t.Fatal(err)
	}
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	line, err := tr.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("%s.headers: bad status line %q", name, line)
	}
	status, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	mh, err := tr.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	h := http.Header(mh)
	for _, k := range []string{"Date", "Content-Length", "Transfer-Encoding"} {
		h.Del(k)
	}
	return route{status: status, header: h, body: body}
}

// legacy wraps r in the pre-1.0 envelope and drops the v1 header.
func legacy(r route) route {
	h := r.header.Clone()
	h.Del("X-Nsq-Content-Type")
	h.Set("Content-Type", "application/json; charset=utf-8")
	txt, data := "OK", bytes.TrimSpace(r.body)
	if r.status != 200 {
		msg, _ := errorMessage(r.body)
		txt, data = msg, []byte("null")
	} else if len(data) == 0 || data[0] != '{' && data[0] != '[' {
		data = []byte("null")
	}
	body := fmt.Appendf(nil, `{"status_code":%d,"status_txt":%q,"data":%s}`, r.status, txt, data)
	return route{status: r.status, header: h, body: body}
}

// replace returns r with its body rewritten.
func (r route) replace(oldnew ...string) route {
	r.body = []byte(strings.NewReplacer(oldnew...).Replace(string(r.body)))
	return r
}

// recorded is a request a fakeServer saw.
type recorded struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// fakeServer answers canned routes, matched on "path?canonical query"
// first, then on the path alone; everything else is 404 NOT_FOUND.
type fakeServer struct {
	*httptest.Server
	mu     sync.Mutex
	routes map[string]route
	reqs   []recorded
}

func newFakeServer(t testing.TB) *fakeServer {
	t.Helper()
	f := &fakeServer{routes: make(map[string]route)}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

// Addr is the server's host:port.
func (f *fakeServer) Addr() string { return f.Listener.Addr().String() }

// Port is the server's port.
func (f *fakeServer) Port() int { return f.Listener.Addr().(*net.TCPAddr).Port }

func routeKey(pathQuery string) string {
	p, q, ok := strings.Cut(pathQuery, "?")
	if !ok {
		return p
	}
	v, _ := url.ParseQuery(q)
	return p + "?" + v.Encode()
}

func (f *fakeServer) handle(pathQuery string, r route) *fakeServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[routeKey(pathQuery)] = r
	return f
}

func (f *fakeServer) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
	rt, ok := f.routes[r.URL.Path+"?"+r.URL.Query().Encode()]
	if !ok {
		rt, ok = f.routes[r.URL.Path]
	}
	f.mu.Unlock()
	if !ok {
		rt = route{status: 404, header: http.Header{
			"Content-Type":       {"application/json; charset=utf-8"},
			"X-Nsq-Content-Type": {"nsq; version=1.0"},
		}, body: []byte(`{"message":"NOT_FOUND"}`)}
	}
	for k, v := range rt.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(rt.body)))
	w.WriteHeader(rt.status)
	w.Write(rt.body)
}

// v1Route is a V1 answer with the given status and body.
func v1Route(status int, body string) route {
	h := http.Header{"X-Nsq-Content-Type": {"nsq; version=1.0"}}
	if body != "" && (body[0] == '{' || body[0] == '[') {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	return route{status: status, header: h, body: []byte(body)}
}

// deadAddr is a loopback address nobody listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// hangingServer accepts requests and never answers until the test ends.
func hangingServer(t testing.TB) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(release)
		s.Close()
	})
	return s
}

// newClient makes a client closed at the end of the test.
func newClient(t testing.TB, opts Options) *Client {
	t.Helper()
	c := NewClient(opts)
	t.Cleanup(c.Close)
	return c
}

// within fails the test if d exceeds max.
func within(t testing.TB, d, max time.Duration) {
	t.Helper()
	if d > max {
		t.Fatalf("took %v, want under %v", d, max)
	}
}
