//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
)

// channelStats is one channel's counters from /stats.
type channelStats struct {
	Depth    int64 `json:"depth"`
	InFlight int64 `json:"in_flight_count"`
	Deferred int64 `json:"deferred_count"`
}

func channelStatsOf(t *testing.T, httpAddr, topic, channel string) (topicDepth int64, ch channelStats, ok bool) {
	t.Helper()
	var st struct {
		Topics []struct {
			TopicName string `json:"topic_name"`
			Depth     int64  `json:"depth"`
			Channels  []struct {
				ChannelName string `json:"channel_name"`
				channelStats
			} `json:"channels"`
		} `json:"topics"`
	}
	getJSON(t, "http://"+httpAddr+"/stats?format=json&topic="+topic, &st)
	for _, tp := range st.Topics {
		for _, c := range tp.Channels {
			if c.ChannelName == channel {
				return tp.Depth, c.channelStats, true
			}
		}
		return tp.Depth, channelStats{}, false
	}
	return 0, channelStats{}, false
}

// archivedLines reads every file under dir and counts its complete
// lines (a partial last line is left out).
func archivedLines(t *testing.T, dir string) (map[string]int, int) {
	t.Helper()
	lines := map[string]int{}
	partial := 0
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() || e.Name() == "filler" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				partial++
				break
			}
			lines[string(b[:i])]++
			b = b[i+1:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines, partial
}

// TestNSQToFileDiskFull runs nsq_to_file with its work and output
// directories on a nearly full tmpfs: it exits 1 saying why, and it
// finished (FIN) only messages whose lines are in its files — every
// message is either archived whole or still in the channel afterwards.
func TestNSQToFileDiskFull(t *testing.T) {
	testutil.Long(t)
	disk := mountTmpfs(t, "4m")
	// --msg-timeout: what the consumer had received but not written
	// comes back soon after it exits
	d := startNSQD(t, t.TempDir(), "--msg-timeout=2s", "--log-level=warn")
	const topic, channel, total = "archive", "nsq_to_file", 20000
	for _, p := range []string{"/topic/create?topic=" + topic, "/channel/create?topic=" + topic + "&channel=" + channel} {
		if code, body := do(t, "POST", "http://"+d.http+p, nil); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	body := func(i int) string { return fmt.Sprintf("rec-%06d", i) }
	for from := 0; from < total; from += 5000 {
		var b strings.Builder
		for i := from; i < min(from+5000, total); i++ {
			b.WriteString(body(i) + "\n")
		}
		if code, resp := do(t, "POST", "http://"+d.http+"/mpub?topic="+topic, strings.NewReader(b.String())); code != 200 {
			t.Fatalf("/mpub: %d %s", code, resp)
		}
	}

	out, work := filepath.Join(disk, "out"), filepath.Join(disk, "work")
	for _, dir := range []string{out, work} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// room for about a third of the 220 kB the topic holds
	fillDisk(t, disk, 64<<10)
	p := run(t, "nsq_to_file", "--topic="+topic, "--channel="+channel, "--nsqd-tcp-address="+d.tcp,
		"--output-dir="+out, "--work-dir="+work, "--max-in-flight=500")
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("nsq_to_file still running 60s after the disk filled up")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("nsq_to_file on a full disk: exit code %d, want 1\n%s", code, p.out.String())
	}
	if !strings.Contains(p.out.String(), "no space left on device") {
		t.Errorf("nsq_to_file's output does not say the disk is full:\n%s", tail(p.out.String(), 20))
	}

	// Everything it did not finish is back in the channel (and what the
	// topic still held has moved on to it).
	var ch channelStats
	until(t, 30*time.Second, "the topic to be empty and the channel to have nothing in flight", func() bool {
		depth, c, ok := channelStatsOf(t, d.http, topic, channel)
		ch = c
		return ok && depth == 0 && ch.InFlight == 0 && ch.Deferred == 0
	})
	lines, partial := archivedLines(t, disk)
	left := consume(t, d.tcp, topic, channel, int(ch.Depth), 60*time.Second)
	lost := 0
	for i := range total {
		if left[body(i)] == 0 && lines[body(i)] == 0 {
			if lost++; lost <= 5 {
				t.Errorf("%s was finished but is in no file", body(i))
			}
		}
	}
	for l, n := range lines {
		if n > 1 || !strings.HasPrefix(l, "rec-") || len(l) != len(body(0)) {
			t.Errorf("file line %q (%d times)", l, n)
		}
	}
	t.Logf("%d messages: %d lines archived (%d partial line), %d still in the channel", total, len(lines), partial, len(left))
	if lost > 0 {
		t.Fatalf("%d messages lost: finished but not written", lost)
	}
	if len(left) != int(ch.Depth) {
		t.Errorf("channel depth %d, %d distinct messages consumed", ch.Depth, len(left))
	}
	if len(lines) == 0 || len(left) == 0 {
		t.Fatalf("the disk did not fill up part way (%d archived, %d left): the test proves nothing", len(lines), len(left))
	}
}

// toNSQSummary is what to_nsq's last lines on stderr say.
type toNSQSummary struct {
	published, notAcked, unsent, notPublished uint64
	why                                       string
}

var (
	summaryRE = regexp.MustCompile(`(?m)^to_nsq: published (\d+) records? \(.*?\) in [^;\n]*?(?:; (\d+) not acknowledged)?(?:; (\d+) not sent after the failure)?(?:; interrupted)?$`)
	errorRE   = regexp.MustCompile(`(?m)^to_nsq: error: (\d+) records? not published: (.*)$`)
)

