// Package top is nsqtop's terminal UI: a bubbletea root model that routes
// keys to the view on top of a stack (topics → topic → channel → client,
// nodes → node, …), one file per view, one keymap (keys.go) and one set
// of styles (styles.go). Data comes from core/top/cluster: a poll runs in
// a tea.Cmd and its State arrives as a message; views render that State,
// so they are pure functions of it and testable with fixtures.
package top

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/nsqkit/nsqkit/core/top/cluster"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Poller is what the model polls: *cluster.Poller, or a fake in tests.
// The model never calls it from two goroutines at once.
type Poller interface {
	Poll(ctx context.Context) *cluster.State
	PollLookupds(ctx context.Context) []cluster.LookupdState
}

// Config is everything the model needs.
type Config struct {
	Poller   Poller
	Source   cluster.Source // for planning actions (the lookupds to call)
	Interval time.Duration  // between polls; default 2s
	ReadOnly bool           // no actions: hidden from help, refused

	// Depths at or past these are coloured (0: never).
	WarnDepth, CritDepth int64

	Styles *Styles // default: Plain

	// Plan and Execute run actions; Plan defaults to cluster.PlanAction.
	// A nil Execute makes every action fail with a message.
	Plan    func(*cluster.State, cluster.Source, cluster.Action) (*cluster.Plan, error)
	Execute func(context.Context, *cluster.Plan) *cluster.Result

	// Now is the clock (poll age, "last seen"); default time.Now.
	Now func() time.Time
	// NoClock turns off the one-second footer refresh (golden tests).
	NoClock bool
}

// Default thresholds and interval.
const (
	DefaultInterval  = 2 * time.Second
	DefaultWarnDepth = 1000
	DefaultCritDepth = 10000
)

// intervals are the steps of + and -.
var intervals = []time.Duration{
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second,
	5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute,
}

// statusTTL is how long an action's result stays in the footer.
const statusTTL = 20 * time.Second

// viewState is a view with its UI state.
type viewState struct {
	v        view
	secs     map[string]*secState
	focus    int
	focusSet bool
	filter   string
}

func newViewState(v view) *viewState { return &viewState{v: v, secs: map[string]*secState{}} }

func (vs *viewState) sec(id string) *secState {
	ss := vs.secs[id]
	if ss == nil {
		ss = &secState{}
		vs.secs[id] = ss
	}
	return ss
}

// status kinds.
const (
	stInfo = iota
	stOK
	stErr
)

// Model is nsqtop's root model.
type Model struct {
	cfg    Config
	keys   keyMap
	s      *Styles
	ctx    context.Context
	cancel context.CancelFunc

	w, h int

	shown, latest     *cluster.State // shown differs from latest while frozen
	shownLk, latestLk []cluster.LookupdState
	shownLkAt, lkAt   time.Time

	polling   bool
	pollStart time.Time
	tickGen   int
	repoll    bool
	interval  time.Duration
	frozen    bool

	tops  [5]*viewState
	stack []*viewState

	help      bool
	helpOff   int
	filtering bool
	filterIn  lineInput
	creating  bool
	createIn  lineInput
	confirm   *cluster.Plan
	acting    bool

	status     string
	statusKind int
	statusAt   time.Time

	fr frame
}

// New makes the model. Run it with tea.NewProgram(m, tea.WithAltScreen(),
// tea.WithMouseCellMotion()).
func New(cfg Config) *Model {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Styles == nil {
		cfg.Styles = NewStyles(Plain, nil)
	}
	if cfg.Plan == nil {
		cfg.Plan = cluster.PlanAction
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{cfg: cfg, keys: newKeyMap(cfg.ReadOnly), s: cfg.Styles, ctx: ctx, cancel: cancel, interval: cfg.Interval}
	for i := range m.tops {
		m.tops[i] = newViewState(topLevel(i))
	}
	m.stack = []*viewState{m.tops[0]}
	m.filterIn.prompt = "/"
	return m
}

// Close cancels polls and actions in flight (after the program ends).
func (m *Model) Close() { m.cancel() }

// Init starts the first poll (and the footer clock).
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.startPoll()}
	if !m.cfg.NoClock {
		cmds = append(cmds, clock())
	}
	return tea.Batch(cmds...)
}

func clock() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return clockMsg{} })
}

func (m *Model) cur() *viewState { return m.stack[len(m.stack)-1] }

func (m *Model) wantsLookupds() bool {
	_, ok := m.cur().v.(lookupdUser)
	return ok && len(m.cfg.Source.LookupdHTTPAddrs) > 0
}

