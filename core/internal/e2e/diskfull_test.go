//go:build linux

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/wire"
)

// mountTmpfs mounts a tmpfs of the given size ("8m") on a new temporary
// directory, unmounted when the test ends (after the processes the test
// starts later are stopped). It skips the test when mounting is not
// permitted (not root, no CAP_SYS_ADMIN, a container without it).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Skipf("cannot mount a %s tmpfs on %s (%v): this test fills a small file system and needs root or CAP_SYS_ADMIN", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Logf("unmount %s: %v; detaching it", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// freeBytes is what the file system of dir has left.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fillDisk writes a file of zeros into dir until its file system is
// full, then gives back leave bytes by cutting the file. It returns the
// file's path: removing it gives the space back.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var size int64
	for {
		n, err := f.Write(chunk)
		size += int64(n)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			break
		}
	}
	if err := f.Truncate(max(0, size-leave)); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawProducer is a bare producer connection to nsqd.
type rawProducer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialProducer(t *testing.T, addr string) *rawProducer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write(wire.MagicV2); err != nil {
		t.Fatal(err)
	}
	return &rawProducer{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes a command and returns the reply frame (heartbeats skipped).
func (c *rawProducer) send(cmd *wire.Command) (int32, string) {
	c.t.Helper()
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(cmd.Append(nil)); err != nil {
		c.t.Fatalf("writing %s: %v", cmd.Name, err)
	}
	for {
		ft, data, err := wire.ReadFrame(c.r, 1<<20)
		if err != nil {
			c.t.Fatalf("reply to %s: %v", cmd.Name, err)
		}
		if ft == wire.FrameTypeResponse && wire.IsHeartbeat(data) {
			continue
		}
		return ft, string(data)
	}
}

// expectClosed checks that nsqd closed the connection (after a fatal error).
func (c *rawProducer) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.r.ReadByte(); err != io.EOF {
		c.t.Fatalf("connection not closed after a fatal error: %v", err)
	}
}

// diskBody is message i of the disk-full test: its number, padded.
func diskBody(i, size int) []byte {
	b := []byte(fmt.Sprintf("msg-%07d-", i))
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}

func nsqdHealth(t *testing.T, d *daemon) (int, string, string) {
	t.Helper()
	code, body := do(t, "GET", "http://"+d.http+"/ping", nil)
	var st struct {
		Health string `json:"health"`
	}
	getJSON(t, "http://"+d.http+"/stats?format=json&include_clients=false&include_mem=false", &st)
	return code, body, st.Health
}

// TestNSQDDiskFull runs nsqd on a small tmpfs with --mem-queue-size=0
// (every message is written to disk) and fills it: publishing fails as
// tcp-protocol.md 1.5.11–13 and http-api.md 2.4–2.5 say (fatal
// E_PUB_FAILED / E_MPUB_FAILED / E_DPUB_FAILED on TCP, 503 EXITING over
// HTTP), nsqd stays up and /ping and /stats report the failed write
// (daemon-behaviour.md 1.3: 500 "NOK - <error>"); once space returns the
// next publish works and health is OK again; every message acknowledged
// before, during and after is delivered, no refused one is, go-diskqueue
// leaves no temporary files behind, and nsqd still shuts down cleanly.
// Once with the messages kept at the topic (no channel yet) and once
// with a channel (publishes go straight to it).
func TestNSQDDiskFull(t *testing.T) {
	testutil.Long(t)
	t.Run("topic", func(t *testing.T) { diskFull(t, false) })
	t.Run("channel", func(t *testing.T) { diskFull(t, true) })
}

