package lookup

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// SnapshotRequest says which cluster to snapshot. Nodes are the nsqd that
// the lookupds list in /nodes (at broadcast_address:http_port) plus the
// explicit nsqd HTTP addresses; at least one address of either kind is
// needed.
type SnapshotRequest struct {
	LookupdHTTPAddrs []string
	NSQDHTTPAddrs    []string
	// Topic, if set, limits the stats to that topic.
	Topic string
	// IncludeClients asks for per-client detail (consumers and producers);
	// client counts are there either way.
	IncludeClients bool
	// IncludeMem asks for each node's memory block.
	IncludeMem bool
}

// Snapshot is the state of a cluster at one moment: every node's /stats
// merged per topic and per channel. Everything is plain data: rendering it
// needs no network.
type Snapshot struct {
	Time time.Time     `json:"time"` // when the snapshot started
	Took time.Duration `json:"took"` // how long it took

	// Nodes is every nsqd asked, sorted by Addr, failed ones included
	// (with Err set).
	Nodes []NodeSnapshot `json:"nodes"`
	// Topics sorted by name; each with its channels sorted by name.
	Topics []TopicSnapshot `json:"topics"`
	// Producers is every node's publishing connections (empty unless
	// IncludeClients), sorted by node.
	Producers []ClientSnapshot `json:"producers"`
	Totals    Totals           `json:"totals"`

	// NodeErrors: nsqd address → why its stats are missing.
	NodeErrors map[string]error `json:"-"`
	// Lookupds that answered /nodes, and those that failed.
	Lookupds      []string     `json:"lookupds,omitempty"`
	LookupdErrors []*AddrError `json:"-"`
}

// Totals are sums over the whole cluster (in [Snapshot]) or over one node
// (in [NodeSnapshot]).
type Totals struct {
	Nodes       int `json:"nodes"`        // nodes that answered
	FailedNodes int `json:"failed_nodes"` // nodes that did not

	Topics         int `json:"topics"`
	Channels       int `json:"channels"` // distinct topic/channel pairs
	PausedTopics   int `json:"paused_topics"`
	PausedChannels int `json:"paused_channels"`

	// Topic level.
	Depth        int64 `json:"depth"`
	BackendDepth int64 `json:"backend_depth"`
	MessageCount int64 `json:"message_count"` // messages published to topics
	MessageBytes int64 `json:"message_bytes"`

	// Channel level, summed over channels.
	ChannelDepth        int64 `json:"channel_depth"`
	ChannelBackendDepth int64 `json:"channel_backend_depth"`
	InFlightCount       int64 `json:"in_flight_count"`
	DeferredCount       int64 `json:"deferred_count"`
	RequeueCount        int64 `json:"requeue_count"`
	TimeoutCount        int64 `json:"timeout_count"`
	ClientCount         int64 `json:"client_count"` // subscribed connections

	ProducerCount int64 `json:"producer_count"` // publishing connections (needs IncludeClients)
}

// NodeSnapshot is one nsqd in a [Snapshot].
type NodeSnapshot struct {
	// Addr is the HTTP address asked: broadcast_address:http_port for a
	// node found through lookupd, as given for an explicit one. It names
	// the node in every per-node breakdown.
	Addr             string `json:"addr"`
	Hostname         string `json:"hostname,omitempty"` // from lookupd
	BroadcastAddress string `json:"broadcast_address,omitempty"`
	TCPPort          int    `json:"tcp_port,omitempty"`
	HTTPPort         int    `json:"http_port,omitempty"`
	Version          string `json:"version,omitempty"`
	// Lookupd is the node's (merged) /nodes record; nil for a node no
	// lookupd lists.
	Lookupd *Node `json:"lookupd,omitempty"`

	// Err is why the node's stats are missing (nil when it answered).
	Err   error  `json:"-"`
	Error string `json:"error,omitempty"`

	Health    string        `json:"health,omitempty"`
	StartTime int64         `json:"start_time,omitempty"`
	Memory    *MemoryStats  `json:"memory,omitempty"`
	Producers []ClientStats `json:"producers"`
	Totals    Totals        `json:"totals"`
	// Stats is the node's raw /stats answer (nil if it failed).
	Stats *NodeStats `json:"-"`
}

