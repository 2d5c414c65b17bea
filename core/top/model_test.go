package top

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/nsqkit/nsqkit/core/top/cluster"
)

// started is a model on the fixture, sized and fed a State after six
// polls with traffic.
func started(t *testing.T, readOnly bool, w, h int) (*fixture, *Model) {
	t.Helper()
	fx := newFixture(t)
	fx.traffic()
	st := fx.polls(t, 6)
	m := fx.newModel(readOnly)
	send(m, tea.WindowSizeMsg{Width: w, Height: h}, pollMsg{st: st})
	return fx, m
}

func crumb(m *Model) string {
	var cs []string
	for _, vs := range m.stack {
		cs = append(cs, vs.v.crumb())
	}
	return strings.Join(cs, " › ")
}

func sel(m *Model) string {
	if r := m.selected(); r != nil {
		return r.Key
	}
	return ""
}

func TestNavigation(t *testing.T) {
	_, m := started(t, false, 80, 24)
	if got := sel(m); got != "clicks" {
		t.Fatalf("first row %q, want clicks", got)
	}
	press(m, "j", "j")
	if got := sel(m); got != "orders" {
		t.Fatalf("after j j: %q, want orders", got)
	}
	press(m, "enter")
	if got := crumb(m); got != "topics › orders" {
		t.Fatalf("crumb %q", got)
	}
	// The cursor starts in the channels; up from the first channel goes
	// into the node rows.
	if got := sel(m); got != "orders/archive" {
		t.Fatalf("topic view starts on %q, want orders/archive", got)
	}
	press(m, "k")
	if got := sel(m); got != "127.0.0.1:4251" {
		t.Fatalf("up from the first channel: %q, want the last node row", got)
	}
	press(m, "tab")
	if got := sel(m); got != "orders/archive" {
		t.Fatalf("tab: %q", got)
	}
	press(m, "G")
	if got := sel(m); got != "orders/tail#ephemeral" {
		t.Fatalf("G: %q", got)
	}
	press(m, "g", "j", "j", "enter")
	if got := crumb(m); got != "topics › orders › billing" {
		t.Fatalf("crumb %q", got)
	}
	press(m, "enter") // the client (cursor starts in the clients)
	if got := crumb(m); !strings.HasPrefix(got, "topics › orders › billing › client ") {
		t.Fatalf("crumb %q", got)
	}
	if v := m.View(); !strings.Contains(v, "fixture-consumer") {
		t.Fatalf("client view lacks the client id:\n%s", v)
	}
	press(m, "esc", "backspace", "esc")
	if got := crumb(m); got != "topics" {
		t.Fatalf("after three backs: %q", got)
	}
	if got := sel(m); got != "orders" {
		t.Fatalf("back home the cursor is on %q, want orders (kept)", got)
	}
	press(m, "esc")
	if got := crumb(m); got != "topics" {
		t.Fatalf("esc at home: %q", got)
	}
	for k, want := range map[string]string{"2": "channels", "3": "nodes", "4": "clients", "5": "lookup", "1": "topics"} {
		press(m, k)
		if got := crumb(m); got != want {
			t.Errorf("key %s: %q, want %q", k, got, want)
		}
	}
	// A node from the nodes view, then its topic.
	press(m, "3", "enter")
	if got := crumb(m); got != "nodes › 127.0.0.1:4151" {
		t.Fatalf("crumb %q", got)
	}
	press(m, "enter")
	if got := crumb(m); got != "nodes › 127.0.0.1:4151 › events#ephemeral" {
		t.Fatalf("crumb %q", got)
	}
	// Pages and the mouse wheel.
	press(m, "2")
	press(m, "pgdown")
	last := sel(m)
	press(m, "pgup")
	first := sel(m)
	if first == last {
		t.Fatalf("pgdown/pgup did not move (%q)", first)
	}
	send(m, tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	if sel(m) == first {
		t.Fatalf("the wheel did not move the cursor")
	}
	send(m, tea.MouseMsg{Button: tea.MouseButtonWheelUp, Action: tea.MouseActionPress})
	if sel(m) != first {
		t.Fatalf("wheel up: %q, want %q", sel(m), first)
	}
}

func TestFilter(t *testing.T) {
	_, m := started(t, false, 80, 24)
	press(m, "2", "/", "type:bil")
	if !m.filtering || m.cur().filter != "bil" {
		t.Fatalf("filtering %v %q", m.filtering, m.cur().filter)
	}
	sf := m.focused()
	if len(sf.rows) != 1 || sf.rows[0].Key != "orders/billing" {
		t.Fatalf("rows %v", keys(sf.rows))
	}
	v := m.View()
	if !strings.Contains(v, "/bil") || !strings.Contains(v, "1 of 6 match") {
		t.Fatalf("the filter is not shown:\n%s", v)
	}
	press(m, "backspace", "backspace", "backspace", "type:ord")
	if n := len(m.focused().rows); n != 4 {
		t.Fatalf("/ord: %d rows, want 4", n)
	}
	press(m, "enter") // keep it
	if m.filtering || m.cur().filter != "ord" {
		t.Fatalf("after enter: filtering %v %q", m.filtering, m.cur().filter)
	}
	press(m, "j") // keys move again
	press(m, "type:zzz")
	press(m, "esc") // clears the filter, stays in the view
	if m.cur().filter != "" || crumb(m) != "channels" {
		t.Fatalf("esc: filter %q crumb %q", m.cur().filter, crumb(m))
	}
	press(m, "/", "type:nothing-matches")
	if v := m.View(); !strings.Contains(v, "no row matches /nothing-matches") {
		t.Fatalf("empty filter result not said:\n%s", v)
	}
	press(m, "esc")
	if n := len(m.focused().rows); n != 6 {
		t.Fatalf("esc while typing should clear: %d rows", n)
	}
}

func keys(rs []row) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Key)
	}
	return out
}