func parseToNSQ(t *testing.T, stderr string) toNSQSummary {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	e := errorRE.FindStringSubmatch(stderr)
	if m == nil || e == nil {
		t.Fatalf("no summary and error line in to_nsq's output:\n%s", tail(stderr, 20))
	}
	n := func(s string) uint64 {
		v, _ := strconv.ParseUint(s, 10, 64)
		return v
	}
	return toNSQSummary{published: n(m[1]), notAcked: n(m[2]), unsent: n(m[3]), notPublished: n(e[1]), why: e[2]}
}

// consumeUntilQuiet consumes topic/channel until at least atLeast distinct bodies
// arrived and then nothing for quiet, or until timeout; it counts each
// body.
func consumeUntilQuiet(t *testing.T, addr, topic, channel string, atLeast int, quiet, timeout time.Duration) map[string]int {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 2000
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLogger(nil, nsq.LogLevelError)
	var mu sync.Mutex
	seen := map[string]int{}
	last := time.Now()
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(m.Body)]++
		last = time.Now()
		return nil
	}))
	if err := c.ConnectToNSQD(addr); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		done := len(seen) >= atLeast && time.Since(last) > quiet
		mu.Unlock()
		if done {
			break
		}
	}
	c.Stop()
	<-c.StopChan
	mu.Lock()
	defer mu.Unlock()
	return seen
}

// TestToNSQNSQDKilled pipes a large input into to_nsq and SIGKILLs its
// nsqd (--mem-queue-size=0: what it acknowledged is on disk) part way.
// to_nsq exits 1, and its account is exact: every record it took from
// its input is published, not acknowledged or not sent, the error line
// counts the last two, and after nsqd restarts the topic holds every
// acknowledged record (the input's first ones, in order, once each) and
// nothing from the records that were never sent.
func TestToNSQNSQDKilled(t *testing.T) {
	testutil.Long(t)
	data := t.TempDir()
	d := startNSQD(t, data, "--mem-queue-size=0", "--log-level=warn")
	const topic, total = "piped", 3000000
	record := func(i int) string { return fmt.Sprintf("%07d", i) }

	// The input is a pipe this test keeps a read end of: once to_nsq
	// has gone, what is left in it is what to_nsq did not take.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var stderr syncBuffer
	cmd := exec.Command(filepath.Join(binDir, "to_nsq"), "--topic="+topic, "--nsqd-tcp-address="+d.tcp,
		"--producer-opt=publish_timeout,2s")
	cmd.Stdin, cmd.Stderr = pr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		for i := 1; i <= total; i++ {
			w.WriteString(record(i))
			w.WriteByte('\n')
		}
		w.Flush()
		pw.Close()
	}()

	until(t, 60*time.Second, "200 000 records in the topic", func() bool {
		depth, _, _ := channelStatsOf(t, d.http, topic, "")
		return depth >= 200000
	})
	d.cmd.Process.Kill()
	<-d.done

	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("to_nsq still running 60s after its nsqd died\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("to_nsq exit code %d, want 1\n%s", code, tail(stderr.String(), 20))
	}
	rest, err := io.ReadAll(pr) // the writer ends the input
	if err != nil {
		t.Fatal(err)
	}
	taken := uint64(total - bytes.Count(rest, []byte("\n")))
	s := parseToNSQ(t, stderr.String())
	t.Logf("to_nsq took %d of %d records: %d published, %d not acknowledged, %d not sent; %q",
		taken, total, s.published, s.notAcked, s.unsent, s.why)
	if s.published+s.notAcked+s.unsent != taken {
		t.Errorf("to_nsq took %d records from its input but accounts for %d (%d published + %d not acknowledged + %d not sent)",
			taken, s.published+s.notAcked+s.unsent, s.published, s.notAcked, s.unsent)
	}
	if s.notPublished != s.notAcked+s.unsent || s.notPublished != taken-s.published {
		t.Errorf("error line says %d not published; %d taken - %d acknowledged = %d", s.notPublished, taken, s.published, taken-s.published)
	}
	if s.published == 0 || s.published == taken {
		t.Fatalf("nsqd died before or after the stream (%d of %d published): the test proves nothing", s.published, taken)
	}

	// What the topic holds: restart nsqd on its data and read it all.
	d2 := startNSQD(t, data, "--mem-queue-size=0", "--log-level=warn")
	if code, body := do(t, "POST", "http://"+d2.http+"/channel/create?topic="+topic+"&channel=count", nil); code != 200 {
		t.Fatalf("/channel/create: %d %s", code, body)
	}
	seen := consumeUntilQuiet(t, d2.tcp, topic, "count", int(s.published), 3*time.Second, 120*time.Second)
	kept, dups := 0, 0
	for i := 1; i <= total; i++ {
		n := seen[record(i)]
		if n == 0 {
			break
		}
		kept++
		dups += n - 1
	}
	t.Logf("after the restart the topic holds %d records (%d acknowledged, %d more of the %d unacknowledged)",
		len(seen), s.published, uint64(kept)-min(uint64(kept), s.published), s.notAcked)
	switch {
	case uint64(kept) < s.published:
		t.Errorf("acknowledged records lost: the topic holds %d records, the input's first %d of them in order, but %d were acknowledged", len(seen), kept, s.published)
	case kept != len(seen):
		t.Errorf("the topic holds %d records, not just the first %d of the input", len(seen), kept)
	case uint64(kept) > s.published+s.notAcked:
		t.Errorf("the topic holds %d records, more than the %d sent", kept, s.published+s.notAcked)
	}
	if dups > 0 {
		t.Errorf("%d records delivered twice", dups)
	}
}
