package top

import (
	"fmt"
	"strings"

	"github.com/nsqkit/nsqkit/core/top/cluster"
)

// nodesView is every nsqd: version (mismatches flagged), health, status,
// lookupd registrations, topics, depth, memory, uptime.
type nodesView struct{}

func (nodesView) crumb() string { return "nodes" }

func (nodesView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	sec := section{ID: "nodes", Title: "NODES", Empty: "no nsqd found", Cols: []column{
		{Title: "NSQD", Width: 12, Flex: true, Text: true},
		{Title: "HOSTNAME", Width: 8, Text: true, Prio: 6},
		{Title: "VERSION", Width: 7, Text: true, Prio: 3, Max: 12},
		{Title: "STATUS", Width: 6, Text: true},
		{Title: "HEALTH", Width: 6, Text: true, Prio: 4},
		{Title: "LOOKUPD", Width: 7, Right: true, Prio: 5},
		{Title: "TOPICS", Width: 6, Right: true, Prio: 1},
		{Title: "DEPTH", Width: 5, Right: true},
		{Title: "IN/S", Width: 6, Right: true},
		{Title: "HEAP", Width: 6, Right: true, Prio: 7},
		{Title: "UPTIME", Width: 6, Right: true, Prio: 2},
		{Title: "TOMB", Width: 4, Right: true, Prio: 8},
	}}
	var failing []string
	for i := range d.st.Nodes {
		nd := &d.st.Nodes[i]
		sec.Rows = append(sec.Rows, d.nodeRow(nd))
		if nd.Status != cluster.NodeUp {
			seen := "never answered"
			if !nd.LastSeen.IsZero() {
				seen = "last seen " + dur(d.now.Sub(nd.LastSeen)) + " ago"
			}
			failing = append(failing, d.s.Down.Render("✗ ")+nd.Addr+" "+statusText(nd.Status)+" ("+seen+"): "+nd.Err)
		}
	}
	var info []string
	if len(d.st.LookupdErrors) > 0 {
		for _, e := range d.st.LookupdErrors {
			failing = append(failing, d.s.Down.Render("✗ ")+"lookupd "+e.Addr+": "+e.Err)
		}
	}
	info = append(info, failing...)
	return page{Info: info, Sections: []section{sec}}
}

func (d *data) nodeRow(nd *cluster.NodeState) row {
	ver := txt(nd.Version)
	if nd.VersionMismatch {
		ver = txt(nd.Version + "!").styled(&d.s.Warn)
	}
	health, topics, heap := txt(""), f("", -1), f("", -1)
	if nd.Snap != nil {
		health = txt(nd.Snap.Health)
		if nd.Snap.Health != "" && nd.Snap.Health != "OK" {
			health.Style = &d.s.Crit
		}
		topics = n(int64(nd.Snap.Totals.Topics))
		if nd.Snap.Memory != nil {
			heap = f(bytesize(nd.Snap.Memory.HeapInUseBytes), float64(nd.Snap.Memory.HeapInUseBytes))
		}
	}
	lk := f("", 0)
	if d.st != nil {
		lk = f(fmt.Sprintf("%d", len(nd.Lookupds)), float64(len(nd.Lookupds)))
		if len(nd.Lookupds) == 0 && len(d.st.Snap.Lookupds) > 0 {
			lk.Style = &d.s.Warn
		}
	}
	up := f("", 0)
	if nd.Uptime > 0 {
		up = f(dur(nd.Uptime), nd.Uptime.Seconds())
	}
	depth := d.depth(nd.Depth)
	if nd.Snap == nil {
		depth = f(dash, nanRate())
	}
	host := nd.Hostname
	if host == "" && nd.Snap != nil {
		host = nd.Snap.Hostname
	}
	return row{
		Key:  nd.Addr,
		Name: nd.Addr + " " + host,
		Dim:  nd.Status != cluster.NodeUp,
		Cells: []cell{
			txt(nd.Addr), txt(host), ver, d.statusCell(nd), health, lk, topics,
			depth, rateCell(nd.RateIn), heap, up,
			n(int64(len(nd.Tombstoned))),
		},
		Open: nodeView{addr: nd.Addr},
	}
}

// nodeView is one nsqd: its status, then its topics, channels and
// clients.
type nodeView struct{ addr string }

func (v nodeView) crumb() string { return v.addr }