// startPoll runs one poll cycle in commands: Poll, then PollLookupds when
// the lookup view is shown. It never blocks.
func (m *Model) startPoll() tea.Cmd {
	m.polling = true
	m.repoll = false
	m.pollStart = m.cfg.Now()
	p, ctx := m.cfg.Poller, m.ctx
	withLk := m.wantsLookupds()
	poll := func() tea.Msg { return pollMsg{st: p.Poll(ctx), more: withLk} }
	if !withLk {
		return poll
	}
	now := m.cfg.Now
	return tea.Sequence(poll, func() tea.Msg { return lookupdMsg{ls: p.PollLookupds(ctx), at: now()} })
}

// pollNow polls at once, or right after the poll in flight.
func (m *Model) pollNow() tea.Cmd {
	if m.polling {
		m.repoll = true
		return nil
	}
	m.tickGen++
	return m.startPoll()
}

// endCycle schedules what follows a finished poll cycle.
func (m *Model) endCycle() tea.Cmd {
	m.polling = false
	if m.repoll {
		m.tickGen++
		return m.startPoll()
	}
	return m.scheduleTick()
}

// scheduleTick arms the next poll one interval after the last one began.
func (m *Model) scheduleTick() tea.Cmd {
	m.tickGen++
	gen := m.tickGen
	d := m.interval - m.cfg.Now().Sub(m.pollStart)
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

// Update routes a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
	case pollMsg:
		m.latest = msg.st
		if !m.frozen || m.shown == nil {
			m.shown = msg.st
		}
		if !msg.more {
			cmd = m.endCycle()
		}
	case lookupdMsg:
		m.latestLk, m.lkAt = msg.ls, msg.at
		if !m.frozen || m.shownLkAt.IsZero() {
			m.shownLk, m.shownLkAt = msg.ls, msg.at
		}
		cmd = m.endCycle()
	case tickMsg:
		if msg.gen == m.tickGen && !m.polling {
			cmd = m.startPoll()
		}
	case clockMsg:
		if m.status != "" && m.cfg.Now().Sub(m.statusAt) > statusTTL && !m.acting {
			m.status = ""
		}
		cmd = clock()
	case actionMsg:
		m.acting = false
		m.reportResult(msg.res)
		cmd = m.pollNow()
	case tea.KeyMsg:
		cmd = m.key(msg)
	case tea.MouseMsg:
		if msg.Action == tea.MouseActionPress && !m.help && m.confirm == nil {
			switch msg.Button {
			case tea.MouseButtonWheelUp:
				m.move(-3, false)
			case tea.MouseButtonWheelDown:
				m.move(3, false)
			}
		}
	}
	m.settle()
	return m, cmd
}

func (m *Model) setStatus(kind int, format string, args ...any) {
	m.status, m.statusKind, m.statusAt = fmt.Sprintf(format, args...), kind, m.cfg.Now()
}

