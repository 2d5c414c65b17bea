package top

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
)

// frame is the current view laid out for the terminal: computed in
// Update (settle), drawn by View.
type frame struct {
	header []string
	info   []string
	secs   []secFrame
	bodyH  int
	focus  int
}

// secFrame is one section laid out.
type secFrame struct {
	sec    section
	ss     *secState
	rows   []row // filtered and sorted
	lay    layout
	height int // lines: title + head + rows + foot
	vis    int // row lines
}

// footerLines are the status bar and the message/hint line.
const footerLines = 2

// data gathers what views render from.
func (m *Model) data() *data {
	return &data{st: m.shown, lookupds: m.shownLk, lkAt: m.shownLkAt, lkBusy: m.polling && m.wantsLookupds(),
		now: m.cfg.Now(), cfg: &m.cfg, s: m.s, w: m.w}
}

// settle builds the current view's page and fits it to the terminal:
// rows ordered, cursor kept on its row, columns chosen, heights shared,
// scroll offsets clamped.
func (m *Model) settle() {
	if m.w <= 0 || m.h <= 0 {
		return
	}
	d := m.data()
	vs := m.cur()
	pg := vs.v.build(d)
	fr := frame{header: header(d, m.w, m.h)}
	fr.bodyH = max(m.h-len(fr.header)-footerLines, 0)
	fr.info = pg.Info
	if !vs.focusSet && len(pg.Sections) > 0 {
		if fv, ok := vs.v.(focuser); ok {
			vs.focus = fv.defaultFocus()
		}
		vs.focusSet = true
	}
	vs.focus = min(max(vs.focus, 0), max(len(pg.Sections)-1, 0))
	fr.focus = vs.focus
	for i := range pg.Sections {
		s := pg.Sections[i]
		ss := vs.sec(s.ID)
		sf := secFrame{sec: s, ss: ss, rows: s.ordered(ss, vs.filter)}
		// Keep the cursor on its row (by key), else at its index.
		found := false
		if ss.key != "" {
			for j, r := range sf.rows {
				if r.Key == ss.key {
					ss.idx, found = j, true
					break
				}
			}
		}
		if !found {
			ss.idx = min(max(ss.idx, 0), max(len(sf.rows)-1, 0))
			if len(sf.rows) > 0 {
				ss.key = sf.rows[ss.idx].Key
			}
		}
		sf.lay = fit(s.Cols, sf.rows, s.Foot, m.w, s.sortCol(ss))
		fr.secs = append(fr.secs, sf)
	}
	// Share the body's height: info lines first (at most a third when
	// there are sections), then every section its minimum, then the
	// focused one what it wants, then the others.
	avail := fr.bodyH
	if len(fr.secs) > 0 && len(fr.info) > avail/3 {
		fr.info = fr.info[:avail/3]
	}
	if len(fr.info) > avail {
		fr.info = fr.info[:avail]
	}
	avail -= len(fr.info)
	want := make([]int, len(fr.secs))
	minh := make([]int, len(fr.secs))
	for i, sf := range fr.secs {
		minh[i] = 3 + len(sf.sec.Foot)
		want[i] = 2 + max(len(sf.rows), 1) + len(sf.sec.Foot)
	}
	// Drop sections (from the end, never the focused one) that cannot get
	// their minimum.
	total := func() int {
		t := 0
		for i := range fr.secs {
			if fr.secs[i].height >= 0 {
				t += minh[i]
			}
		}
		return t
	}
	for i := range fr.secs {
		fr.secs[i].height = 0
	}
	for j := len(fr.secs) - 1; j >= 0 && total() > avail; j-- {
		if j != fr.focus {
			fr.secs[j].height = -1
		}
	}
	left := avail
	for i := range fr.secs {
		if fr.secs[i].height >= 0 {
			fr.secs[i].height = min(minh[i], left)
			left -= fr.secs[i].height
		}
	}
	grow := func(i int) {
		if fr.secs[i].height < 0 {
			return
		}
		g := min(want[i]-fr.secs[i].height, left)
		if g > 0 {
			fr.secs[i].height += g
			left -= g
		}
	}
	if fr.focus < len(fr.secs) {
		grow(fr.focus)
	}
	for i := range fr.secs {
		grow(i)
	}
	for i := range fr.secs {
		sf := &fr.secs[i]
		sf.vis = max(sf.height-2-len(sf.sec.Foot), 0)
		ss := sf.ss
		if sf.vis > 0 {
			if ss.idx < ss.offset {
				ss.offset = ss.idx
			}
			if ss.idx >= ss.offset+sf.vis {
				ss.offset = ss.idx - sf.vis + 1
			}
		}
		ss.offset = min(max(ss.offset, 0), max(len(sf.rows)-sf.vis, 0))
	}
	m.fr = fr
}

