package top

import (
	"fmt"
	"strings"
	"time"
)

// lookupView is what each nsqlookupd has registered: topics and their
// channels (those with no nsqd yet too), the producers, tombstones. Its
// data is fetched only while it is shown.
type lookupView struct{}

func (lookupView) crumb() string { return "lookup" }

func (lookupView) usesLookupds() {}

func (lookupView) build(d *data) page {
	if d.lkAt.IsZero() {
		if d.cfg != nil && len(d.cfg.Source.LookupdHTTPAddrs) == 0 {
			return page{Info: []string{d.s.Dim.Render("no --lookupd-http-address given: nsqtop reads the nsqd directly")}}
		}
		return page{Info: []string{d.s.Dim.Render("asking the lookupds…")}}
	}
	var info []string
	multi := len(d.lookupds) > 1
	regs := section{ID: "registrations", Title: "REGISTRATIONS", Empty: "no topics registered", Cols: []column{
		{Title: "TOPIC", Width: 12, Flex: true, Text: true},
		{Title: "CHANNELS", Width: 8, Text: true, Prio: 1, Max: 40},
		{Title: "NSQD", Width: 4, Right: true},
		{Title: "TOMBSTONED", Width: 10, Text: true, Prio: 2},
		{Title: "LOOKUPD", Width: 7, Text: true, Prio: 3},
	}}
	prods := section{ID: "producers", Title: "PRODUCERS", Empty: "no nsqd registered", Cols: []column{
		{Title: "NSQD (HTTP)", Width: 12, Flex: true, Text: true},
		{Title: "HOSTNAME", Width: 8, Text: true, Prio: 3},
		{Title: "TCP", Width: 5, Right: true, Prio: 4},
		{Title: "VERSION", Width: 7, Text: true, Prio: 2, Max: 12},
		{Title: "TOPICS", Width: 6, Right: true},
		{Title: "TOMBSTONED", Width: 10, Text: true, Prio: 1},
		{Title: "LOOKUPD", Width: 7, Text: true, Prio: 5},
	}}
	for _, l := range d.lookupds {
		line := d.s.Label.Render("lookupd ") + d.s.Value.Render(l.Addr)
		if l.Err != "" {
			line += "  " + d.s.Down.Render("✗ "+l.Err)
		} else {
			line += fmt.Sprintf("  %s, %s", plural(len(l.Topics), "topic"), plural(len(l.Producers), "nsqd"))
		}
		info = append(info, line)
		tomb := map[string][]string{}
		for _, p := range l.Producers {
			var ts []string
			for i, t := range p.Topics {
				if i < len(p.Tombstones) && p.Tombstones[i] {
					ts = append(ts, t)
					tomb[t] = append(tomb[t], p.HTTPAddress())
				}
			}
			key := l.Addr + "|" + p.HTTPAddress()
			prods.Rows = append(prods.Rows, row{
				Key: key, Name: p.HTTPAddress() + " " + p.Hostname,
				Dim: d.nodeDim(p.HTTPAddress()),
				Cells: []cell{txt(p.HTTPAddress()), txt(p.Hostname), f(fmt.Sprintf("%d", p.TCPPort), float64(p.TCPPort)), txt(p.Version),
					n(int64(len(p.Topics))), txt(strings.Join(ts, ",")).styled(&d.s.Warn), txt(l.Addr)},
				Open: nodeView{addr: p.HTTPAddress()},
			})
		}
		for _, t := range l.Topics {
			np := f(fmt.Sprintf("%d", len(t.Producers)), float64(len(t.Producers)))
			if len(t.Producers) == 0 {
				np = f("none", 0).styled(&d.s.Warn)
			}
			chs := strings.Join(t.Channels, ",")
			regs.Rows = append(regs.Rows, row{
				Key: l.Addr + "|" + t.Name, Name: t.Name + " " + chs,
				Cells: []cell{txt(t.Name), txt(chs), np, txt(strings.Join(tomb[t.Name], ",")).styled(&d.s.Warn), txt(l.Addr)},
				Open:  topicView{topic: t.Name},
				Act:   &actTarget{Topic: t.Name, Paused: d.topic(t.Name) != nil && d.topic(t.Name).Snap.Paused},
			})
		}
	}
	if !multi {
		regs.Cols[4].Hide, prods.Cols[6].Hide = true, true
	}
	age := "fetched " + dur(d.now.Sub(d.lkAt).Truncate(time.Second)) + " ago"
	if d.lkBusy {
		age += ", refreshing…"
	}
	info = append(info, d.s.Dim.Render(age))
	return page{Info: info, Sections: []section{regs, prods}}
}
