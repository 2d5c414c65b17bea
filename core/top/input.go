package top

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// lineInput is a one-line text field (the filter and the create prompt):
// runes, backspace, ctrl+w (word), ctrl+u (all). It draws a block cursor
// at the end, without blinking, so frames stay deterministic.
type lineInput struct {
	prompt string
	value  []rune
}

// update applies a key; it reports whether the key was taken.
func (in *lineInput) update(k tea.KeyMsg) bool {
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		in.value = append(in.value, k.Runes...)
		if k.Type == tea.KeySpace && len(k.Runes) == 0 {
			in.value = append(in.value, ' ')
		}
	case tea.KeyBackspace:
		if len(in.value) > 0 {
			in.value = in.value[:len(in.value)-1]
		}
	case tea.KeyCtrlW:
		s := strings.TrimRight(string(in.value), " ")
		i := strings.LastIndexAny(s, " /")
		in.value = []rune(s[:i+1])
	case tea.KeyCtrlU:
		in.value = nil
	default:
		return false
	}
	return true
}

func (in *lineInput) set(s string)   { in.value = []rune(s) }
func (in *lineInput) String() string { return string(in.value) }

// view renders the prompt, the value and the cursor in w cells (the
// value's start is cut when it is too long).
func (in *lineInput) view(s *Styles, w int) string {
	v := string(in.value)
	room := w - width(in.prompt) - 1
	for room > 0 && width(v) > room {
		r := []rune(v)
		v = string(r[1:])
	}
	return s.Input.Render(in.prompt) + v + s.Selected.Render(" ")
}