// focused is the section with the cursor (nil if none).
func (m *Model) focused() *secFrame {
	if m.fr.focus < len(m.fr.secs) {
		return &m.fr.secs[m.fr.focus]
	}
	return nil
}

func (m *Model) focusedVisible() int {
	if sf := m.focused(); sf != nil {
		return sf.vis
	}
	return 0
}

// selected is the row under the cursor.
func (m *Model) selected() *row {
	sf := m.focused()
	if sf == nil || len(sf.rows) == 0 || sf.height <= 0 {
		return nil
	}
	return &sf.rows[min(sf.ss.idx, len(sf.rows)-1)]
}

// move moves the cursor by delta rows; a single step past the end of a
// section continues into the next (or previous) one.
func (m *Model) move(delta int, cross bool) {
	sf := m.focused()
	if sf == nil {
		return
	}
	vs := m.cur()
	i := sf.ss.idx + delta
	if cross && (i < 0 || i >= len(sf.rows)) {
		step := 1
		if i < 0 {
			step = -1
		}
		for j := m.fr.focus + step; j >= 0 && j < len(m.fr.secs); j += step {
			o := &m.fr.secs[j]
			if len(o.rows) == 0 || o.height <= 0 {
				continue
			}
			vs.focus, m.fr.focus = j, j
			if step > 0 {
				o.ss.idx = 0
			} else {
				o.ss.idx = len(o.rows) - 1
			}
			o.ss.key = o.rows[o.ss.idx].Key
			return
		}
	}
	if len(sf.rows) == 0 {
		return
	}
	i = min(max(i, 0), len(sf.rows)-1)
	sf.ss.idx, sf.ss.key = i, sf.rows[i].Key
}

// nextSection moves the focus to the next section with rows.
func (m *Model) nextSection(back bool) {
	n := len(m.fr.secs)
	step := 1
	if back {
		step = n - 1
	}
	for k, j := 0, m.fr.focus; k < n; k++ {
		j = (j + step) % max(n, 1)
		if len(m.fr.secs[j].rows) > 0 && m.fr.secs[j].height > 0 {
			m.cur().focus, m.fr.focus = j, j
			return
		}
	}
}

// sortBy moves the focused section's sort to the next shown column.
func (m *Model) sortBy(dir int) {
	sf := m.focused()
	if sf == nil || sf.sec.Fixed || len(sf.lay.cols) == 0 {
		return
	}
	col := sf.sec.Sort
	if sf.ss.sortSet {
		col = sf.ss.sortCol
	}
	pos := 0
	for j, c := range sf.lay.cols {
		if c == col {
			pos = j
		}
	}
	pos = (pos + dir + len(sf.lay.cols)) % len(sf.lay.cols)
	c := sf.lay.cols[pos]
	sf.ss.sortCol, sf.ss.sortSet = c, true
	// Numbers sort largest first, text A to Z.
	sf.ss.desc = !sf.sec.Cols[c].Text
}

// invert flips the focused section's sort order.
func (m *Model) invert() {
	sf := m.focused()
	if sf == nil || sf.sec.Fixed {
		return
	}
	if !sf.ss.sortSet {
		sf.ss.sortCol, sf.ss.desc, sf.ss.sortSet = sf.sec.Sort, sf.sec.Desc, true
	}
	sf.ss.desc = !sf.ss.desc
}

// View draws the frame: header, body (or help, or the confirm dialog),
// footer. Every line fits the width; there are at most height lines.
func (m *Model) View() string {
	if m.w <= 0 || m.h <= 0 {
		return ""
	}
	if m.w < 30 || m.h < 8 {
		return truncate(fmt.Sprintf("nsqtop: terminal too small (%dx%d)", m.w, m.h), m.w)
	}
	fr := &m.fr
	lines := append([]string{}, fr.header...)
	var body []string
	switch {
	case m.help:
		body = m.helpLines(fr.bodyH)
	case m.confirm != nil:
		body = m.dialogLines(fr.bodyH)
	default:
		body = m.bodyLines()
	}
	for len(body) < fr.bodyH {
		body = append(body, "")
	}
	lines = append(lines, body[:fr.bodyH]...)
	lines = append(lines, m.footer()...)
	for i, l := range lines {
		lines[i] = truncate(l, m.w)
	}
	if len(lines) > m.h {
		lines = lines[:m.h]
	}
	return strings.Join(lines, "\n")
}

