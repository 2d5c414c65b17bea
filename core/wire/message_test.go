package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"testing"
)

func testMessageID(s string) MessageID {
	var id MessageID
	if copy(id[:], s) != MsgIDLength {
		panic("bad test id " + s)
	}
	return id
}

// tcp-protocol.md 1.4: timestamp(8) attempts(2) id(16) body.
func TestMessageLayout(t *testing.T) {
	if MsgIDLength != 16 || MsgHeaderLength != 26 {
		t.Fatalf("MsgIDLength=%d MsgHeaderLength=%d", MsgIDLength, MsgHeaderLength)
	}
	m := &Message{
		ID:        testMessageID("0123456789abcdef"),
		Body:      []byte("hello"),
		Timestamp: 0x0102030405060708,
		Attempts:  0x0A0B,
	}
	want := append(hexBytes(t, "01 02 03 04 05 06 07 08  0A 0B"), "0123456789abcdefhello"...)
	if len(want) != 26+5 {
		t.Fatal("bad fixture")
	}
	got := m.Append(nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("Append = % x\nwant     % x", got, want)
	}
	if m.EncodedLen() != len(want) {
		t.Fatalf("EncodedLen = %d, want %d", m.EncodedLen(), len(want))
	}
	if got := m.Append([]byte("xy")); !bytes.Equal(got, append([]byte("xy"), want...)) {
		t.Fatalf("Append with prefix = % x", got)
	}

	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil || n != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteTo = %d, %v, % x", n, err, buf.Bytes())
	}

	frame := AppendMessageFrame(nil, m)
	wantFrame := append(hexBytes(t, "00 00 00 23  00 00 00 02"), want...) // 0x23 = 4 + 26 + 5
	if !bytes.Equal(frame, wantFrame) {
		t.Fatalf("AppendMessageFrame = % x\nwant               % x", frame, wantFrame)
	}
}

func TestMessageRoundTrip(t *testing.T) {
	tests := []*Message{
		{ID: testMessageID("0000000000000000"), Body: []byte("x"), Timestamp: 0, Attempts: 0},
		{ID: testMessageID("ffffffffffffffff"), Body: []byte{}, Timestamp: -1, Attempts: 65535},
		{ID: testMessageID("0a1b2c3d4e5f6789"), Body: bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000), Timestamp: 1700000000123456789, Attempts: 3},
		{ID: testMessageID("deadbeefcafef00d"), Body: []byte("\n\r \x00"), Timestamp: -9223372036854775808, Attempts: 1},
	}
	for i, m := range tests {
		enc := m.Append(nil)
		got, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("%d: DecodeMessage: %v", i, err)
		}
		if got.ID != m.ID || got.Timestamp != m.Timestamp || got.Attempts != m.Attempts || !bytes.Equal(got.Body, m.Body) {
			t.Fatalf("%d: round trip %+v != %+v", i, got, m)
		}
		// Body aliases the input.
		if len(got.Body) > 0 && &got.Body[0] != &enc[MsgHeaderLength] {
			t.Fatalf("%d: Body does not alias the input", i)
		}

		// Through a frame.
		typ, data, err := ReadFrame(bytes.NewReader(AppendMessageFrame(nil, m)), 0)
		if err != nil || typ != FrameTypeMessage {
			t.Fatalf("%d: ReadFrame = %d, %v", i, typ, err)
		}
		var m2 Message
		if err := m2.Decode(data); err != nil || m2.ID != m.ID || m2.Timestamp != m.Timestamp ||
			m2.Attempts != m.Attempts || !bytes.Equal(m2.Body, m.Body) {
			t.Fatalf("%d: frame round trip %+v, %v", i, m2, err)
		}
	}
}

func TestDecodeMessageShort(t *testing.T) {
	for _, n := range []int{0, 1, 8, 10, 25} {
		_, err := DecodeMessage(make([]byte, n))
		if !errors.Is(err, ErrShortMessage) {
			t.Errorf("DecodeMessage(%d bytes) err = %v, want ErrShortMessage", n, err)
		}
		var m Message
		if err := m.Decode(make([]byte, n)); !errors.Is(err, ErrShortMessage) {
			t.Errorf("Decode(%d bytes) err = %v, want ErrShortMessage", n, err)
		}
	}
	m, err := DecodeMessage(make([]byte, MsgHeaderLength))
	if err != nil || len(m.Body) != 0 {
		t.Fatalf("26-byte message: %+v %v", m, err)
	}
}

func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	enc := (&Message{ID: testMessageID("0123456789abcdef"), Body: []byte("body")}).Append(nil)
	var m Message
	if n := testing.AllocsPerRun(100, func() { _ = m.Decode(enc) }); n != 0 {
		t.Fatalf("Message.Decode allocates %v times", n)
	}
}

// fakeClock returns the nanosecond values in seq in turn, then repeats the last.
type fakeClock struct {
	seq   []int64
	calls int
}

func (c *fakeClock) now() int64 {
	i := c.calls
	c.calls++
	if i >= len(c.seq) {
		i = len(c.seq) - 1
	}
	return c.seq[i]
}

// tick converts a GUID timestamp (units of 2^20 ns since the Unix epoch) into
// nanoseconds.
func tick(ts int64) int64 { return ts << 20 }

