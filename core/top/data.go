package top

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
)

// data is what a view renders from: the State shown, the lookupd
// registrations when fetched, the thresholds and the styles. Views read
// it and nothing else.
type data struct {
	st       *cluster.State // nil before the first poll
	lookupds []cluster.LookupdState
	lkAt     time.Time // when lookupds were fetched (zero: not yet)
	lkBusy   bool
	now      time.Time
	cfg      *Config
	s        *Styles
	w        int
}

// depthStyle colours a depth against --warn-depth / --crit-depth.
func (d *data) depthStyle(depth int64) *lipgloss.Style {
	switch {
	case d.cfg.CritDepth > 0 && depth >= d.cfg.CritDepth:
		return &d.s.Crit
	case d.cfg.WarnDepth > 0 && depth >= d.cfg.WarnDepth:
		return &d.s.Warn
	}
	return nil
}

// depth is a depth cell coloured against the thresholds.
func (d *data) depth(v int64) cell { return n(v).styled(d.depthStyle(v)) }

// paused is the one-letter "P" cell.
func (d *data) paused(p bool) cell {
	if p {
		return cell{Text: "P", Num: 1, Style: &d.s.Paused}
	}
	return cell{Text: "", Num: 0}
}

// rateCell is a msgs/s cell.
func rateCell(r float64) cell { return f(rate(r), r) }

// lagCell is a depth trend: growing is bad, draining good.
func (d *data) lagCell(lag float64) cell {
	c := f(signedRate(lag), lag)
	switch {
	case lag > 0:
		c.Style = &d.s.Crit
	case lag < 0:
		c.Style = &d.s.Good
	}
	return c
}

// etaCell is a drain ETA; "∞" with a backlog is flagged.
func (d *data) etaCell(sec float64, depth int64) cell {
	c := f(eta(sec), sec)
	if math.IsInf(sec, 1) && depth > 0 {
		c.Style = &d.s.Crit
	}
	return c
}

// memDiskCell is "mem + disk", sorted by the disk part.
func memDiskCell(depth, backend int64) cell {
	return f(memDisk(depth, backend), float64(backend)*1e12+float64(depth))
}

// latencyQ is the value (ns) of quantile q, NaN if absent.
func latencyQ(l lookup.Latency, q float64) float64 {
	for _, p := range l.Percentiles {
		if p.Quantile == q {
			return p.Value
		}
	}
	return math.NaN()
}

// topQuantile is the highest quantile any of ls reports (0 if none).
func topQuantile(ls ...lookup.Latency) float64 {
	q := 0.0
	for _, l := range ls {
		for _, p := range l.Percentiles {
			q = max(q, p.Quantile)
		}
	}
	return q
}

// quantileTitle is "E2E P99" for 0.99.
func quantileTitle(q float64) string {
	return "E2E P" + strings.TrimPrefix(strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", q*100), "0"), "."), "0.")
}

// topic finds a topic of the State.
func (d *data) topic(name string) *cluster.TopicState {
	if d.st == nil {
		return nil
	}
	for i := range d.st.Topics {
		if d.st.Topics[i].Snap != nil && d.st.Topics[i].Snap.Name == name {
			return &d.st.Topics[i]
		}
	}
	return nil
}

// channel finds a channel of a topic.
func (d *data) channel(topic, name string) (*cluster.TopicState, *cluster.ChannelState) {
	t := d.topic(topic)
	if t == nil {
		return nil, nil
	}
	for i := range t.Channels {
		if t.Channels[i].Snap != nil && t.Channels[i].Snap.Name == name {
			return t, &t.Channels[i]
		}
	}
	return t, nil
}

// node finds a node by address.
func (d *data) node(addr string) *cluster.NodeState {
	if d.st == nil {
		return nil
	}
	for i := range d.st.Nodes {
		if d.st.Nodes[i].Addr == addr {
			return &d.st.Nodes[i]
		}
	}
	return nil
}

// nodeDim tells whether rows of that node are greyed (not up).
func (d *data) nodeDim(addr string) bool {
	n := d.node(addr)
	return n != nil && n.Status != cluster.NodeUp
}

// clientRef is a consumer connection with where it is.
type clientRef struct {
	Topic, Channel string
	C              *cluster.ClientState
}

// clientKey identifies a connection: node, topic/channel, remote address.
func clientKey(node, topic, channel, remote string) string {
	return node + "|" + topic + "/" + channel + "|" + remote
}

func (r clientRef) key() string {
	return clientKey(r.C.Snap.Node, r.Topic, r.Channel, r.C.Snap.RemoteAddress)
}

// clients lists every consumer connection of the cluster (optionally only
// one node's), in topic, channel, node order.
func (d *data) clients(node string) []clientRef {
	if d.st == nil {
		return nil
	}
	var out []clientRef
	for ti := range d.st.Topics {
		t := &d.st.Topics[ti]
		for ci := range t.Channels {
			ch := &t.Channels[ci]
			for k := range ch.Clients {
				c := &ch.Clients[k]
				if c.Snap == nil || (node != "" && c.Snap.Node != node) {
					continue
				}
				out = append(out, clientRef{Topic: t.Snap.Name, Channel: ch.Snap.Name, C: c})
			}
		}
	}
	return out
}

// clientHost names a client: its hostname, else its client_id, else its
// remote address.
func clientHost(c *lookup.ClientSnapshot) string {
	switch {
	case c.Hostname != "":
		return c.Hostname
	case c.ClientID != "":
		return c.ClientID
	}
	return c.RemoteAddress
}

// statusText is a node's status word.
func statusText(s cluster.NodeStatus) string {
	switch s {
	case cluster.NodeUp:
		return "up"
	case cluster.NodeStale:
		return "stale"
	}
	return "down"
}

// statusCell is a node's status, coloured, with how long ago it was last
// seen when not up.
func (d *data) statusCell(n *cluster.NodeState) cell {
	c := f(statusText(n.Status), float64(n.Status))
	switch n.Status {
	case cluster.NodeUp:
		c.Style = &d.s.Up
	case cluster.NodeStale:
		c.Style = &d.s.Warn
		if !n.LastSeen.IsZero() {
			c.Text += " " + dur(d.now.Sub(n.LastSeen))
		}
	default:
		c.Style = &d.s.Down
	}
	return c
}

// attrs joins a client's attributes ("TLS snappy").
func attrs(c *cluster.ClientState) string { return strings.Join(c.Attributes, " ") }

// nanRate is an unknown rate.
func nanRate() float64 { return math.NaN() }

// trendW is the width of the TREND sparklines: wider on wide terminals.
func (d *data) trendW() int {
	return min(max((d.w-130)/2, 12), 40)
}