// TopicSnapshot is one topic merged over the nodes that have it.
type TopicSnapshot struct {
	Name      string `json:"name"`
	Ephemeral bool   `json:"ephemeral"`
	Paused    bool   `json:"paused"` // paused on any node (see Nodes[i].Paused)

	// Topic level, summed over nodes.
	Depth        int64 `json:"depth"`
	BackendDepth int64 `json:"backend_depth"`
	MessageCount int64 `json:"message_count"`
	MessageBytes int64 `json:"message_bytes"`

	// Channel level, summed over the topic's channels on every node.
	ChannelDepth  int64 `json:"channel_depth"`
	InFlightCount int64 `json:"in_flight_count"`
	DeferredCount int64 `json:"deferred_count"`
	RequeueCount  int64 `json:"requeue_count"`
	TimeoutCount  int64 `json:"timeout_count"`
	ClientCount   int64 `json:"client_count"`

	Channels []ChannelSnapshot `json:"channels"`
	Nodes    []NodeTopicStats  `json:"nodes"` // in node order
}

// NodeTopicStats is one node's share of a topic.
type NodeTopicStats struct {
	Node                 string  `json:"node"` // NodeSnapshot.Addr
	Hostname             string  `json:"hostname,omitempty"`
	Depth                int64   `json:"depth"`
	BackendDepth         int64   `json:"backend_depth"`
	MessageCount         int64   `json:"message_count"`
	MessageBytes         int64   `json:"message_bytes"`
	ChannelCount         int     `json:"channel_count"`
	Paused               bool    `json:"paused"`
	E2eProcessingLatency Latency `json:"e2e_processing_latency"`
}

// ChannelSnapshot is one channel of a topic merged over the nodes that have
// it.
type ChannelSnapshot struct {
	Topic     string `json:"topic"`
	Name      string `json:"name"`
	Ephemeral bool   `json:"ephemeral"`
	Paused    bool   `json:"paused"` // paused on any node (see Nodes[i].Paused)

	Depth         int64 `json:"depth"`
	BackendDepth  int64 `json:"backend_depth"`
	InFlightCount int64 `json:"in_flight_count"`
	DeferredCount int64 `json:"deferred_count"`
	MessageCount  int64 `json:"message_count"`
	RequeueCount  int64 `json:"requeue_count"`
	TimeoutCount  int64 `json:"timeout_count"`
	ClientCount   int64 `json:"client_count"`

	// Clients of every node (empty unless IncludeClients), in node order.
	Clients []ClientSnapshot   `json:"clients"`
	Nodes   []NodeChannelStats `json:"nodes"` // in node order
}

// NodeChannelStats is one node's share of a channel.
type NodeChannelStats struct {
	Node                 string  `json:"node"` // NodeSnapshot.Addr
	Hostname             string  `json:"hostname,omitempty"`
	Depth                int64   `json:"depth"`
	BackendDepth         int64   `json:"backend_depth"`
	InFlightCount        int64   `json:"in_flight_count"`
	DeferredCount        int64   `json:"deferred_count"`
	MessageCount         int64   `json:"message_count"`
	RequeueCount         int64   `json:"requeue_count"`
	TimeoutCount         int64   `json:"timeout_count"`
	ClientCount          int64   `json:"client_count"`
	Paused               bool    `json:"paused"`
	E2eProcessingLatency Latency `json:"e2e_processing_latency"`
}

// ClientSnapshot is a connection with the node it is connected to.
type ClientSnapshot struct {
	Node string `json:"node"` // NodeSnapshot.Addr
	ClientStats
}

// Topic returns the named topic of the snapshot, or nil.
func (s *Snapshot) Topic(name string) *TopicSnapshot {
	i, ok := slices.BinarySearchFunc(s.Topics, name, func(t TopicSnapshot, n string) int { return cmp.Compare(t.Name, n) })
	if !ok {
		return nil
	}
	return &s.Topics[i]
}

// Channel returns the named channel of the topic, or nil.
func (t *TopicSnapshot) Channel(name string) *ChannelSnapshot {
	i, ok := slices.BinarySearchFunc(t.Channels, name, func(c ChannelSnapshot, n string) int { return cmp.Compare(c.Name, n) })
	if !ok {
		return nil
	}
	return &t.Channels[i]
}

// Node returns the node with that Addr, or nil.
func (s *Snapshot) Node(addr string) *NodeSnapshot {
	for i := range s.Nodes {
		if s.Nodes[i].Addr == addr {
			return &s.Nodes[i]
		}
	}
	return nil
}

