package pipe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/nsqd"
	"github.com/nsqkit/nsqkit/core/nsqlookupd"
)

func tailQuietConfig() *client.Config {
	cfg := client.NewConfig()
	cfg.Logger = logger.Discard()
	cfg.StopTimeout = 10 * time.Second
	return cfg
}

// tailPublish sends bodies "<topic>-1" … "<topic>-n" to topic.
func tailPublish(t *testing.T, addr, topic string, n int) {
	t.Helper()
	p, err := client.NewProducer(tailQuietConfig(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf("%s-%d", topic, i+1))
	}
	if err := p.MultiPublish(topic, bodies); err != nil {
		t.Fatalf("publish to %s: %v", topic, err)
	}
}

// tailChannelCounts are a channel's depth and in-flight count (-1, -1 if it
// does not exist).
func tailChannelCounts(n *nsqd.NSQD, topic, channel string) (depth int64, inFlight int) {
	for _, ts := range n.GetStats(topic, channel, false).Topics {
		for _, cs := range ts.Channels {
			if ts.TopicName == topic && cs.ChannelName == channel {
				return cs.Depth + int64(cs.DeferredCount), cs.InFlightCount
			}
		}
	}
	return -1, -1
}

// tailWaitSettled waits until the channel holds want messages, none in
// flight.
func tailWaitSettled(t *testing.T, n *nsqd.NSQD, topic, channel string, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, f := tailChannelCounts(n, topic, channel)
		if d == want && f == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: depth %d, %d in flight after 20s; want depth %d, none in flight", topic, channel, d, f, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tailBuffer is an output the test reads while Tail writes.
type tailBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *tailBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *tailBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *tailBuffer) lines() int { return strings.Count(s.String(), "\n") }

// runTail runs Tail in the background; the returned function waits for
// its result.
func runTail(t *testing.T, ctx context.Context, opts TailOptions) func() error {
	t.Helper()
	if opts.Config == nil {
		opts.Config = tailQuietConfig()
	}
	errc := make(chan error, 1)
	go func() { errc <- Tail(ctx, opts) }()
	return func() error {
		t.Helper()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Tail did not return")
			return nil
		}
	}
}

// TestTailCountSeveralTopics: -n ends Tail once one topic's consumer has
// written n messages; no topic gets more than n lines, and everything
// not written is back in its channel.
func TestTailCountSeveralTopics(t *testing.T) {
	n := testdaemon.NSQD(t)
	addr := n.TCPAddr().String()
	tailPublish(t, addr, "ta", 10)
	tailPublish(t, addr, "tb", 10)
	out := &tailBuffer{}
	wait := runTail(t, context.Background(), TailOptions{
		Topics:           []string{"ta", "tb"},
		Channel:          "c",
		NSQDTCPAddresses: []string{addr},
		Count:            3,
		Format:           Raw{PrintTopic: true},
		Out:              out,
	})
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	printed := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		topic, body, ok := strings.Cut(line, " | ")
		if !ok || !strings.HasPrefix(body, topic+"-") {
			t.Fatalf("bad line %q", line)
		}
		printed[topic]++
	}
	if printed["ta"] > 3 || printed["tb"] > 3 || max(printed["ta"], printed["tb"]) != 3 {
		t.Fatalf("lines per topic %v: want 3 for one topic, at most 3 for the other", printed)
	}
	tailWaitSettled(t, n, "ta", "c", int64(10-printed["ta"]))
	tailWaitSettled(t, n, "tb", "c", int64(10-printed["tb"]))
}

