package nsqd

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStatsdLinesAndDeltas(t *testing.T) {
	stats := func(msgs uint64) Stats {
		lat := LatencyStats{Count: 1, Percentiles: []Percentile{{1.0, 1500.7}, {0.999, 900}, {0.5, 10}}}
		return Stats{Topics: []TopicStats{
			{TopicName: "a#ephemeral", MessageCount: 1, Channels: []ChannelStats{{ChannelName: "x"}}},
			{TopicName: "t", MessageCount: msgs, MessageBytes: 10 * msgs, Depth: 4, BackendDepth: 2, E2eProcessingLatency: lat,
				Channels: []ChannelStats{
					{ChannelName: "c", MessageCount: msgs, Depth: 3, BackendDepth: 1, InFlightCount: 2, DeferredCount: 1,
						RequeueCount: msgs / 2, TimeoutCount: 1, ClientCount: 5, E2eProcessingLatency: lat},
					{ChannelName: "e#ephemeral", MessageCount: msgs},
				}},
		}}
	}
	var st statsdState
	ms := &MemStats{HeapObjects: 1, HeapIdleBytes: 2, HeapInUseBytes: 3, HeapReleasedBytes: 4,
		GCPauseUsec100: 5, GCPauseUsec99: 6, GCPauseUsec95: 7, NextGCBytes: 8, GCTotalRuns: 9}
	got := st.lines(stats(10), ms, "p.", true)
	want := []string{
		"p.topic.t.message_count:10|c", "p.topic.t.message_bytes:100|c", "p.topic.t.depth:4|g", "p.topic.t.backend_depth:2|g",
		"p.topic.t.e2e_processing_latency_100:1500|g", "p.topic.t.e2e_processing_latency_100:900|g", "p.topic.t.e2e_processing_latency_50:10|g",
		"p.topic.t.channel.c.message_count:10|c", "p.topic.t.channel.c.depth:3|g", "p.topic.t.channel.c.backend_depth:1|g",
		"p.topic.t.channel.c.in_flight_count:2|g", "p.topic.t.channel.c.deferred_count:1|g",
		"p.topic.t.channel.c.requeue_count:5|c", "p.topic.t.channel.c.timeout_count:1|c", "p.topic.t.channel.c.clients:5|g",
		"p.topic.t.channel.c.e2e_processing_latency_100:1500|g", "p.topic.t.channel.c.e2e_processing_latency_100:900|g",
		"p.topic.t.channel.c.e2e_processing_latency_50:10|g",
		"p.mem.heap_objects:1|g", "p.mem.heap_idle_bytes:2|g", "p.mem.heap_in_use_bytes:3|g", "p.mem.heap_released_bytes:4|g",
		"p.mem.gc_pause_usec_100:5|g", "p.mem.gc_pause_usec_99:6|g", "p.mem.gc_pause_usec_95:7|g", "p.mem.next_gc_bytes:8|g",
		"p.mem.gc_runs:9|c",
	}
	for i := range want {
		want[i] += "\n"
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lines\n%q\nwant\n%q", got, want)
	}
	// the next push: counters are increases, gauges values
	ms.GCTotalRuns = 12
	got = st.lines(stats(16), ms, "p.", true)
	for _, w := range []string{"p.topic.t.message_count:6|c\n", "p.topic.t.message_bytes:60|c\n", "p.topic.t.channel.c.requeue_count:3|c\n",
		"p.topic.t.channel.c.timeout_count:0|c\n", "p.topic.t.depth:4|g\n", "p.mem.gc_runs:3|c\n"} {
		if !slices.Contains(got, w) {
			t.Errorf("second push lacks %q", w)
		}
	}
	// ephemeral names are kept (with their #) unless excluded; no prefix
	got = st.lines(stats(16), nil, "", false)
	if !slices.Contains(got, "topic.a#ephemeral.message_count:1|c\n") || !slices.Contains(got, "topic.t.channel.e#ephemeral.message_count:16|c\n") ||
		slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "mem.") }) {
		t.Fatalf("lines %q", got)
	}
}