// bodyLines draws the info lines and the sections.
func (m *Model) bodyLines() []string {
	fr := &m.fr
	out := append([]string{}, fr.info...)
	plain := m.s.mode == Plain
	for i := range fr.secs {
		sf := &fr.secs[i]
		if sf.height <= 0 {
			continue
		}
		lines := make([]string, 0, sf.height)
		title := m.s.Section.Render(sf.sec.Title)
		count := fmt.Sprintf(" (%d)", len(sf.rows))
		if vf := m.cur().filter; vf != "" {
			count = fmt.Sprintf(" (%d of %d match /%s)", len(sf.rows), len(sf.sec.Rows), vf)
		}
		title += m.s.Dim.Render(count)
		if sf.vis > 0 && len(sf.rows) > sf.vis {
			title += m.s.Dim.Render(fmt.Sprintf("  %d–%d ↕", sf.ss.offset+1, min(sf.ss.offset+sf.vis, len(sf.rows))))
		}
		lines = append(lines, title)
		lines = append(lines, sf.lay.renderHead(&sf.sec, sf.ss, m.s, m.w))
		focused := i == fr.focus
		shown := 0
		if len(sf.rows) == 0 && sf.vis > 0 {
			msg := sf.sec.Empty
			if m.cur().filter != "" {
				msg = "no row matches /" + m.cur().filter
			}
			lines = append(lines, strings.Repeat(" ", gutter)+m.s.Dim.Render(msg))
			shown = 1
		}
		for j := sf.ss.offset; j < len(sf.rows) && shown < sf.vis; j++ {
			r := sf.rows[j]
			sel := focused && j == sf.ss.idx
			mark := "  "
			if sel {
				mark = "> "
			}
			switch {
			case sel:
				line := mark + sf.lay.renderRow(sf.sec.Cols, r, m.s, true)
				lines = append(lines, m.s.Selected.Render(pad(line, m.w, false)))
			case r.Dim:
				lines = append(lines, m.s.StaleNode.Render(mark+sf.lay.renderRow(sf.sec.Cols, r, m.s, true)))
			default:
				lines = append(lines, mark+sf.lay.renderRow(sf.sec.Cols, r, m.s, plain))
			}
			shown++
		}
		for shown < sf.vis {
			lines = append(lines, "")
			shown++
		}
		for _, r := range sf.sec.Foot {
			lines = append(lines, m.s.Total.Render("  "+sf.lay.renderRow(sf.sec.Cols, r, m.s, true)))
		}
		out = append(out, lines...)
	}
	return out
}

// footer is the status bar (breadcrumb, sort, filter, frozen, poll age,
// errors) and the message / prompt / hint line.
func (m *Model) footer() []string {
	s := m.s
	var crumbs []string
	for _, vs := range m.stack {
		crumbs = append(crumbs, vs.v.crumb())
	}
	left := s.Crumb.Render(strings.Join(crumbs, " › "))
	var segs []string
	if sf := m.focused(); sf != nil && !sf.sec.Fixed && len(sf.sec.Cols) > 0 {
		col, desc := sf.sec.Sort, sf.sec.Desc
		if sf.ss.sortSet {
			col, desc = sf.ss.sortCol, sf.ss.desc
		}
		if col < len(sf.sec.Cols) {
			arrow := "▲"
			if desc {
				arrow = "▼"
			}
			segs = append(segs, s.Label.Render("sort ")+sf.sec.Cols[col].Title+arrow)
		}
	}
	if f := m.cur().filter; f != "" && !m.filtering {
		segs = append(segs, s.Label.Render("filter ")+"/"+f)
	}
	if m.frozen {
		segs = append(segs, s.Frozen.Render(" FROZEN "))
	}
	if m.cfg.ReadOnly {
		segs = append(segs, s.Dim.Render("read-only"))
	}
	right := s.Label.Render("every ") + dur(m.interval)
	now := m.cfg.Now()
	switch {
	case m.shown == nil && m.polling:
		right += " · polling…"
	case m.shown != nil:
		right += " · " + dur(now.Sub(m.shown.Time).Truncate(time.Second)) + " ago"
		if m.polling && now.Sub(m.pollStart) > m.interval {
			right += " " + s.Warn.Render("(polling "+dur(now.Sub(m.pollStart))+")")
		}
	}
	if st := m.shown; st != nil {
		bad := st.Cluster.NodesStale + st.Cluster.NodesDown
		if bad > 0 {
			right += " · " + s.Down.Render(plural(bad, "node")+" failing")
		}
		if len(st.LookupdErrors) > 0 {
			right += " · " + s.Down.Render(plural(len(st.LookupdErrors), "lookupd")+" failing")
		}
	}
	line1 := left
	for _, sg := range segs {
		line1 += "  " + sg
	}
	gap := m.w - width(line1) - width(right)
	if gap >= 2 {
		line1 += strings.Repeat(" ", gap) + right
	} else {
		line1 = truncate(line1, max(m.w-width(right)-2, 10)) + "  " + right
	}
	var line2 string
	switch {
	case m.filtering:
		line2 = m.filterIn.view(s, m.w) + s.Hint.Render("  enter keep · esc clear")
	case m.creating:
		line2 = m.createIn.view(s, m.w) + s.Hint.Render("  enter plan · esc cancel")
	case m.status != "":
		st := s.Status
		switch m.statusKind {
		case stOK:
			st = s.OK
		case stErr:
			st = s.Error
		}
		line2 = st.Render(truncate(m.status, m.w))
	default:
		var hs []string
		for _, h := range m.keys.hint() {
			hs = append(hs, s.HelpKey.Render(h[0])+" "+s.Hint.Render(h[1]))
		}
		line2 = join(hs, m.w)
	}
	return []string{line1, line2}
}

