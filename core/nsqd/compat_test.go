package nsqd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// mpubProbe is the byte sequence of issue 7: MPUB probe_t with the given
// declared body size, a batch of foo, bar, baz (25 real bytes), then PUB qux
// on the same connection.
func mpubProbe(declared uint32) []byte {
	b := []byte("MPUB probe_t\n")
	b = binary.BigEndian.AppendUint32(b, declared)
	b = append(b, wire.EncodeMPUBBody([][]byte{[]byte("foo"), []byte("bar"), []byte("baz")})...)
	return append(b, wire.Publish("probe_t", []byte("qux")).Append(nil)...)
}

// TestMPUBDeclaredSizeLikeOriginal: NSQ 1.3.0 checks an MPUB's declared body
// size only against 0 and --max-body-size, then reads the batch from the
// connection; published clients declare less (the sum of the message
// lengths) or more than the batch holds. Each declared size answers OK, OK
// and queues the four messages in order, as NSQ 1.3.0 does.
func TestMPUBDeclaredSizeLikeOriginal(t *testing.T) {
	for _, declared := range []uint32{9, 25, 100, 1} {
		t.Run(fmt.Sprint(declared), func(t *testing.T) {
			n := startNSQD(t, testOptions(t))
			r := dialRaw(t, n)
			r.write(wire.MagicV2)
			r.write(mpubProbe(declared))
			r.expect(wire.FrameTypeResponse, "OK")
			r.expect(wire.FrameTypeResponse, "OK")
			tp, err := n.GetExistingTopic("probe_t")
			if err != nil {
				t.Fatal(err)
			}
			if d := tp.Depth(); d != 4 {
				t.Fatalf("topic depth %d, want 4", d)
			}
			// the connection goes on: one more PUB is answered
			r.cmd(wire.Publish("probe_t", []byte("quux")))
			r.expect(wire.FrameTypeResponse, "OK")

			c := dialRaw(t, n)
			c.write(wire.MagicV2)
			c.cmd(wire.Subscribe("probe_t", "ch"))
			c.expect(wire.FrameTypeResponse, "OK")
			c.cmd(wire.Ready(10))
			var got []string
			for range 5 {
				ft, data, err := c.frame()
				if err != nil || ft != wire.FrameTypeMessage {
					t.Fatalf("frame %d %q, %v", ft, data, err)
				}
				m, err := wire.DecodeMessage(data)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(m.Body))
			}
			if fmt.Sprint(got) != "[foo bar baz qux quux]" {
				t.Fatalf("delivered %q", got)
			}
		})
	}
}

