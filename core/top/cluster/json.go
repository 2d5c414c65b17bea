package cluster

import (
	"encoding/json"
	"io"
	"math"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// The document WriteJSON prints. Field names are stable and snake_case;
// arrays keep the State's order (nodes by address, topics and channels
// by name, clients in node order). A rate or trend that is unknown is
// null; an ETA that is infinite is null with "…_growing": true.

type jsonState struct {
	Time          time.Time     `json:"time"`
	TookMS        float64       `json:"took_ms"`
	IntervalMS    float64       `json:"interval_ms"`
	Polls         int           `json:"polls"`
	HasRates      bool          `json:"has_rates"`
	Cluster       jsonCluster   `json:"cluster"`
	Nodes         []jsonNode    `json:"nodes"`
	Topics        []jsonTopic   `json:"topics"`
	LookupdErrors []jsonAddrErr `json:"lookupd_errors"`
}

type jsonAddrErr struct {
	Addr  string `json:"addr"`
	Error string `json:"error"`
}

type jsonCluster struct {
	NodesUp    int           `json:"nodes_up"`
	NodesStale int           `json:"nodes_stale"`
	NodesDown  int           `json:"nodes_down"`
	Totals     lookup.Totals `json:"totals"`
	RateIn     *float64      `json:"rate_in"`
	RateOut    *float64      `json:"rate_out"`
	Processed  int64         `json:"processed"`
}

type jsonNode struct {
	Addr             string              `json:"addr"`
	Hostname         string              `json:"hostname"`
	BroadcastAddress string              `json:"broadcast_address"`
	TCPPort          int                 `json:"tcp_port"`
	HTTPPort         int                 `json:"http_port"`
	Status           string              `json:"status"`
	Error            string              `json:"error"`
	LastSeen         *time.Time          `json:"last_seen"`
	Failures         int                 `json:"failures"`
	Explicit         bool                `json:"explicit"`
	Version          string              `json:"version"`
	VersionMismatch  bool                `json:"version_mismatch"`
	StartTime        int64               `json:"start_time"`
	UptimeS          float64             `json:"uptime_s"`
	Health           string              `json:"health"`
	Lookupds         []string            `json:"lookupds"`
	Tombstoned       []string            `json:"tombstoned"`
	RateIn           *float64            `json:"rate_in"`
	Depth            int64               `json:"depth"`
	Totals           *lookup.Totals      `json:"totals"`
	Memory           *lookup.MemoryStats `json:"memory"`
}

type jsonTopic struct {
	Name          string          `json:"name"`
	Ephemeral     bool            `json:"ephemeral"`
	Paused        bool            `json:"paused"`
	Depth         int64           `json:"depth"`
	BackendDepth  int64           `json:"backend_depth"`
	MessageCount  int64           `json:"message_count"`
	MessageBytes  int64           `json:"message_bytes"`
	ChannelDepth  int64           `json:"channel_depth"`
	InFlightCount int64           `json:"in_flight_count"`
	DeferredCount int64           `json:"deferred_count"`
	RequeueCount  int64           `json:"requeue_count"`
	TimeoutCount  int64           `json:"timeout_count"`
	ClientCount   int64           `json:"client_count"`
	RateIn        *float64        `json:"rate_in"`
	SlowestETAS   *float64        `json:"slowest_eta_s"`
	SlowestGrows  bool            `json:"slowest_eta_growing"`
	Nodes         []jsonNodeTopic `json:"nodes"`
	Channels      []jsonChannel   `json:"channels"`
}

type jsonNodeTopic struct {
	Node         string   `json:"node"`
	Depth        int64    `json:"depth"`
	BackendDepth int64    `json:"backend_depth"`
	MessageCount int64    `json:"message_count"`
	MessageBytes int64    `json:"message_bytes"`
	ChannelCount int      `json:"channel_count"`
	Paused       bool     `json:"paused"`
	RateIn       *float64 `json:"rate_in"`
}

type jsonChannel struct {
	Name          string            `json:"name"`
	Ephemeral     bool              `json:"ephemeral"`
	Paused        bool              `json:"paused"`
	Depth         int64             `json:"depth"`
	BackendDepth  int64             `json:"backend_depth"`
	InFlightCount int64             `json:"in_flight_count"`
	DeferredCount int64             `json:"deferred_count"`
	MessageCount  int64             `json:"message_count"`
	RequeueCount  int64             `json:"requeue_count"`
	TimeoutCount  int64             `json:"timeout_count"`
	ClientCount   int64             `json:"client_count"`
	RateOut       *float64          `json:"rate_out"`
	RequeueRate   *float64          `json:"requeue_rate"`
	TimeoutRate   *float64          `json:"timeout_rate"`
	Lag           *float64          `json:"lag"`
	ETAS          *float64          `json:"eta_s"`
	ETAGrowing    bool              `json:"eta_growing"`
	Nodes         []jsonNodeChannel `json:"nodes"`
	Clients       []jsonClient      `json:"clients"`
}

type jsonNodeChannel struct {
	Node          string   `json:"node"`
	Depth         int64    `json:"depth"`
	BackendDepth  int64    `json:"backend_depth"`
	InFlightCount int64    `json:"in_flight_count"`
	DeferredCount int64    `json:"deferred_count"`
	MessageCount  int64    `json:"message_count"`
	RequeueCount  int64    `json:"requeue_count"`
	TimeoutCount  int64    `json:"timeout_count"`
	ClientCount   int64    `json:"client_count"`
	Paused        bool     `json:"paused"`
	RateOut       *float64 `json:"rate_out"`
}

type jsonClient struct {
	Node          string   `json:"node"`
	ClientID      string   `json:"client_id"`
	Hostname      string   `json:"hostname"`
	RemoteAddress string   `json:"remote_address"`
	UserAgent     string   `json:"user_agent"`
	State         int      `json:"state"`
	ReadyCount    int64    `json:"ready_count"`
	InFlightCount int64    `json:"in_flight_count"`
	MessageCount  int64    `json:"message_count"`
	FinishCount   int64    `json:"finish_count"`
	RequeueCount  int64    `json:"requeue_count"`
	ConnectTs     int64    `json:"connect_ts"`
	ConnectedS    float64  `json:"connected_s"`
	FinishRate    *float64 `json:"finish_rate"`
	Attributes    []string `json:"attributes"`
}

// num is v for JSON: nil (null) when NaN or infinite.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w io.Writer, st *State) error {
	doc := jsonState{
		Time:          st.Time.UTC(),
		TookMS:        ms(st.Took),
		IntervalMS:    ms(st.Interval),
		Polls:         st.Polls,
		HasRates:      st.HasRates(),
		Nodes:         make([]jsonNode, len(st.Nodes)),
		Topics:        make([]jsonTopic, len(st.Topics)),
		LookupdErrors: make([]jsonAddrErr, len(st.LookupdErrors)),
	}
	c := &st.Cluster
	doc.Cluster = jsonCluster{NodesUp: c.NodesUp, NodesStale: c.NodesStale, NodesDown: c.NodesDown,
		Totals: c.Totals, RateIn: num(c.RateIn), RateOut: num(c.RateOut), Processed: c.Processed}
	for i, e := range st.LookupdErrors {
		doc.LookupdErrors[i] = jsonAddrErr{Addr: e.Addr, Error: e.Err}
	}
	for i := range st.Nodes {
		n := &st.Nodes[i]
		jn := jsonNode{Addr: n.Addr, Hostname: n.Hostname, Status: n.Status.String(), Error: n.Err,
			Failures: n.Failures, Explicit: n.Explicit, Version: n.Version, VersionMismatch: n.VersionMismatch,
			UptimeS: n.Uptime.Seconds(), Lookupds: nonNil(n.Lookupds), Tombstoned: nonNil(n.Tombstoned),
			RateIn: num(n.RateIn), Depth: n.Depth}
		if !n.LastSeen.IsZero() {
			t := n.LastSeen.UTC()
			jn.LastSeen = &t
		}
		if s := n.Snap; s != nil {
			jn.BroadcastAddress, jn.TCPPort, jn.HTTPPort = s.BroadcastAddress, s.TCPPort, s.HTTPPort
			jn.StartTime, jn.Health, jn.Memory = s.StartTime, s.Health, s.Memory
			tot := s.Totals
			jn.Totals = &tot
		}
		doc.Nodes[i] = jn
	}
	for i := range st.Topics {
		ts := &st.Topics[i]
		t := ts.Snap
		jt := jsonTopic{Name: t.Name, Ephemeral: t.Ephemeral, Paused: t.Paused, Depth: t.Depth,
			BackendDepth: t.BackendDepth, MessageCount: t.MessageCount, MessageBytes: t.MessageBytes,
			ChannelDepth: t.ChannelDepth, InFlightCount: t.InFlightCount, DeferredCount: t.DeferredCount,
			RequeueCount: t.RequeueCount, TimeoutCount: t.TimeoutCount, ClientCount: t.ClientCount,
			RateIn: num(ts.RateIn), SlowestETAS: num(ts.SlowestETA), SlowestGrows: math.IsInf(ts.SlowestETA, 1),
			Nodes: make([]jsonNodeTopic, len(ts.Nodes)), Channels: make([]jsonChannel, len(ts.Channels))}
		for j := range ts.Nodes {
			n := ts.Nodes[j].Snap
			jt.Nodes[j] = jsonNodeTopic{Node: n.Node, Depth: n.Depth, BackendDepth: n.BackendDepth,
				MessageCount: n.MessageCount, MessageBytes: n.MessageBytes, ChannelCount: n.ChannelCount,
				Paused: n.Paused, RateIn: num(ts.Nodes[j].RateIn)}
		}
		for j := range ts.Channels {
			cs := &ts.Channels[j]
			ch := cs.Snap
			jc := jsonChannel{Name: ch.Name, Ephemeral: ch.Ephemeral, Paused: ch.Paused, Depth: ch.Depth,
				BackendDepth: ch.BackendDepth, InFlightCount: ch.InFlightCount, DeferredCount: ch.DeferredCount,
				MessageCount: ch.MessageCount, RequeueCount: ch.RequeueCount, TimeoutCount: ch.TimeoutCount,
				ClientCount: ch.ClientCount, RateOut: num(cs.RateOut), RequeueRate: num(cs.RequeueRate),
				TimeoutRate: num(cs.TimeoutRate), Lag: num(cs.Lag), ETAS: num(cs.ETA), ETAGrowing: math.IsInf(cs.ETA, 1),
				Nodes: make([]jsonNodeChannel, len(cs.Nodes)), Clients: make([]jsonClient, len(cs.Clients))}
			for k := range cs.Nodes {
				n := cs.Nodes[k].Snap
				jc.Nodes[k] = jsonNodeChannel{Node: n.Node, Depth: n.Depth, BackendDepth: n.BackendDepth,
					InFlightCount: n.InFlightCount, DeferredCount: n.DeferredCount, MessageCount: n.MessageCount,
					RequeueCount: n.RequeueCount, TimeoutCount: n.TimeoutCount, ClientCount: n.ClientCount,
					Paused: n.Paused, RateOut: num(cs.Nodes[k].RateOut)}
			}
			for k := range cs.Clients {
				cl := &cs.Clients[k]
				s := cl.Snap
				jc.Clients[k] = jsonClient{Node: s.Node, ClientID: s.ClientID, Hostname: s.Hostname,
					RemoteAddress: s.RemoteAddress, UserAgent: s.UserAgent, State: s.State, ReadyCount: s.ReadyCount,
					InFlightCount: s.InFlightCount, MessageCount: s.MessageCount, FinishCount: s.FinishCount,
					RequeueCount: s.RequeueCount, ConnectTs: s.ConnectTs, ConnectedS: cl.ConnectedFor.Seconds(),
					FinishRate: num(cl.FinishRate), Attributes: nonNil(cl.Attributes)}
			}
			jt.Channels[j] = jc
		}
		doc.Topics[i] = jt
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
