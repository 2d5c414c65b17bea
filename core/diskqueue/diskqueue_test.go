package diskqueue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nsqkit/nsqkit/core/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testOptions are small, fast settings; SyncTimeout is long so that only
// explicit events (roll, Close) sync during a test.
func testOptions(t *testing.T, dir string) Options {
	return Options{
		DataPath:        dir,
		MaxBytesPerFile: 1024 * 1024,
		MinMsgSize:      wire.MsgHeaderLength,
		MaxMsgSize:      1024 + wire.MsgHeaderLength,
		SyncEvery:       2500,
		SyncTimeout:     time.Minute,
		Logf: func(level int, format string, args ...any) {
			if level < 1 || level > 5 {
				t.Errorf("log level %d out of range: %s", level, fmt.Sprintf(format, args...))
			}
			t.Logf("L%d "+format, append([]any{level}, args...)...)
		},
	}
}

func makeMessages(n int, bodyLen int) []*wire.Message {
	f := wire.NewGUIDFactory(7)
	msgs := make([]*wire.Message, n)
	for i := range msgs {
		body := []byte(fmt.Sprintf("message-%d-", i))
		for len(body) < bodyLen {
			body = append(body, byte('a'+i%26))
		}
		msgs[i] = &wire.Message{
			ID:        f.NewID(),
			Body:      body,
			Timestamp: time.Now().UnixNano() + int64(i),
			Attempts:  uint16(i % 3),
		}
	}
	return msgs
}

