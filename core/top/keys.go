package top

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// keyMap is every key nsqtop answers to; the help overlay and the
// footer's hints are generated from it, so a binding documents itself.
type keyMap struct {
	Up, Down, PageUp, PageDown, Home, End key.Binding
	Enter, Back, NextSection              key.Binding

	Topics, Channels, Nodes, Clients, Lookup key.Binding

	Filter, SortLeft, SortRight, Invert key.Binding

	Freeze, Slower, Faster, Refresh, Help, Quit key.Binding

	Pause, Empty, Delete, Create, Tombstone key.Binding

	Confirm, Cancel key.Binding
}

// helpGroup is one column of the help overlay.
type helpGroup struct {
	Title    string
	Bindings []key.Binding
}

func newKeyMap(readOnly bool) keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	km := keyMap{
		Up:          b([]string{"up", "k"}, "↑/k", "move up"),
		Down:        b([]string{"down", "j"}, "↓/j", "move down"),
		PageUp:      b([]string{"pgup", "ctrl+b", "ctrl+u"}, "pgup", "page up"),
		PageDown:    b([]string{"pgdown", "ctrl+f", "ctrl+d"}, "pgdn", "page down"),
		Home:        b([]string{"home", "g"}, "home/g", "first row"),
		End:         b([]string{"end", "G"}, "end/G", "last row"),
		Enter:       b([]string{"enter", "right", "l"}, "enter", "open (drill down)"),
		Back:        b([]string{"esc", "backspace", "left", "h"}, "esc/bksp", "back up"),
		NextSection: b([]string{"tab", "shift+tab"}, "tab", "next table of the view"),

		Topics:   b([]string{"1"}, "1", "topics (home)"),
		Channels: b([]string{"2"}, "2", "all channels"),
		Nodes:    b([]string{"3"}, "3", "nodes (nsqd)"),
		Clients:  b([]string{"4"}, "4", "all clients"),
		Lookup:   b([]string{"5"}, "5", "lookupd registrations"),

		Filter:    b([]string{"/"}, "/", "filter rows by name"),
		SortLeft:  b([]string{"<", ","}, "<", "sort by column to the left"),
		SortRight: b([]string{">", "."}, ">", "sort by column to the right"),
		Invert:    b([]string{"I"}, "I", "invert the sort order"),

		Freeze:  b([]string{" "}, "space", "freeze/unfreeze the display"),
		Slower:  b([]string{"+", "="}, "+", "longer poll interval"),
		Faster:  b([]string{"-", "_"}, "-", "shorter poll interval"),
		Refresh: b([]string{"r", "ctrl+r"}, "r", "poll now"),
		Help:    b([]string{"?", "f1"}, "?", "this help"),
		Quit:    b([]string{"q", "ctrl+c"}, "q", "quit"),

		Pause:     b([]string{"p"}, "p", "pause/unpause topic or channel"),
		Empty:     b([]string{"e"}, "e", "empty topic or channel"),
		Delete:    b([]string{"d", "delete"}, "d/del", "delete topic or channel"),
		Create:    b([]string{"c"}, "c", "create topic or topic/channel"),
		Tombstone: b([]string{"t"}, "t", "tombstone topic on the node row"),

		Confirm: b([]string{"y", "Y", "enter"}, "y/enter", "do it"),
		Cancel:  b([]string{"n", "N", "esc", "q"}, "n/esc", "cancel"),
	}
	if readOnly {
		for _, a := range km.actions() {
			a.SetEnabled(false)
		}
	}
	return km
}

// actions are the bindings that change the cluster (off with --read-only).
func (k *keyMap) actions() []*key.Binding {
	return []*key.Binding{&k.Pause, &k.Empty, &k.Delete, &k.Create, &k.Tombstone}
}

// isAction reports whether msg is one of the action keys, enabled or not:
// a --read-only nsqtop answers those with a refusal.
func (k *keyMap) isAction(s string) bool {
	for _, a := range k.actions() {
		for _, kk := range a.Keys() {
			if kk == s {
				return true
			}
		}
	}
	return false
}

// groups is the help overlay's content: only enabled bindings.
func (k *keyMap) groups() []helpGroup {
	gs := []helpGroup{
		{"Move", []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End, k.Enter, k.Back, k.NextSection}},
		{"Views", []key.Binding{k.Topics, k.Channels, k.Nodes, k.Clients, k.Lookup}},
		{"Sort & filter", []key.Binding{k.Filter, k.SortLeft, k.SortRight, k.Invert}},
		{"Display", []key.Binding{k.Freeze, k.Slower, k.Faster, k.Refresh, k.Help, k.Quit}},
		{"Actions (confirmed first)", []key.Binding{k.Pause, k.Empty, k.Delete, k.Create, k.Tombstone}},
	}
	out := gs[:0]
	for _, g := range gs {
		var bs []key.Binding
		for _, b := range g.Bindings {
			if b.Enabled() {
				bs = append(bs, b)
			}
		}
		if len(bs) > 0 {
			out = append(out, helpGroup{g.Title, bs})
		}
	}
	return out
}

// hint is the footer's short key reminder: keys and one-word labels.
func (k *keyMap) hint() [][2]string {
	return [][2]string{
		{k.Help.Help().Key, "help"}, {k.Enter.Help().Key, "open"}, {"esc", "back"},
		{"1-5", "views"}, {k.Filter.Help().Key, "filter"}, {"< >", "sort"},
		{k.Freeze.Help().Key, "freeze"}, {"+/-", "interval"}, {k.Quit.Help().Key, "quit"},
	}
}

// HelpText is the keymap as plain text for --help: one line per binding,
// grouped like the overlay.
func HelpText(readOnly bool) string {
	km := newKeyMap(readOnly)
	var b strings.Builder
	for _, g := range km.groups() {
		b.WriteString("  " + g.Title + "\n")
		for _, kb := range g.Bindings {
			h := kb.Help()
			b.WriteString("    " + pad(h.Key, 10, false) + h.Desc + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
