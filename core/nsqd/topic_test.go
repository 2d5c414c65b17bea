package nsqd

import (
	"strconv"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// TestDeferredFanOut: a DPUB is deferred in every channel of its topic,
// also with --mem-queue-size=0 (the direct hand-off to the channels keeps
// the deferral that 1.3.0 loses by spilling to the topic's disk queue).
func TestDeferredFanOut(t *testing.T) {
	for _, mem := range []int64{10000, 0} {
		opts := testOptions(t)
		opts.MemQueueSize = mem
		n := startNSQD(t, opts)
		topic := n.GetTopic("fan")
		chans := []*Channel{topic.GetChannel("a"), topic.GetChannel("b"), topic.GetChannel("c")}
		p := dialRaw(t, n)
		p.write(wire.MagicV2)
		p.cmd(wire.DeferredPublish("fan", 60000, []byte("later")))
		p.expect(wire.FrameTypeResponse, "OK")
		p.cmd(wire.Publish("fan", []byte("now")))
		p.expect(wire.FrameTypeResponse, "OK")
		for _, c := range chans {
			c := c
			eventually(t, 5*time.Second, "deferred in "+c.name, func() bool { return c.DeferredCount() == 1 && c.Depth() == 1 })
		}
	}
}

// TestPausedTopicHoldsMessages: a paused topic keeps its messages until
// unpaused, then every channel gets them.
func TestPausedTopicHoldsMessages(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	topic := n.GetTopic("held")
	c := topic.GetChannel("c")
	topic.Pause()
	for i := 0; i < 5; i++ {
		topic.PutMessage(NewMessage(topic.NewMessageID(), []byte("x")))
	}
	time.Sleep(50 * time.Millisecond)
	if topic.Depth() != 5 || c.Depth() != 0 {
		t.Fatalf("paused: topic depth %d, channel depth %d", topic.Depth(), c.Depth())
	}
	topic.Unpause()
	eventually(t, 5*time.Second, "channel gets the messages", func() bool { return c.Depth() == 5 && topic.Depth() == 0 })
}

// TestIdleClientFlushedAtOnce: with a long output-buffer timeout and RDY
// to spare, a lone message still goes out as soon as nothing else is
// ready (the timer is only the bound under continuous load).
func TestIdleClientFlushedAtOnce(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	c := dialRaw(t, n)
	c.write(wire.MagicV2)
	c.cmd(wire.Identify([]byte(`{"output_buffer_timeout":30000}`)))
	c.expect(wire.FrameTypeResponse, "OK")
	c.cmd(wire.Subscribe("idle", "c"))
	c.expect(wire.FrameTypeResponse, "OK")
	c.cmd(wire.Ready(10))
	ch, _ := n.GetTopic("idle").GetExistingChannel("c")
	eventually(t, 2*time.Second, "RDY 10 applied", func() bool {
		cls := ch.clientList()
		return len(cls) == 1 && cls[0].readyCount.Load() == 10
	})
	p := dialRaw(t, n)
	p.write(wire.MagicV2)
	start := time.Now()
	p.cmd(wire.Publish("idle", []byte("now")))
	p.expect(wire.FrameTypeResponse, "OK")
	ft, data, err := c.frame() // 2 s deadline, far below the 30 s timer
	if err != nil || ft != wire.FrameTypeMessage {
		t.Fatalf("no message: %v", err)
	}
	m, _ := wire.DecodeMessage(data)
	if string(m.Body) != "now" {
		t.Fatalf("body %q", m.Body)
	}
	t.Logf("delivered in %s", time.Since(start))
}

// TestTopicBacklogForFullChannels: while its only channel's memory is full
// and publishers are busy, the topic's memory keeps the backlog (nothing
// goes to disk before the topic and the channel each hold
// --mem-queue-size); once publishing stops, the backlog moves on to the
// channel (its disk queue), as 1.3.0's pump leaves a quiet topic empty, so
// emptying the channel empties it for good.
func TestTopicBacklogForFullChannels(t *testing.T) {
	opts := testOptions(t)
	opts.MemQueueSize = 4096
	n := startNSQD(t, opts)
	topic := n.GetTopic("backlog")
	c := topic.GetChannel("c")
	publish := func(count int) {
		ms := make([]*Message, count)
		for i := range ms {
			ms[i] = NewMessage(topic.NewMessageID(), []byte("x"))
		}
		if err := topic.PutMessages(ms); err != nil {
			t.Fatal(err)
		}
	}
	publish(4096)
	began := time.Now()
	publish(3000)
	td, cd, disk := topic.Depth(), c.Depth(), c.backend.Depth()
	if time.Since(began) < holdIdle/2 && (td != 3000 || cd != 4096 || disk != 0) {
		t.Fatalf("publishing: topic depth %d, channel depth %d (disk %d); want 3000, 4096 (0)", td, cd, disk)
	}
	eventually(t, 5*time.Second, "backlog moves on to the channel once publishing stops", func() bool {
		return topic.Depth() == 0 && c.Depth() == 7096 && c.backend.Depth() == 3000
	})
	if err := c.Empty(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * holdIdle)
	if topic.Depth() != 0 || c.Depth() != 0 {
		t.Fatalf("after empty: topic depth %d, channel depth %d", topic.Depth(), c.Depth())
	}
}

// TestDeferredWhileMemoryFull: a DPUB arriving while the topic's and its
// channel's memory are full keeps its deferral (the disk queue has no room
// for one; the channel's deferred set takes it).
func TestDeferredWhileMemoryFull(t *testing.T) {
	opts := testOptions(t)
	opts.MemQueueSize = 10
	n := startNSQD(t, opts)
	topic := n.GetTopic("full")
	c := topic.GetChannel("c")
	p := dialRaw(t, n)
	p.write(wire.MagicV2)
	bodies := make([][]byte, 40)
	for i := range bodies {
		bodies[i] = []byte("x")
	}
	p.cmd(wire.MultiPublish("full", bodies))
	p.expect(wire.FrameTypeResponse, "OK")
	p.cmd(wire.DeferredPublish("full", 60000, []byte("later")))
	p.expect(wire.FrameTypeResponse, "OK")
	eventually(t, 5*time.Second, "deferred kept", func() bool {
		return c.DeferredCount() == 1 && c.Depth() == 40 && topic.Depth() == 0
	})
}

// TestSpillSharedByBothDiskQueues: a publisher that finds the topic's and
// its only channel's memory full writes the batch to the channel's and the
// topic's disk queues at once, each record to exactly one of them; every
// message is delivered once.
func TestSpillSharedByBothDiskQueues(t *testing.T) {
	opts := testOptions(t)
	opts.MemQueueSize = 100
	n := startNSQD(t, opts)
	topic := n.GetTopic("spill")
	c := topic.GetChannel("c")
	p := dialRaw(t, n)
	p.write(wire.MagicV2)
	const batches, size = 12, 200
	for k := 0; k < batches; k++ {
		bodies := make([][]byte, size)
		for i := range bodies {
			bodies[i] = []byte(strconv.Itoa(k*size + i))
		}
		p.cmd(wire.MultiPublish("spill", bodies))
		p.expect(wire.FrameTypeResponse, "OK")
	}
	td, cd := topic.backend.Depth(), c.backend.Depth()
	t.Logf("topic memory %d, channel memory %d, topic disk %d, channel disk %d", topic.mem.Len(), c.mem.Len(), td, cd)
	if got := topic.Depth() + c.Depth(); got != batches*size {
		t.Fatalf("queued %d, want %d", got, batches*size)
	}
	if td+cd != batches*size-2*opts.MemQueueSize {
		t.Fatalf("on disk %d + %d, want %d", td, cd, batches*size-2*opts.MemQueueSize)
	}

	s := dialRaw(t, n)
	s.write(wire.MagicV2)
	s.cmd(wire.Subscribe("spill", "c"))
	s.expect(wire.FrameTypeResponse, "OK")
	s.cmd(wire.Ready(100))
	seen := make(map[string]bool)
	for len(seen) < batches*size {
		ft, data, err := s.frame()
		if err != nil {
			t.Fatalf("after %d messages: %v", len(seen), err)
		}
		if ft != wire.FrameTypeMessage {
			continue
		}
		m, err := wire.DecodeMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(m.Body)] {
			t.Fatalf("message %s delivered twice", m.Body)
		}
		seen[string(m.Body)] = true
		s.cmd(wire.Finish(m.ID))
	}
}

