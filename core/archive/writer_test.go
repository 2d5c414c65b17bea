package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
)

// recFile records what reached the file and what was fsynced.
type recFile struct {
	*os.File
	rec *recorder
}

func (f *recFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.rec.mu.Lock()
	f.rec.written[f.Name()] += int64(n)
	f.rec.mu.Unlock()
	return n, err
}

// Sync records what was written before it started: only that is sure
// to be covered (the writer may append concurrently).
func (f *recFile) Sync() error {
	f.rec.mu.Lock()
	before := f.rec.written[f.Name()]
	f.rec.mu.Unlock()
	err := f.File.Sync()
	f.rec.mu.Lock()
	if err == nil && before > f.rec.synced[f.Name()] {
		f.rec.synced[f.Name()] = before
	}
	f.rec.syncs++
	f.rec.mu.Unlock()
	return err
}

// recorder is the test's view of every file a writer opened.
type recorder struct {
	mu      sync.Mutex
	written map[string]int64 // bytes written through the handle (after open)
	synced  map[string]int64 // bytes written before the last fsync
	syncs   int
	failAt  int // make the nth Sync fail (0: never)
}

func newRecorder() *recorder {
	return &recorder{written: map[string]int64{}, synced: map[string]int64{}}
}

func (r *recorder) open(name string, flag int, perm os.FileMode) (fileHandle, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &failingFile{recFile: &recFile{File: f, rec: r}}, nil
}

// failingFile fails the recorder's failAt-th sync.
type failingFile struct{ *recFile }

func (f *failingFile) Sync() error {
	f.rec.mu.Lock()
	fail := f.rec.failAt > 0 && f.rec.syncs+1 == f.rec.failAt
	if fail {
		f.rec.syncs++
	}
	f.rec.mu.Unlock()
	if fail {
		return fmt.Errorf("injected fsync failure")
	}
	return f.recFile.Sync()
}

// ack is a fake message: at Finish it checks that its line is inside the
// fsynced prefix of some file.
type ack struct {
	t        testing.TB
	body     string
	rec      *recorder
	dir      string // where the file lives while being written
	finished int
	requeued int
	mu       sync.Mutex
}

func (a *ack) Finish() {
	a.t.Helper()
	a.mu.Lock()
	a.finished++
	a.mu.Unlock()
	if !inSyncedPrefix(a.rec, a.body) {
		a.t.Errorf("message %q finished before its bytes were fsynced", a.body)
	}
}

func (a *ack) RequeueWithoutBackoff(time.Duration) {
	a.mu.Lock()
	a.requeued++
	a.mu.Unlock()
}

func (a *ack) counts() (finished, requeued int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.finished, a.requeued
}

// inSyncedPrefix looks for the line body in the synced prefix of every
// file the recorder saw (gunzipping .gz prefixes).
func inSyncedPrefix(rec *recorder, body string) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for name, n := range rec.synced {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		// an appended file held data before we opened it
		start := int64(len(b)) - rec.written[name]
		b = b[:start+n]
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				continue
			}
			b, err = io.ReadAll(zr)
			if err != nil {
				continue
			}
		}
		if bytes.Contains(append([]byte{'\n'}, b...), []byte("\n"+body+"\n")) {
			return true
		}
	}
	return false
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type writerEnv struct {
	t     *testing.T
	o     *Options
	rec   *recorder
	clock *clock
	w     *TopicWriter
	acks  []*ack
	mu    sync.Mutex
	fatal []error
}

