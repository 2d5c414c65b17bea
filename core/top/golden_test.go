package top

import (
	"context"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// TestGolden renders every view of the fixture cluster (after six polls
// with traffic, so rates, lag, ETAs and sparklines are filled) at 80×24
// and 160×48, driven by key messages, and compares the frames with
// testdata/*.golden.
func TestGolden(t *testing.T) {
	fx := newFixture(t)
	fx.traffic()
	st := fx.polls(t, 6)
	lk := fx.p.PollLookupds(context.Background())

	cases := []struct {
		name string
		keys []string
	}{
		{"topics", nil},
		{"channels", []string{"2"}},
		{"channels-by-eta", []string{"2", "<", "<"}},
		{"nodes", []string{"3"}},
		{"clients", []string{"4"}},
		{"lookup", []string{"5"}},
		{"topic", []string{"j", "j", "enter"}},                      // orders
		{"channel", []string{"j", "j", "enter", "j", "j", "enter"}}, // orders/billing
		{"node", []string{"3", "enter"}},
		{"client", []string{"4", "enter"}},
		{"help", []string{"?"}},
		{"confirm-pause", []string{"j", "j", "enter", "j", "j", "p"}},
		{"confirm-delete-topic", []string{"j", "j", "d"}},
		{"confirm-tombstone", []string{"j", "j", "enter", "k", "t"}},
		{"filter", []string{"/", "type:ord"}},
		{"create-prompt", []string{"j", "j", "enter", "c", "type:new"}},
	}
	for _, sz := range sizes {
		for _, c := range cases {
			t.Run(c.name+"/"+sizeName(sz), func(t *testing.T) {
				m := fx.newModel(false)
				send(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}, pollMsg{st: st})
				press(m, c.keys...)
				send(m, lookupdMsg{ls: lk, at: fx.clock.Now()})
				frame := m.View()
				checkFrame(t, frame, sz[0], sz[1])
				golden(t, c.name+"-"+sizeName(sz), fx.fake(frame))
			})
		}
	}
}
