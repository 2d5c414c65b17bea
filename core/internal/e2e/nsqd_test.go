package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestNSQDVersionAndUsage(t *testing.T) {
	out, err := exec.Command(filepath.Join(binDir, "nsqd"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "nsqd v1.3.0+nsqkit.") {
		t.Fatalf("--version: %v %q", err, out)
	}
	out, err = exec.Command(filepath.Join(binDir, "nsqd"), "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "nsqd v1.3.0") {
		t.Fatalf("-version: %v %q", err, out)
	}
	out, err = exec.Command(filepath.Join(binDir, "nsqd"), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--mem-queue-size") {
		t.Fatalf("--help: %v %q", err, out)
	}
	err = exec.Command(filepath.Join(binDir, "nsqd"), "--no-such-flag").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("unknown flag: want exit 2, got %v", err)
	}
}

// TestNSQDSeedCommandLine starts nsqd the way the seeds do, with a lookupd
// address where nothing listens: start-up must not fail.
func TestNSQDSeedCommandLine(t *testing.T) {
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tcp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := run(t, "nsqd", "--lookupd-tcp-address="+dead, "--data-path="+t.TempDir(),
		"-http-address="+httpAddr, "-tcp-address="+tcp, "--https-address=")
	d.http, d.tcp = httpAddr, tcp
	d.waitHTTP("/ping")
	if code, body := do(t, "GET", "http://"+httpAddr+"/config/nsqlookupd_tcp_addresses", nil); code != 200 || body != `["`+dead+`"]` {
		t.Fatalf("config: %d %s", code, body)
	}
	if code := d.stop(syscall.SIGINT); code != 0 {
		t.Fatalf("exit code %d after SIGINT", code)
	}
}

