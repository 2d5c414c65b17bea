package top

import (
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// ColorMode is how nsqtop styles its output.
type ColorMode int

const (
	// Plain renders no escape codes at all (tests, golden files).
	Plain ColorMode = iota
	// Mono uses attributes only (bold, faint, reverse): a terminal with
	// NO_COLOR set.
	Mono
	// Color uses colours as the terminal supports them.
	Color
)

// Styles are every lipgloss style nsqtop uses; nothing else in the
// package makes a style.
type Styles struct {
	mode ColorMode

	Title     lipgloss.Style // the "nsqtop" tag in the header
	Label     lipgloss.Style // header labels
	Value     lipgloss.Style // header values
	Spark     lipgloss.Style // sparklines
	Up        lipgloss.Style // nodes up
	StaleNode lipgloss.Style // nodes stale (and their greyed rows)
	Down      lipgloss.Style // nodes down, errors
	Section   lipgloss.Style // a section title ("CHANNELS")
	ColHead   lipgloss.Style // column titles
	SortHead  lipgloss.Style // the sorted column's title
	Selected  lipgloss.Style // the cursor row
	Inactive  lipgloss.Style // the cursor row of a section without focus
	Total     lipgloss.Style // total rows
	Paused    lipgloss.Style // "paused" marks
	Warn      lipgloss.Style // depth past --warn-depth, version mismatch
	Crit      lipgloss.Style // depth past --crit-depth, growing lag
	Good      lipgloss.Style // draining
	Dim       lipgloss.Style // secondary text
	Crumb     lipgloss.Style // the breadcrumb in the status line
	Status    lipgloss.Style // the status line
	Hint      lipgloss.Style // key hints
	Error     lipgloss.Style // status messages that report a failure
	OK        lipgloss.Style // status messages that report success
	Dialog    lipgloss.Style // the confirm dialog's box
	DialogHd  lipgloss.Style // its title
	HelpKey   lipgloss.Style // keys in the help overlay
	HelpDesc  lipgloss.Style // their descriptions
	Frozen    lipgloss.Style // the FROZEN mark
	Input     lipgloss.Style // the filter / create prompt
}

// NewStyles builds the styles for mode, rendering through a renderer that
// writes to w (its colour profile is fixed by mode: Plain never emits an
// escape code, whatever w is).
func NewStyles(mode ColorMode, w io.Writer) *Styles {
	r := lipgloss.NewRenderer(w)
	// nsqtop's colours do not adapt to the background: say so, or the first
	// adaptive style would query the terminal (OSC 11), and a terminal that
	// never answers stalls the first frame for seconds.
	r.SetHasDarkBackground(true)
	switch mode {
	case Plain:
		r.SetColorProfile(termenv.Ascii)
	case Mono:
		r.SetColorProfile(termenv.ANSI)
	default:
		if r.ColorProfile() == termenv.Ascii {
			r.SetColorProfile(termenv.ANSI)
		}
	}
	s := &Styles{mode: mode}
	n := r.NewStyle
	s.Title = n().Bold(true).Reverse(true)
	s.Label = n().Faint(true)
	s.Value = n().Bold(true)
	s.Spark = n()
	s.Up = n().Bold(true)
	s.StaleNode = n().Faint(true)
	s.Down = n().Bold(true)
	s.Section = n().Bold(true).Underline(true)
	s.ColHead = n().Bold(true)
	s.SortHead = n().Bold(true).Underline(true)
	s.Selected = n().Reverse(true)
	s.Inactive = n().Underline(true)
	s.Total = n().Bold(true)
	s.Paused = n().Bold(true)
	s.Warn = n().Bold(true)
	s.Crit = n().Bold(true).Reverse(true)
	s.Good = n()
	s.Dim = n().Faint(true)
	s.Crumb = n().Bold(true)
	s.Status = n()
	s.Hint = n().Faint(true)
	s.Error = n().Bold(true)
	s.OK = n().Bold(true)
	s.Dialog = n().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	s.DialogHd = n().Bold(true)
	s.HelpKey = n().Bold(true)
	s.HelpDesc = n()
	s.Frozen = n().Bold(true).Reverse(true)
	s.Input = n().Bold(true)
	if mode == Color {
		cyan, green, yellow, red, grey, magenta, blue := lipgloss.Color("6"), lipgloss.Color("2"),
			lipgloss.Color("3"), lipgloss.Color("1"), lipgloss.Color("8"), lipgloss.Color("5"), lipgloss.Color("4")
		s.Title = n().Bold(true).Foreground(lipgloss.Color("0")).Background(cyan)
		s.Label = n().Foreground(cyan)
		s.Spark = n().Foreground(green)
		s.Up = n().Bold(true).Foreground(green)
		s.StaleNode = n().Foreground(grey)
		s.Down = n().Bold(true).Foreground(red)
		s.Section = n().Bold(true).Foreground(blue)
		s.ColHead = n().Bold(true).Foreground(lipgloss.Color("0")).Background(green)
		s.SortHead = n().Bold(true).Foreground(lipgloss.Color("0")).Background(cyan)
		s.Selected = n().Foreground(lipgloss.Color("0")).Background(cyan)
		s.Inactive = n().Background(lipgloss.Color("8"))
		s.Paused = n().Bold(true).Foreground(magenta)
		s.Warn = n().Foreground(yellow)
		s.Crit = n().Bold(true).Foreground(red)
		s.Good = n().Foreground(green)
		s.Dim = n().Foreground(grey)
		s.Crumb = n().Bold(true).Foreground(cyan)
		s.Hint = n().Foreground(grey)
		s.Error = n().Bold(true).Foreground(red)
		s.OK = n().Foreground(green)
		s.Dialog = n().Border(lipgloss.RoundedBorder()).BorderForeground(yellow).Padding(0, 1)
		s.DialogHd = n().Bold(true).Foreground(yellow)
		s.HelpKey = n().Bold(true).Foreground(cyan)
		s.Frozen = n().Bold(true).Foreground(lipgloss.Color("0")).Background(yellow)
		s.Input = n().Bold(true).Foreground(yellow)
	}
	return s
}
