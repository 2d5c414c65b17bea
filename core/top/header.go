package top

import (
	"fmt"
	"strings"
)

// header is the cluster summary above every view: nodes up/stale/down,
// totals, msgs/s in and out with sparklines, and nsqadmin's counter of
// processed messages. Two lines; three when the terminal is large.
func header(d *data, w, h int) []string {
	s := d.s
	title := s.Title.Render(" nsqtop ")
	if d.st == nil {
		return []string{title + " " + s.Dim.Render("connecting…"), ""}
	}
	st := d.st
	c := &st.Cluster
	tot := &c.Totals
	lbl := func(t string) string { return s.Label.Render(t) }
	val := func(t string) string { return s.Value.Render(t) }

	nodes := lbl("nodes ") + s.Up.Render(fmt.Sprintf("%d up", c.NodesUp))
	if c.NodesStale > 0 {
		nodes += " " + s.Warn.Render(fmt.Sprintf("%d stale", c.NodesStale))
	}
	if c.NodesDown > 0 {
		nodes += " " + s.Down.Render(fmt.Sprintf("%d down", c.NodesDown))
	}
	parts1 := []string{title, nodes,
		lbl("topics ") + val(num(int64(tot.Topics))),
		lbl("channels ") + val(num(int64(tot.Channels))),
		lbl("clients ") + val(num(tot.ClientCount)),
	}
	if w >= 120 {
		parts1 = append(parts1,
			lbl("producers ")+val(num(tot.ProducerCount)),
			lbl("lookupds ")+val(fmt.Sprintf("%d", len(st.Snap.Lookupds))))
	}
	if tot.PausedTopics+tot.PausedChannels > 0 {
		parts1 = append(parts1, s.Paused.Render(fmt.Sprintf("%d paused", tot.PausedTopics+tot.PausedChannels)))
	}
	if len(st.LookupdErrors) > 0 {
		parts1 = append(parts1, s.Down.Render(fmt.Sprintf("%d lookupd failed", len(st.LookupdErrors))))
	}

	spark := 8
	switch {
	case w >= 200:
		spark = 30
	case w >= 140:
		spark = 20
	case w >= 100:
		spark = 12
	}
	backlog := tot.Depth + tot.ChannelDepth
	parts2 := []string{
		lbl("in ") + val(pad(rate(c.RateIn), 7, true)) + " " + s.Spark.Render(sparkline(c.RateInHist, spark)),
		lbl("out ") + val(pad(rate(c.RateOut), 7, true)) + " " + s.Spark.Render(sparkline(c.RateOutHist, spark)),
		lbl("depth ") + renderCell(d.depth(backlog)),
		lbl("processed ") + val(num(c.Processed)),
	}
	lines := []string{join(parts1, w), join(parts2, w)}
	if h >= 40 && w >= 120 {
		parts3 := []string{
			lbl("depth ") + s.Spark.Render(sparkline(c.DepthHist, spark)),
			lbl("mem+disk ") + val(memDisk(backlog, tot.BackendDepth+tot.ChannelBackendDepth)),
			lbl("in-flight ") + val(num(tot.InFlightCount)),
			lbl("deferred ") + val(num(tot.DeferredCount)),
			lbl("requeued ") + val(num(tot.RequeueCount)),
			lbl("timed out ") + val(num(tot.TimeoutCount)),
			lbl("published ") + val(num(tot.MessageCount)),
			lbl("processed ") + val(commas(c.Processed)),
		}
		lines = append(lines, join(parts3, w))
	}
	return lines
}

// renderCell renders a cell's text with its style.
func renderCell(c cell) string {
	if c.Style != nil {
		return c.Style.Render(c.Text)
	}
	return c.Text
}

// join puts parts on one line two spaces apart, leaving out those that
// do not fit.
func join(parts []string, w int) string {
	var b strings.Builder
	used := 0
	for i, p := range parts {
		pw := width(p)
		sep := 0
		if i > 0 {
			sep = 2
		}
		if used+sep+pw > w {
			if i == 0 {
				return truncate(p, w)
			}
			continue
		}
		if sep > 0 {
			b.WriteString("  ")
		}
		b.WriteString(p)
		used += sep + pw
	}
	return b.String()
}

// commas writes n with thousands separators, as nsqadmin's counter does.
func commas(n int64) string {
	s := fmt.Sprintf("%d", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// flow packs parts onto as few lines of w cells as it can, two spaces
// apart (a part wider than w gets a line of its own, cut).
func flow(parts []string, w int) []string {
	var lines []string
	cur, used := "", 0
	for _, p := range parts {
		pw := width(p)
		switch {
		case used == 0:
			cur, used = p, pw
		case used+2+pw <= w:
			cur += "  " + p
			used += 2 + pw
		default:
			lines = append(lines, cur)
			cur, used = p, pw
		}
	}
	if used > 0 {
		lines = append(lines, cur)
	}
	return lines
}

// spark is a sparkline as wide as its history, at most w.
func spark(d *data, hist []float64, w int) string {
	return d.s.Spark.Render(sparkline(hist, min(len(hist), w)))
}