// TestTailStopKeepsWhatWasPrinted: after a stop (a signal), what was
// printed was finished and the rest stays in the channel.
func TestTailStopKeepsWhatWasPrinted(t *testing.T) {
	n := testdaemon.NSQD(t)
	addr := n.TCPAddr().String()
	tailPublish(t, addr, "ts", 5)
	out := &tailBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := runTail(t, ctx, TailOptions{
		Topics:           []string{"ts"},
		Channel:          "c",
		NSQDTCPAddresses: []string{addr},
		Format:           &JSON{},
		Out:              out,
	})
	testutil.Eventually(t, 20*time.Second, "5 lines", func() bool { return out.lines() == 5 })
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	tailWaitSettled(t, n, "ts", "c", 0)
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	seen := map[string]bool{}
	for sc.Scan() {
		var rec struct {
			Topic, Channel, ID, Timestamp, Body string
			Attempts                            int
			NSQDAddress                         string `json:"nsqd_address"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		ts, err := time.Parse(JSONTimeLayout, rec.Timestamp)
		if rec.Topic != "ts" || rec.Channel != "c" || rec.Attempts != 1 || rec.NSQDAddress != addr ||
			len(rec.ID) != 16 || err != nil || time.Since(ts) > time.Hour || time.Since(ts) < 0 {
			t.Errorf("record %+v (timestamp: %v)", rec, err)
		}
		seen[rec.Body] = true
	}
	for i := 1; i <= 5; i++ {
		if !seen[fmt.Sprintf("ts-%d", i)] {
			t.Errorf("ts-%d not printed: %v", i, seen)
		}
	}
}

// TestTailPipeReaderCloses is nsq_tail | head -1 with a reader that
// takes exactly one line: Tail ends cleanly and only that line's
// message is finished; the others are back in the channel.
func TestTailPipeReaderCloses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pipe reading is tracked on Linux only")
	}
	n := testdaemon.NSQD(t)
	addr := n.TCPAddr().String()
	tailPublish(t, addr, "tp", 20)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wait := runTail(t, context.Background(), TailOptions{
		Topics:           []string{"tp"},
		Channel:          "c",
		NSQDTCPAddresses: []string{addr},
		Out:              w,
	})
	line, err := tailReadLine(r)
	if err != nil || !strings.HasPrefix(line, "tp-") {
		t.Fatalf("read %q, %v", line, err)
	}
	r.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	tailWaitSettled(t, n, "tp", "c", 19)
}

// tailReadLine reads up to and including a newline, one byte at a
// time, so nothing after it is taken from the pipe.
func tailReadLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, one); err != nil {
			return string(b), err
		}
		b = append(b, one[0])
		if one[0] == '\n' {
			return string(b), nil
		}
	}
}

// TestTailLookupd discovers the nsqd through nsqlookupd.
func TestTailLookupd(t *testing.T) {
	l := testdaemon.Lookupd(t)
	n := testdaemon.NSQD(t, testdaemon.RegisteredWith(l))
	tailPublish(t, n.TCPAddr().String(), "tl", 3)
	testutil.Eventually(t, 20*time.Second, "lookupd lists the topic", func() bool {
		_, producers, _ := l.DB().Lookup("tl", nsqlookupd.Filter{Now: time.Now(), InactiveTimeout: time.Minute})
		return len(producers) > 0
	})
	out := &tailBuffer{}
	wait := runTail(t, context.Background(), TailOptions{
		Topics:               []string{"tl"},
		LookupdHTTPAddresses: []string{l.HTTPAddr().String()},
		Count:                3,
		Out:                  out,
	})
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("output %q", out.String())
	}
}

func TestTailConnectError(t *testing.T) {
	n := testdaemon.NSQD(t)
	addr := n.TCPAddr().String()
	n.Exit() // nothing listens there any more
	err := Tail(context.Background(), TailOptions{
		Topics:           []string{"tx"},
		NSQDTCPAddresses: []string{addr},
		Config:           tailQuietConfig(),
		Out:              io.Discard,
	})
	if err == nil || !strings.Contains(err.Error(), "connecting to nsqd") {
		t.Fatalf("Tail: %v", err)
	}
}

func TestRandomTailChannel(t *testing.T) {
	for i := 0; i < 20; i++ {
		c := RandomTailChannel()
		if len(c) != len("tail000000#ephemeral") || !strings.HasPrefix(c, "tail") || !strings.HasSuffix(c, "#ephemeral") {
			t.Fatalf("channel %q", c)
		}
	}
}