func TestStatsdPacking(t *testing.T) {
	lines := []string{"aaaa\n", "bbb\n", "cc\n", strings.Repeat("x", 20) + "\n", "d\n"}
	got := packStatsdLines(lines, 10)
	var s []string
	for _, p := range got {
		s = append(s, string(p))
	}
	want := []string{"aaaa\nbbb\n", "cc\n", strings.Repeat("x", 20) + "\n", "d\n"}
	if !slices.Equal(s, want) {
		t.Fatalf("packets %q, want %q", s, want)
	}
	if got := packStatsdLines(nil, 10); len(got) != 0 {
		t.Fatalf("packets of nothing %q", got)
	}
}

// readStatsdPush reads datagrams until a push ends (mem.gc_runs is its
// last line) and returns its lines.
func readStatsdPush(t *testing.T, pc net.PacketConn, maxSize int) []string {
	t.Helper()
	var lines []string
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("statsd read after %q: %v", lines, err)
		}
		p := string(buf[:k])
		if k > maxSize || !strings.HasSuffix(p, "\n") {
			t.Fatalf("datagram of %d bytes %q", k, p)
		}
		for _, l := range strings.SplitAfter(p, "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		if strings.Contains(p, "mem.gc_runs:") {
			return lines
		}
	}
}

func TestStatsdUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	opts := fixtureOptions(t)
	opts.StatsdAddress = pc.LocalAddr().String()
	opts.StatsdInterval = 1100 * time.Millisecond
	opts.StatsdUDPPacketSize = 120
	opts.StatsdExcludeEphemeral = true
	n := startNSQD(t, opts)
	prefix := fmt.Sprintf("nsq.127_0_0_1_%d.", portOf(n.httpListener))

	n.GetTopic("sd").GetChannel("c")
	n.GetTopic("eph#ephemeral").GetChannel("x")
	for i := 0; i < 3; i++ {
		hPost(t, n, "/pub?topic=sd", "12345").expectV1(t, "pub", 200, "OK")
	}
	ch, _ := n.GetTopic("sd").GetExistingChannel("c")
	eventually(t, time.Second, "3 in c", func() bool { return ch.Depth() == 3 })

	first := readStatsdPush(t, pc, 120)
	for _, l := range first {
		if !strings.HasPrefix(l, prefix) || strings.Contains(l, "eph") {
			t.Fatalf("line %q", l)
		}
	}
	for _, w := range []string{"topic.sd.message_count:3|c", "topic.sd.message_bytes:15|c", "topic.sd.depth:0|g",
		"topic.sd.backend_depth:0|g", "topic.sd.e2e_processing_latency_99:0|g", "topic.sd.e2e_processing_latency_50:0|g",
		"topic.sd.channel.c.message_count:3|c", "topic.sd.channel.c.depth:3|g", "topic.sd.channel.c.clients:0|g",
		"topic.sd.channel.c.in_flight_count:0|g", "topic.sd.channel.c.requeue_count:0|c"} {
		if !slices.Contains(first, prefix+w+"\n") {
			t.Errorf("first push lacks %q: %q", w, first)
		}
	}
	for i := 0; i < 2; i++ {
		hPost(t, n, "/pub?topic=sd", "x").expectV1(t, "pub", 200, "OK")
	}
	eventually(t, time.Second, "5 in c", func() bool { return ch.Depth() == 5 })
	second := readStatsdPush(t, pc, 120)
	for _, w := range []string{"topic.sd.message_count:2|c", "topic.sd.message_bytes:2|c", "topic.sd.channel.c.message_count:2|c",
		"topic.sd.channel.c.depth:5|g"} {
		if !slices.Contains(second, prefix+w+"\n") {
			t.Errorf("second push lacks %q: %q", w, second)
		}
	}
}