// TestNSQDCurlRecipes runs the seeds' curl recipes against the binary.
func TestNSQDCurlRecipes(t *testing.T) {
	d := startNSQD(t, t.TempDir())
	base := "http://" + d.http
	steps := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/pub?topic=test1", "msg1", 200, "OK"},
		{"POST", "/mpub?topic=test1", "msg2\nmsg3\n", 200, "OK"},
		{"POST", "/topic/create?topic=test2", "", 200, ""},
		{"POST", "/channel/create?topic=test2&channel=ch1", "", 200, ""},
		{"POST", "/channel/pause?topic=test2&channel=ch1", "", 200, ""},
		{"POST", "/channel/unpause?topic=test2&channel=ch1", "", 200, ""},
		{"POST", "/channel/empty?topic=test2&channel=ch1", "", 200, ""},
		{"POST", "/topic/pause?topic=test2", "", 200, ""},
		{"POST", "/topic/unpause?topic=test2", "", 200, ""},
		{"POST", "/topic/empty?topic=test2", "", 200, ""},
		{"POST", "/channel/delete?topic=test2&channel=ch1", "", 200, ""},
		{"POST", "/topic/delete?topic=test2", "", 200, ""},
		{"GET", "/ping", "", 200, "OK"},
	}
	for _, s := range steps {
		var code int
		var body string
		if s.body != "" {
			code, body = do(t, s.method, base+s.path, strings.NewReader(s.body))
		} else {
			code, body = do(t, s.method, base+s.path, nil)
		}
		if code != s.code || body != s.want {
			t.Errorf("%s %s: %d %q, want %d %q", s.method, s.path, code, body, s.code, s.want)
		}
	}
	code, body := do(t, "GET", base+"/stats?format=json", nil)
	var stats struct {
		Version string
		Topics  []struct {
			TopicName    string `json:"topic_name"`
			Depth        int64
			MessageCount int64 `json:"message_count"`
		}
	}
	if code != 200 || json.Unmarshal([]byte(body), &stats) != nil {
		t.Fatalf("stats: %d %s", code, body)
	}
	if len(stats.Topics) != 1 || stats.Topics[0].TopicName != "test1" || stats.Topics[0].Depth != 3 {
		t.Fatalf("stats topics = %+v", stats.Topics)
	}
	code, body = do(t, "GET", base+"/info", nil)
	if code != 200 || !strings.Contains(body, `"version":"1.3.0+nsqkit.`) {
		t.Fatalf("info: %d %s", code, body)
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestNSQDGoNSQ publishes and consumes with go-nsq v1.1.0 against the binary.
func TestNSQDGoNSQ(t *testing.T) {
	d := startNSQD(t, t.TempDir())
	cfg := nsq.NewConfig()
	p, err := nsq.NewProducer(d.tcp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLogger(nil, nsq.LogLevelError)
	defer p.Stop()
	const total = 2000
	for i := 0; i < total; i += 100 {
		var batch [][]byte
		for j := i; j < i+100; j++ {
			batch = append(batch, []byte("m"+strconv.Itoa(j)))
		}
		if err := p.MultiPublish("e2e", batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.DeferredPublish("e2e", 200*time.Millisecond, []byte("deferred")); err != nil {
		t.Fatal(err)
	}
	seen := consume(t, d.tcp, "e2e", "ch", total+1, 10*time.Second)
	if len(seen) != total+1 {
		t.Fatalf("got %d distinct messages, want %d", len(seen), total+1)
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// consume reads messages with go-nsq from one nsqd until want distinct
// bodies arrived or timeout passed.
func consume(t *testing.T, addr, topic, channel string, want int, timeout time.Duration) map[string]int {
	t.Helper()
	return consumeWith(t, topic, channel, want, timeout, 500, func(c *nsq.Consumer) error { return c.ConnectToNSQD(addr) })
}

// consumeWith runs a go-nsq consumer connected by connect and counts how
// often each body arrived.
func consumeWith(t *testing.T, topic, channel string, want int, timeout time.Duration, maxInFlight int, connect func(*nsq.Consumer) error) map[string]int {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = maxInFlight
	cfg.LookupdPollInterval = time.Second
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLogger(nil, nsq.LogLevelError)
	var mu sync.Mutex
	seen := map[string]int{}
	done := make(chan struct{})
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(m.Body)]++
		if len(seen) == want {
			close(done)
		}
		return nil
	}))
	if err := connect(c); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(timeout):
	}
	c.Stop()
	<-c.StopChan
	mu.Lock()
	defer mu.Unlock()
	return seen
}

// TestNSQDSIGTERMKeepsEverything: --mem-queue-size=100, 100 000 messages,
// some in flight and some deferred; SIGTERM; restart; all come back.
func TestNSQDSIGTERMKeepsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 100 000 messages")
	}
	const total = 100000
	dir := t.TempDir()
	d := startNSQD(t, dir, "--mem-queue-size=100", "--log-level=warn")
	for _, path := range []string{"/topic/create?topic=durable", "/channel/create?topic=durable&channel=ch"} {
		if code, body := do(t, "POST", "http://"+d.http+path, nil); code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	cfg := nsq.NewConfig()
	p, err := nsq.NewProducer(d.tcp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLogger(nil, nsq.LogLevelError)
	for i := 0; i < 5; i++ {
		if err := p.DeferredPublish("durable", time.Hour, []byte("deferred-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < total; i += 1000 {
		batch := make([][]byte, 0, 1000)
		for j := i; j < i+1000; j++ {
			batch = append(batch, []byte("msg-"+strconv.Itoa(j)))
		}
		if err := p.MultiPublish("durable", batch); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()

	// hold 20 messages in flight
	cfg2 := nsq.NewConfig()
	cfg2.MaxInFlight = 20
	c, err := nsq.NewConsumer("durable", "ch", cfg2)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLogger(nil, nsq.LogLevelError)
	var mu sync.Mutex
	held := map[string]bool{}
	c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		m.DisableAutoResponse()
		mu.Lock()
		held[string(m.Body)] = true
		mu.Unlock()
		return nil
	}))
	if err := c.ConnectToNSQD(d.tcp); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(held)
		mu.Unlock()
		if n == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d in flight", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	c.Stop()

	d2 := startNSQD(t, dir, "--mem-queue-size=100", "--log-level=warn")
	seen := consume(t, d2.tcp, "durable", "ch", total+5, 60*time.Second)
	if len(seen) != total+5 {
		t.Fatalf("after restart %d distinct messages, want %d", len(seen), total+5)
	}
	mu.Lock()
	defer mu.Unlock()
	for body, n := range seen {
		if n > 1 && !held[body] {
			t.Errorf("%s delivered %d times but was not in flight", body, n)
		}
	}
	d2.stop(syscall.SIGTERM)
}

// TestNSQDDataPathLocked: a second nsqd on the same data path fails with
// exit status 1 and says why.
func TestNSQDDataPathLocked(t *testing.T) {
	dir := t.TempDir()
	startNSQD(t, dir)
	d2 := run(t, "nsqd", "--data-path="+dir, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--https-address=")
	select {
	case <-d2.done:
	case <-time.After(10 * time.Second):
		t.Fatal("second nsqd did not exit")
	}
	if code := d2.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if !strings.Contains(d2.out.String(), "failed to lock data-path") {
		t.Fatalf("output: %s", d2.out.String())
	}
}