func diskFull(t *testing.T, withChannel bool) {
	dir := mountTmpfs(t, "8m")
	// --sync-timeout: the queues try to save their metadata while the
	// disk is full, too
	d := startNSQD(t, dir, "--mem-queue-size=0", "--sync-timeout=100ms", "--log-level=warn")
	const topic, channel, size = "full", "ch", 1000
	post := func(p string) {
		t.Helper()
		if code, body := do(t, "POST", "http://"+d.http+p, nil); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	post("/topic/create?topic=" + topic)
	if withChannel {
		post("/channel/create?topic=" + topic + "&channel=" + channel)
	}

	// Acknowledged on a roomy disk.
	c := dialProducer(t, d.tcp)
	acked := map[string]bool{}
	next := 0
	publish := func(c *rawProducer) (int32, string) {
		body := diskBody(next, size)
		ft, data := c.send(wire.Publish(topic, body))
		if ft == wire.FrameTypeResponse && data == "OK" {
			acked[string(body)] = true
		}
		next++
		return ft, data
	}
	for range 100 {
		if ft, data := publish(c); ft != wire.FrameTypeResponse {
			t.Fatalf("PUB on a free disk: %d %q", ft, data)
		}
	}

	// Fill the disk, leaving room for a couple of hundred messages.
	filler := fillDisk(t, dir, 256<<10)
	t.Logf("disk filled: %d bytes free", freeBytes(t, dir))
	var failure string
	for failure == "" {
		if next > 2000 {
			t.Fatalf("%d publishes of %d bytes acknowledged on a disk with 256 KiB free: acknowledged messages were not written (nsqd logged %d failed disk writes)",
				next, size, strings.Count(d.out.String(), "failed to write message to backend"))
		}
		ft, data := publish(c)
		switch {
		case ft == wire.FrameTypeError:
			failure = data
		case ft != wire.FrameTypeResponse || data != "OK":
			t.Fatalf("PUB: frame %d %q", ft, data)
		}
	}
	t.Logf("%d messages acknowledged, then: %s", len(acked), failure)
	if !strings.HasPrefix(failure, "E_PUB_FAILED PUB failed") {
		t.Fatalf("PUB to a full disk: %q, want E_PUB_FAILED PUB failed <reason>", failure)
	}
	c.expectClosed() // E_PUB_FAILED is fatal

	// Unhealthy, and saying why.
	code, body, h := nsqdHealth(t, d)
	if code != 500 || !strings.HasPrefix(body, "NOK - ") || h != body {
		t.Fatalf("after a failed disk write: /ping %d %q, /stats health %q; want 500 \"NOK - <error>\" in both", code, body, h)
	}
	t.Logf("/ping: %d %s", code, body)

	// Every way of publishing fails (bodies of several pages, so that no
	// write fits in what a partly written page has left).
	big := func(i int) []byte { return diskBody(i, 9000) }
	c2 := dialProducer(t, d.tcp)
	if ft, data := c2.send(wire.MultiPublish(topic, [][]byte{big(-1), big(-2)})); ft != wire.FrameTypeError || !strings.HasPrefix(data, "E_MPUB_FAILED MPUB failed") {
		t.Fatalf("MPUB to a full disk: %d %q, want E_MPUB_FAILED", ft, data)
	}
	c2.expectClosed()
	c3 := dialProducer(t, d.tcp)
	if ft, data := c3.send(wire.DeferredPublish(topic, 0, big(-3))); ft != wire.FrameTypeError || !strings.HasPrefix(data, "E_DPUB_FAILED DPUB failed") {
		t.Fatalf("DPUB to a full disk: %d %q, want E_DPUB_FAILED", ft, data)
	}
	c3.expectClosed()
	if code, body := do(t, "POST", "http://"+d.http+"/pub?topic="+topic, strings.NewReader(string(big(-4)))); code != 503 || body != `{"message":"EXITING"}` {
		t.Fatalf("HTTP /pub to a full disk: %d %s, want 503 EXITING", code, body)
	}
	if code, body := do(t, "POST", "http://"+d.http+"/mpub?topic="+topic, strings.NewReader(string(big(-5))+"\n"+string(big(-6)))); code != 503 || body != `{"message":"EXITING"}` {
		t.Fatalf("HTTP /mpub to a full disk: %d %s, want 503 EXITING", code, body)
	}
	select {
	case <-d.done:
		t.Fatalf("nsqd exited on a full disk: %v", d.err)
	default:
	}
	time.Sleep(500 * time.Millisecond) // a few failed metadata syncs
	if code, body, h := nsqdHealth(t, d); code != 500 || !strings.HasPrefix(body, "NOK - ") || h != body {
		t.Fatalf("still full: /ping %d %q, health %q", code, body, h)
	}

	// Space comes back: publishing works and health is OK again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c4 := dialProducer(t, d.tcp)
	for range 100 {
		if ft, data := publish(c4); ft != wire.FrameTypeResponse || data != "OK" {
			t.Fatalf("PUB after space returned: %d %q", ft, data)
		}
	}
	if code, body, h := nsqdHealth(t, d); code != 200 || body != "OK" || h != "OK" {
		t.Fatalf("after a successful write: /ping %d %q, health %q; want 200 OK", code, body, h)
	}
	if code, body := do(t, "POST", "http://"+d.http+"/pub?topic="+topic, strings.NewReader(string(diskBody(next, size)))); code != 200 {
		t.Fatalf("HTTP /pub after space returned: %d %s", code, body)
	}
	acked[string(diskBody(next, size))] = true
	next++
	if !withChannel {
		post("/channel/create?topic=" + topic + "&channel=" + channel)
	}

	// Nothing acknowledged is lost; nothing refused shows up.
	var st struct {
		Topics []struct {
			Depth    int64 `json:"depth"`
			Channels []struct {
				Depth int64 `json:"depth"`
			} `json:"channels"`
		} `json:"topics"`
	}
	until(t, 10*time.Second, "the backlog to reach the channel", func() bool {
		getJSON(t, "http://"+d.http+"/stats?format=json&topic="+topic, &st)
		return len(st.Topics) == 1 && st.Topics[0].Depth == 0 && len(st.Topics[0].Channels) == 1
	})
	if got := st.Topics[0].Channels[0].Depth; got != int64(len(acked)) {
		t.Errorf("channel depth %d, %d messages acknowledged", got, len(acked))
	}
	seen := consume(t, d.tcp, topic, channel, len(acked), 60*time.Second)
	missing := 0
	for b := range acked {
		if seen[b] == 0 {
			missing++
		}
	}
	for b := range seen {
		if !acked[b] {
			t.Errorf("a message that was not acknowledged was delivered: %.20q", b)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged messages lost (%d delivered)", missing, len(acked), len(seen))
	}
	t.Logf("%d acknowledged messages all delivered (%d publishes tried)", len(acked), next)

	// Writes that failed leave nothing behind (nsqd clears go-diskqueue's
	// temporary files a moment after writes work again).
	var tmps []string
	until(t, 10*time.Second, "no temporary files left", func() bool {
		tmps, _ = filepath.Glob(filepath.Join(dir, "*.tmp"))
		return len(tmps) == 0
	})
	if len(tmps) > 0 {
		t.Errorf("%d temporary files left in the data path after the disk was full (e.g. %s)", len(tmps), filepath.Base(tmps[0]))
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("nsqd exit code %d after SIGTERM", code)
	}
}