func TestSort(t *testing.T) {
	_, m := started(t, false, 160, 48)
	press(m, "2") // channels, by depth descending
	want := []string{"orders/audit", "orders/archive", "clicks/analytics", "orders/tail#ephemeral", "orders/billing"}
	if got := keys(m.focused().rows)[:5]; !slices.Equal(got, want) {
		t.Fatalf("by depth: %v, want %v", got, want)
	}
	press(m, "I")
	if got := keys(m.focused().rows); got[len(got)-1] != "orders/audit" {
		t.Fatalf("inverted: %v", got)
	}
	// Walk to the ETA column (the last) and check growing channels come
	// first (∞), then the largest finite ETA.
	for range 20 {
		ss := m.focused().ss
		if ss.sortSet && m.focused().sec.Cols[ss.sortCol].Title == "ETA" {
			break
		}
		press(m, ">")
	}
	sf := m.focused()
	if sf.sec.Cols[sf.ss.sortCol].Title != "ETA" || !sf.ss.desc {
		t.Fatalf("sort column %q desc %v", sf.sec.Cols[sf.ss.sortCol].Title, sf.ss.desc)
	}
	got := keys(sf.rows)
	if got[len(got)-1] != "events#ephemeral/live#ephemeral" && got[len(got)-1] != "orders/billing" {
		t.Fatalf("by ETA: %v", got)
	}
	if v := m.View(); !strings.Contains(v, "sort ETA▼") {
		t.Fatalf("footer lacks the sort:\n%s", v)
	}
	press(m, "<")
	if c := m.focused().sec.Cols[m.focused().ss.sortCol].Title; c != "LAG" {
		t.Fatalf("< from ETA: %q", c)
	}
}

func TestHelpOverlay(t *testing.T) {
	_, m := started(t, false, 80, 24)
	press(m, "?")
	v := m.View()
	for _, want := range []string{"nsqtop keys", "freeze", "pause/unpause", "tombstone"} {
		if !strings.Contains(v, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	press(m, "j") // scrolls, stays
	if !m.help {
		t.Fatal("j closed the help")
	}
	press(m, "?")
	if m.help {
		t.Fatal("? did not close the help")
	}
	// Every binding of the keymap is in the overlay.
	press(m, "?")
	v = m.View()
	_, m2 := started(t, false, 200, 50)
	press(m2, "?")
	v = m2.View()
	for _, g := range m.keys.groups() {
		for _, b := range g.Bindings {
			if !strings.Contains(v, b.Help().Desc) {
				t.Errorf("help at 200x50 lacks %q", b.Help().Desc)
			}
		}
	}
}

func TestReadOnly(t *testing.T) {
	fx, m := started(t, true, 80, 24)
	press(m, "?")
	if v := m.View(); strings.Contains(v, "pause/unpause") || strings.Contains(v, "tombstone") {
		t.Fatalf("read-only help lists actions:\n%s", v)
	}
	press(m, "?")
	for _, k := range []string{"p", "e", "d", "c", "t", "delete"} {
		m.status = ""
		press(m, k)
		if m.confirm != nil || m.creating {
			t.Fatalf("read-only: %s opened a dialog", k)
		}
		if !strings.Contains(m.View(), "read-only") || !strings.Contains(m.status, "read-only") {
			t.Fatalf("read-only: %s not refused in the status line: %q", k, m.status)
		}
	}
	if calls := fx.c.Calls(); len(calls) > 0 {
		t.Fatalf("read-only made calls: %v", calls)
	}
	if !strings.Contains(HelpText(false), "tombstone") || strings.Contains(HelpText(true), "tombstone") {
		t.Fatal("HelpText does not follow read-only")
	}
}

// run runs a command and the commands it returns in sequence (no ticks:
// tea.Tick commands are skipped), delivering messages to the model.
func run(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			run(m, c)
		}
	case actionMsg, pollMsg, lookupdMsg:
		_, next := m.Update(msg)
		if _, isPoll := msg.(pollMsg); !isPoll {
			run(m, next)
		}
	}
}