// key handles a key press: dialogs first, then the view's keys.
func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	// Keys typed fast can arrive as one message ("jj"): take them one by
	// one, unless typed into a prompt or pasted.
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste && !m.filtering && !m.creating {
		var cmds []tea.Cmd
		for _, r := range k.Runes {
			cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}))
			m.settle()
		}
		return tea.Batch(cmds...)
	}
	ks := k.String()
	if ks == "ctrl+c" {
		m.cancel()
		return tea.Quit
	}
	switch {
	case m.confirm != nil:
		switch {
		case key.Matches(k, m.keys.Confirm):
			return m.execute()
		case key.Matches(k, m.keys.Cancel):
			m.confirm = nil
			m.setStatus(stInfo, "cancelled")
		}
		return nil
	case m.creating:
		switch k.Type {
		case tea.KeyEnter:
			m.creating = false
			m.submitCreate()
		case tea.KeyEsc:
			m.creating = false
		default:
			m.createIn.update(k)
		}
		return nil
	case m.filtering:
		switch k.Type {
		case tea.KeyEnter:
			m.filtering = false
		case tea.KeyEsc:
			m.filtering = false
			m.cur().filter = ""
		case tea.KeyUp, tea.KeyDown, tea.KeyPgUp, tea.KeyPgDown:
			m.navKey(k)
		default:
			m.filterIn.update(k)
			m.cur().filter = m.filterIn.String()
		}
		return nil
	case m.help:
		switch {
		case key.Matches(k, m.keys.Down):
			m.helpOff++
		case key.Matches(k, m.keys.Up):
			m.helpOff = max(m.helpOff-1, 0)
		default:
			m.help = false
		}
		return nil
	}

	if m.keys.isAction(ks) && m.cfg.ReadOnly {
		m.setStatus(stErr, "read-only: nsqtop was started with --read-only, actions are off")
		return nil
	}
	km := &m.keys
	switch {
	case key.Matches(k, km.Quit):
		m.cancel()
		return tea.Quit
	case key.Matches(k, km.Help):
		m.help, m.helpOff = true, 0
	case m.navKey(k):
	case key.Matches(k, km.Enter):
		if r := m.selected(); r != nil && r.Open != nil {
			m.stack = append(m.stack, newViewState(r.Open))
			return m.enteredView()
		}
	case key.Matches(k, km.Back):
		switch {
		case m.cur().filter != "":
			m.cur().filter = ""
		case len(m.stack) > 1:
			m.stack = m.stack[:len(m.stack)-1]
			return m.enteredView()
		}
	case key.Matches(k, km.NextSection):
		m.nextSection(ks == "shift+tab")
	case key.Matches(k, km.Topics, km.Channels, km.Nodes, km.Clients, km.Lookup):
		m.stack = []*viewState{m.tops[int(ks[0]-'1')]}
		return m.enteredView()
	case key.Matches(k, km.Filter):
		m.filtering = true
		m.filterIn.set(m.cur().filter)
	case key.Matches(k, km.SortLeft):
		m.sortBy(-1)
	case key.Matches(k, km.SortRight):
		m.sortBy(1)
	case key.Matches(k, km.Invert):
		m.invert()
	case key.Matches(k, km.Freeze):
		m.frozen = !m.frozen
		if !m.frozen {
			m.shown = m.latest
			m.shownLk, m.shownLkAt = m.latestLk, m.lkAt
		}
	case key.Matches(k, km.Slower):
		return m.stepInterval(1)
	case key.Matches(k, km.Faster):
		return m.stepInterval(-1)
	case key.Matches(k, km.Refresh):
		return m.pollNow()
	case key.Matches(k, km.Pause):
		m.act(func(t *actTarget) (cluster.Action, string) {
			switch {
			case t.Channel != "" && t.Paused:
				return cluster.Action{Kind: cluster.UnpauseChannel, Topic: t.Topic, Channel: t.Channel}, ""
			case t.Channel != "":
				return cluster.Action{Kind: cluster.PauseChannel, Topic: t.Topic, Channel: t.Channel}, ""
			case t.Paused:
				return cluster.Action{Kind: cluster.UnpauseTopic, Topic: t.Topic}, ""
			}
			return cluster.Action{Kind: cluster.PauseTopic, Topic: t.Topic}, ""
		})
	case key.Matches(k, km.Empty):
		m.act(func(t *actTarget) (cluster.Action, string) {
			if t.Channel != "" {
				return cluster.Action{Kind: cluster.EmptyChannel, Topic: t.Topic, Channel: t.Channel}, ""
			}
			return cluster.Action{Kind: cluster.EmptyTopic, Topic: t.Topic}, ""
		})
	case key.Matches(k, km.Delete):
		m.act(func(t *actTarget) (cluster.Action, string) {
			if t.Channel != "" {
				return cluster.Action{Kind: cluster.DeleteChannel, Topic: t.Topic, Channel: t.Channel}, ""
			}
			return cluster.Action{Kind: cluster.DeleteTopic, Topic: t.Topic}, ""
		})
	case key.Matches(k, km.Tombstone):
		m.act(func(t *actTarget) (cluster.Action, string) {
			if t.Node == "" || t.Channel != "" {
				return cluster.Action{}, "t tombstones a topic on one node: select a node row in a topic's view (or a topic row in a node's view)"
			}
			return cluster.Action{Kind: cluster.TombstoneTopic, Topic: t.Topic, Node: t.Node}, ""
		})
	case key.Matches(k, km.Create):
		m.creating = true
		m.createIn.prompt = "create topic or topic/channel: "
		m.createIn.set("")
		if tv, ok := m.cur().v.(topicView); ok {
			m.createIn.set(tv.topic + "/")
		}
	}
	return nil
}

// enteredView polls the lookupds at once when the new view shows them.
func (m *Model) enteredView() tea.Cmd {
	if m.wantsLookupds() {
		return m.pollNow()
	}
	return nil
}