// Snapshot discovers the cluster's nsqd (lookupd /nodes plus the explicit
// addresses), fetches every node's /stats concurrently and merges them.
// Failures of lookupds or nodes are recorded in the snapshot, never fatal:
// the error is non-nil only for a request without any address. ctx bounds
// the whole snapshot; what has not answered by its end is recorded as
// failed.
func (c *Client) Snapshot(ctx context.Context, req SnapshotRequest) (*Snapshot, error) {
	if len(req.LookupdHTTPAddrs) == 0 && len(req.NSQDHTTPAddrs) == 0 {
		return nil, ErrNoAddresses
	}
	start := time.Now()
	s := &Snapshot{
		Time:       start,
		Nodes:      []NodeSnapshot{},
		Topics:     []TopicSnapshot{},
		Producers:  []ClientSnapshot{},
		NodeErrors: make(map[string]error),
	}

	// Discover.
	nodes := make(map[string]*NodeSnapshot)
	if len(req.LookupdHTTPAddrs) > 0 {
		res, _ := c.NodesAll(ctx, req.LookupdHTTPAddrs)
		s.Lookupds, s.LookupdErrors = res.Answered, res.Errors
		for i := range res.Nodes {
			n := &res.Nodes[i]
			addr := n.HTTPAddress()
			nodes[addrKey(addr)] = &NodeSnapshot{
				Addr:             addr,
				Hostname:         n.Hostname,
				BroadcastAddress: n.BroadcastAddress,
				TCPPort:          n.TCPPort,
				HTTPPort:         n.HTTPPort,
				Version:          n.Version,
				Lookupd:          n,
			}
		}
	}
	for _, a := range req.NSQDHTTPAddrs {
		if k := addrKey(a); nodes[k] == nil {
			nodes[k] = &NodeSnapshot{Addr: a}
		}
	}
	list := make([]*NodeSnapshot, 0, len(nodes))
	for _, n := range nodes {
		list = append(list, n)
	}
	slices.SortFunc(list, func(a, b *NodeSnapshot) int { return cmp.Compare(a.Addr, b.Addr) })

	// Fetch.
	q := StatsQuery{Topic: req.Topic, IncludeClients: req.IncludeClients, IncludeMem: req.IncludeMem}
	c.each(ctx, len(list), func(ctx context.Context, i int) {
		list[i].Stats, list[i].Err = c.Stats(ctx, list[i].Addr, q)
	}, func(i int, err error) { list[i].Err = err })

	// Merge.
	m := merger{topics: make(map[string]*topicAcc)}
	for _, n := range list {
		if n.Err != nil {
			n.Error = n.Err.Error()
			s.NodeErrors[n.Addr] = n.Err
			s.Totals.FailedNodes++
			s.Nodes = append(s.Nodes, *n)
			continue
		}
		m.addNode(s, n)
		s.Nodes = append(s.Nodes, *n)
	}
	s.Topics = m.topicsSorted()
	s.Totals.Nodes = len(s.Nodes) - s.Totals.FailedNodes
	for i := range s.Topics {
		addTopicTotals(&s.Totals, &s.Topics[i])
	}
	s.Totals.ProducerCount = int64(len(s.Producers))
	s.Took = time.Since(start)
	return s, nil
}

type topicAcc struct {
	t        TopicSnapshot
	channels map[string]*ChannelSnapshot
}

type merger struct {
	topics map[string]*topicAcc
}