// newWriterEnv makes a TopicWriter on temp directories with a recorder
// and a fake clock; set adjusts the options first.
func newWriterEnv(t *testing.T, set func(o *Options)) *writerEnv {
	t.Helper()
	e := &writerEnv{t: t, rec: newRecorder(), clock: &clock{t: time.Date(2024, 3, 5, 14, 0, 0, 0, time.UTC)}}
	o := NewOptions()
	o.Topics = []string{"t"}
	o.NSQDTCPAddresses = []string{"127.0.0.1:4150"}
	o.OutputDir = filepath.Join(t.TempDir(), "out")
	o.Hostname = "host"
	o.PID = 1
	o.Now = e.clock.Now
	o.openFile = e.rec.open
	if set != nil {
		set(o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := NewNamer(o)
	if err != nil {
		t.Fatal(err)
	}
	e.o = o
	e.w = NewTopicWriter("t", o, n, func(err error) {
		e.mu.Lock()
		e.fatal = append(e.fatal, err)
		e.mu.Unlock()
	})
	t.Cleanup(func() { e.w.Close() })
	return e
}

func (e *writerEnv) write(bodies ...string) {
	e.t.Helper()
	for _, b := range bodies {
		a := &ack{t: e.t, body: b, rec: e.rec}
		e.acks = append(e.acks, a)
		if err := e.w.Write([]byte(b), 1, a); err != nil {
			e.t.Fatalf("Write(%q): %v", b, err)
		}
	}
}

func (e *writerEnv) finished() int {
	n := 0
	for _, a := range e.acks {
		f, _ := a.counts()
		n += f
	}
	return n
}

// waitFinished polls until n messages are finished.
func (e *writerEnv) waitFinished(n int) {
	e.t.Helper()
	testutil.Eventually(e.t, 10*time.Second, fmt.Sprintf("%d messages finished", n), func() bool { return e.finished() == n })
}

// idle reports that nothing was finished.
func (e *writerEnv) idle() bool { return e.finished() == 0 }

// files lists the files under dir (relative names, sorted).
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// lines reads a file's lines, gunzipping .gz (every member).
func lines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func allLines(t testing.TB, dir string) []string {
	var out []string
	for _, f := range files(t, dir) {
		out = append(out, lines(t, filepath.Join(dir, f))...)
	}
	return out
}

func bodies(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestSyncThenFinish(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			e := newWriterEnv(t, func(o *Options) {
				o.MaxInFlight = 7
				o.GZIP = gz
			})
			var mu sync.Mutex
			var batches []int
			e.o.afterSync = func(_ string, acks []Acker) {
				mu.Lock()
				batches = append(batches, len(acks))
				mu.Unlock()
				// after the fsync, before the FINs: the whole batch is on disk
				for _, a := range acks {
					if !inSyncedPrefix(e.rec, a.(*ack).body) {
						t.Errorf("%q about to be finished but not synced", a.(*ack).body)
					}
				}
			}
			e.write(bodies(20, "m")...)
			if err := e.w.Sync(); err != nil {
				t.Fatal(err)
			}
			if got := e.finished(); got != 20 {
				t.Fatalf("finished %d, want 20", got)
			}
			mu.Lock()
			sum := 0
			for _, b := range batches {
				if b > 7 {
					t.Errorf("batch of %d > max-in-flight", b)
				}
				sum += b
			}
			if sum != 20 || len(batches) < 3 {
				t.Errorf("batches %v", batches)
			}
			mu.Unlock()
			if err := e.w.Close(); err != nil {
				t.Fatal(err)
			}
			for _, a := range e.acks {
				if f, r := a.counts(); f != 1 || r != 0 {
					t.Errorf("%q finished %d times, requeued %d", a.body, f, r)
				}
			}
			got := allLines(t, e.o.OutputDir)
			if strings.Join(got, ",") != strings.Join(bodies(20, "m"), ",") {
				t.Errorf("lines = %v", got)
			}
		})
	}
}

// feed is a fake consumer.
type feed struct {
	starved bool
	backlog int
}

func (f *feed) Starved() bool { return f.starved }
func (f *feed) Backlog() int  { return f.backlog }

func TestBatchDueWhenStarvedAndIdle(t *testing.T) {
	e := newWriterEnv(t, nil)
	fd := &feed{starved: true, backlog: 3}
	e.w.SetFeed(fd)
	e.write("a")
	if !e.idle() {
		t.Fatal("synced although more messages wait")
	}
	fd.backlog = 0
	fd.starved = false
	e.write("b")
	if !e.idle() {
		t.Fatal("synced although not starved")
	}
	fd.starved = true
	e.write("c")
	e.waitFinished(3)
}

func TestSyncInterval(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) { o.SyncInterval = 10 * time.Second })
	fd := &feed{backlog: 1} // input keeps coming: only the interval syncs
	e.w.SetFeed(fd)
	e.write("a", "b")
	e.clock.Add(9 * time.Second)
	e.w.Tick()
	if !e.idle() {
		t.Fatal("synced before the interval")
	}
	e.clock.Add(time.Second)
	e.w.Tick()
	e.waitFinished(2)
}

// The tail of a burst (fewer than max-in-flight messages, the consumer not
// starved) is synced once the input has been quiet for QuietSync, not
// after --sync-interval (30 s).
func TestQuietInputSyncs(t *testing.T) {
	e := newWriterEnv(t, nil)
	fd := &feed{}
	e.w.SetFeed(fd)
	e.write("a", "b")
	e.clock.Add(QuietSync / 2)
	e.w.Tick()
	if !e.idle() {
		t.Fatal("synced while the input was not quiet yet")
	}
	e.write("c")
	e.clock.Add(QuietSync / 2)
	e.w.Tick()
	if !e.idle() {
		t.Fatal("synced although a message came in less than QuietSync ago")
	}
	fd.backlog = 2
	e.clock.Add(QuietSync)
	e.w.Tick()
	if !e.idle() {
		t.Fatal("synced although messages wait to be written")
	}
	fd.backlog = 0
	e.w.Tick()
	e.waitFinished(3)
}