// TestEphemeralDeletionSparesNewerNamesakes: the background deletion of an
// ephemeral channel its last client left, or of an ephemeral topic its
// last channel left, removes that very channel or topic only — not one of
// the same name created since (the old one was deleted meanwhile), and not
// one that gained a channel or client since. (Found by FuzzHTTPParams: a
// stale deletion removed a new topic of the same name.)
func TestEphemeralDeletionSparesNewerNamesakes(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	const name = "e#ephemeral"

	old := n.GetTopic(name)
	if err := n.DeleteExistingTopic(name); err != nil {
		t.Fatal(err)
	}
	fresh := n.GetTopic(name)
	n.deleteUnusedTopic(old) // the old topic's deletion, running late
	if got, err := n.GetExistingTopic(name); err != nil || got != fresh {
		t.Fatalf("a late deletion of the old topic removed the new one (%v)", err)
	}
	fresh.GetChannel("c")
	n.deleteUnusedTopic(fresh) // it has a channel again
	if _, err := n.GetExistingTopic(name); err != nil {
		t.Fatal("a topic with a channel was deleted as unused")
	}
	if err := fresh.DeleteExistingChannel("c"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "an ephemeral topic left without channels goes", func() bool {
		_, err := n.GetExistingTopic(name)
		return err != nil
	})

	tp := n.GetTopic("keep")
	oldc := tp.GetChannel("c#ephemeral")
	if err := tp.DeleteExistingChannel("c#ephemeral"); err != nil {
		t.Fatal(err)
	}
	newc := tp.GetChannel("c#ephemeral")
	tp.deleteUnusedChannel(oldc)
	if got, err := tp.GetExistingChannel("c#ephemeral"); err != nil || got != newc {
		t.Fatalf("a late deletion of the old channel removed the new one (%v)", err)
	}
	tp.deleteUnusedChannel(newc) // unused: goes
	if _, err := tp.GetExistingChannel("c#ephemeral"); err == nil {
		t.Fatal("an unused ephemeral channel stayed")
	}
}
