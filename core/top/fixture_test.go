package top

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
	"github.com/nsqkit/nsqkit/core/top/cluster/clustertest"
)

// updating tells whether go test ran with -update (the flag is defined by
// x/exp/golden, which teatest brings in).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// The fixture cluster is clustertest's (the captured NSQ 1.3.0 cluster)
// seen through a transport that gives its daemons the captured addresses,
// so what nsqtop renders does not depend on the test servers' ports.
const (
	fakeLookupd = "127.0.0.1:4161"
	fakeA       = "127.0.0.1:4151"
	fakeB       = "127.0.0.1:4251"
)

type fixture struct {
	c     *clustertest.Cluster
	clock *clustertest.Clock
	p     *cluster.Poller
	cl    *lookup.Client
	src   cluster.Source
}

// mapTransport sends requests for the fake addresses to the real ones and
// puts the fake ports back into lookupd's answers.
type mapTransport struct {
	hosts   map[string]string // fake → real
	replace *strings.Replacer // real ports → fake in lookupd bodies
	lookupd string            // real lookupd address
}

func (t *mapTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if real, ok := t.hosts[r.URL.Host]; ok {
		r.URL.Host, r.Host = real, real
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.URL.Host != t.lookupd {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b = []byte(t.replace.Replace(string(b)))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// newFixture starts the cluster (lookupd-discovered, or with nsqd given
// directly) with a fake clock at clustertest.Epoch.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := clustertest.Start(t)
	tr := &mapTransport{
		hosts: map[string]string{fakeLookupd: c.Lookupd, fakeA: c.NSQDA, fakeB: c.NSQDB},
		replace: strings.NewReplacer(
			`"http_port":`+port(c.NSQDA), `"http_port":4151`,
			`"http_port":`+port(c.NSQDB), `"http_port":4251`,
			`:`+port(c.NSQDA)+`"`, `:4151"`,
			`:`+port(c.NSQDB)+`"`, `:4251"`,
		),
		lookupd: c.Lookupd,
	}
	fx := &fixture{c: c, clock: clustertest.NewClock()}
	fx.cl = lookup.NewClient(lookup.Options{HTTPClient: &http.Client{Transport: tr, Timeout: 5 * time.Second}})
	t.Cleanup(fx.cl.Close)
	fx.src = cluster.Source{LookupdHTTPAddrs: []string{fakeLookupd}}
	opts := cluster.NewOptions()
	opts.Source = fx.src
	opts.Client = fx.cl
	opts.Timeout = 2 * time.Second
	opts.Now = fx.clock.Now
	fx.p = cluster.NewPoller(opts)
	return fx
}

// fake maps a real address in s back to its fake one.
func (fx *fixture) fake(s string) string {
	return strings.NewReplacer(fx.c.NSQDA, fakeA, fx.c.NSQDB, fakeB, fx.c.Lookupd, fakeLookupd).Replace(s)
}

// traffic sets a cluster that moves: orders grows in archive and audit
// (audit is paused), billing drains; clicks drains; events is idle.
func (fx *fixture) traffic() {
	fx.c.SetTopicTraffic("orders", clustertest.Traffic{Published: 20, Consumed: 15, Requeued: 1})
	fx.c.SetChannelTraffic("orders", "billing", clustertest.Traffic{Consumed: 26})
	fx.c.SetTopicTraffic("clicks", clustertest.Traffic{Published: 5, Consumed: 9, TimedOut: 1})
}

// polls polls n times, one fake second (and one step of traffic) apart,
// and returns the last State.
func (fx *fixture) polls(t *testing.T, n int) *cluster.State {
	t.Helper()
	var st *cluster.State
	for i := range n {
		if i > 0 {
			fx.c.Advance(1)
			fx.clock.Add(time.Second)
		}
		st = fx.p.Poll(context.Background())
	}
	return st
}

// newModel is a model on the fixture, rendering without colour, with the
// fixture's clock and no footer clock (frames are deterministic).
func (fx *fixture) newModel(readOnly bool) *Model {
	return New(Config{
		Poller:    fx.p,
		Source:    fx.src,
		Interval:  time.Second,
		ReadOnly:  readOnly,
		WarnDepth: 50,
		CritDepth: 90,
		Styles:    NewStyles(Plain, nil),
		Now:       fx.clock.Now,
		NoClock:   true,
		Execute: func(ctx context.Context, p *cluster.Plan) *cluster.Result {
			return cluster.Execute(ctx, fx.cl, p)
		},
	})
}

// send delivers messages to the model, ignoring the commands it returns
// (model tests drive the data by hand).
func send(m *Model, msgs ...tea.Msg) {
	for _, msg := range msgs {
		m.Update(msg)
	}
}

// keyMsg turns "enter", "esc", "up", "ctrl+c", "space", … or runes into a
// key message.
func keyMsg(s string) tea.KeyMsg {
	named := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "up": tea.KeyUp, "down": tea.KeyDown,
		"left": tea.KeyLeft, "right": tea.KeyRight, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"backspace": tea.KeyBackspace, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"home": tea.KeyHome, "end": tea.KeyEnd, "ctrl+c": tea.KeyCtrlC, "space": tea.KeySpace,
		"delete": tea.KeyDelete,
	}
	if k, ok := named[s]; ok {
		if k == tea.KeySpace {
			return tea.KeyMsg{Type: k, Runes: []rune{' '}}
		}
		return tea.KeyMsg{Type: k}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// press sends keys; each argument is one key (see keyMsg), or a word of
// runes typed one by one when prefixed with "type:".
func press(m *Model, keys ...string) {
	for _, k := range keys {
		if w, ok := strings.CutPrefix(k, "type:"); ok {
			for _, r := range w {
				m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
			}
			continue
		}
		m.Update(keyMsg(k))
	}
}

// checkFrame asserts that a frame fits w×h.
func checkFrame(t *testing.T, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) > h {
		t.Errorf("%d lines, more than the height %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := width(l); lw > w {
			t.Errorf("line %d is %d wide, more than %d: %q", i+1, lw, w, l)
		}
	}
}

// golden compares frame with testdata/name.golden (rewritten with
// -update).
func golden(t *testing.T, name, frame string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	// Trailing spaces are kept: they are part of the frame.
	if updating() {
		if err := os.WriteFile(path, []byte(frame+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := frame + "\n"; got != string(want) {
		t.Errorf("frame differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// sizes are the terminal sizes every view is rendered at.
var sizes = [][2]int{{80, 24}, {160, 48}}

func sizeName(sz [2]int) string { return strconv.Itoa(sz[0]) + "x" + strconv.Itoa(sz[1]) }
