package nsqd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Disk corruption: nsqd is stopped cleanly with 25 messages in the disk
// queue of channel t/c (--mem-queue-size=0, --max-bytes-per-file=1000,
// 100-byte records: files 000000 and 000001 of 10 records each, and the
// write file 000002 with 5),
// its files are damaged, and nsqd is started again on them. Each test
// checks that nsqd logs the damage, never panics, serves every message
// that is still intact and every message published after the restart,
// and that the depth it reports is never negative and is 0 once
// everything was consumed (exact from the start where the damage can be
// seen without reading every file).

const (
	corruptTopic   = "t"
	corruptChannel = "c"
	corruptQueue   = "t:c" // diskqueue.ChannelQueueName on Linux
	corruptRecord  = 100   // bytes per record on disk: 4 + 26 + 70
	corruptPerFile = 10
	corruptOld     = 25
)

// corruptBody is the 70-byte body of message i of kind prefix.
func corruptBody(prefix string, i int) string {
	b := fmt.Sprintf("%s-%03d-", prefix, i)
	return b + strings.Repeat(".", corruptRecord-4-wire.MsgHeaderLength-len(b))
}

func corruptBodies(prefix string, idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, corruptBody(prefix, i))
	}
	return out
}

func corSpan(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// corruptOptions: every message on disk, files of 10 records, the log
// kept for the test.
func corruptOptions(t *testing.T, dir string) (*Options, *testLog) {
	o := testOptions(t)
	o.DataPath = dir
	o.MemQueueSize = 0
	o.MaxBytesPerFile = corruptPerFile * corruptRecord
	o.LogLevel = logger.Info
	lg := &testLog{t: t}
	o.LogOutput = lg
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CORRUPT_DEBUG") != "" {
			t.Logf("nsqd log:\n%s", lg.String())
		}
	})
	return o, lg
}

// seedCorrupt leaves dir with the 25 messages old-000… old-024 in channel
// t/c's disk queue after a clean shutdown, and returns it.
func seedCorrupt(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	o, _ := corruptOptions(t, dir)
	n := startNSQD(t, o)
	n.GetTopic(corruptTopic).GetChannel(corruptChannel)
	pubCorrupt(t, n, corruptTopic, corruptBodies("old", corSpan(0, corruptOld)...))
	n.Exit()
	for i, size := range []int64{1000, 1000, 500} {
		fi, err := os.Stat(corDataFile(dir, i))
		if err != nil || fi.Size() != size {
			t.Fatalf("seeded data file %d: %v (size %d)", i, err, corSize(fi))
		}
	}
	return dir
}

func corSize(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func corDataFile(dir string, num int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.diskqueue.%06d.dat", corruptQueue, num))
}

func corMetaFile(dir string) string {
	return filepath.Join(dir, corruptQueue+".diskqueue.meta.dat")
}

// pubCorrupt publishes bodies to topic with one MPUB.
func pubCorrupt(t *testing.T, n *NSQD, topic string, bodies []string) {
	t.Helper()
	p := dialRaw(t, n)
	p.write(wire.MagicV2)
	var bs [][]byte
	for _, b := range bodies {
		bs = append(bs, []byte(b))
	}
	p.cmd(wire.MultiPublish(topic, bs))
	p.expect(wire.FrameTypeResponse, "OK")
	p.conn.Close()
}

// drainCorrupt subscribes to topic/channel, finishes every message until
// want distinct bodies arrived or none came for quiet, waits until none
// is in flight, disconnects and returns how often each body arrived.
func drainCorrupt(t *testing.T, n *NSQD, topic, channel string, want int, quiet time.Duration) map[string]int {
	t.Helper()
	r := dialRaw(t, n)
	defer r.conn.Close()
	r.write(wire.MagicV2)
	r.cmd(wire.Subscribe(topic, channel))
	r.expect(wire.FrameTypeResponse, "OK")
	r.cmd(wire.Ready(1000))
	seen := map[string]int{}
	stopping := false
	for {
		if len(seen) >= want && !stopping {
			// take what was sent meanwhile, then stop
			r.cmd(wire.Ready(0))
			stopping, quiet = true, 100*time.Millisecond
		}
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
		r.cmd(wire.Finish(m.ID))
	}
	tp, err := n.GetExistingTopic(topic)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := tp.GetExistingChannel(channel)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "no message in flight", func() bool { return ch.InFlightCount() == 0 })
	return seen
}

