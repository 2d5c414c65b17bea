package top

import "github.com/nsqkit/nsqkit/core/top/cluster"

// channelsView is every channel of the cluster in one list: sorted by
// ETA or lag it answers "which consumer is behind".
type channelsView struct{}

func (channelsView) crumb() string { return "channels" }

// channelCols are the columns of a channel summed over nodes; first is
// the name column's title.
func (d *data) channelCols(first string) []column {
	return []column{
		{Title: first, Width: 12, Flex: true, Text: true},
		{Title: "P", Width: 1},
		{Title: "DEPTH", Width: 5, Right: true},
		{Title: "MEM + DISK", Width: 9, Right: true, Prio: 6},
		{Title: "IN-FLT", Width: 5, Right: true, Prio: 2},
		{Title: "DEFER", Width: 5, Right: true, Prio: 5},
		{Title: "REQ/S", Width: 5, Right: true, Prio: 4},
		{Title: "TMO/S", Width: 5, Right: true, Prio: 4},
		{Title: "MSGS", Width: 5, Right: true, Prio: 3},
		{Title: "CONNS", Width: 3, Right: true, Prio: 1},
		{Title: "OUT/S", Width: 6, Right: true},
		{Title: "TREND", Width: d.trendW(), Prio: 7},
		{Title: "LAG", Width: 6, Right: true},
		{Title: "ETA", Width: 4, Right: true},
	}
}

// channelRow is one channel summed over nodes.
func (d *data) channelRow(topic string, cs *cluster.ChannelState, name string) row {
	s := cs.Snap
	return row{
		Key:  topic + "/" + s.Name,
		Name: name,
		Cells: []cell{
			txt(name),
			d.paused(s.Paused),
			d.depth(s.Depth),
			memDiskCell(s.Depth, s.BackendDepth),
			n(s.InFlightCount),
			n(s.DeferredCount),
			rateCell(cs.RequeueRate),
			rateCell(cs.TimeoutRate),
			n(s.MessageCount),
			n(s.ClientCount),
			rateCell(cs.RateOut),
			{Text: sparkline(cs.RateHist, d.trendW()), Num: lastOr(cs.RateHist), Style: &d.s.Spark},
			d.lagCell(cs.Lag),
			d.etaCell(cs.ETA, s.Depth),
		},
		Open: channelView{topic: topic, channel: s.Name},
		Act:  &actTarget{Topic: topic, Channel: s.Name, Paused: s.Paused},
	}
}

func (channelsView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	sec := section{ID: "channels", Title: "CHANNELS", Cols: d.channelCols("TOPIC/CHANNEL"),
		Sort: 2, Desc: true, Empty: "no channels"}
	for i := range d.st.Topics {
		t := &d.st.Topics[i]
		for j := range t.Channels {
			c := &t.Channels[j]
			sec.Rows = append(sec.Rows, d.channelRow(t.Snap.Name, c, t.Snap.Name+"/"+c.Snap.Name))
		}
	}
	return page{Sections: []section{sec}}
}