func put(t *testing.T, q Backend, msgs []*wire.Message) {
	t.Helper()
	for _, m := range msgs {
		if err := q.Put(m.Append(nil)); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
}

// read receives one message from q within a deadline and decodes it.
func read(t *testing.T, q Backend) *wire.Message {
	t.Helper()
	select {
	case b := <-q.ReadChan():
		m, err := wire.DecodeMessage(b)
		if err != nil {
			t.Fatalf("DecodeMessage: %v", err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a message from ReadChan")
		return nil
	}
}

func sameMessage(t *testing.T, got, want *wire.Message) {
	t.Helper()
	if got.ID != want.ID || !bytes.Equal(got.Body, want.Body) ||
		got.Timestamp != want.Timestamp || got.Attempts != want.Attempts {
		t.Fatalf("message mismatch:\n got  %s %q ts=%d att=%d\n want %s %q ts=%d att=%d",
			got.ID[:], got.Body, got.Timestamp, got.Attempts,
			want.ID[:], want.Body, want.Timestamp, want.Attempts)
	}
}

func readAll(t *testing.T, q Backend, want []*wire.Message) {
	t.Helper()
	start := q.Depth()
	if start < int64(len(want)) {
		t.Fatalf("Depth %d before reading %d messages", start, len(want))
	}
	for i, w := range want {
		got := read(t, q)
		sameMessage(t, got, w)
		if d, exp := q.Depth(), start-int64(i)-1; d != exp {
			t.Fatalf("Depth after reading %d: got %d, want %d", i+1, d, exp)
		}
	}
}

// queueFiles lists the file names in dir belonging to queue name.
func queueFiles(t *testing.T, dir, name string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), name+".diskqueue.") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func closeQ(t *testing.T, q Backend) {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestRoundTripAndDepth(t *testing.T) {
	dir := t.TempDir()
	q := New("orders", testOptions(t, dir))
	defer closeQ(t, q)

	if d := q.Depth(); d != 0 {
		t.Fatalf("Depth of new queue = %d", d)
	}
	msgs := makeMessages(20, 40)
	put(t, q, msgs)
	if d := q.Depth(); d != int64(len(msgs)) {
		t.Fatalf("Depth after Put = %d, want %d", d, len(msgs))
	}
	readAll(t, q, msgs)

	// Wrong sizes are refused, as nsqd's limits require.
	if err := q.Put(make([]byte, wire.MsgHeaderLength-1)); err == nil {
		t.Error("Put of a payload shorter than the header succeeded")
	}
	if err := q.Put(make([]byte, 1024+wire.MsgHeaderLength+1)); err == nil {
		t.Error("Put of a payload above MaxMsgSize succeeded")
	}
	if err := q.Put(make([]byte, 1024+wire.MsgHeaderLength)); err != nil {
		t.Errorf("Put of a payload of exactly MaxMsgSize: %v", err)
	}
	if d := q.Depth(); d != 1 {
		t.Fatalf("Depth = %d, want 1", d)
	}
}

func TestFileNames(t *testing.T) {
	dir := t.TempDir()
	q := New("orders", testOptions(t, dir))
	put(t, q, makeMessages(3, 10))
	closeQ(t, q)

	want := []string{"orders.diskqueue.000000.dat", "orders.diskqueue.meta.dat"}
	if got := queueFiles(t, dir, "orders"); !equalStrings(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	all, _ := os.ReadDir(dir)
	if len(all) != len(want) {
		t.Fatalf("unexpected extra files in data dir: %v", all)
	}
	if runtime.GOOS != "windows" {
		for _, n := range want {
			fi, err := os.Stat(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode = %v, want 0600", n, fi.Mode().Perm())
			}
		}
	}
	meta, err := os.ReadFile(filepath.Join(dir, "orders.diskqueue.meta.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("3\n0,0\n0,%d\n", 3*(4+wire.MsgHeaderLength+10)); string(meta) != want {
		t.Fatalf("meta = %q, want %q", meta, want)
	}
}

func TestChannelQueueName(t *testing.T) {
	name := ChannelQueueName("orders", "billing")
	sep := ":"
	if runtime.GOOS == "windows" {
		sep = ";"
	}
	if want := "orders" + sep + "billing"; name != want {
		t.Fatalf("ChannelQueueName = %q, want %q", name, want)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if name != "orders:billing" {
		t.Fatalf("channel queue name %q does not use ':'", name)
	}
	dir := t.TempDir()
	q := New(name, testOptions(t, dir))
	msgs := makeMessages(2, 5)
	put(t, q, msgs)
	closeQ(t, q)
	want := []string{"orders:billing.diskqueue.000000.dat", "orders:billing.diskqueue.meta.dat"}
	if got := queueFiles(t, dir, "orders:billing"); !equalStrings(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	// The topic's queue is distinct from its channel's.
	if got := queueFiles(t, dir, "orders"); len(got) != 0 {
		t.Fatalf("topic queue files exist: %v", got)
	}
	q = New(name, testOptions(t, dir))
	defer closeQ(t, q)
	readAll(t, q, msgs)
}

func TestReopenKeepsUnread(t *testing.T) {
	dir := t.TempDir()
	msgs := makeMessages(10, 30)
	q := New("t", testOptions(t, dir))
	put(t, q, msgs)
	for i := 0; i < 4; i++ {
		sameMessage(t, read(t, q), msgs[i])
	}
	closeQ(t, q)

	q = New("t", testOptions(t, dir))
	if d := q.Depth(); d != 6 {
		t.Fatalf("Depth after reopen = %d, want 6", d)
	}
	readAll(t, q, msgs[4:7])
	more := makeMessages(2, 8)
	put(t, q, more)
	closeQ(t, q)

	q = New("t", testOptions(t, dir))
	defer closeQ(t, q)
	readAll(t, q, append(append([]*wire.Message{}, msgs[7:]...), more...))
}

func TestEmpty(t *testing.T) {
	dir := t.TempDir()
	q := New("t", testOptions(t, dir))
	put(t, q, makeMessages(5, 10))
	closeQ(t, q)
	q = New("t", testOptions(t, dir))
	defer closeQ(t, q)
	if len(queueFiles(t, dir, "t")) != 2 {
		t.Fatalf("files before Empty: %v", queueFiles(t, dir, "t"))
	}
	if err := q.Empty(); err != nil {
		t.Fatalf("Empty: %v", err)
	}
	if got := queueFiles(t, dir, "t"); len(got) != 0 {
		t.Fatalf("files after Empty: %v", got)
	}
	if d := q.Depth(); d != 0 {
		t.Fatalf("Depth after Empty = %d", d)
	}
	select {
	case b := <-q.ReadChan():
		t.Fatalf("read %q after Empty", b)
	default:
	}
	// File numbering continues after Empty (reopened with unread records
	// in file 0, the queue was to write file 1 next; Empty moves past it).
	msgs := makeMessages(2, 10)
	put(t, q, msgs)
	want := []string{"t.diskqueue.000002.dat"}
	if got := queueFiles(t, dir, "t"); !equalStrings(got, want) {
		t.Fatalf("files after Put = %v, want %v", got, want)
	}
	readAll(t, q, msgs)
}

func TestDelete(t *testing.T) {
	dir := t.TempDir()
	q := New("t", testOptions(t, dir))
	put(t, q, makeMessages(5, 10))
	closeQ(t, q)
	q = New("t", testOptions(t, dir))
	put(t, q, makeMessages(3, 10))
	if err := q.Delete(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := queueFiles(t, dir, "t"); len(got) != 0 {
		t.Fatalf("files after Delete: %v", got)
	}
	if err := q.Put(makeMessages(1, 1)[0].Append(nil)); err == nil {
		t.Error("Put after Delete succeeded")
	}
	if err := q.Delete(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Delete = %v, want ErrClosed", err)
	}
	if err := q.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after Delete = %v, want ErrClosed", err)
	}
	if got := queueFiles(t, dir, "t"); len(got) != 0 {
		t.Fatalf("files after Delete and Close: %v", got)
	}
	// A new queue with the same name starts empty.
	q = New("t", testOptions(t, dir))
	defer closeQ(t, q)
	if d := q.Depth(); d != 0 {
		t.Fatalf("Depth of recreated queue = %d", d)
	}
}

func TestCloseTwice(t *testing.T) {
	q := New("t", testOptions(t, t.TempDir()))
	put(t, q, makeMessages(1, 1))
	closeQ(t, q)
	if err := q.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if err := q.Put(makeMessages(1, 1)[0].Append(nil)); err == nil {
		t.Error("Put after Close succeeded")
	}
	if err := q.Empty(); err == nil {
		t.Error("Empty after Close succeeded")
	}
	if d := q.Depth(); d != 1 {
		t.Errorf("Depth after Close = %d, want 1", d)
	}
}

func TestRollToSecondFile(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, dir)
	o.MaxBytesPerFile = 100
	// Each record is 4 + 26 + 10 = 40 bytes: two fit in 100 bytes, the
	// third would make 120 and goes to the next file.
	msgs := makeMessages(5, 10)
	for _, m := range msgs {
		if n := 4 + m.EncodedLen(); n != 40 {
			t.Fatalf("record size %d, want 40", n)
		}
	}
	q := New("roll", o)
	defer closeQ(t, q)
	put(t, q, msgs)
	want := []string{
		"roll.diskqueue.000000.dat",
		"roll.diskqueue.000001.dat",
		"roll.diskqueue.000002.dat",
		"roll.diskqueue.meta.dat", // synced when a new write file starts
	}
	if got := queueFiles(t, dir, "roll"); !equalStrings(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	for i, size := range []int64{80, 80, 40} {
		fi, err := os.Stat(filepath.Join(dir, want[i]))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != size {
			t.Errorf("%s size %d, want %d", want[i], fi.Size(), size)
		}
	}
	readAll(t, q, msgs[:2])
	// Reading past file 0 deletes it (Depth above serialised with the
	// queue's loop, so the removal has happened).
	want = want[1:]
	if got := queueFiles(t, dir, "roll"); !equalStrings(got, want) {
		t.Fatalf("files after reading file 0 = %v, want %v", got, want)
	}
	readAll(t, q, msgs[2:])

	// A single record bigger than the limit still goes into an empty file.
	big := makeMessages(1, 200)
	put(t, q, big)
	readAll(t, q, big)
}

func TestWriteOriginalQueueFormat(t *testing.T) {
	dir := t.TempDir()
	msgs := makeMessages(4, 33)
	if err := WriteOriginalQueue(dir, "orders", msgs); err != nil {
		t.Fatal(err)
	}
	want := []string{"orders.diskqueue.000000.dat", "orders.diskqueue.meta.dat"}
	if got := queueFiles(t, dir, "orders"); !equalStrings(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	// Decode the records by hand, byte layout as in the spec.
	rest := data
	for i, m := range msgs {
		if len(rest) < 4 {
			t.Fatalf("record %d: truncated", i)
		}
		n := int(binary.BigEndian.Uint32(rest))
		if n != wire.MsgHeaderLength+len(m.Body) {
			t.Fatalf("record %d: length %d", i, n)
		}
		p := rest[4 : 4+n]
		if ts := int64(binary.BigEndian.Uint64(p)); ts != m.Timestamp {
			t.Fatalf("record %d: timestamp %d", i, ts)
		}
		if a := binary.BigEndian.Uint16(p[8:]); a != m.Attempts {
			t.Fatalf("record %d: attempts %d", i, a)
		}
		if !bytes.Equal(p[10:26], m.ID[:]) || !bytes.Equal(p[26:], m.Body) {
			t.Fatalf("record %d: id/body mismatch", i)
		}
		rest = rest[4+n:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes", len(rest))
	}
	meta, err := os.ReadFile(filepath.Join(dir, want[1]))
	if err != nil {
		t.Fatal(err)
	}
	if w := fmt.Sprintf("4\n0,0\n0,%d\n", len(data)); string(meta) != w {
		t.Fatalf("meta = %q, want %q", meta, w)
	}
	if runtime.GOOS != "windows" {
		for _, n := range want {
			fi, _ := os.Stat(filepath.Join(dir, n))
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", n, fi.Mode().Perm())
			}
		}
	}
}

// TestWriteOriginalQueueMatchesGoDiskqueue checks the helper against the
// real thing: go-diskqueue writing the same messages and closing leaves
// byte-identical files.
func TestWriteOriginalQueueMatchesGoDiskqueue(t *testing.T) {
	msgs := makeMessages(6, 17)
	a, b := t.TempDir(), t.TempDir()
	if err := WriteOriginalQueue(a, "x", msgs); err != nil {
		t.Fatal(err)
	}
	q := New("x", testOptions(t, b))
	put(t, q, msgs)
	closeQ(t, q)
	for _, n := range []string{"x.diskqueue.000000.dat", "x.diskqueue.meta.dat"} {
		fa, err := os.ReadFile(filepath.Join(a, n))
		if err != nil {
			t.Fatal(err)
		}
		fb, err := os.ReadFile(filepath.Join(b, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fa, fb) {
			t.Errorf("%s differs:\n helper %q\n godq   %q", n, fa, fb)
		}
	}
	if !equalStrings(queueFiles(t, a, "x"), queueFiles(t, b, "x")) {
		t.Errorf("file sets differ: %v vs %v", queueFiles(t, a, "x"), queueFiles(t, b, "x"))
	}
}

// TestReadOriginalQueue proves an original nsqd data directory is readable:
// a topic queue and a channel queue written in the original format are
// read back in order by New.
func TestReadOriginalQueue(t *testing.T) {
	dir := t.TempDir()
	topicMsgs := makeMessages(7, 50)
	chanMsgs := makeMessages(3, 1)
	chName := ChannelQueueName("orders", "billing")
	if err := WriteOriginalQueue(dir, "orders", topicMsgs); err != nil {
		t.Fatal(err)
	}
	if err := WriteOriginalQueue(dir, chName, chanMsgs); err != nil {
		t.Fatal(err)
	}
	if err := WriteOriginalQueue(dir, "idle", nil); err != nil {
		t.Fatal(err)
	}
	if got := queueFiles(t, dir, "idle"); !equalStrings(got, []string{"idle.diskqueue.meta.dat"}) {
		t.Fatalf("idle files = %v", got)
	}

	var mu sync.Mutex
	var problems []string
	o := testOptions(t, dir)
	inner := o.Logf
	o.Logf = func(level int, format string, args ...any) {
		inner(level, format, args...)
		if level >= 3 {
			mu.Lock()
			problems = append(problems, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
	}

	tq, cq, iq := New("orders", o), New(chName, o), New("idle", o)
	if d := tq.Depth(); d != 7 {
		t.Fatalf("topic Depth = %d", d)
	}
	if d := cq.Depth(); d != 3 {
		t.Fatalf("channel Depth = %d", d)
	}
	if d := iq.Depth(); d != 0 {
		t.Fatalf("idle Depth = %d", d)
	}
	readAll(t, tq, topicMsgs)
	readAll(t, cq, chanMsgs)
	put(t, iq, chanMsgs)
	readAll(t, iq, chanMsgs)
	closeQ(t, tq)
	closeQ(t, cq)
	closeQ(t, iq)
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("warnings/errors while reading original files: %q", problems)
	}
}

func TestWriteOriginalQueueErrors(t *testing.T) {
	if err := WriteOriginalQueue(t.TempDir(), "", nil); err == nil {
		t.Error("empty name accepted")
	}
	if err := WriteOriginalQueue(t.TempDir(), "t", []*wire.Message{nil}); err == nil {
		t.Error("nil message accepted")
	}
}

// TestLogLevels checks go-diskqueue's levels reach Logf as 1..5 numbers:
// a corrupt record is logged at error (4) and the file set aside at warn (3).
func TestLogLevels(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	levels := map[int]int{}
	o := testOptions(t, dir)
	inner := o.Logf
	o.Logf = func(level int, format string, args ...any) {
		inner(level, format, args...)
		mu.Lock()
		levels[level]++
		mu.Unlock()
	}
	// A record claiming a length above MaxMsgSize.
	bad := binary.BigEndian.AppendUint32(nil, 1<<20)
	bad = append(bad, make([]byte, 30)...)
	if err := os.WriteFile(filepath.Join(dir, "c.diskqueue.000000.dat"), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	meta := fmt.Sprintf("1\n0,0\n0,%d\n", len(bad))
	if err := os.WriteFile(filepath.Join(dir, "c.diskqueue.meta.dat"), []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
	q := New("c", o)
	defer closeQ(t, q)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := levels[3] > 0 && levels[4] > 0
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no warn+error logged for a corrupt file; levels %v", levels)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.diskqueue.000000.dat.bad")); err != nil {
		t.Fatalf("bad file not set aside: %v", err)
	}
	if d := q.Depth(); d != 0 {
		t.Fatalf("Depth after corrupt tail = %d, want 0", d)
	}
}

func TestNilLogfAndDefaults(t *testing.T) {
	dir := t.TempDir()
	q := New("d", Options{DataPath: dir}) // all defaults, no logger
	msgs := makeMessages(3, 100)
	put(t, q, msgs)
	readAll(t, q, msgs)
	if err := q.Put(make([]byte, DefaultMaxMsgBody+wire.MsgHeaderLength)); err != nil {
		t.Fatalf("Put of default max size: %v", err)
	}
	if err := q.Put(make([]byte, DefaultMaxMsgBody+wire.MsgHeaderLength+1)); err == nil {
		t.Fatal("Put above default max size succeeded")
	}
	closeQ(t, q)
}

func TestDiscard(t *testing.T) {
	q := NewDiscard()
	for i := 0; i < 100; i++ {
		if err := q.Put([]byte("anything")); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if d := q.Depth(); d != 0 {
		t.Fatalf("Depth = %d", d)
	}
	if q.ReadChan() != nil {
		t.Fatal("ReadChan is not nil")
	}
	select {
	case b := <-q.ReadChan():
		t.Fatalf("ReadChan yielded %q", b)
	case <-time.After(20 * time.Millisecond):
	}
	for name, f := range map[string]func() error{"Empty": q.Empty, "Close": q.Close, "Delete": q.Delete} {
		if err := f(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := q.Put(nil); err != nil {
		t.Errorf("Put after Close: %v", err)
	}
}