// corDepthWatch samples the depths of a topic and a channel (total and
// backend, what /stats reports) until stopped, keeping the lowest.
type corDepthWatch struct {
	stop chan struct{}
	done chan struct{}
	low  atomic.Int64
}

func corWatchDepth(tp *Topic, ch *Channel) *corDepthWatch {
	w := &corDepthWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			for _, d := range []int64{tp.Depth(), tp.backend.Depth(), ch.Depth(), ch.backend.Depth()} {
				if d < w.low.Load() {
					w.low.Store(d)
				}
			}
			select {
			case <-w.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return w
}

func (w *corDepthWatch) lowest() int64 {
	close(w.stop)
	<-w.done
	return w.low.Load()
}

// corExpect is what a restarted nsqd must serve on t/c.
type corExpect struct {
	old   []string // intact old messages, all of which must come back
	depth int64    // depth of t/c right after the restart; -1: not exact
	log   []string // substrings of the log
}

// corCheckServes restarts nsqd on dir and checks it against e: the depth,
// 5 messages published before consuming (they go to disk after the
// damage), every intact and new message delivered and nothing else, the
// depth never negative and 0 at the end, then a publish and consume
// after the queue was drained.
func corCheckServes(t *testing.T, dir string, e corExpect) *NSQD {
	t.Helper()
	o, lg := corruptOptions(t, dir)
	n := startNSQD(t, o)
	tp, err := n.GetExistingTopic(corruptTopic)
	if err != nil {
		t.Fatalf("topic %s after restart: %v", corruptTopic, err)
	}
	ch, err := tp.GetExistingChannel(corruptChannel)
	if err != nil {
		t.Fatalf("channel %s after restart: %v", corruptChannel, err)
	}
	if e.depth >= 0 {
		if d := ch.Depth(); d != e.depth {
			t.Errorf("depth after restart = %d, want %d", d, e.depth)
		}
	}
	w := corWatchDepth(tp, ch)
	newer := corruptBodies("new", corSpan(0, 5)...)
	pubCorrupt(t, n, corruptTopic, newer)
	if e.depth >= 0 {
		if d := ch.Depth(); d != e.depth+5 {
			t.Errorf("depth after 5 more = %d, want %d", d, e.depth+5)
		}
	}
	want := append(append([]string{}, e.old...), newer...)
	seen := drainCorrupt(t, n, corruptTopic, corruptChannel, len(want), 2*time.Second)
	corCompare(t, seen, want)
	eventually(t, 5*time.Second, "depth 0 once everything was consumed", func() bool {
		return ch.Depth() == 0 && tp.Depth() == 0
	})
	if low := w.lowest(); low < 0 {
		t.Errorf("a depth went down to %d", low)
	}
	last := corruptBodies("last", 0, 1, 2)
	pubCorrupt(t, n, corruptTopic, last)
	corCompare(t, drainCorrupt(t, n, corruptTopic, corruptChannel, len(last), 2*time.Second), last)
	if d := ch.Depth(); d != 0 {
		t.Errorf("depth at the end = %d", d)
	}
	logs := lg.String()
	for _, s := range e.log {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %q", s)
		}
	}
	if strings.Contains(logs, "panic") {
		t.Errorf("log mentions a panic")
	}
	return n
}