func TestConfirmFlow(t *testing.T) {
	fx, m := started(t, false, 80, 24)
	press(m, "j", "j", "enter", "j", "j") // orders/billing
	if sel(m) != "orders/billing" {
		t.Fatalf("selected %q", sel(m))
	}
	press(m, "p")
	if m.confirm == nil {
		t.Fatalf("no confirm dialog; status %q", m.status)
	}
	if m.confirm.Action.Kind != cluster.PauseChannel {
		t.Fatalf("action %v", m.confirm.Action)
	}
	v := m.View()
	for _, want := range []string{"Pause channel orders/billing?", m.confirm.Summary, "/channel/pause?topic=orders&channel=billing", "y/enter"} {
		if !strings.Contains(v, want) {
			t.Errorf("dialog lacks %q:\n%s", want, v)
		}
	}
	press(m, "n")
	if m.confirm != nil || len(fx.c.Calls()) != 0 {
		t.Fatalf("n did not cancel (calls %v)", fx.c.Calls())
	}
	press(m, "p")
	_, cmd := m.Update(keyMsg("y"))
	if !m.acting || !strings.Contains(m.status, "running") {
		t.Fatalf("after y: acting %v status %q", m.acting, m.status)
	}
	// Run the action; its result asks for a poll at once.
	res := cmd().(actionMsg)
	_, cmd = m.Update(res)
	if res.res.Failed != 0 || !strings.Contains(m.status, res.res.Summary) {
		t.Fatalf("status %q, result %+v", m.status, res.res)
	}
	if !m.polling {
		t.Fatal("no poll after the action")
	}
	calls := fx.c.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls %v", calls)
	}
	for _, c := range calls {
		if !strings.Contains(c, "/channel/pause?channel=billing&topic=orders") {
			t.Errorf("call %q", fx.fake(c))
		}
	}
	// The re-poll shows the channel paused.
	fx.clock.Add(time.Second)
	_, _ = m.Update(cmd().(pollMsg))
	if v := m.View(); !strings.Contains(v, "✓") {
		t.Fatalf("no success mark:\n%s", v)
	}
	if r := m.selected(); r == nil || !r.Act.Paused {
		t.Fatalf("billing not paused after the re-poll: %+v", r)
	}
	// p again unpauses.
	press(m, "p")
	if m.confirm == nil || m.confirm.Action.Kind != cluster.UnpauseChannel {
		t.Fatalf("second p: %+v", m.confirm)
	}
	press(m, "esc")
	if m.confirm != nil || m.status != "cancelled" {
		t.Fatalf("esc: %+v %q", m.confirm, m.status)
	}
}

func TestActionFailureInStatus(t *testing.T) {
	fx, m := started(t, false, 120, 30)
	press(m, "j", "j") // orders
	fx.c.SetDown(fx.c.NSQDB, true)
	press(m, "e")
	if m.confirm == nil {
		t.Fatalf("no dialog: %q", m.status)
	}
	_, cmd := m.Update(keyMsg("enter"))
	m.Update(cmd())
	if m.statusKind != stErr || !strings.Contains(m.status, "127.0.0.1:4251") {
		t.Fatalf("status %q (kind %d)", m.status, m.statusKind)
	}
}

