package nsqd

import (
	"crypto/tls"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Stats is one snapshot of the broker's topics, channels and clients. It is
// shared by /stats (JSON and text), statsd and the Prometheus collector.
type Stats struct {
	// Topics is nil when a topic filter names a topic that does not exist.
	Topics []TopicStats
	// Producers is nil when there are none, clients were not requested or
	// the topic filter matched nothing.
	Producers []ClientStats
}

// TopicStats is one topic in /stats (keys in NSQ's order).
type TopicStats struct {
	TopicName            string         `json:"topic_name"`
	Channels             []ChannelStats `json:"channels"`
	Depth                int64          `json:"depth"`
	BackendDepth         int64          `json:"backend_depth"`
	MessageCount         uint64         `json:"message_count"`
	MessageBytes         uint64         `json:"message_bytes"`
	Paused               bool           `json:"paused"`
	E2eProcessingLatency LatencyStats   `json:"e2e_processing_latency"`
}

// ChannelStats is one channel in /stats.
type ChannelStats struct {
	ChannelName          string        `json:"channel_name"`
	Depth                int64         `json:"depth"`
	BackendDepth         int64         `json:"backend_depth"`
	InFlightCount        int           `json:"in_flight_count"`
	DeferredCount        int           `json:"deferred_count"`
	MessageCount         uint64        `json:"message_count"`
	RequeueCount         uint64        `json:"requeue_count"`
	TimeoutCount         uint64        `json:"timeout_count"`
	ClientCount          int           `json:"client_count"`
	Clients              []ClientStats `json:"clients"`
	Paused               bool          `json:"paused"`
	E2eProcessingLatency LatencyStats  `json:"e2e_processing_latency"`
}

// ClientStats is one TCP connection (a channel's consumer or a producer).
type ClientStats struct {
	ClientID                      string     `json:"client_id"`
	Hostname                      string     `json:"hostname"`
	Version                       string     `json:"version"`
	RemoteAddress                 string     `json:"remote_address"`
	State                         int32      `json:"state"`
	ReadyCount                    int64      `json:"ready_count"`
	InFlightCount                 int64      `json:"in_flight_count"`
	MessageCount                  uint64     `json:"message_count"`
	FinishCount                   uint64     `json:"finish_count"`
	RequeueCount                  uint64     `json:"requeue_count"`
	ConnectTime                   int64      `json:"connect_ts"`
	SampleRate                    int32      `json:"sample_rate"`
	Deflate                       bool       `json:"deflate"`
	Snappy                        bool       `json:"snappy"`
	UserAgent                     string     `json:"user_agent"`
	Authed                        bool       `json:"authed,omitempty"`
	AuthIdentity                  string     `json:"auth_identity,omitempty"`
	AuthIdentityURL               string     `json:"auth_identity_url,omitempty"`
	PubCounts                     []PubCount `json:"pub_counts,omitempty"`
	TLS                           bool       `json:"tls"`
	CipherSuite                   string     `json:"tls_cipher_suite"`
	TLSVersion                    string     `json:"tls_version"`
	TLSNegotiatedProtocol         string     `json:"tls_negotiated_protocol"`
	TLSNegotiatedProtocolIsMutual bool       `json:"tls_negotiated_protocol_is_mutual"`
}

// PubCount is how many messages a connection published to a topic.
type PubCount struct {
	Topic string `json:"topic"`
	Count uint64 `json:"count"`
}

// LatencyStats is an e2e_processing_latency object.
type LatencyStats struct {
	Count       uint64       `json:"count"`
	Percentiles []Percentile `json:"percentiles"`
}

// Percentile is one configured quantile and its value in nanoseconds.
type Percentile struct {
	Quantile float64 `json:"quantile"`
	Value    float64 `json:"value"`
}

// String renders the values for the text stats ("1.5ms, 830.2us").
func (l LatencyStats) String() string {
	s := make([]string, 0, len(l.Percentiles))
	for _, p := range l.Percentiles {
		s = append(s, nanosecondsToHuman(p.Value))
	}
	return strings.Join(s, ", ")
}

func nanosecondsToHuman(v float64) string {
	suffix := "ns"
	switch {
	case v > 1e9:
		v /= 1e9
		suffix = "s"
	case v > 1e6:
		v /= 1e6
		suffix = "ms"
	case v > 1e3:
		v /= 1e3
		suffix = "us"
	}
	return fmt.Sprintf("%.1f%s", v, suffix)
}

// MemStats is the /stats memory block (and statsd's mem.* metrics).
type MemStats struct {
	HeapObjects       uint64 `json:"heap_objects"`
	HeapIdleBytes     uint64 `json:"heap_idle_bytes"`
	HeapInUseBytes    uint64 `json:"heap_in_use_bytes"`
	HeapReleasedBytes uint64 `json:"heap_released_bytes"`
	GCPauseUsec100    uint64 `json:"gc_pause_usec_100"`
	GCPauseUsec99     uint64 `json:"gc_pause_usec_99"`
	GCPauseUsec95     uint64 `json:"gc_pause_usec_95"`
	NextGCBytes       uint64 `json:"next_gc_bytes"`
	GCTotalRuns       uint32 `json:"gc_total_runs"`
}

// getMemStats reads the runtime's memory statistics; the GC pause
// percentiles cover the most recent (up to 256) pauses.
func getMemStats() MemStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := len(ms.PauseNs)
	if int(ms.NumGC) < n {
		n = int(ms.NumGC)
	}
	pauses := make([]uint64, n)
	copy(pauses, ms.PauseNs[:n])
	slices.Sort(pauses)
	return MemStats{
		HeapObjects:       ms.HeapObjects,
		HeapIdleBytes:     ms.HeapIdle,
		HeapInUseBytes:    ms.HeapInuse,
		HeapReleasedBytes: ms.HeapReleased,
		GCPauseUsec100:    percentileOf(100, pauses) / 1000,
		GCPauseUsec99:     percentileOf(99, pauses) / 1000,
		GCPauseUsec95:     percentileOf(95, pauses) / 1000,
		NextGCBytes:       ms.NextGC,
		GCTotalRuns:       ms.NumGC,
	}
}

