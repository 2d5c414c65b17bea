package top

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// A view renders as info lines and sections; a section is one table
// (columns, rows, total rows) with its own cursor, sort and scroll. The
// root model does every bit of table work — sorting, filtering, fitting
// columns to the width, scrolling, the cursor — so a view only says what
// its rows are.

// column is one column of a section.
type column struct {
	Title string
	Width int  // minimum width; the column grows to its widest cell
	Flex  bool // the name column: takes what the others leave, truncated with …
	Right bool // numbers are right-aligned
	// Prio orders columns for dropping when the terminal is narrow: 0 is
	// never dropped, higher goes first.
	Prio int
	Text bool // sorts as text (else by the cells' Num)
	Hide bool // not shown (a column that says nothing here)
	Max  int  // if set, longer cells are cut with … (long versions, lists)
}

// cell is one value: what is shown and what it sorts by.
type cell struct {
	Text  string
	Num   float64         // sort key of numeric columns (NaN sorts lowest)
	Style *lipgloss.Style // optional colour (depth thresholds, paused)
}

// row is one line of a section.
type row struct {
	Key   string // identity: keeps the cursor on it across polls and sorts
	Name  string // what / matches
	Cells []cell
	Dim   bool // greyed (a stale or down node)
	Open  view // what enter opens (nil: nothing)
	Act   *actTarget
}

// section is one table of a view.
type section struct {
	ID, Title string
	Cols      []column
	Rows      []row
	Foot      []row // totals: not sorted, not filtered, not selectable
	Sort      int   // default sort column
	Desc      bool  // default order
	Empty     string
	// Fixed sections keep their row order (no sort keys).
	Fixed bool
}

// page is what a view shows for one State.
type page struct {
	Info     []string // lines above the sections (already styled)
	Sections []section
}

// secState is the UI state of one section: sort, cursor, scroll.
type secState struct {
	sortCol int
	desc    bool
	sortSet bool
	key     string // the selected row's Key
	idx     int    // its index among the shown rows
	offset  int    // first shown row
}

// txt is a text cell.
func txt(s string) cell { return cell{Text: s} }

// n is a count cell.
func n(v int64) cell { return cell{Text: num(v), Num: float64(v)} }

// f is a cell with its own text and sort key.
func f(text string, v float64) cell { return cell{Text: text, Num: v} }

// styled sets a cell's style.
func (c cell) styled(s *lipgloss.Style) cell { c.Style = s; return c }

// ordered returns rows filtered by filter and sorted by ss.
func (s *section) ordered(ss *secState, filter string) []row {
	rows := make([]row, 0, len(s.Rows))
	f := strings.ToLower(filter)
	for _, r := range s.Rows {
		if f == "" || strings.Contains(strings.ToLower(r.Name), f) {
			rows = append(rows, r)
		}
	}
	if s.Fixed || len(s.Cols) == 0 {
		return rows
	}
	col, desc := s.Sort, s.Desc
	if ss.sortSet {
		col, desc = ss.sortCol, ss.desc
	}
	if col < 0 || col >= len(s.Cols) {
		return rows
	}
	text := s.Cols[col].Text
	slices.SortStableFunc(rows, func(a, b row) int {
		var c int
		if text {
			c = cmp.Compare(strings.ToLower(cellAt(a, col).Text), strings.ToLower(cellAt(b, col).Text))
		} else {
			c = cmpNum(cellAt(a, col).Num, cellAt(b, col).Num)
		}
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(a.Key, b.Key)
		}
		return c
	})
	return rows
}

func cellAt(r row, i int) cell {
	if i < len(r.Cells) {
		return r.Cells[i]
	}
	return cell{Num: math.NaN()}
}

// cmpNum orders numbers with NaN (unknown) lowest and +Inf highest.
func cmpNum(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	return cmp.Compare(a, b)
}

// layout is how a section's columns fit a width.
type layout struct {
	cols   []int // indexes of the shown columns
	widths []int // their widths
}

// gutter is the cursor mark's column.
const gutter = 2

// flexWant is the name column's width worth dropping other columns for.
const flexWant = 22