func TestCreateAndTombstone(t *testing.T) {
	fx, m := started(t, false, 100, 30)
	press(m, "c", "type:fresh", "enter")
	if m.confirm == nil || m.confirm.Action.Kind != cluster.CreateTopic || m.confirm.Action.Topic != "fresh" {
		t.Fatalf("create: %+v status %q", m.confirm, m.status)
	}
	_, cmd := m.Update(keyMsg("y"))
	m.Update(cmd())
	if !strings.Contains(strings.Join(fx.c.Calls(), " "), "/topic/create?topic=fresh") {
		t.Fatalf("calls %v", fx.c.Calls())
	}
	// In a topic's view c proposes a channel of it.
	press(m, "j", "j", "enter", "c")
	if got := m.createIn.String(); got != "orders/" {
		t.Fatalf("prefill %q", got)
	}
	press(m, "type:bad name", "enter")
	if m.confirm != nil || !strings.Contains(m.status, "invalid") {
		t.Fatalf("bad name: %q", m.status)
	}
	// t on a channel row explains itself; on a node row it plans.
	press(m, "t")
	if m.confirm != nil || !strings.Contains(m.status, "node row") {
		t.Fatalf("t on a channel: %q", m.status)
	}
	press(m, "k", "t")
	if m.confirm == nil || m.confirm.Action.Kind != cluster.TombstoneTopic || m.confirm.Action.Node != fakeB {
		t.Fatalf("tombstone: %+v (%q)", m.confirm, m.status)
	}
}

func TestFreezeAndInterval(t *testing.T) {
	fx, m := started(t, false, 80, 24)
	before := m.View()
	press(m, "space")
	if !strings.Contains(m.View(), "FROZEN") {
		t.Fatal("no FROZEN mark")
	}
	fx.c.Advance(5)
	fx.clock.Add(5 * time.Second)
	st := fx.p.Poll(context.Background())
	send(m, pollMsg{st: st})
	if m.shown == st {
		t.Fatal("a frozen display took the new State")
	}
	if m.latest != st {
		t.Fatal("polling stopped while frozen")
	}
	_ = before
	press(m, "space")
	if m.shown != st || strings.Contains(m.View(), "FROZEN") {
		t.Fatal("unfreezing did not show the latest State")
	}
	press(m, "+")
	if m.interval != 2*time.Second || !strings.Contains(m.View(), "every 2s") {
		t.Fatalf("+: %v", m.interval)
	}
	press(m, "-", "-", "-", "-", "-", "-")
	if m.interval != intervals[0] {
		t.Fatalf("-: %v", m.interval)
	}
	for range 20 {
		press(m, "+")
	}
	if m.interval != intervals[len(intervals)-1] {
		t.Fatalf("+: %v", m.interval)
	}
}

// TestFitsEverySize renders every view at many sizes, small to large:
// nothing wider than the terminal, no more lines than its height.
func TestFitsEverySize(t *testing.T) {
	fx := newFixture(t)
	fx.traffic()
	st := fx.polls(t, 3)
	lk := fx.p.PollLookupds(context.Background())
	paths := [][]string{nil, {"2"}, {"3"}, {"4"}, {"5"}, {"j", "j", "enter"}, {"j", "j", "enter", "j", "j", "enter"},
		{"3", "enter"}, {"4", "enter"}, {"?"}, {"j", "j", "enter", "j", "j", "d"}, {"/", "type:o"}, {"c"}}
	for _, sz := range [][2]int{{30, 8}, {40, 10}, {60, 15}, {80, 24}, {100, 30}, {132, 43}, {160, 48}, {200, 50}, {250, 70}, {20, 5}} {
		for _, p := range paths {
			m := fx.newModel(false)
			send(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}, pollMsg{st: st})
			press(m, p...)
			send(m, lookupdMsg{ls: lk, at: fx.clock.Now()})
			t.Run(fmt.Sprintf("%s/%v", sizeName(sz), p), func(t *testing.T) {
				checkFrame(t, m.View(), sz[0], sz[1])
			})
		}
	}
}

func TestStaleNode(t *testing.T) {
	fx := newFixture(t)
	fx.traffic()
	fx.polls(t, 3)
	fx.c.SetDown(fx.c.NSQDB, true)
	fx.c.Advance(1)
	fx.clock.Add(time.Second)
	st := fx.p.Poll(context.Background())
	for _, sz := range sizes {
		m := fx.newModel(false)
		send(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}, pollMsg{st: st})
		press(m, "3")
		v := m.View()
		checkFrame(t, v, sz[0], sz[1])
		if !strings.Contains(v, "stale") || !strings.Contains(v, "1 node failing") {
			t.Errorf("no stale node shown:\n%s", v)
		}
		golden(t, "nodes-stale-"+sizeName(sz), fx.fake(v))
	}
}

// TestCoalescedKeys: keys typed fast can arrive as one message; each acts
// on the view the previous one left.
func TestCoalescedKeys(t *testing.T) {
	_, m := started(t, false, 80, 24)
	press(m, "3", "enter")
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("1jjp")})
	if m.confirm == nil || m.confirm.Action.Kind != cluster.PauseTopic || m.confirm.Action.Topic != "orders" {
		t.Fatalf("1jjp: %+v (%q)", m.confirm, m.status)
	}
}
