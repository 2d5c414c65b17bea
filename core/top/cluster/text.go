package cluster

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// HasRates reports whether st has rates: a poll after a previous one.
func (st *State) HasRates() bool { return st.Polls >= 2 && st.Interval > 0 }

// writeText: see WriteText. The layout:
//
//	cluster at <time> (poll N[, interval D])
//	nodes     U up, S stale, D down
//	topics    … channels …
//	totals    depth …
//	rates     in X/s, out Y/s            (only with rates)
//
//	NSQD … one row per node
//
//	TOPIC / CHANNEL … a row per topic, then its channels indented by two
//
//	failed                               (only when something failed)
//	  nsqd ADDR: STATUS …: ERROR
//	  nsqlookupd ADDR: ERROR
//
// Numbers are plain integers; rates have one decimal; an unknown value
// is "-"; an ETA is a duration, "inf" when the depth is not draining.
func writeText(w io.Writer, st *State) error {
	bw := bufio.NewWriter(w)
	rates := st.HasRates()
	c := &st.Cluster
	t := &c.Totals

	fmt.Fprintf(bw, "cluster at %s (poll %d", st.Time.UTC().Format(time.RFC3339), st.Polls)
	if st.Interval > 0 {
		fmt.Fprintf(bw, ", interval %s", fmtDuration(st.Interval))
	}
	fmt.Fprintln(bw, ")")
	fmt.Fprintf(bw, "nodes     %d up, %d stale, %d down\n", c.NodesUp, c.NodesStale, c.NodesDown)
	fmt.Fprintf(bw, "topics    %d%s, channels %d%s\n", t.Topics, pausedNote(t.PausedTopics), t.Channels, pausedNote(t.PausedChannels))
	fmt.Fprintf(bw, "totals    depth %d (mem %d, disk %d), channel depth %d (mem %d, disk %d), in-flight %d, deferred %d, requeued %d, timed out %d, messages %d, processed %d, clients %d",
		t.Depth, t.Depth-t.BackendDepth, t.BackendDepth,
		t.ChannelDepth, t.ChannelDepth-t.ChannelBackendDepth, t.ChannelBackendDepth,
		t.InFlightCount, t.DeferredCount, t.RequeueCount, t.TimeoutCount, t.MessageCount, c.Processed, t.ClientCount)
	if t.ProducerCount > 0 {
		fmt.Fprintf(bw, ", producers %d", t.ProducerCount)
	}
	fmt.Fprintln(bw)
	if rates {
		fmt.Fprintf(bw, "rates     in %s/s, out %s/s\n", fmtRate(c.RateIn), fmtRate(c.RateOut))
	}

	if len(st.Nodes) > 0 {
		fmt.Fprintln(bw)
		nt := newTable("NSQD", "HOSTNAME", "VERSION", "STATUS", ">UPTIME", ">TOPICS", ">DEPTH", ">IN/S", "LOOKUPDS", "TOMBSTONED")
		for i := range st.Nodes {
			n := &st.Nodes[i]
			version := n.Version
			if n.VersionMismatch {
				version += "!"
			}
			topics, uptime := "-", "-"
			if n.Snap != nil {
				topics = strconv.Itoa(n.Snap.Totals.Topics)
				if n.Uptime > 0 {
					uptime = fmtDuration(n.Uptime)
				}
			}
			depth, in := "-", "-"
			if n.Snap != nil {
				depth = strconv.FormatInt(n.Depth, 10)
			}
			if rates {
				in = fmtRate(n.RateIn)
			}
			nt.row(n.Addr, dash(n.Hostname), dash(version), n.Status.String(), uptime, topics, depth, in,
				dash(strings.Join(n.Lookupds, ",")), dash(strings.Join(n.Tombstoned, ",")))
		}
		if !rates {
			nt.drop(">IN/S")
		}
		nt.write(bw)
	}

	fmt.Fprintln(bw)
	if len(st.Topics) == 0 {
		fmt.Fprintln(bw, "no topics")
	} else {
		tt := newTable("TOPIC / CHANNEL", ">NSQD", ">DEPTH", ">MEM", ">DISK", ">IN-FLIGHT", ">DEFERRED", ">REQUEUED",
			">TIMED-OUT", ">MESSAGES", ">CLIENTS", ">IN/S", ">OUT/S", ">REQ/S", ">LAG/S", ">ETA", "FLAGS")
		for i := range st.Topics {
			ts := &st.Topics[i]
			s := ts.Snap
			paused := 0
			for _, n := range s.Nodes {
				if n.Paused {
					paused++
				}
			}
			tt.row(s.Name, itoa(int64(len(s.Nodes))), itoa(s.Depth), itoa(s.Depth-s.BackendDepth), itoa(s.BackendDepth),
				itoa(s.InFlightCount), itoa(s.DeferredCount), itoa(s.RequeueCount), itoa(s.TimeoutCount),
				itoa(s.MessageCount), itoa(s.ClientCount),
				fmtRate(ts.RateIn), "", "", "", fmtETA(ts.SlowestETA), pausedFlag(paused, len(s.Nodes)))
			for j := range ts.Channels {
				cs := &ts.Channels[j]
				c := cs.Snap
				paused := 0
				for _, n := range c.Nodes {
					if n.Paused {
						paused++
					}
				}
				tt.row("  "+c.Name, itoa(int64(len(c.Nodes))), itoa(c.Depth), itoa(c.Depth-c.BackendDepth), itoa(c.BackendDepth),
					itoa(c.InFlightCount), itoa(c.DeferredCount), itoa(c.RequeueCount), itoa(c.TimeoutCount),
					itoa(c.MessageCount), itoa(c.ClientCount),
					"", fmtRate(cs.RateOut), fmtRate(cs.RequeueRate), fmtRate(cs.Lag), fmtETA(cs.ETA), pausedFlag(paused, len(c.Nodes)))
			}
		}
		if !rates {
			tt.drop(">IN/S", ">OUT/S", ">REQ/S", ">LAG/S", ">ETA")
		}
		tt.write(bw)
	}

	var failed []string
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if n.Status == NodeUp {
			continue
		}
		what := n.Status.String()
		if !n.LastSeen.IsZero() {
			what += ", last seen " + n.LastSeen.UTC().Format(time.RFC3339)
		}
		failed = append(failed, fmt.Sprintf("  nsqd %s (%s): %s", n.Addr, what, n.Err))
	}
	for _, e := range st.LookupdErrors {
		failed = append(failed, fmt.Sprintf("  nsqlookupd %s: %s", e.Addr, e.Err))
	}
	if len(failed) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "failed")
		for _, f := range failed {
			fmt.Fprintln(bw, f)
		}
	}
	return bw.Flush()
}

