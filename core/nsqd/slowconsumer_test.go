package nsqd

import (
	"bufio"
	"strconv"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// TestStalledConsumerIsolated: a consumer that stops reading (while nsqd
// has far more to send it than the socket buffers hold) slows neither the
// other client of its channel nor the topic's other channel, and is cut
// off by its write deadline (one heartbeat interval).
func TestStalledConsumerIsolated(t *testing.T) {
	opts := testOptions(t)
	opts.MemQueueSize = 10000
	n := startNSQD(t, opts)
	const msgs, size = 600, 100 << 10 // 60 MB: far beyond the socket buffers
	topic := n.GetTopic("stall")
	slowCh, fastCh := topic.GetChannel("slow"), topic.GetChannel("fast")

	sub := func(channel string, heartbeatMS, rdy int) *rawConn {
		c := dialRaw(t, n)
		c.write(wire.MagicV2)
		c.cmd(wire.Identify([]byte(`{"heartbeat_interval":` + strconv.Itoa(heartbeatMS) + `}`)))
		if _, _, err := c.frame(); err != nil {
			t.Fatalf("IDENTIFY: %v", err)
		}
		c.cmd(wire.Subscribe("stall", channel))
		c.expect(wire.FrameTypeResponse, "OK")
		c.cmd(wire.Ready(rdy))
		return c
	}
	stalled := sub("slow", 1000, msgs) // never reads again

	// consume counts messages on a client that reads and FINs everything
	consume := func(c *rawConn, want int, done chan<- int) {
		r := bufio.NewReaderSize(c.conn, 256<<10)
		got := 0
		var m wire.Message
		for got < want {
			c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			ft, data, err := wire.ReadFrame(r, 0)
			if err != nil {
				break
			}
			if ft != wire.FrameTypeMessage {
				continue
			}
			if err := m.Decode(data); err != nil {
				break
			}
			c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.conn.Write(wire.Finish(m.ID).Append(nil)); err != nil {
				break
			}
			got++
		}
		done <- got
	}

	body := make([]byte, size)
	for i := 0; i < msgs; i++ {
		if err := topic.PutMessage(NewMessage(topic.NewMessageID(), body)); err != nil {
			t.Fatal(err)
		}
	}

	// the other channel gets everything
	fast := sub("fast", 30000, 100)
	fastDone := make(chan int, 1)
	go consume(fast, msgs, fastDone)
	// a healthy client on the stalled client's own channel keeps getting
	// what the stalled one is not holding
	peer := sub("slow", 30000, 100)
	peerDone := make(chan int, 1)
	go consume(peer, 50, peerDone)

	select {
	case got := <-fastDone:
		if got != msgs {
			t.Fatalf("the other channel's consumer got %d of %d", got, msgs)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the other channel's consumer was held up")
	}
	select {
	case got := <-peerDone:
		if got != 50 {
			t.Fatalf("the stalled client's channel peer got %d of 50", got)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the stalled client's channel peer was held up")
	}
	eventually(t, 10*time.Second, "the stalled client cut off", func() bool {
		for _, cl := range slowCh.clientList() {
			if cl.remoteAddr == stalled.conn.LocalAddr().String() {
				return false
			}
		}
		return true
	})
	if d := fastCh.Depth(); d != 0 {
		t.Fatalf("fast channel depth %d after consuming everything", d)
	}
}
