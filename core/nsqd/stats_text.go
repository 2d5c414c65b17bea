package nsqd

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nsqkit/nsqkit/core/version"
)

// statsText renders /stats in the human-readable layout of http-api.md
// §2.7.2. ms is nil when the memory block is not wanted.
func statsText(stats Stats, ms *MemStats, health string, startTime time.Time, now time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n", version.String("nsqd"))
	fmt.Fprintf(&b, "start_time %s\n", startTime.Format(time.RFC3339))
	fmt.Fprintf(&b, "uptime %s\n", now.Sub(startTime))
	fmt.Fprintf(&b, "\nHealth: %s\n", health)

	if ms != nil {
		b.WriteString("\nMemory:\n")
		for _, kv := range []struct {
			k string
			v uint64
		}{
			{"heap_objects", ms.HeapObjects},
			{"heap_idle_bytes", ms.HeapIdleBytes},
			{"heap_in_use_bytes", ms.HeapInUseBytes},
			{"heap_released_bytes", ms.HeapReleasedBytes},
			{"gc_pause_usec_100", ms.GCPauseUsec100},
			{"gc_pause_usec_99", ms.GCPauseUsec99},
			{"gc_pause_usec_95", ms.GCPauseUsec95},
			{"next_gc_bytes", ms.NextGCBytes},
			{"gc_total_runs", uint64(ms.GCTotalRuns)},
		} {
			fmt.Fprintf(&b, "   %-25s\t%d\n", kv.k, kv.v)
		}
	}

	if len(stats.Topics) == 0 {
		b.WriteString("\nTopics: None\n")
	} else {
		b.WriteString("\nTopics:")
	}
	for _, t := range stats.Topics {
		prefix := "   "
		if t.Paused {
			prefix = "*P "
		}
		fmt.Fprintf(&b, "\n%s[%-15s] depth: %-5d be-depth: %-5d msgs: %-8d e2e%%: %s\n",
			prefix, t.TopicName, t.Depth, t.BackendDepth, t.MessageCount, t.E2eProcessingLatency)
		for _, c := range t.Channels {
			prefix := "      "
			if c.Paused {
				prefix = "   *P "
			}
			fmt.Fprintf(&b, "%s[%-25s] depth: %-5d be-depth: %-5d inflt: %-4d def: %-4d re-q: %-5d timeout: %-5d msgs: %-8d e2e%%: %s\n",
				prefix, c.ChannelName, c.Depth, c.BackendDepth, c.InFlightCount, c.DeferredCount,
				c.RequeueCount, c.TimeoutCount, c.MessageCount, c.E2eProcessingLatency)
			for _, cl := range c.Clients {
				fmt.Fprintf(&b, "        %s\n", cl.text(now))
			}
		}
	}

	if len(stats.Producers) == 0 {
		b.WriteString("\nProducers: None\n")
	} else {
		b.WriteString("\nProducers:\n")
		for _, cl := range stats.Producers {
			fmt.Fprintf(&b, "   %s\n", cl.text(now))
		}
	}
	return b.Bytes()
}

// text is a client's line in the text stats: the producer form when it has
// published, the consumer form otherwise.
func (s ClientStats) text(now time.Time) string {
	connected := now.Sub(time.Unix(s.ConnectTime, 0)).Truncate(time.Second)
	_, port, _ := net.SplitHostPort(s.RemoteAddress)
	id := fmt.Sprintf("%s:%s %s", s.Hostname, port, s.UserAgent)
	if len(s.PubCounts) > 0 {
		var total uint64
		topics := make([]string, 0, len(s.PubCounts))
		for _, pc := range s.PubCounts {
			total += pc.Count
			topics = append(topics, fmt.Sprintf("%s=%d", pc.Topic, pc.Count))
		}
		return fmt.Sprintf("[%s %-21s] msgs: %-8d topics: %s connected: %s",
			s.Version, id, total, strings.Join(topics, ","), connected)
	}
	return fmt.Sprintf("[%s %-21s] state: %d inflt: %-4d rdy: %-4d fin: %-8d re-q: %-8d msgs: %-8d connected: %s",
		s.Version, id, s.State, s.InFlightCount, s.ReadyCount, s.FinishCount, s.RequeueCount, s.MessageCount, connected)
}