// String is "up", "stale" or "down".
func (s NodeStatus) String() string {
	switch s {
	case NodeUp:
		return "up"
	case NodeStale:
		return "stale"
	case NodeDown:
		return "down"
	}
	return "status " + strconv.Itoa(int(s))
}

func pausedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d paused)", n)
}

func pausedFlag(paused, nodes int) string {
	switch {
	case paused == 0:
		return ""
	case paused == nodes:
		return "paused"
	}
	return fmt.Sprintf("paused on %d of %d", paused, nodes)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtRate is a rate with one decimal, "-" when unknown.
func fmtRate(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if v == 0 {
		return "0.0" // no "-0.0"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// fmtETA is an ETA in seconds as a duration: "-" unknown, "inf" not
// draining, "<1s", "3m20s".
func fmtETA(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 1):
		return "inf"
	case v == 0:
		return "0s"
	case v < 1:
		return "<1s"
	}
	return fmtDuration(time.Duration(v * float64(time.Second)))
}

// fmtDuration rounds to seconds (milliseconds under a second).
func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// table is a text table: columns left-aligned, or right-aligned when the
// header is given with a leading '>' (not printed); two spaces between
// columns; no trailing spaces.
type table struct {
	heads []string
	rows  [][]string
}

func newTable(heads ...string) *table { return &table{heads: heads} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// drop removes the named columns.
func (t *table) drop(heads ...string) {
	for _, h := range heads {
		for i, x := range t.heads {
			if x != h {
				continue
			}
			t.heads = append(t.heads[:i:i], t.heads[i+1:]...)
			for r := range t.rows {
				t.rows[r] = append(t.rows[r][:i:i], t.rows[r][i+1:]...)
			}
			break
		}
	}
}

func (t *table) write(w *bufio.Writer) {
	n := len(t.heads)
	width := make([]int, n)
	right := make([]bool, n)
	heads := make([]string, n)
	for i, h := range t.heads {
		right[i] = strings.HasPrefix(h, ">")
		heads[i] = strings.TrimPrefix(h, ">")
		width[i] = len([]rune(heads[i]))
	}
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		w.WriteString(strings.TrimRight(b.String(), " "))
		w.WriteByte('\n')
	}
	line(heads)
	for _, r := range t.rows {
		line(r)
	}
}