// addNode folds one answered node's stats into the merge and fills the
// node's own fields.
func (m *merger) addNode(s *Snapshot, n *NodeSnapshot) {
	st := n.Stats
	n.Health, n.StartTime, n.Memory = st.Health, st.StartTime, st.Memory
	if st.Version != "" {
		n.Version = st.Version
	}
	n.Producers = st.Producers
	if n.Producers == nil {
		n.Producers = []ClientStats{}
	}
	for _, p := range n.Producers {
		s.Producers = append(s.Producers, ClientSnapshot{Node: n.Addr, ClientStats: p})
	}
	n.Totals = Totals{Nodes: 1, ProducerCount: int64(len(n.Producers))}
	for _, t := range st.Topics {
		acc := m.topics[t.TopicName]
		if acc == nil {
			acc = &topicAcc{
				t: TopicSnapshot{
					Name:      t.TopicName,
					Ephemeral: wire.IsEphemeral(t.TopicName),
					Channels:  []ChannelSnapshot{},
					Nodes:     []NodeTopicStats{},
				},
				channels: make(map[string]*ChannelSnapshot),
			}
			m.topics[t.TopicName] = acc
		}
		ts := &acc.t
		ts.Depth += t.Depth
		ts.BackendDepth += t.BackendDepth
		ts.MessageCount += t.MessageCount
		ts.MessageBytes += t.MessageBytes
		ts.Paused = ts.Paused || t.Paused
		ts.Nodes = append(ts.Nodes, NodeTopicStats{
			Node:                 n.Addr,
			Hostname:             n.Hostname,
			Depth:                t.Depth,
			BackendDepth:         t.BackendDepth,
			MessageCount:         t.MessageCount,
			MessageBytes:         t.MessageBytes,
			ChannelCount:         len(t.Channels),
			Paused:               t.Paused,
			E2eProcessingLatency: t.E2eProcessingLatency,
		})
		for _, ch := range t.Channels {
			cs := acc.channels[ch.ChannelName]
			if cs == nil {
				cs = &ChannelSnapshot{
					Topic:     t.TopicName,
					Name:      ch.ChannelName,
					Ephemeral: wire.IsEphemeral(ch.ChannelName),
					Clients:   []ClientSnapshot{},
					Nodes:     []NodeChannelStats{},
				}
				acc.channels[ch.ChannelName] = cs
			}
			addChannel(cs, ch)
			cs.Nodes = append(cs.Nodes, NodeChannelStats{
				Node:                 n.Addr,
				Hostname:             n.Hostname,
				Depth:                ch.Depth,
				BackendDepth:         ch.BackendDepth,
				InFlightCount:        ch.InFlightCount,
				DeferredCount:        ch.DeferredCount,
				MessageCount:         ch.MessageCount,
				RequeueCount:         ch.RequeueCount,
				TimeoutCount:         ch.TimeoutCount,
				ClientCount:          ch.ClientCount,
				Paused:               ch.Paused,
				E2eProcessingLatency: ch.E2eProcessingLatency,
			})
			for _, cl := range ch.Clients {
				cs.Clients = append(cs.Clients, ClientSnapshot{Node: n.Addr, ClientStats: cl})
			}
			addChannelToTopic(ts, ch)
		}
		addTopicTotals(&n.Totals, nodeTopic(t))
	}
}

// nodeTopic is one node's topic in the merged shape, for its own totals.
func nodeTopic(t TopicStats) *TopicSnapshot {
	own := &TopicSnapshot{Name: t.TopicName, Depth: t.Depth, BackendDepth: t.BackendDepth,
		MessageCount: t.MessageCount, MessageBytes: t.MessageBytes, Paused: t.Paused}
	own.Channels = make([]ChannelSnapshot, len(t.Channels))
	for i, ch := range t.Channels {
		addChannel(&own.Channels[i], ch)
	}
	return own
}

func addChannel(cs *ChannelSnapshot, ch ChannelStats) {
	cs.Depth += ch.Depth
	cs.BackendDepth += ch.BackendDepth
	cs.InFlightCount += ch.InFlightCount
	cs.DeferredCount += ch.DeferredCount
	cs.MessageCount += ch.MessageCount
	cs.RequeueCount += ch.RequeueCount
	cs.TimeoutCount += ch.TimeoutCount
	cs.ClientCount += ch.ClientCount
	cs.Paused = cs.Paused || ch.Paused
}

func addChannelToTopic(ts *TopicSnapshot, ch ChannelStats) {
	ts.ChannelDepth += ch.Depth
	ts.InFlightCount += ch.InFlightCount
	ts.DeferredCount += ch.DeferredCount
	ts.RequeueCount += ch.RequeueCount
	ts.TimeoutCount += ch.TimeoutCount
	ts.ClientCount += ch.ClientCount
}

// addTopicTotals adds a merged topic (with its channels) to tot.
func addTopicTotals(tot *Totals, t *TopicSnapshot) {
	tot.Topics++
	if t.Paused {
		tot.PausedTopics++
	}
	tot.Depth += t.Depth
	tot.BackendDepth += t.BackendDepth
	tot.MessageCount += t.MessageCount
	tot.MessageBytes += t.MessageBytes
	for i := range t.Channels {
		ch := &t.Channels[i]
		tot.Channels++
		if ch.Paused {
			tot.PausedChannels++
		}
		tot.ChannelDepth += ch.Depth
		tot.ChannelBackendDepth += ch.BackendDepth
		tot.InFlightCount += ch.InFlightCount
		tot.DeferredCount += ch.DeferredCount
		tot.RequeueCount += ch.RequeueCount
		tot.TimeoutCount += ch.TimeoutCount
		tot.ClientCount += ch.ClientCount
	}
}

func (m *merger) topicsSorted() []TopicSnapshot {
	out := make([]TopicSnapshot, 0, len(m.topics))
	for _, acc := range m.topics {
		t := acc.t
		for _, cs := range acc.channels {
			t.Channels = append(t.Channels, *cs)
		}
		slices.SortFunc(t.Channels, func(a, b ChannelSnapshot) int { return cmp.Compare(a.Name, b.Name) })
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TopicSnapshot) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