func TestRotateSize(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) { o.RotateSize = 10 })
	// "mN\n" is 3 bytes: a file is closed at its fourth line (12 > 10)
	e.write(bodies(10, "m")...)
	if err := e.w.Close(); err != nil {
		t.Fatal(err)
	}
	got := files(t, e.o.OutputDir)
	want := []string{
		"t.host-000000.2024-03-05_14.log",
		"t.host-000001.2024-03-05_14.log",
		"t.host-000002.2024-03-05_14.log",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files = %v, want %v", got, want)
	}
	if n := len(lines(t, filepath.Join(e.o.OutputDir, want[0]))); n != 4 {
		t.Errorf("first file has %d lines, want 4", n)
	}
	if strings.Join(allLines(t, e.o.OutputDir), ",") != strings.Join(bodies(10, "m"), ",") {
		t.Error("content differs")
	}
	if e.finished() != 10 {
		t.Errorf("finished %d", e.finished())
	}
}

func TestRotateInterval(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip-empty=%v", skip), func(t *testing.T) {
			e := newWriterEnv(t, func(o *Options) {
				o.RotateInterval = time.Minute
				o.SkipEmptyFiles = skip
			})
			e.write("a")
			e.clock.Add(59 * time.Second)
			e.write("b")
			e.clock.Add(time.Second)
			e.write("c") // rotates first
			e.clock.Add(time.Minute)
			e.w.Tick() // rotates; opens an empty file unless skip-empty
			e.clock.Add(time.Minute)
			e.w.Tick()
			if err := e.w.Close(); err != nil {
				t.Fatal(err)
			}
			got := files(t, e.o.OutputDir)
			want := 2
			if !skip {
				want = 4 // two empty ones
			}
			if len(got) != want {
				t.Fatalf("files = %v, want %d", got, want)
			}
			if l := lines(t, filepath.Join(e.o.OutputDir, got[0])); strings.Join(l, ",") != "a,b" {
				t.Errorf("first file %v", l)
			}
			if l := lines(t, filepath.Join(e.o.OutputDir, got[1])); strings.Join(l, ",") != "c" {
				t.Errorf("second file %v", l)
			}
		})
	}
}

func TestRotateOnDatetime(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) { o.DatetimeFormat = "%H%M" })
	e.write("a")
	e.clock.Add(59 * time.Second)
	e.write("b")
	e.clock.Add(time.Second) // 14:01
	e.write("c")
	if err := e.w.Close(); err != nil {
		t.Fatal(err)
	}
	got := files(t, e.o.OutputDir)
	if strings.Join(got, " ") != "t.host.1400.log t.host.1401.log" {
		t.Fatalf("files = %v", got)
	}
}

func TestGzipMembers(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) { o.GZIP = true })
	for i := 0; i < 3; i++ {
		e.write(fmt.Sprintf("batch%d-a", i), fmt.Sprintf("batch%d-b", i))
		if err := e.w.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.w.Sync(); err != nil { // nothing new: no empty member
		t.Fatal(err)
	}
	if err := e.w.Close(); err != nil {
		t.Fatal(err)
	}
	got := files(t, e.o.OutputDir)
	if len(got) != 1 || got[0] != "t.host-000000.2024-03-05_14.log.gz" {
		t.Fatalf("files = %v", got)
	}
	b, err := os.ReadFile(filepath.Join(e.o.OutputDir, got[0]))
	if err != nil {
		t.Fatal(err)
	}
	members := 0
	br := bufio.NewReader(bytes.NewReader(b))
	zr, err := gzip.NewReader(br)
	for err == nil {
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatal(err)
		}
		members++
		err = zr.Reset(br)
	}
	if err != io.EOF {
		t.Fatal(err)
	}
	if members != 3 {
		t.Errorf("%d gzip members, want 3 (one per sync)", members)
	}
	if n := len(lines(t, filepath.Join(e.o.OutputDir, got[0]))); n != 6 {
		t.Errorf("%d lines", n)
	}
}