func (v nodeView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	nd := d.node(v.addr)
	if nd == nil {
		return page{Info: []string{d.s.Warn.Render(fmt.Sprintf("nsqd %s is no longer in the cluster", v.addr))}}
	}
	lbl := d.s.Label.Render
	parts := []string{lbl("nsqd ") + d.s.Value.Render(nd.Addr), renderCell(d.statusCell(nd))}
	if nd.Hostname != "" {
		parts = append(parts, lbl("host ")+nd.Hostname)
	}
	if nd.Version != "" {
		ver := nd.Version
		if nd.VersionMismatch {
			ver = d.s.Warn.Render(ver + " (differs from the other nodes)")
		}
		parts = append(parts, lbl("version ")+ver)
	}
	if nd.Snap != nil {
		parts = append(parts, lbl("health ")+nd.Snap.Health, lbl("uptime ")+dur(nd.Uptime),
			lbl("depth ")+renderCell(d.depth(nd.Depth)), lbl("in ")+rate(nd.RateIn))
		if m := nd.Snap.Memory; m != nil {
			parts = append(parts, lbl("heap ")+bytesize(m.HeapInUseBytes), lbl("gc p99 ")+fmt.Sprintf("%dµs", m.GCPauseUsec99))
		}
		parts = append(parts, lbl("producers ")+fmt.Sprintf("%d", len(nd.Snap.Producers)))
	}
	lk := "none"
	if len(nd.Lookupds) > 0 {
		lk = strings.Join(nd.Lookupds, ", ")
	}
	parts = append(parts, lbl("lookupd ")+lk)
	if len(nd.Tombstoned) > 0 {
		parts = append(parts, lbl("tombstoned ")+d.s.Warn.Render(strings.Join(nd.Tombstoned, ", ")))
	}
	info := flow(parts, d.w)
	if nd.Status != cluster.NodeUp {
		seen := "never answered"
		if !nd.LastSeen.IsZero() {
			seen = "last seen " + dur(d.now.Sub(nd.LastSeen)) + " ago"
		}
		info = append(info, d.s.Down.Render("✗ "+seen+": "+nd.Err))
	}

	topics := section{ID: "topics", Title: "TOPICS", Empty: "no topics", Cols: []column{
		{Title: "TOPIC", Width: 12, Flex: true, Text: true},
		{Title: "P", Width: 1},
		{Title: "DEPTH", Width: 5, Right: true},
		{Title: "MEM + DISK", Width: 9, Right: true, Prio: 3},
		{Title: "MSGS", Width: 5, Right: true, Prio: 1},
		{Title: "IN/S", Width: 6, Right: true},
		{Title: "CH", Width: 2, Right: true, Prio: 2},
	}}
	chans := section{ID: "channels", Title: "CHANNELS", Cols: channelNodeCols(), Empty: "no channels"}
	if nd.Snap != nil && nd.Snap.Stats != nil {
		for _, ts := range nd.Snap.Stats.Topics {
			t := d.topic(ts.TopicName)
			r := nanRate()
			if t != nil {
				for _, nt := range t.Nodes {
					if nt.Snap.Node == v.addr {
						r = nt.RateIn
					}
				}
			}
			topics.Rows = append(topics.Rows, row{
				Key: ts.TopicName, Name: ts.TopicName, Dim: nd.Status != cluster.NodeUp,
				Cells: []cell{txt(ts.TopicName), d.paused(ts.Paused), d.depth(ts.Depth), memDiskCell(ts.Depth, ts.BackendDepth),
					n(ts.MessageCount), rateCell(r), n(int64(len(ts.Channels)))},
				Open: topicView{topic: ts.TopicName},
				Act:  &actTarget{Topic: ts.TopicName, Node: v.addr, Paused: t != nil && t.Snap.Paused},
			})
			for _, cs := range ts.Channels {
				out := nanRate()
				paused := cs.Paused
				if _, c := d.channel(ts.TopicName, cs.ChannelName); c != nil {
					paused = c.Snap.Paused
					for _, nc := range c.Nodes {
						if nc.Snap.Node == v.addr {
							out = nc.RateOut
						}
					}
				}
				name := ts.TopicName + "/" + cs.ChannelName
				chans.Rows = append(chans.Rows, row{
					Key: name, Name: name, Dim: nd.Status != cluster.NodeUp,
					Cells: []cell{txt(name), d.paused(cs.Paused), d.depth(cs.Depth), memDiskCell(cs.Depth, cs.BackendDepth),
						n(cs.InFlightCount), n(cs.DeferredCount), n(cs.RequeueCount), n(cs.TimeoutCount),
						n(cs.MessageCount), n(cs.ClientCount), rateCell(out)},
					Open: channelView{topic: ts.TopicName, channel: cs.ChannelName},
					Act:  &actTarget{Topic: ts.TopicName, Channel: cs.ChannelName, Paused: paused},
				})
			}
		}
	}
	clients := section{ID: "clients", Title: "CLIENTS", Cols: clientCols(true), Empty: "no client connected"}
	for _, r := range d.clients(v.addr) {
		clients.Rows = append(clients.Rows, d.clientRow(r, true))
	}
	return page{Info: info, Sections: []section{topics, chans, clients}}
}

// channelNodeCols are one node's channel columns (counts, not rates:
// what nsqadmin's node page shows).
func channelNodeCols() []column {
	return []column{
		{Title: "TOPIC/CHANNEL", Width: 12, Flex: true, Text: true},
		{Title: "P", Width: 1},
		{Title: "DEPTH", Width: 5, Right: true},
		{Title: "MEM + DISK", Width: 9, Right: true, Prio: 5},
		{Title: "IN-FLT", Width: 5, Right: true, Prio: 1},
		{Title: "DEFER", Width: 5, Right: true, Prio: 4},
		{Title: "REQ", Width: 3, Right: true, Prio: 3},
		{Title: "TMO", Width: 3, Right: true, Prio: 3},
		{Title: "MSGS", Width: 5, Right: true, Prio: 2},
		{Title: "CONNS", Width: 3, Right: true, Prio: 1},
		{Title: "OUT/S", Width: 6, Right: true},
	}
}