// percentileOf picks element floor(p/100*n + 0.5) (clamped) of a sorted slice.
func percentileOf(p float64, sorted []uint64) uint64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(math.Floor(p/100*float64(n) + 0.5))
	if i >= n {
		i = n - 1
	}
	return sorted[i]
}

// GetStats snapshots the topics (all, or the one named by topic), their
// channels (all, or the one named by channel; topics without it are left
// out) and, with includeClients, each channel's clients and the producers.
func (n *NSQD) GetStats(topic, channel string, includeClients bool) Stats {
	var stats Stats
	var topics []*Topic
	if topic == "" {
		topics = n.Topics()
	} else {
		t, err := n.GetExistingTopic(topic)
		if err != nil {
			return stats
		}
		topics = []*Topic{t}
	}
	now := time.Now().UnixNano()
	stats.Topics = make([]TopicStats, 0, len(topics))
	for _, t := range topics {
		var chans []*Channel
		if channel == "" {
			chans = t.Channels()
		} else {
			c, err := t.GetExistingChannel(channel)
			if err != nil {
				continue
			}
			chans = []*Channel{c}
		}
		ts := TopicStats{
			TopicName:    t.name,
			Channels:     make([]ChannelStats, 0, len(chans)),
			Depth:        t.Depth(),
			BackendDepth: t.backend.Depth(),
			MessageCount: t.messageCount.Load(),
			MessageBytes: t.messageBytes.Load(),
			Paused:       t.Paused(),
		}
		for _, c := range chans {
			cs := ChannelStats{
				ChannelName:          c.name,
				Depth:                c.Depth(),
				BackendDepth:         c.backend.Depth(),
				InFlightCount:        c.InFlightCount(),
				DeferredCount:        c.DeferredCount(),
				MessageCount:         c.messageCount.Load(),
				RequeueCount:         c.requeueCount.Load(),
				TimeoutCount:         c.timeoutCount.Load(),
				Paused:               c.Paused(),
				E2eProcessingLatency: c.e2e.result(now),
			}
			if includeClients {
				list := c.clientList()
				cs.ClientCount = len(list)
				cs.Clients = make([]ClientStats, 0, len(list))
				for _, cl := range list {
					cs.Clients = append(cs.Clients, cl.stats(topic))
				}
			} else {
				cs.ClientCount = c.ClientCount()
			}
			ts.Channels = append(ts.Channels, cs)
		}
		// the topic's latency merges all its channels (not only the
		// filtered one)
		ts.E2eProcessingLatency = topicLatency(t, n.opts, now)
		stats.Topics = append(stats.Topics, ts)
	}
	if includeClients {
		for _, cl := range n.clientList() {
			if len(cl.pubCountList()) == 0 {
				continue
			}
			stats.Producers = append(stats.Producers, cl.stats(topic))
		}
	}
	return stats
}