func TestMoveToOutputWithConflict(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) {
		o.WorkDir = filepath.Join(filepath.Dir(o.OutputDir), "work")
		o.FilenameFormat = "<TOPIC>/<DATETIME><REV>.log"
	})
	// rev 0 is taken in the output directory: the first file is rev 1
	mustWrite(t, filepath.Join(e.o.OutputDir, "t/2024-03-05_14-000000.log"), "old0\n")
	e.write("a")
	// rev 2 appears in the output directory while rev 1 is written
	mustWrite(t, filepath.Join(e.o.OutputDir, "t/2024-03-05_14-000001.log"), "old1\n")
	if err := e.w.CloseFile("test"); err != nil {
		t.Fatal(err)
	}
	e.write("b")
	if err := e.w.Close(); err != nil {
		t.Fatal(err)
	}
	got := files(t, e.o.OutputDir)
	want := []string{"t/2024-03-05_14-000000.log", "t/2024-03-05_14-000001.log", "t/2024-03-05_14-000002.log", "t/2024-03-05_14-000003.log"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files = %v, want %v", got, want)
	}
	for i, w := range []string{"old0", "old1", "a", "b"} {
		if l := lines(t, filepath.Join(e.o.OutputDir, want[i])); len(l) != 1 || l[0] != w {
			t.Errorf("%s = %v, want %s", want[i], l, w)
		}
	}
	if left := files(t, e.o.WorkDir); len(left) != 0 {
		t.Errorf("left in work dir: %v", left)
	}
	st, err := os.Stat(filepath.Join(e.o.WorkDir, "t"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&^0o770 != 0 {
		t.Errorf("directory mode %v, want within 0770", perm)
	}
}

func mustWrite(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAppendRepairsTail(t *testing.T) {
	e := newWriterEnv(t, nil)
	// a crash left half a line behind
	path := filepath.Join(e.o.OutputDir, "t.host.2024-03-05_14.log")
	mustWrite(t, path, "one\ntwo\nthr")
	e.write("three", "four")
	if err := e.w.Close(); err != nil {
		t.Fatal(err)
	}
	if l := lines(t, path); strings.Join(l, ",") != "one,two,three,four" {
		t.Errorf("lines = %v", l)
	}
}

func TestGzipNeverAppends(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) { o.GZIP = true })
	mustWrite(t, filepath.Join(e.o.OutputDir, "t.host-000000.2024-03-05_14.log.gz"), "")
	e.write("a")
	if err := e.w.Close(); err != nil {
		t.Fatal(err)
	}
	got := files(t, e.o.OutputDir)
	if len(got) != 2 || got[1] != "t.host-000001.2024-03-05_14.log.gz" {
		t.Fatalf("files = %v", got)
	}
}

func TestRecoverWorkDir(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) {
		o.WorkDir = filepath.Join(filepath.Dir(o.OutputDir), "work")
		o.GZIP = true
	})
	// a previous run wrote two members, then was killed in the third
	var buf bytes.Buffer
	for _, s := range []string{"a\nb\n", "c\n", "d\ne\n"} {
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(s))
		zw.Close()
	}
	full := buf.Len()
	b := buf.Bytes()[:full-5]
	name := "t.host-000000.2024-03-05_13.log.gz"
	mustWrite(t, filepath.Join(e.o.WorkDir, name), string(b))
	mustWrite(t, filepath.Join(e.o.WorkDir, "other-topic-000000.log.gz"), "not ours")
	// the same name already exists in the output directory
	mustWrite(t, filepath.Join(e.o.OutputDir, name), "")
	if err := e.w.recoverWorkDir(); err != nil {
		t.Fatal(err)
	}
	if left := files(t, e.o.WorkDir); strings.Join(left, " ") != "other-topic-000000.log.gz" {
		t.Errorf("left in work dir: %v", left)
	}
	got := lines(t, filepath.Join(e.o.OutputDir, "t.host-000001.2024-03-05_13.log.gz"))
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("recovered %v, want a,b,c", got)
	}
}

func TestFatalSyncErrorRequeues(t *testing.T) {
	e := newWriterEnv(t, func(o *Options) { o.MaxInFlight = 3 })
	e.rec.failAt = 1
	a := &ack{t: t, body: "x", rec: e.rec}
	for i := 0; i < 3; i++ {
		e.w.Write([]byte("x"), 1, a)
	}
	if err := e.w.Sync(); err == nil || !strings.Contains(err.Error(), "injected fsync failure") {
		t.Fatalf("Sync after a failed fsync: %v", err)
	}
	e.mu.Lock()
	if len(e.fatal) != 1 || !strings.Contains(e.fatal[0].Error(), "injected fsync failure") {
		t.Errorf("fatal = %v", e.fatal)
	}
	e.mu.Unlock()
	if f, r := a.counts(); f != 0 || r != 3 {
		t.Errorf("finished %d requeued %d, want 0 and 3", f, r)
	}
	if err := e.w.Write([]byte("y"), 1, a); err == nil {
		t.Error("write after a failure succeeded")
	}
	if _, r := a.counts(); r != 4 {
		t.Errorf("requeued %d, want 4", r)
	}
}