// navKey moves the cursor; it reports whether k was a movement key.
func (m *Model) navKey(k tea.KeyMsg) bool {
	km := &m.keys
	switch {
	case key.Matches(k, km.Up):
		m.move(-1, true)
	case key.Matches(k, km.Down):
		m.move(1, true)
	case key.Matches(k, km.PageUp):
		m.move(-max(m.focusedVisible(), 1), false)
	case key.Matches(k, km.PageDown):
		m.move(max(m.focusedVisible(), 1), false)
	case key.Matches(k, km.Home):
		m.move(-1<<30, false)
	case key.Matches(k, km.End):
		m.move(1<<30, false)
	default:
		return false
	}
	return true
}

// stepInterval moves the poll interval one step; the next poll is
// rescheduled from the last one's start.
func (m *Model) stepInterval(dir int) tea.Cmd {
	i := 0
	for i < len(intervals) && intervals[i] < m.interval {
		i++
	}
	if dir > 0 && i < len(intervals) && intervals[i] == m.interval {
		i++
	} else if dir < 0 {
		i--
	}
	i = min(max(i, 0), len(intervals)-1)
	m.interval = intervals[i]
	if s, ok := m.cfg.Poller.(interface{ SetInterval(time.Duration) }); ok {
		s.SetInterval(m.interval) // the poll timeout follows
	}
	m.setStatus(stInfo, "polling every %s", dur(m.interval))
	if m.polling {
		return nil
	}
	return m.scheduleTick()
}

// act plans an action on the selected row and opens the confirm dialog.
func (m *Model) act(mk func(*actTarget) (cluster.Action, string)) {
	r := m.selected()
	if r == nil || r.Act == nil {
		m.setStatus(stErr, "nothing to act on here: select a topic, channel or node row")
		return
	}
	a, why := mk(r.Act)
	if why != "" {
		m.setStatus(stErr, "%s", why)
		return
	}
	m.plan(a)
}

func (m *Model) plan(a cluster.Action) {
	if m.latest == nil {
		m.setStatus(stErr, "no data yet: wait for the first poll")
		return
	}
	p, err := m.cfg.Plan(m.latest, m.cfg.Source, a)
	if err != nil {
		m.setStatus(stErr, "cannot %s: %v", a.String(), err)
		return
	}
	m.confirm = p
}

// submitCreate turns the create prompt into a plan.
func (m *Model) submitCreate() {
	v := strings.TrimSpace(m.createIn.String())
	topic, channel, hasCh := strings.Cut(v, "/")
	switch {
	case v == "":
		m.setStatus(stInfo, "nothing created")
		return
	case !wire.IsValidTopicName(topic):
		m.setStatus(stErr, "invalid topic name %q", topic)
		return
	case hasCh && !wire.IsValidChannelName(channel):
		m.setStatus(stErr, "invalid channel name %q", channel)
		return
	}
	if hasCh {
		m.plan(cluster.Action{Kind: cluster.CreateChannel, Topic: topic, Channel: channel})
	} else {
		m.plan(cluster.Action{Kind: cluster.CreateTopic, Topic: topic})
	}
}

// execute runs the confirmed plan in a command.
func (m *Model) execute() tea.Cmd {
	p := m.confirm
	m.confirm = nil
	if m.cfg.Execute == nil {
		m.setStatus(stErr, "actions are not available")
		return nil
	}
	m.acting = true
	m.setStatus(stInfo, "running: %s …", p.Summary)
	exec, ctx := m.cfg.Execute, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return actionMsg{res: exec(ctx, p)}
	}
}

// reportResult puts an action's outcome in the status line.
func (m *Model) reportResult(res *cluster.Result) {
	if res == nil {
		m.setStatus(stErr, "action: no result")
		return
	}
	if res.Failed == 0 {
		m.setStatus(stOK, "✓ %s", res.Summary)
		return
	}
	var fails []string
	for _, c := range res.Calls {
		if c.Err != nil {
			fails = append(fails, fmt.Sprintf("%s %s: %v", c.Call.Daemon, c.Call.Addr, c.Err))
		}
	}
	msg := res.Summary
	if len(fails) > 0 && !strings.Contains(msg, fails[0]) {
		msg += " — " + strings.Join(fails, "; ")
	}
	m.setStatus(stErr, "✗ %s", msg)
}

// dangerous actions lose messages or registrations.
func dangerous(k cluster.ActionKind) bool {
	switch k {
	case cluster.EmptyTopic, cluster.DeleteTopic, cluster.EmptyChannel, cluster.DeleteChannel, cluster.TombstoneTopic:
		return true
	}
	return false
}
