package nsqd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/diskqueue"
	"github.com/nsqkit/nsqkit/core/wire"
)

// consumeAll subscribes a raw consumer and FINs messages until it has seen
// want distinct bodies or nothing arrives for quiet. It returns how many
// times each body arrived.
func consumeAll(t *testing.T, n *NSQD, topic, channel string, want int, quiet time.Duration) map[string]int {
	t.Helper()
	r := dialRaw(t, n)
	r.write(wire.MagicV2)
	r.cmd(wire.Subscribe(topic, channel))
	r.expect(wire.FrameTypeResponse, "OK")
	r.cmd(wire.Ready(2500))
	seen := make(map[string]int, want)
	var fins []byte
	for len(seen) < want {
		r.conn.SetReadDeadline(time.Now().Add(quiet))
		ft, data, err := wire.ReadFrame(r.conn, 0)
		if err != nil {
			break
		}
		if ft != wire.FrameTypeMessage {
			if wire.IsHeartbeat(data) {
				r.cmd(wire.Nop())
			}
			continue
		}
		m, err := wire.DecodeMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		seen[string(m.Body)]++
		fins = wire.Finish(m.ID).Append(fins)
		if len(fins) > 16*1024 {
			r.write(fins)
			fins = fins[:0]
		}
	}
	if len(fins) > 0 {
		r.write(fins)
	}
	return seen
}

// TestDurabilityAcrossRestart: with --mem-queue-size=100, 100 000 published
// messages, some in flight and some deferred at shutdown, all come back
// after a restart; none twice except those that were in flight.
func TestDurabilityAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 100 000 messages")
	}
	const total = 100000
	opts := testOptions(t)
	opts.MemQueueSize = 100
	opts.LogLevel = 3
	dataPath := opts.DataPath
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	go n.Main()
	n.GetTopic("durable").GetChannel("ch")

	p := dialRaw(t, n)
	p.write(wire.MagicV2)
	// deferred messages must survive too (published first: a DPUB that
	// spills to the topic's disk queue loses its deferral, as in the original)
	for i := 0; i < 10; i++ {
		p.cmd(wire.DeferredPublish("durable", 3600000, []byte("deferred-"+strconv.Itoa(i))))
		p.expect(wire.FrameTypeResponse, "OK")
	}
	ch, _ := n.GetTopic("durable").GetExistingChannel("ch")
	eventually(t, 10*time.Second, "deferred messages reach the channel", func() bool { return ch.DeferredCount() == 10 })

	batch := make([][]byte, 0, 500)
	for i := 0; i < total; i++ {
		batch = append(batch, []byte("msg-"+strconv.Itoa(i)))
		if len(batch) == cap(batch) {
			p.cmd(wire.MultiPublish("durable", batch))
			p.expect(wire.FrameTypeResponse, "OK")
			batch = batch[:0]
		}
	}
	// a consumer takes 50 messages in flight and never finishes them
	c := dialRaw(t, n)
	c.write(wire.MagicV2)
	c.cmd(wire.Subscribe("durable", "ch"))
	c.expect(wire.FrameTypeResponse, "OK")
	c.cmd(wire.Ready(50))
	inFlight := map[string]bool{}
	for len(inFlight) < 50 {
		ft, data, err := c.frame()
		if err != nil {
			t.Fatal(err)
		}
		if ft == wire.FrameTypeMessage {
			m, _ := wire.DecodeMessage(data)
			inFlight[string(m.Body)] = true
		}
	}
	eventually(t, 5*time.Second, "50 in flight", func() bool { return ch.InFlightCount() == 50 })
	n.Exit()

	opts2 := testOptions(t)
	opts2.DataPath = dataPath
	opts2.MemQueueSize = 100
	opts2.LogLevel = 3
	n2 := startNSQD(t, opts2)
	seen := consumeAll(t, n2, "durable", "ch", total+10, 3*time.Second)
	if len(seen) != total+10 {
		t.Fatalf("after restart got %d distinct messages, want %d", len(seen), total+10)
	}
	for body, count := range seen {
		if count > 1 && !inFlight[body] {
			t.Errorf("%s delivered %d times and was not in flight", body, count)
		}
	}
	for i := 0; i < 10; i++ {
		if seen["deferred-"+strconv.Itoa(i)] != 1 {
			t.Errorf("deferred-%d not delivered once", i)
		}
	}
}

// TestReadOriginalDataDir: a data directory in nsqd 1.3.0's format
// (nsqd.dat + go-diskqueue files) is picked up: topics, channels, paused
// flags and queued messages.
func TestReadOriginalDataDir(t *testing.T) {
	dir := t.TempDir()
	md := `{"topics":[{"name":"orders","paused":false,"channels":[{"name":"billing","paused":false},{"name":"audit","paused":true}]},{"name":"held","paused":true,"channels":null}],"version":"1.3.0"}`
	if err := os.WriteFile(filepath.Join(dir, "nsqd.dat"), []byte(md), 0600); err != nil {
		t.Fatal(err)
	}
	mk := func(prefix string, count int) []*wire.Message {
		f := wire.NewGUIDFactory(1)
		var ms []*wire.Message
		for i := 0; i < count; i++ {
			ms = append(ms, &wire.Message{ID: f.NewID(), Body: []byte(fmt.Sprintf("%s-%d", prefix, i)), Timestamp: time.Now().UnixNano(), Attempts: 1})
		}
		return ms
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(diskqueue.WriteOriginalQueue(dir, diskqueue.ChannelQueueName("orders", "billing"), mk("billing", 20)))
	must(diskqueue.WriteOriginalQueue(dir, diskqueue.ChannelQueueName("orders", "audit"), mk("audit", 5)))
	must(diskqueue.WriteOriginalQueue(dir, "orders", mk("topic", 7)))
	must(diskqueue.WriteOriginalQueue(dir, "held", mk("held", 3)))

	opts := testOptions(t)
	opts.DataPath = dir
	n := startNSQD(t, opts)
	held, err := n.GetExistingTopic("held")
	if err != nil || !held.Paused() {
		t.Fatalf("topic held: err=%v, paused=%v", err, held != nil && held.Paused())
	}
	if d := held.Depth(); d != 3 {
		t.Errorf("held depth = %d, want 3", d)
	}
	orders, err := n.GetExistingTopic("orders")
	if err != nil {
		t.Fatal(err)
	}
	audit, err := orders.GetExistingChannel("audit")
	if err != nil || !audit.Paused() {
		t.Fatalf("audit channel: err=%v", err)
	}
	// billing gets its 20 plus the 7 the topic still held
	seen := consumeAll(t, n, "orders", "billing", 27, 3*time.Second)
	if len(seen) != 27 {
		t.Fatalf("billing got %d messages, want 27: %v", len(seen), seen)
	}
	for i := 0; i < 7; i++ {
		if seen[fmt.Sprintf("topic-%d", i)] != 1 {
			t.Errorf("topic-%d missing", i)
		}
	}
	eventually(t, 3*time.Second, "audit depth 12", func() bool { return audit.Depth() == 12 })
}
