package top

import "math"

// topicsView is the home view: every topic of the cluster.
type topicsView struct{}

func (topicsView) crumb() string { return "topics" }

func (topicsView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	sec := section{
		ID: "topics", Title: "TOPICS",
		Cols: []column{
			{Title: "TOPIC", Width: 12, Flex: true, Text: true},
			{Title: "P", Width: 1},
			{Title: "DEPTH", Width: 5, Right: true},
			{Title: "MEM + DISK", Width: 9, Right: true, Prio: 3},
			{Title: "MSGS", Width: 5, Right: true, Prio: 2},
			{Title: "IN/S", Width: 6, Right: true},
			{Title: "TREND", Width: d.trendW(), Prio: 6},
			{Title: "CH", Width: 2, Right: true, Prio: 1},
			{Title: "BACKLOG", Width: 5, Right: true, Prio: 4},
			{Title: "IN-FLT", Width: 5, Right: true, Prio: 5},
			{Title: "CLIENTS", Width: 4, Right: true, Prio: 5},
			{Title: "NODES", Width: 4, Right: true, Prio: 7},
			{Title: "ETA", Width: 4, Right: true},
		},
		Empty: "no topics",
	}
	for i := range d.st.Topics {
		t := &d.st.Topics[i]
		ts := t.Snap
		var chDepth int64
		for _, c := range ts.Channels {
			chDepth += c.Depth
		}
		sec.Rows = append(sec.Rows, row{
			Key:  ts.Name,
			Name: ts.Name,
			Cells: []cell{
				txt(ts.Name),
				d.paused(ts.Paused),
				d.depth(ts.Depth),
				memDiskCell(ts.Depth, ts.BackendDepth),
				n(ts.MessageCount),
				rateCell(t.RateIn),
				{Text: sparkline(t.RateHist, d.trendW()), Num: lastOr(t.RateHist), Style: &d.s.Spark},
				n(int64(len(ts.Channels))),
				d.depth(chDepth),
				n(ts.InFlightCount),
				n(ts.ClientCount),
				n(int64(len(ts.Nodes))),
				d.etaCell(t.SlowestETA, chDepth),
			},
			Open: topicView{topic: ts.Name},
			Act:  &actTarget{Topic: ts.Name, Paused: ts.Paused},
		})
	}
	return page{Sections: []section{sec}}
}

// lastOr is the newest value of a history (NaN if empty).
func lastOr(h []float64) float64 {
	if len(h) == 0 {
		return math.NaN()
	}
	return h[len(h)-1]
}