// corCompare checks that seen holds every body of want and nothing
// else (a redelivery is allowed).
func corCompare(t *testing.T, seen map[string]int, want []string) {
	t.Helper()
	wanted := map[string]bool{}
	var missing []string
	for _, w := range want {
		wanted[w] = true
		if seen[w] == 0 {
			missing = append(missing, strings.TrimRight(w, "."))
		}
	}
	var extra []string
	for s := range seen {
		if !wanted[s] {
			extra = append(extra, fmt.Sprintf("%q", strings.TrimRight(s, ".")))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("%d of %d messages not delivered: %v", len(missing), len(want), missing)
	}
	if len(extra) > 0 {
		t.Errorf("%d unexpected messages delivered: %v", len(extra), extra)
	}
}

func corTruncate(t *testing.T, fn string, size int64) {
	t.Helper()
	if err := os.Truncate(fn, size); err != nil {
		t.Fatal(err)
	}
}

func corWriteAt(t *testing.T, fn string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(fn, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func corWriteFile(t *testing.T, fn, content string) {
	t.Helper()
	if err := os.WriteFile(fn, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func corRemove(t *testing.T, fn string) {
	t.Helper()
	if err := os.Remove(fn); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptTruncatedDataFile: a data file cut short. Its whole records
// are served; messages published after the restart are written after
// the damage, never into the hole a truncated write file leaves.
func TestCorruptTruncatedDataFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		e      corExpect
	}{{
		// the write file loses half of its last record: go-diskqueue
		// alone writes the next records after a 50-byte hole and
		// serves old-024 with zeros in it
		name:   "write file mid-record",
		damage: func(dir string) { corTruncate(t, corDataFile(dir, 2), 450) },
		e: corExpect{old: corruptBodies("old", corSpan(0, 24)...), depth: 24,
			log: []string{"shorter than the write position", "metadata rebuilt"}},
	}, {
		// the write file is empty: go-diskqueue alone writes after a
		// 500-byte hole and sets the file, new messages included, aside
		name:   "write file emptied",
		damage: func(dir string) { corTruncate(t, corDataFile(dir, 2), 0) },
		e:      corExpect{old: corruptBodies("old", corSpan(0, 20)...), depth: 20, log: []string{"metadata rebuilt"}},
	}, {
		// a complete file cut mid-record: its whole records come out,
		// the rest is set aside (depth corrected when drained)
		name:   "middle file mid-record",
		damage: func(dir string) { corTruncate(t, corDataFile(dir, 1), 550) },
		e: corExpect{old: corruptBodies("old", append(corSpan(0, 15), corSpan(20, 25)...)...), depth: -1,
			log: []string{"saving bad file"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := seedCorrupt(t)
			tc.damage(dir)
			corCheckServes(t, dir, tc.e)
		})
	}
}

// TestCorruptGarbageInDataFile: garbage bytes in data files. The records
// before the garbage are served, the file is set aside as .bad, the
// depth is corrected, and messages published after the restart are not
// set aside with it.
func TestCorruptGarbageInDataFile(t *testing.T) {
	ff := bytes.Repeat([]byte{0xff}, 4)
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		e      corExpect
		bad    int // the data file set aside
	}{{
		name:   "length field in the first file",
		damage: func(dir string) { corWriteAt(t, corDataFile(dir, 0), 3*corruptRecord, ff) },
		e: corExpect{old: corruptBodies("old", append(corSpan(0, 3), corSpan(10, 25)...)...), depth: -1,
			log: []string{"invalid message read size", "saving bad file"}},
		bad: 0,
	}, {
		// zeros in the write file: go-diskqueue alone appends the new
		// messages to it and sets them aside with it
		name:   "zeros in the write file",
		damage: func(dir string) { corWriteAt(t, corDataFile(dir, 2), 2*corruptRecord, make([]byte, 100)) },
		e: corExpect{old: corruptBodies("old", corSpan(0, 22)...), depth: -1,
			log: []string{"invalid message read size", "saving bad file"}},
		bad: 2,
	}, {
		name: "junk after the last record",
		damage: func(dir string) {
			f, err := os.OpenFile(corDataFile(dir, 2), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("\x00\x00\x00junk that is no record"))
			f.Close()
		},
		e:   corExpect{old: corruptBodies("old", corSpan(0, 25)...), depth: 25, log: []string{"written after the last sync", "is damaged after offset 500"}},
		bad: 2,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := seedCorrupt(t)
			tc.damage(dir)
			corCheckServes(t, dir, tc.e)
			if _, err := os.Stat(corDataFile(dir, tc.bad) + ".bad"); err != nil {
				t.Errorf("damaged file not set aside: %v", err)
			}
		})
	}
}

// TestCorruptMetadata: the queue's metadata file out of step with its
// data files (wrong depth, wrong positions, damaged, missing) or the data
// files out of step with it (missing, extra).
func TestCorruptMetadata(t *testing.T) {
	all := corruptBodies("old", corSpan(0, 25)...)
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		e      corExpect
	}{{
		name:   "depth too high",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "500\n0,0\n2,500\n") },
		e:      corExpect{old: all, depth: 25, log: []string{"depth impossible"}},
	}, {
		name:   "depth zero",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "0\n0,0\n2,500\n") },
		e:      corExpect{old: all, depth: 25, log: []string{"depth impossible"}},
	}, {
		// plausible for the bytes: not caught at start-up; go-diskqueue's
		// count goes negative while reading, nsqd reports 0
		name:   "depth too low",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "7\n0,0\n2,500\n") },
		e:      corExpect{old: all, depth: 7},
	}, {
		name:   "depth with nothing to read",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "25\n2,500\n2,500\n") },
		e:      corExpect{old: nil, depth: 0, log: []string{"depth with nothing to read"}},
	}, {
		// as a crash leaves it: the last sync was 3 records ago
		name:   "write position behind the data",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "22\n0,0\n2,200\n") },
		e:      corExpect{old: all, depth: 25, log: []string{"3 record(s) (300 bytes) written after the last sync"}},
	}, {
		name:   "write position past the data",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "25\n0,0\n2,800\n") },
		e:      corExpect{old: all, depth: 25, log: []string{"shorter than the write position"}},
	}, {
		// files before the read file count as read
		name:   "read position past the write position",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "25\n2,5000\n2,500\n") },
		e: corExpect{old: corruptBodies("old", corSpan(20, 25)...), depth: 5,
			log: []string{"read position after write position", "not at a record"}},
	}, {
		name:   "read file after the write file",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "25\n5,0\n2,500\n") },
		e:      corExpect{old: all, depth: 25, log: []string{"read file after write file"}},
	}, {
		name:   "data file after the write file",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "20\n0,0\n1,1000\n") },
		e:      corExpect{old: all, depth: 25, log: []string{"after the write file"}},
	}, {
		name:   "garbage",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "\x00\xffgarbage\n") },
		e:      corExpect{old: all, depth: 25, log: []string{"unreadable"}},
	}, {
		name:   "empty",
		damage: func(dir string) { corWriteFile(t, corMetaFile(dir), "") },
		e:      corExpect{old: all, depth: 25, log: []string{"unreadable"}},
	}, {
		name:   "missing",
		damage: func(dir string) { corRemove(t, corMetaFile(dir)) },
		e:      corExpect{old: all, depth: 25, log: []string{"missing but 3 data file(s) exist"}},
	}, {
		name:   "data file missing",
		damage: func(dir string) { corRemove(t, corDataFile(dir, 1)) },
		e: corExpect{old: corruptBodies("old", append(corSpan(0, 10), corSpan(20, 25)...)...), depth: 15,
			log: []string{"000001.dat missing"}},
	}, {
		name: "every data file missing",
		damage: func(dir string) {
			for i := 0; i < 3; i++ {
				corRemove(t, corDataFile(dir, i))
			}
		},
		e: corExpect{old: nil, depth: 0, log: []string{"write file", "missing"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := seedCorrupt(t)
			tc.damage(dir)
			corCheckServes(t, dir, tc.e)
		})
	}
}