// clientList is every TCP client, by connection order.
func (n *NSQD) clientList() []*client {
	n.clientsMu.RLock()
	out := make([]*client, 0, len(n.clients))
	for _, c := range n.clients {
		out = append(out, c)
	}
	n.clientsMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// clientAuthStats reports a connection's auth state for /stats. The auth
// implementation (auth.go) may set it; by default nobody is authed.
// It is called with c.metaMu read-locked.
var clientAuthStats func(c *client) (authed bool, identity, identityURL string)

// stats snapshots one client. With a topic filter, pub_counts holds only
// that topic's entry (if any); otherwise every topic, sorted.
func (c *client) stats(topic string) ClientStats {
	c.metaMu.RLock()
	s := ClientStats{
		ClientID:      c.clientID,
		Hostname:      c.hostname,
		Version:       "V2",
		RemoteAddress: c.remoteAddr,
		UserAgent:     c.userAgent,
		SampleRate:    c.sampleRate,
		Deflate:       c.deflate,
		Snappy:        c.snappy,
		ConnectTime:   c.connectTime.Unix(),
	}
	if clientAuthStats != nil {
		s.Authed, s.AuthIdentity, s.AuthIdentityURL = clientAuthStats(c)
	}
	for t, cnt := range c.pubCounts {
		if topic == "" || t == topic {
			s.PubCounts = append(s.PubCounts, PubCount{Topic: t, Count: cnt})
		}
	}
	tlsState := c.tlsState
	c.metaMu.RUnlock()
	sort.Slice(s.PubCounts, func(i, j int) bool { return s.PubCounts[i].Topic < s.PubCounts[j].Topic })
	s.State = c.state.Load()
	s.ReadyCount = c.readyCount.Load()
	s.InFlightCount = c.inFlightCount.Load()
	s.MessageCount = c.messageCount.Load()
	s.FinishCount = c.finishCount.Load()
	s.RequeueCount = c.requeueCount.Load()
	if tlsState != nil {
		s.TLS = true
		s.CipherSuite = cipherSuiteName(tlsState.CipherSuite)
		s.TLSVersion = tlsVersionName(tlsState.Version)
		s.TLSNegotiatedProtocol = tlsState.NegotiatedProtocol
		s.TLSNegotiatedProtocolIsMutual = true // always true since Go 1.3 (deprecated field)
	}
	return s
}

// nsqCipherSuites are the suites NSQ v1.3.0 reports by name in /stats;
// any other is "Unknown <n>".
var nsqCipherSuites = map[uint16]bool{
	tls.TLS_RSA_WITH_RC4_128_SHA:                true,
	tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA:           true,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA:            true,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA:            true,
	tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA:        true,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:    true,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:    true,
	tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA:          true,
	tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA:     true,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:      true,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:      true,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:   true,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: true,
}

func cipherSuiteName(id uint16) string {
	if nsqCipherSuites[id] {
		return tls.CipherSuiteName(id)
	}
	return fmt.Sprintf("Unknown %d", id)
}