func idValue(t testing.TB, id MessageID) uint64 {
	t.Helper()
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			t.Fatalf("id %q is not 16 lowercase hex chars", id[:])
		}
	}
	v, err := strconv.ParseUint(string(id[:]), 16, 64)
	if err != nil {
		t.Fatalf("id %q: %v", id[:], err)
	}
	return v
}

// tcp-protocol.md 1.10: ((ts - 1288834974288) << 22) | (node << 12) | seq.
func TestGUIDLayout(t *testing.T) {
	const epoch = 1288834974288
	f := NewGUIDFactory(10)
	clk := &fakeClock{seq: []int64{tick(epoch + 5)}}
	f.now = clk.now
	id := f.NewID()
	// (5 << 22) | (10 << 12) | 0 = 0x140a000
	if string(id[:]) != "000000000140a000" {
		t.Fatalf("id = %q, want 000000000140a000", id[:])
	}
	id = f.NewID()
	if string(id[:]) != "000000000140a001" {
		t.Fatalf("second id = %q, want 000000000140a001", id[:])
	}

	// Large values encode as lowercase hex.
	f = NewGUIDFactory(1023)
	f.now = (&fakeClock{seq: []int64{tick(epoch + 0x3ffffffffff)}}).now
	id = f.NewID()
	if string(id[:]) != "fffffffffffff000" {
		t.Fatalf("id = %q, want fffffffffffff000", id[:])
	}
	if MaxNodeID != 1024 {
		t.Fatalf("MaxNodeID = %d", MaxNodeID)
	}
}

func TestGUIDSequenceExhaustion(t *testing.T) {
	const epoch = 1288834974288
	const T = epoch + 1000
	f := NewGUIDFactory(3)
	// 4096 IDs fit in one tick; the 4097th call sees the same tick and must
	// wait for the next one, where the sequence restarts at 0.
	seq := make([]int64, 4097)
	for i := range seq {
		seq[i] = tick(T)
	}
	seq = append(seq, tick(T+1))
	clk := &fakeClock{seq: seq}
	f.now = clk.now
	var prev uint64
	for i := 0; i < 4097; i++ {
		v := idValue(t, f.NewID())
		if i > 0 && v <= prev {
			t.Fatalf("id %d not increasing: %x <= %x", i, v, prev)
		}
		prev = v
		wantTS, wantSeq := uint64(T-epoch), uint64(i)
		if i == 4096 {
			wantTS, wantSeq = T+1-epoch, 0
		}
		if v>>22 != wantTS || (v>>12)&0x3ff != 3 || v&0xfff != wantSeq {
			t.Fatalf("id %d = %x: ts %d seq %d node %d", i, v, v>>22, v&0xfff, (v>>12)&0x3ff)
		}
	}
	if clk.calls != 4098 {
		t.Fatalf("clock read %d times, want 4098", clk.calls)
	}
}

func TestGUIDClockBackwards(t *testing.T) {
	const epoch = 1288834974288
	const T = epoch + 50000
	f := NewGUIDFactory(1)
	clk := &fakeClock{seq: []int64{tick(T), tick(T - 2), tick(T - 1), tick(T)}}
	f.now = clk.now
	a := idValue(t, f.NewID())
	b := idValue(t, f.NewID()) // waits through the two earlier readings
	if b <= a {
		t.Fatalf("ids not increasing after clock went backwards: %x then %x", a, b)
	}
	if b>>22 != T-epoch || b&0xfff != 1 {
		t.Fatalf("id after backwards clock = %x", b)
	}
	if clk.calls != 4 {
		t.Fatalf("clock read %d times, want 4", clk.calls)
	}
}

func TestGUIDRealClock(t *testing.T) {
	const n = 20000
	for _, node := range []int64{0, 1, 512, 1023} {
		f := NewGUIDFactory(node)
		prev := ""
		for i := 0; i < n; i++ {
			id := f.NewID()
			v := idValue(t, id)
			if s := string(id[:]); s <= prev {
				t.Fatalf("node %d: id %q not greater than %q", node, s, prev)
			} else {
				prev = s
			}
			if got := int64(v>>12) & 0x3ff; got != node {
				t.Fatalf("node bits = %d, want %d (id %x)", got, node, v)
			}
			if hex.EncodeToString(hexBytes(t, string(id[:]))) != string(id[:]) {
				t.Fatalf("id %q not canonical lowercase hex", id[:])
			}
		}
	}
}

func TestGUIDConcurrent(t *testing.T) {
	f := NewGUIDFactory(42)
	const workers, per = 4, 2000
	ids := make([][]MessageID, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ids[w] = append(ids[w], f.NewID())
			}
		}(w)
	}
	wg.Wait()
	seen := make(map[MessageID]bool, workers*per)
	for w := range ids {
		for i, id := range ids[w] {
			if seen[id] {
				t.Fatalf("duplicate id %q", id[:])
			}
			seen[id] = true
			if i > 0 && string(id[:]) <= string(ids[w][i-1][:]) {
				t.Fatalf("worker %d: ids not increasing", w)
			}
		}
	}
}

func TestMessageWriteToError(t *testing.T) {
	boom := errors.New("boom")
	m := &Message{Body: []byte("body")}
	for _, accept := range []int{0, 10, 26, 28} {
		n, err := m.WriteTo(&errWriter{n: accept, err: boom})
		if !errors.Is(err, boom) || n != int64(accept) {
			t.Errorf("accept %d: WriteTo = %d, %v", accept, n, err)
		}
	}
}