// TestCorruptLeftoverBadFile: .bad files from an earlier run are logged
// and left alone; the queue is served as usual.
func TestCorruptLeftoverBadFile(t *testing.T) {
	dir := seedCorrupt(t)
	bad := corDataFile(dir, 1) + ".bad"
	corWriteFile(t, bad, "\xff\xff\xff\xffleft over")
	corWriteFile(t, filepath.Join(dir, "nsqd.dat.bad"), "{")
	corCheckServes(t, dir, corExpect{old: corruptBodies("old", corSpan(0, 25)...), depth: 25,
		log: []string{"t:c.diskqueue.000001.dat.bad in " + dir + " was set aside", "nsqd.dat.bad in"}})
	if b, err := os.ReadFile(bad); err != nil || string(b) != "\xff\xff\xff\xffleft over" {
		t.Errorf("leftover .bad file changed: %q, %v", b, err)
	}
}

// TestCorruptDataDirectory: stray files and directories, temporary files
// of interrupted metadata writes and the queue files of a topic nsqd.dat
// does not list do not disturb start-up; the stray queue is logged, not
// loaded, and its files are kept.
func TestCorruptDataDirectory(t *testing.T) {
	dir := seedCorrupt(t)
	corWriteFile(t, filepath.Join(dir, "notes.txt"), "hello")
	if err := os.Mkdir(filepath.Join(dir, "somedir"), 0o755); err != nil {
		t.Fatal(err)
	}
	corWriteFile(t, filepath.Join(dir, "nsqd.dat.12345.tmp"), `{"topics":[`)
	corWriteFile(t, corMetaFile(dir)+".6789.tmp", "1\n")
	corWriteFile(t, filepath.Join(dir, "orphan.diskqueue.meta.dat"), "0\n0,0\n0,0\n")
	n := corCheckServes(t, dir, corExpect{old: corruptBodies("old", corSpan(0, 25)...), depth: 25,
		log: []string{"disk queue orphan in " + dir + " belongs to no topic or channel"}})
	if _, err := n.GetExistingTopic("orphan"); err == nil {
		t.Errorf("topic orphan was created")
	}
	for _, f := range []string{"notes.txt", "somedir", "orphan.diskqueue.meta.dat"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestCorruptNSQDDat: a damaged, garbage, empty or missing nsqd.dat does
// not stop nsqd (1.3.0 refuses to start): the file is set aside as
// nsqd.dat.bad, the topics and channels are recreated from the queue
// files, every message is served, and nsqd.dat is written anew.
func TestCorruptNSQDDat(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(fn string)
		log    string
	}{
		{"garbage", func(fn string) { corWriteFile(t, fn, "\x00\x01\xfe\xffnot json at all") }, "failed to parse metadata"},
		{"empty", func(fn string) { corWriteFile(t, fn, "") }, "failed to parse metadata"},
		{"truncated", func(fn string) { corWriteFile(t, fn, `{"topics":[{"name":"t","paused":fa`) }, "failed to parse metadata"},
		{"wrong shape", func(fn string) { corWriteFile(t, fn, `{"topics":{"name":"t"}}`) }, "failed to parse metadata"},
		{"directory", func(fn string) {
			corRemove(t, fn)
			if err := os.Mkdir(fn, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "failed to read metadata"},
		{"missing", func(fn string) { corRemove(t, fn) }, "is missing but 3 disk queue(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := seedCorrupt(t)
			// a second topic, without channels, with 4 messages of its own
			o, _ := corruptOptions(t, dir)
			n := startNSQD(t, o)
			pubCorrupt(t, n, "u", corruptBodies("u", corSpan(0, 4)...))
			n.Exit()
			fn := filepath.Join(dir, "nsqd.dat")
			before, _ := os.ReadFile(fn)
			tc.damage(fn)
			damaged, _ := os.ReadFile(fn)

			n = corCheckServes(t, dir, corExpect{old: corruptBodies("old", corSpan(0, 25)...), depth: 25,
				log: []string{tc.log, "recovering"}})
			u, err := n.GetExistingTopic("u")
			if err != nil {
				t.Fatalf("topic u not recovered: %v", err)
			}
			if d := u.Depth(); d != 4 {
				t.Errorf("topic u depth %d, want 4", d)
			}
			corCompare(t, drainCorrupt(t, n, "u", "late", 4, 2*time.Second), corruptBodies("u", corSpan(0, 4)...))

			if tc.name != "missing" {
				fi, err := os.Stat(fn + ".bad")
				if err != nil {
					t.Errorf("damaged nsqd.dat not set aside: %v", err)
				} else if fi.Mode().IsRegular() {
					if b, _ := os.ReadFile(fn + ".bad"); !bytes.Equal(b, damaged) {
						t.Errorf("nsqd.dat.bad = %q, want %q", b, damaged)
					}
				}
			}
			var m metadata
			b, err := os.ReadFile(fn)
			if err != nil {
				t.Fatalf("nsqd.dat not rewritten: %v", err)
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("nsqd.dat rewritten unparsable: %v: %q", err, b)
			}
			got := fmt.Sprint(m.Topics)
			if want := "[{t false [{c false}]} {u false [{late false}]}]"; got != want {
				t.Errorf("nsqd.dat topics %s, want %s (before: %s)", got, want, before)
			}
		})
	}
}

// TestCorruptDataPathNotADirectory: a data path that is a file is an
// error from New, not a panic.
func TestCorruptDataPathNotADirectory(t *testing.T) {
	fn := filepath.Join(t.TempDir(), "file")
	corWriteFile(t, fn, "x")
	o, _ := corruptOptions(t, t.TempDir())
	o.DataPath = fn
	n, err := New(o)
	if err == nil {
		n.Exit()
		t.Fatal("New succeeded on a data path that is a file")
	}
	t.Logf("New: %v", err)
}
