package top

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// topicView is one topic: a row per nsqd with a total (nsqadmin's "Topic
// Message Queue") and its channels summed over the nodes.
type topicView struct{ topic string }

func (v topicView) crumb() string { return v.topic }

func (topicView) defaultFocus() int { return 1 }

func (v topicView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	t := d.topic(v.topic)
	if t == nil {
		return page{Info: []string{d.s.Warn.Render(fmt.Sprintf("topic %q is on no nsqd (deleted, or registered on lookupd only: see 5 lookup)", v.topic))}}
	}
	ts := t.Snap
	var chDepth int64
	for _, c := range ts.Channels {
		chDepth += c.Depth
	}
	parts := []string{d.s.Label.Render("topic ") + d.s.Value.Render(ts.Name)}
	if ts.Paused {
		parts = append(parts, d.s.Paused.Render("PAUSED"))
	}
	if ts.Ephemeral {
		parts = append(parts, d.s.Dim.Render("ephemeral"))
	}
	parts = append(parts,
		d.s.Label.Render("in ")+rate(t.RateIn)+" "+spark(d, t.RateHist, 10),
		d.s.Label.Render("backlog ")+renderCell(d.depth(chDepth))+" "+spark(d, t.DepthHist, 10),
		d.s.Label.Render("slowest ETA ")+renderCell(d.etaCell(t.SlowestETA, chDepth)))

	q := topQuantile()
	for _, nt := range ts.Nodes {
		q = max(q, topQuantile(nt.E2eProcessingLatency))
	}
	nodeCols := []column{
		{Title: "NSQD", Width: 12, Flex: true, Text: true},
		{Title: "P", Width: 1},
		{Title: "DEPTH", Width: 5, Right: true},
		{Title: "MEM + DISK", Width: 9, Right: true, Prio: 3},
		{Title: "MSGS", Width: 5, Right: true, Prio: 1},
		{Title: "IN/S", Width: 6, Right: true},
		{Title: "CH", Width: 2, Right: true, Prio: 2},
		{Title: "TOMB", Width: 4, Prio: 4},
	}
	if q > 0 {
		nodeCols = append(nodeCols, column{Title: quantileTitle(q), Width: 7, Right: true, Prio: 5})
	}
	nodes := section{ID: "nodes", Title: "NODES", Cols: nodeCols, Empty: "on no node"}
	for i := range t.Nodes {
		nt := t.Nodes[i].Snap
		tomb := ""
		if ns := d.node(nt.Node); ns != nil && slices.Contains(ns.Tombstoned, ts.Name) {
			tomb = "yes"
		}
		cells := []cell{
			txt(nt.Node), d.paused(nt.Paused), d.depth(nt.Depth), memDiskCell(nt.Depth, nt.BackendDepth),
			n(nt.MessageCount), rateCell(t.Nodes[i].RateIn), n(int64(nt.ChannelCount)), txt(tomb).styled(&d.s.Warn),
		}
		if q > 0 {
			l := latencyQ(nt.E2eProcessingLatency, q)
			cells = append(cells, f(nanos(l), l))
		}
		nodes.Rows = append(nodes.Rows, row{
			Key: nt.Node, Name: nt.Node, Cells: cells, Dim: d.nodeDim(nt.Node),
			Open: nodeView{addr: nt.Node},
			Act:  &actTarget{Topic: ts.Name, Node: nt.Node, Paused: ts.Paused},
		})
	}
	total := []cell{
		txt(fmt.Sprintf("total (%s)", plural(len(ts.Nodes), "node"))), d.paused(ts.Paused), d.depth(ts.Depth),
		memDiskCell(ts.Depth, ts.BackendDepth), n(ts.MessageCount), rateCell(t.RateIn), n(int64(len(ts.Channels))), txt(""),
	}
	if q > 0 {
		total = append(total, txt(""))
	}
	nodes.Foot = []row{{Key: "total", Cells: total}}

	chans := section{ID: "channels", Title: "CHANNELS", Cols: d.channelCols("CHANNEL"), Empty: "no channels"}
	for j := range t.Channels {
		c := &t.Channels[j]
		chans.Rows = append(chans.Rows, d.channelRow(ts.Name, c, c.Snap.Name))
	}
	return page{Info: flow(parts, d.w), Sections: []section{nodes, chans}}
}

// e2eSummary lists a latency's percentiles ("p50 968ms p99 974ms"), ""
// when it has none.
func e2eSummary(l lookup.Latency) string {
	var parts []string
	for _, p := range l.Percentiles {
		parts = append(parts, fmt.Sprintf("p%g %s", p.Quantile*100, nanos(p.Value)))
	}
	return strings.Join(parts, " ")
}