// fit chooses the columns that fit in w cells and their widths.
func fit(cols []column, rows, foot []row, w, sorted int) layout {
	natural := make([]int, len(cols))
	for i, c := range cols {
		natural[i] = max(c.Width, width(c.Title))
		for _, rs := range [][]row{rows, foot} {
			for _, r := range rs {
				natural[i] = max(natural[i], width(cellAt(r, i).Text))
			}
		}
		if i == sorted {
			natural[i] = max(natural[i], width(c.Title)+1) // room for ▲/▼
		}
	}
	shown := make([]bool, len(cols))
	for i, c := range cols {
		shown[i] = !c.Hide
	}
	need := func() int {
		t, k := gutter, 0
		for i, c := range cols {
			if !shown[i] {
				continue
			}
			if c.Flex {
				t += max(c.Width, min(natural[i], max(c.Width, flexWant)))
			} else {
				t += natural[i]
			}
			k++
		}
		return t + max(k-1, 0)
	}
	// Too wide: first cut the columns that have a cap, then drop.
	if need() > w {
		for i, c := range cols {
			if c.Max > 0 {
				natural[i] = min(natural[i], max(c.Max, width(c.Title)+1))
			}
		}
	}
	for need() > w {
		drop, prio := -1, 0
		for i, c := range cols {
			if shown[i] && c.Prio >= prio && c.Prio > 0 {
				drop, prio = i, c.Prio
			}
		}
		if drop < 0 {
			break
		}
		shown[drop] = false
	}
	var l layout
	used := gutter
	flex := -1
	for i, c := range cols {
		if !shown[i] {
			continue
		}
		if len(l.cols) > 0 {
			used++
		}
		l.cols = append(l.cols, i)
		l.widths = append(l.widths, natural[i])
		if c.Flex && flex < 0 {
			flex = len(l.cols) - 1
			used += 0
		} else {
			used += natural[i]
		}
	}
	if flex >= 0 {
		room := max(w-used, 1)
		l.widths[flex] = min(natural[l.cols[flex]], room)
	} else if used > w {
		// No flex column: shrink the widest one.
		wi := 0
		for i := range l.widths {
			if l.widths[i] > l.widths[wi] {
				wi = i
			}
		}
		l.widths[wi] = max(l.widths[wi]-(used-w), 1)
	}
	return l
}

// renderRow lays one row out on l (plain text; styles are applied by the
// caller). mark is the gutter's content.
func (l layout) renderRow(cols []column, r row, st *Styles, plain bool) string {
	var b strings.Builder
	for j, ci := range l.cols {
		if j > 0 {
			b.WriteByte(' ')
		}
		c := cellAt(r, ci)
		t := pad(c.Text, l.widths[j], cols[ci].Right)
		if !plain && c.Style != nil {
			t = c.Style.Render(t)
		}
		b.WriteString(t)
	}
	return b.String()
}

// sortCol is the column a section is sorted by (-1: none).
func (s *section) sortCol(ss *secState) int {
	switch {
	case s.Fixed:
		return -1
	case ss.sortSet:
		return ss.sortCol
	}
	return s.Sort
}

// renderHead is the column titles, the sorted one marked ▲/▼.
func (l layout) renderHead(s *section, ss *secState, st *Styles, w int) string {
	col, desc := s.Sort, s.Desc
	if ss.sortSet {
		col, desc = ss.sortCol, ss.desc
	}
	var b strings.Builder
	b.WriteString(st.ColHead.Render(strings.Repeat(" ", gutter)))
	used := gutter
	for j, ci := range l.cols {
		if j > 0 {
			b.WriteString(st.ColHead.Render(" "))
			used++
		}
		title := s.Cols[ci].Title
		sorted := !s.Fixed && ci == col
		if sorted {
			arrow := "▲"
			if desc {
				arrow = "▼"
			}
			title = truncate(title, l.widths[j]-1) + arrow
		}
		t := pad(title, l.widths[j], s.Cols[ci].Right)
		used += l.widths[j]
		if sorted {
			b.WriteString(st.SortHead.Render(t))
		} else {
			b.WriteString(st.ColHead.Render(t))
		}
	}
	if used < w {
		b.WriteString(st.ColHead.Render(strings.Repeat(" ", w-used)))
	}
	return b.String()
}