// A batch larger than --max-body-size is accepted when its count and each
// message are within bounds (1.3.0 bounds nothing else), on TCP with a
// declared size under the limit and on HTTP with a chunked body; bytes after
// the last message of an HTTP binary body are ignored.
func TestMPUBBatchBoundsLikeOriginal(t *testing.T) {
	opts := testOptions(t)
	opts.MaxMsgSize = 100
	opts.MaxBodySize = 1000
	n := startNSQD(t, opts)
	batch := make([][]byte, 30) // 30 × (4+100) bytes, over 1000
	for i := range batch {
		batch[i] = bytes.Repeat([]byte{'a' + byte(i%26)}, 100)
	}
	body := wire.EncodeMPUBBody(batch)

	r := dialRaw(t, n)
	r.write(wire.MagicV2)
	r.write(append(binary.BigEndian.AppendUint32([]byte("MPUB big\n"), 1000), body...))
	r.expect(wire.FrameTypeResponse, "OK")

	// chunked: no Content-Length for the early BODY_TOO_BIG check
	pr, pw := io.Pipe()
	go func() {
		pw.Write(body)
		pw.Write([]byte("trailing bytes"))
		pw.Close()
	}()
	req, err := http.NewRequest("POST", hURL(n, "/mpub?topic=big&binary=true"), pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "OK" {
		t.Fatalf("chunked binary /mpub: %d %q", resp.StatusCode, b)
	}
	hPost(t, n, "/mpub?topic=big&binary=true", string(wire.EncodeMPUBBody(batch[:1]))+"xyz").expectV1(t, "trailing bytes", 200, "OK")
	tp, err := n.GetExistingTopic("big")
	if err != nil {
		t.Fatal(err)
	}
	if d := tp.Depth(); d != 61 {
		t.Fatalf("topic depth %d, want 61", d)
	}
}

// Numbers as 1.3.0 reads them: RDY, REQ and DPUB values of 20 digits wrap
// around 2^64 (and are judged by what they wrap to); IDENTIFY's
// millisecond settings are compared in milliseconds, so huge ones are
// refused rather than overflowing into a tiny or negative duration.
func TestNumbersLikeOriginal(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	fatal := func(setup []string, input, want string) {
		t.Helper()
		r := dialRaw(t, n)
		r.write(wire.MagicV2)
		for _, s := range setup {
			r.write([]byte(s))
			r.expect(wire.FrameTypeResponse, "OK")
		}
		r.write([]byte(input))
		r.expect(wire.FrameTypeError, want)
		r.expectClosed()
	}
	identify := func(js string) string {
		return string(append(binary.BigEndian.AppendUint32([]byte("IDENTIFY\n"), uint32(len(js))), js...))
	}
	fatal(nil, identify(`{"msg_timeout":9223372036854775807}`), "E_BAD_BODY IDENTIFY msg timeout (9223372036854775807) is invalid")
	fatal(nil, identify(`{"msg_timeout":9223372036854776}`), "E_BAD_BODY IDENTIFY msg timeout (9223372036854776) is invalid")
	fatal(nil, identify(`{"heartbeat_interval":9223372036854776}`), "E_BAD_BODY IDENTIFY heartbeat interval (9223372036854776) is invalid")
	fatal(nil, identify(`{"heartbeat_interval":288230376151711743}`), "E_BAD_BODY IDENTIFY heartbeat interval (288230376151711743) is invalid")
	fatal(nil, identify(`{"output_buffer_timeout":9223372036854775807}`), "E_BAD_BODY IDENTIFY output buffer timeout (9223372036854775807) is invalid")
	sub := []string{"SUB numbers c\n"}
	fatal(sub, "RDY 99999999999999999999\n", "E_INVALID RDY count 7766279631452241919 out of range 0-2500")
	fatal(sub, "RDY 18446744073709551615\n", "E_INVALID RDY count -1 out of range 0-2500")
	fatal(nil, "DPUB numbers 99999999999999999999\n", "E_INVALID DPUB timeout 7766279631452241919 out of range 0-3600000")

	// REQ with a timeout whose milliseconds overflow is clamped to 0: the
	// message comes straight back
	for _, timeout := range []string{"99999999999999999999", "9223372036854775807"} {
		t.Run("REQ "+timeout, func(t *testing.T) {
			topic := "req_" + timeout[:4]
			r := dialRaw(t, n)
			r.write(wire.MagicV2)
			r.cmd(wire.Publish(topic, []byte("m")))
			r.expect(wire.FrameTypeResponse, "OK")
			r.cmd(wire.Subscribe(topic, "c"))
			r.expect(wire.FrameTypeResponse, "OK")
			r.cmd(wire.Ready(1))
			for attempt := uint16(1); attempt <= 2; attempt++ {
				ft, data, err := r.frame()
				if err != nil || ft != wire.FrameTypeMessage {
					t.Fatalf("attempt %d: frame %d %q, %v", attempt, ft, data, err)
				}
				m, err := wire.DecodeMessage(data)
				if err != nil || m.Attempts != attempt {
					t.Fatalf("attempt %d: %+v, %v", attempt, m, err)
				}
				if attempt == 1 {
					r.write([]byte("REQ " + string(m.ID[:]) + " " + timeout + "\n"))
				}
			}
		})
	}
}

// After CLOSE_WAIT no message frame follows (a client may close as soon as
// it has CLOSE_WAIT and nothing in flight): every message delivered is
// before it, and whatever was not delivered stays queued.
func TestNoMessageAfterCloseWait(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	p := dialRaw(t, n)
	p.write(wire.MagicV2)
	body := make([][]byte, 100)
	for i := range body {
		body[i] = []byte("m")
	}
	for range 300 {
		p.cmd(wire.MultiPublish("cw", body))
		p.expect(wire.FrameTypeResponse, "OK")
	}
	tp, _ := n.GetExistingTopic("cw")
	for round := range 20 {
		r := dialRaw(t, n)
		r.write(wire.MagicV2)
		r.cmd(wire.Subscribe("cw", "c"))
		r.expect(wire.FrameTypeResponse, "OK")
		r.cmd(wire.Ready(500))
		var ids []wire.MessageID
		sentCLS, closeWait := false, false
		for !closeWait {
			ft, data, err := r.frame()
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			switch ft {
			case wire.FrameTypeMessage:
				m, _ := wire.DecodeMessage(data)
				ids = append(ids, m.ID)
				if !sentCLS {
					r.cmd(wire.StartClose())
					sentCLS = true
				}
			case wire.FrameTypeResponse:
				closeWait = string(data) == "CLOSE_WAIT"
			}
		}
		// nothing after CLOSE_WAIT
		r.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if ft, data, err := wire.ReadFrame(r.conn, 0); err == nil {
			t.Fatalf("round %d: frame %d (%d bytes) after CLOSE_WAIT", round, ft, len(data))
		}
		for _, id := range ids {
			r.cmd(wire.Finish(id))
		}
		ch, _ := tp.GetExistingChannel("c")
		eventually(t, 2*time.Second, "nothing in flight", func() bool { return ch.InFlightCount() == 0 })
		r.conn.Close()
	}
}
