package lookup

import (
	"net"
	"strconv"
	"time"
)

// Producer is an nsqd as lookupd lists it in /lookup (and, with topics, in
// /nodes).
type Producer struct {
	RemoteAddress    string `json:"remote_address"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
}

// TCPAddress is where clients connect: broadcast_address:tcp_port
// (IPv6 in brackets).
func (p Producer) TCPAddress() string {
	return net.JoinHostPort(p.BroadcastAddress, strconv.Itoa(p.TCPPort))
}

// HTTPAddress is the nsqd's HTTP API: broadcast_address:http_port. It is
// also the node name lookupd's /topic/tombstone expects.
func (p Producer) HTTPAddress() string {
	return net.JoinHostPort(p.BroadcastAddress, strconv.Itoa(p.HTTPPort))
}

// LookupResponse is lookupd's /lookup answer.
type LookupResponse struct {
	Channels  []string   `json:"channels"`
	Producers []Producer `json:"producers"`
}

// Node is one nsqd of lookupd's /nodes: the producer plus the topics it is
// registered for; Tombstones[i] tells whether it is tombstoned for Topics[i].
type Node struct {
	Producer
	Tombstones []bool   `json:"tombstones"`
	Topics     []string `json:"topics"`
}

// Tombstoned reports whether the node is tombstoned for topic.
func (n *Node) Tombstoned(topic string) bool {
	for i, t := range n.Topics {
		if t == topic && i < len(n.Tombstones) {
			return n.Tombstones[i]
		}
	}
	return false
}

// LookupdInfo is lookupd's /info answer.
type LookupdInfo struct {
	Version string `json:"version"`
}

// NodeInfo is nsqd's /info answer.
type NodeInfo struct {
	Version                string        `json:"version"`
	BroadcastAddress       string        `json:"broadcast_address"`
	Hostname               string        `json:"hostname"`
	HTTPPort               int           `json:"http_port"`
	TCPPort                int           `json:"tcp_port"`
	StartTime              int64         `json:"start_time"` // Unix seconds
	MaxHeartbeatInterval   time.Duration `json:"max_heartbeat_interval"`
	MaxOutputBufferSize    int64         `json:"max_output_buffer_size"`
	MaxOutputBufferTimeout time.Duration `json:"max_output_buffer_timeout"`
	MaxDeflateLevel        int           `json:"max_deflate_level"`
}

// StatsQuery selects what nsqd's /stats reports. The zero value asks for
// every topic without per-client detail and without memory figures.
type StatsQuery struct {
	Topic          string // only this topic ("" all)
	Channel        string // only this channel within the selected topics ("" all)
	IncludeClients bool   // per-client stats and the producers list
	IncludeMem     bool   // the memory block
}

// NodeStats is nsqd's /stats?format=json answer.
type NodeStats struct {
	Version   string        `json:"version"`
	Health    string        `json:"health"`
	StartTime int64         `json:"start_time"` // Unix seconds
	Topics    []TopicStats  `json:"topics"`     // nil when a topic filter matched nothing
	Memory    *MemoryStats  `json:"memory,omitempty"`
	Producers []ClientStats `json:"producers"` // publishing TCP connections
}

// TopicStats is one topic of nsqd's /stats.
type TopicStats struct {
	TopicName            string         `json:"topic_name"`
	Channels             []ChannelStats `json:"channels"`
	Depth                int64          `json:"depth"`
	BackendDepth         int64          `json:"backend_depth"`
	MessageCount         int64          `json:"message_count"`
	MessageBytes         int64          `json:"message_bytes"`
	Paused               bool           `json:"paused"`
	E2eProcessingLatency Latency        `json:"e2e_processing_latency"`
}

// ChannelStats is one channel of nsqd's /stats.
type ChannelStats struct {
	ChannelName          string        `json:"channel_name"`
	Depth                int64         `json:"depth"`
	BackendDepth         int64         `json:"backend_depth"`
	InFlightCount        int64         `json:"in_flight_count"`
	DeferredCount        int64         `json:"deferred_count"`
	MessageCount         int64         `json:"message_count"`
	RequeueCount         int64         `json:"requeue_count"`
	TimeoutCount         int64         `json:"timeout_count"`
	ClientCount          int64         `json:"client_count"`
	Clients              []ClientStats `json:"clients"`
	Paused               bool          `json:"paused"`
	E2eProcessingLatency Latency       `json:"e2e_processing_latency"`
}

// ClientStats is one connection of nsqd's /stats: a channel subscriber, or
// a publisher in the producers list.
type ClientStats struct {
	ClientID                      string     `json:"client_id"`
	Hostname                      string     `json:"hostname"`
	Version                       string     `json:"version"`
	RemoteAddress                 string     `json:"remote_address"`
	State                         int        `json:"state"`
	ReadyCount                    int64      `json:"ready_count"`
	InFlightCount                 int64      `json:"in_flight_count"`
	MessageCount                  int64      `json:"message_count"`
	FinishCount                   int64      `json:"finish_count"`
	RequeueCount                  int64      `json:"requeue_count"`
	ConnectTs                     int64      `json:"connect_ts"` // Unix seconds
	SampleRate                    int        `json:"sample_rate"`
	Deflate                       bool       `json:"deflate"`
	Snappy                        bool       `json:"snappy"`
	UserAgent                     string     `json:"user_agent"`
	Authed                        bool       `json:"authed,omitempty"`
	AuthIdentity                  string     `json:"auth_identity,omitempty"`
	AuthIdentityURL               string     `json:"auth_identity_url,omitempty"`
	PubCounts                     []PubCount `json:"pub_counts,omitempty"`
	TLS                           bool       `json:"tls"`
	TLSCipherSuite                string     `json:"tls_cipher_suite"`
	TLSVersion                    string     `json:"tls_version"`
	TLSNegotiatedProtocol         string     `json:"tls_negotiated_protocol"`
	TLSNegotiatedProtocolIsMutual bool       `json:"tls_negotiated_protocol_is_mutual"`
}

// PublishedCount sums the client's pub_counts: messages it published.
func (c *ClientStats) PublishedCount() int64 {
	var n int64
	for _, p := range c.PubCounts {
		n += p.Count
	}
	return n
}

// PubCount is how many messages a producer published to one topic.
type PubCount struct {
	Topic string `json:"topic"`
	Count int64  `json:"count"`
}

// Latency is an e2e_processing_latency object: percentiles in nanoseconds
// (nil when nsqd has none configured).
type Latency struct {
	Count       int64        `json:"count"`
	Percentiles []Percentile `json:"percentiles"`
}

// Percentile is one quantile of a [Latency]; Value is in nanoseconds.
type Percentile struct {
	Quantile float64 `json:"quantile"`
	Value    float64 `json:"value"`
}

// MemoryStats is the memory block of nsqd's /stats.
type MemoryStats struct {
	HeapObjects       int64 `json:"heap_objects"`
	HeapIdleBytes     int64 `json:"heap_idle_bytes"`
	HeapInUseBytes    int64 `json:"heap_in_use_bytes"`
	HeapReleasedBytes int64 `json:"heap_released_bytes"`
	GCPauseUsec100    int64 `json:"gc_pause_usec_100"`
	GCPauseUsec99     int64 `json:"gc_pause_usec_99"`
	GCPauseUsec95     int64 `json:"gc_pause_usec_95"`
	NextGCBytes       int64 `json:"next_gc_bytes"`
	GCTotalRuns       int64 `json:"gc_total_runs"`
}