// helpLines lays the keymap's groups out in as many columns as fit.
func (m *Model) helpLines(h int) []string {
	s := m.s
	type block struct{ lines []string }
	var blocks []block
	for _, g := range m.keys.groups() {
		b := block{lines: []string{s.Section.Render(g.Title)}}
		for _, kb := range g.Bindings {
			hp := kb.Help()
			b.lines = append(b.lines, s.HelpKey.Render(pad(hp.Key, 9, false))+" "+s.HelpDesc.Render(hp.Desc))
		}
		blocks = append(blocks, b)
	}
	title := s.DialogHd.Render("nsqtop keys") + s.Dim.Render("  (any key closes; ↑/↓ scroll)")
	// Columns: fill top to bottom, as wide as their widest line.
	var cols [][]string
	var cur []string
	for _, b := range blocks {
		if len(cur) > 0 && len(cur)+len(b.lines) > max(h-1, 17) {
			cols = append(cols, cur)
			cur = nil
		}
		cur = append(cur, b.lines...)
	}
	if len(cur) > 0 {
		cols = append(cols, cur)
	}
	widths := make([]int, len(cols))
	for i, c := range cols {
		for _, l := range c {
			widths[i] = max(widths[i], width(l))
		}
	}
	// Too wide: one column, scrolled.
	total := 0
	for _, w := range widths {
		total += w + 3
	}
	if total > m.w+3 {
		var one []string
		for _, c := range cols {
			one = append(one, c...)
		}
		cols, widths = [][]string{one}, []int{m.w}
	}
	rows := 0
	for _, c := range cols {
		rows = max(rows, len(c))
	}
	out := []string{title}
	for r := 0; r < rows; r++ {
		var b strings.Builder
		for i, c := range cols {
			l := ""
			if r < len(c) {
				l = c[r]
			}
			if i < len(cols)-1 {
				l = l + strings.Repeat(" ", max(widths[i]-width(l), 0)) + "   "
			}
			b.WriteString(l)
		}
		out = append(out, b.String())
	}
	body := out[1:]
	off := min(m.helpOff, max(len(body)-(h-1), 0))
	body = body[off:]
	return append([]string{title}, body...)
}

// dialogLines is the confirm dialog: what will happen, on which nodes,
// with which calls.
func (m *Model) dialogLines(h int) []string {
	s := m.s
	p := m.confirm
	inner := max(min(m.w-4, 100), 20)
	var lines []string
	hd := s.DialogHd
	if dangerous(p.Action.Kind) {
		hd = s.Crit
	}
	verb := p.Action.String()
	lines = append(lines, hd.Render(strings.ToUpper(verb[:1])+verb[1:]+"?"))
	lines = append(lines, "")
	lines = append(lines, wrap(p.Summary, inner)...)
	lines = append(lines, "")
	calls := p.Calls
	room := max(h-2-len(lines)-3, 1)
	for i, c := range calls {
		if i == room-1 && len(calls) > room {
			lines = append(lines, s.Dim.Render(fmt.Sprintf("… and %d more calls", len(calls)-i)))
			break
		}
		path := c.Path
		if u, err := url.QueryUnescape(path); err == nil {
			path = u
		}
		lines = append(lines, truncate(fmt.Sprintf("%s %s %s%s", c.Method, c.Daemon, c.Addr, path), inner))
	}
	lines = append(lines, "")
	lines = append(lines, s.HelpKey.Render("y/enter")+" do it   "+s.HelpKey.Render("n/esc")+" cancel")
	for i := range lines {
		lines[i] = truncate(lines[i], inner)
	}
	box := s.Dialog.Render(strings.Join(lines, "\n"))
	placed := lipgloss.Place(m.w, h, lipgloss.Center, lipgloss.Center, box)
	return strings.Split(placed, "\n")
}

// wrap breaks text into lines of at most w cells at spaces.
func wrap(text string, w int) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case width(line)+1+width(word) <= w:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
