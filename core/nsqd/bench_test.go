package nsqd

import (
	"bufio"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// BenchmarkPubSubMPUB pushes b.N 100-byte messages through one topic and
// one channel over TCP (MPUB batches of 100 in, RDY 2500 + FIN out) and
// reports messages per second end to end.
func BenchmarkPubSubMPUB(b *testing.B) {
	opts := testOptions(b)
	opts.LogLevel = 4
	opts.OutputBufferTimeout = 25 * time.Millisecond
	n := startNSQD(b, opts)
	n.GetTopic("bench").GetChannel("ch")

	cons := dialRaw(b, n)
	cons.write(wire.MagicV2)
	cons.cmd(wire.Subscribe("bench", "ch"))
	cons.expect(wire.FrameTypeResponse, "OK")
	cons.cmd(wire.Ready(2500))
	cons.conn.SetWriteDeadline(time.Time{}) // rawConn's 2 s deadline is for tests, not a long run
	done := make(chan int)
	go func() {
		r := bufio.NewReaderSize(cons.conn, 64*1024)
		w := bufio.NewWriterSize(cons.conn, 64*1024)
		got := 0
		var m wire.Message
		for got < b.N {
			cons.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			ft, data, err := wire.ReadFrame(r, 0)
			if err != nil {
				break
			}
			if ft != wire.FrameTypeMessage {
				continue
			}
			m.Decode(data)
			w.Write(wire.Finish(m.ID).Append(nil))
			got++
			if r.Buffered() == 0 {
				if err := w.Flush(); err != nil {
					break
				}
			}
		}
		w.Flush()
		done <- got
	}()

	prod := dialRaw(b, n)
	prod.write(wire.MagicV2)
	prod.conn.SetWriteDeadline(time.Time{})
	body := make([]byte, 100)
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = body
	}
	cmd := wire.MultiPublish("bench", batch).Append(nil)
	b.SetBytes(100)
	b.ResetTimer()
	start := time.Now()
	// Pipelined like a real async producer: replies are read on their own
	// goroutine while batches keep going out.
	batches := (b.N + len(batch) - 1) / len(batch)
	acks := make(chan error, 1)
	go func() {
		for i := 0; i < batches; i++ {
			prod.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			ft, data, err := wire.ReadFrame(prod.conn, 0)
			if err == nil && (ft != wire.FrameTypeResponse || string(data) != "OK") {
				err = fmt.Errorf("reply %d %q", ft, data)
			}
			if err != nil {
				acks <- err
				return
			}
		}
		acks <- nil
	}()
	w := bufio.NewWriterSize(prod.conn, 64*1024)
	for sent := 0; sent < b.N; {
		k := len(batch)
		if b.N-sent < k {
			k = b.N - sent
			cmd = wire.MultiPublish("bench", batch[:k]).Append(nil)
		}
		if _, err := w.Write(cmd); err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := <-acks; err != nil {
		b.Fatal(err)
	}
	got := <-done
	elapsed := time.Since(start)
	b.StopTimer()
	if got != b.N {
		ch, _ := n.GetTopic("bench").GetExistingChannel("ch")
		b.Fatalf("consumed %d of %d (topic depth %d, channel depth %d, in flight %d, deferred %d)",
			got, b.N, n.GetTopic("bench").Depth(), ch.Depth(), ch.InFlightCount(), ch.DeferredCount())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkTopicFanout hands a batch of 200 queued records (100-byte
// bodies) to a topic with two channels — the publish path after the IDs
// are made: into each channel's memory queue — and drains both channels,
// per op. It creates no Message values: 0 allocs/op. (IDs are left out:
// a topic makes at most 4096 per 2^20 ns, the ID layout's limit, which
// BenchmarkGUIDNewID in core/wire covers.)
func BenchmarkTopicFanout(b *testing.B) {
	opts := testOptions(b)
	opts.LogLevel = 4
	opts.MemQueueSize = 1 << 20
	n := startNSQD(b, opts)
	t := n.GetTopic("fanout")
	chans := []*Channel{t.GetChannel("a"), t.GetChannel("b")}
	const batch = 200
	var in, out recBatch
	body := make([]byte, 100)
	for i := 0; i < batch; i++ {
		in.add(time.Now().UnixNano(), 0, uint64(i), nil, 0, body)
	}
	b.SetBytes(batch * 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := t.putBatch(&in); err != nil {
			b.Fatal(err)
		}
		for _, c := range chans {
			out.reset()
			if got := c.mem.pop(batch, 1<<20, &out); got != batch {
				b.Fatalf("channel %s: popped %d of %d", c.name, got, batch)
			}
		}
	}
}

// BenchmarkClientWritePath writes a 100-byte message frame for a queued
// record into a client's output buffer (the delivery path's per-message
// work after the in-flight bookkeeping): 0 allocs/op.
func BenchmarkClientWritePath(b *testing.B) {
	var rb recBatch
	rb.add(time.Now().UnixNano(), 1, 0x0123456789abcdef, nil, 0, make([]byte, 100))
	r, ok := parseRec(rb.rec(0))
	if !ok {
		b.Fatal("bad record")
	}
	c := &client{writer: bufio.NewWriterSize(io.Discard, 16*1024)}
	b.SetBytes(int64(8 + wire.MsgHeaderLength + len(r.body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.writeRecLocked(&r); err != nil {
			b.Fatal(err)
		}
	}
}
