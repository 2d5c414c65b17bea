package nsqd

import (
	"bytes"
	"fmt"
	"net"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// statsdLoop pushes metrics to --statsd-address every --statsd-interval
// (daemon-behaviour.md §7) until the broker exits.
func (n *NSQD) statsdLoop() {
	interval := n.opts.StatsdInterval
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var st statsdState
	for {
		select {
		case <-ticker.C:
		case <-n.exitChan:
			n.logger.Infof("STATSD: closing")
			return
		case <-n.exited:
			n.logger.Infof("STATSD: closing")
			return
		}
		addr := n.opts.StatsdAddress
		conn, err := net.DialTimeout("udp", addr, time.Second)
		if err != nil {
			n.logger.Errorf("failed to create UDP socket to statsd(%s)", addr)
			continue
		}
		n.logger.Infof("STATSD: pushing stats to %s", addr)
		var ms *MemStats
		if n.opts.StatsdMemStats {
			m := getMemStats()
			ms = &m
		}
		lines := st.lines(n.GetStats("", "", false), ms, n.opts.StatsdPrefix, n.opts.StatsdExcludeEphemeral)
		packets := packStatsdLines(lines, n.opts.StatsdUDPPacketSize)
		n.sendSpread(conn, packets, interval-time.Second)
		conn.Close()
	}
}

// sendSpread writes the packets evenly over period (all at once when the
// period is not positive), stopping early when the broker exits.
func (n *NSQD) sendSpread(conn net.Conn, packets [][]byte, period time.Duration) {
	var pause time.Duration
	if len(packets) > 0 && period > 0 {
		pause = period / time.Duration(len(packets))
	}
	for i, p := range packets {
		if _, err := conn.Write(p); err != nil {
			n.logger.Errorf("STATSD: failed to send to %s - %s", conn.RemoteAddr(), err)
			return
		}
		if pause <= 0 || i == len(packets)-1 {
			continue
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-n.exitChan:
			t.Stop()
			return
		case <-n.exited:
			t.Stop()
			return
		}
	}
}

// packStatsdLines joins whole lines into datagrams of at most size bytes;
// a line longer than size goes alone.
func packStatsdLines(lines []string, size int) [][]byte {
	var out [][]byte
	var cur bytes.Buffer
	for _, l := range lines {
		if cur.Len() > 0 && cur.Len()+len(l) > size {
			out = append(out, bytes.Clone(cur.Bytes()))
			cur.Reset()
		}
		cur.WriteString(l)
	}
	if cur.Len() > 0 {
		out = append(out, bytes.Clone(cur.Bytes()))
	}
	return out
}

// statsdState remembers the previous push's counters so each push sends
// their increase.
type statsdState struct {
	last      map[string]uint64
	lastGCRun uint32
}

// delta returns the increase of a counter since the last push (the full
// value the first time, or after the counter restarted).
func (s *statsdState) delta(next map[string]uint64, key string, v uint64) int64 {
	next[key] = v
	prev, ok := s.last[key]
	if !ok || v < prev {
		return int64(v)
	}
	return int64(v - prev)
}

// lines builds the metric lines of one push, each ending in "\n".
func (s *statsdState) lines(stats Stats, ms *MemStats, prefix string, excludeEphemeral bool) []string {
	var out []string
	next := make(map[string]uint64)
	counter := func(stat string, v uint64) {
		out = append(out, fmt.Sprintf("%s%s:%d|c\n", prefix, stat, s.delta(next, stat, v)))
	}
	gauge := func(stat string, v int64) {
		out = append(out, fmt.Sprintf("%s%s:%d|g\n", prefix, stat, v))
	}
	latency := func(base string, l LatencyStats) {
		for _, p := range l.Percentiles {
			gauge(fmt.Sprintf("%s.e2e_processing_latency_%.0f", base, p.Quantile*100), int64(p.Value))
		}
	}
	for _, t := range stats.Topics {
		if excludeEphemeral && wire.IsEphemeral(t.TopicName) {
			continue
		}
		base := "topic." + t.TopicName
		counter(base+".message_count", t.MessageCount)
		counter(base+".message_bytes", t.MessageBytes)
		gauge(base+".depth", t.Depth)
		gauge(base+".backend_depth", t.BackendDepth)
		latency(base, t.E2eProcessingLatency)
		for _, c := range t.Channels {
			if excludeEphemeral && wire.IsEphemeral(c.ChannelName) {
				continue
			}
			cbase := base + ".channel." + c.ChannelName
			counter(cbase+".message_count", c.MessageCount)
			gauge(cbase+".depth", c.Depth)
			gauge(cbase+".backend_depth", c.BackendDepth)
			gauge(cbase+".in_flight_count", int64(c.InFlightCount))
			gauge(cbase+".deferred_count", int64(c.DeferredCount))
			counter(cbase+".requeue_count", c.RequeueCount)
			counter(cbase+".timeout_count", c.TimeoutCount)
			gauge(cbase+".clients", int64(c.ClientCount))
			latency(cbase, c.E2eProcessingLatency)
		}
	}
	s.last = next
	if ms != nil {
		gauge("mem.heap_objects", int64(ms.HeapObjects))
		gauge("mem.heap_idle_bytes", int64(ms.HeapIdleBytes))
		gauge("mem.heap_in_use_bytes", int64(ms.HeapInUseBytes))
		gauge("mem.heap_released_bytes", int64(ms.HeapReleasedBytes))
		gauge("mem.gc_pause_usec_100", int64(ms.GCPauseUsec100))
		gauge("mem.gc_pause_usec_99", int64(ms.GCPauseUsec99))
		gauge("mem.gc_pause_usec_95", int64(ms.GCPauseUsec95))
		gauge("mem.next_gc_bytes", int64(ms.NextGCBytes))
		runs := ms.GCTotalRuns - s.lastGCRun
		if ms.GCTotalRuns < s.lastGCRun {
			runs = ms.GCTotalRuns
		}
		out = append(out, fmt.Sprintf("%smem.gc_runs:%d|c\n", prefix, runs))
		s.lastGCRun = ms.GCTotalRuns
	}
	return out
}
