package top

import "fmt"

// channelView is one channel: a row per nsqd with a total, and its client
// connections.
type channelView struct{ topic, channel string }

func (v channelView) crumb() string { return v.channel }

func (channelView) defaultFocus() int { return 1 }

func (v channelView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	t, c := d.channel(v.topic, v.channel)
	if c == nil {
		return page{Info: []string{d.s.Warn.Render(fmt.Sprintf("channel %s/%s is on no nsqd (deleted?)", v.topic, v.channel))}}
	}
	s := c.Snap
	parts := []string{d.s.Label.Render("channel ") + d.s.Value.Render(t.Snap.Name+"/"+s.Name)}
	if s.Paused {
		parts = append(parts, d.s.Paused.Render("PAUSED"))
	}
	parts = append(parts,
		d.s.Label.Render("out ")+rate(c.RateOut)+" "+spark(d, c.RateHist, 10),
		d.s.Label.Render("depth ")+renderCell(d.depth(s.Depth))+" "+spark(d, c.DepthHist, 10),
		d.s.Label.Render("lag ")+renderCell(d.lagCell(c.Lag)),
		d.s.Label.Render("ETA ")+renderCell(d.etaCell(c.ETA, s.Depth)))
	for _, nc := range s.Nodes {
		if sum := e2eSummary(nc.E2eProcessingLatency); sum != "" && nc.E2eProcessingLatency.Count > 0 {
			parts = append(parts, d.s.Label.Render("e2e ")+nc.Node+" "+sum)
		}
	}
	lines := flow(parts, d.w)

	nodes := section{ID: "nodes", Title: "NODES", Empty: "on no node", Cols: []column{
		{Title: "NSQD", Width: 12, Flex: true, Text: true},
		{Title: "P", Width: 1},
		{Title: "DEPTH", Width: 5, Right: true},
		{Title: "MEM + DISK", Width: 9, Right: true, Prio: 5},
		{Title: "IN-FLT", Width: 5, Right: true, Prio: 1},
		{Title: "DEFER", Width: 5, Right: true, Prio: 4},
		{Title: "REQ", Width: 5, Right: true, Prio: 3},
		{Title: "TMO", Width: 5, Right: true, Prio: 3},
		{Title: "MSGS", Width: 5, Right: true, Prio: 2},
		{Title: "OUT/S", Width: 6, Right: true},
		{Title: "CONNS", Width: 3, Right: true, Prio: 1},
	}}
	for i := range c.Nodes {
		nc := c.Nodes[i].Snap
		nodes.Rows = append(nodes.Rows, row{
			Key: nc.Node, Name: nc.Node, Dim: d.nodeDim(nc.Node),
			Cells: []cell{
				txt(nc.Node), d.paused(nc.Paused), d.depth(nc.Depth), memDiskCell(nc.Depth, nc.BackendDepth),
				n(nc.InFlightCount), n(nc.DeferredCount), n(nc.RequeueCount), n(nc.TimeoutCount),
				n(nc.MessageCount), rateCell(c.Nodes[i].RateOut), n(nc.ClientCount),
			},
			Open: nodeView{addr: nc.Node},
			Act:  &actTarget{Topic: v.topic, Channel: v.channel, Paused: s.Paused},
		})
	}
	nodes.Foot = []row{{Key: "total", Cells: []cell{
		txt(fmt.Sprintf("total (%s)", plural(len(s.Nodes), "node"))), d.paused(s.Paused), d.depth(s.Depth),
		memDiskCell(s.Depth, s.BackendDepth), n(s.InFlightCount), n(s.DeferredCount), n(s.RequeueCount),
		n(s.TimeoutCount), n(s.MessageCount), rateCell(c.RateOut), n(s.ClientCount),
	}}}

	clients := section{ID: "clients", Title: "CLIENTS", Empty: "no client connected", Cols: clientCols(false)}
	for i := range c.Clients {
		clients.Rows = append(clients.Rows, d.clientRow(clientRef{Topic: v.topic, Channel: v.channel, C: &c.Clients[i]}, false))
	}
	return page{Info: lines, Sections: []section{nodes, clients}}
}

// clientCols are the columns of a consumer connection; withChannel adds
// its topic/channel (the all-clients and node views).
func clientCols(withChannel bool) []column {
	cols := []column{{Title: "CLIENT HOST", Width: 10, Flex: true, Text: true}}
	if withChannel {
		cols = append(cols, column{Title: "TOPIC/CHANNEL", Width: 13, Text: true, Prio: 1})
	}
	return append(cols,
		column{Title: "USER-AGENT", Width: 10, Text: true, Prio: 6, Max: 28},
		column{Title: "ATTRS", Width: 5, Text: true, Prio: 7},
		column{Title: "NSQD", Width: 9, Text: true, Prio: 4},
		column{Title: "RDY", Width: 3, Right: true},
		column{Title: "IN-FLT", Width: 5, Right: true},
		column{Title: "FIN/S", Width: 5, Right: true},
		column{Title: "REQ", Width: 3, Right: true, Prio: 3},
		column{Title: "MSGS", Width: 5, Right: true, Prio: 2},
		column{Title: "CONNECTED", Width: 6, Right: true, Prio: 5},
	)
}

// clientRow is one consumer connection.
func (d *data) clientRow(r clientRef, withChannel bool) row {
	c := r.C
	s := c.Snap
	cells := []cell{txt(clientHost(s))}
	if withChannel {
		cells = append(cells, txt(r.Topic+"/"+r.Channel))
	}
	cells = append(cells,
		txt(s.UserAgent), txt(attrs(c)), txt(s.Node),
		n(s.ReadyCount), n(s.InFlightCount), rateCell(c.FinishRate), n(s.RequeueCount), n(s.MessageCount),
		f(dur(c.ConnectedFor), c.ConnectedFor.Seconds()),
	)
	return row{
		Key:   r.key(),
		Name:  clientHost(s) + " " + s.ClientID + " " + s.RemoteAddress + " " + r.Topic + "/" + r.Channel,
		Cells: cells,
		Dim:   d.nodeDim(s.Node),
		Open:  clientView{key: r.key()},
		Act:   &actTarget{Topic: r.Topic, Channel: r.Channel, Paused: d.channelPaused(r.Topic, r.Channel)},
	}
}

// channelPaused tells whether a channel is paused on some node.
func (d *data) channelPaused(topic, channel string) bool {
	_, c := d.channel(topic, channel)
	return c != nil && c.Snap.Paused
}
