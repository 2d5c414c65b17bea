package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Load tests (make test-long): real daemons, many connections, large
// registrations; each reports what it measured.

// raiseFDLimit lets this process (and the daemons it starts, which
// inherit it) hold n descriptors, or skips.
func raiseFDLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	old := lim
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise the open-file limit to %d (have %d/%d): %v", n, old.Cur, old.Max, err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// vmRSS is a process's resident memory in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// pubRaw publishes bodies over a fresh V2 connection, one PUB at a time.
func pubRaw(addr, topic string, bodies ...string) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := conn.Write(wire.MagicV2); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	for _, b := range bodies {
		if _, err := conn.Write(wire.Publish(topic, []byte(b)).Append(nil)); err != nil {
			return err
		}
		ft, data, err := wire.ReadFrame(r, 1<<20)
		if err != nil {
			return err
		}
		if ft != wire.FrameTypeResponse || string(data) != "OK" {
			return fmt.Errorf("PUB: frame %d %q", ft, data)
		}
	}
	return nil
}

// TestLoadIdleConnections holds 10 000 idle V2 connections to one nsqd
// and measures its memory per connection; nsqd keeps serving meanwhile.
func TestLoadIdleConnections(t *testing.T) {
	testutil.Long(t)
	const conns = 10000
	raiseFDLimit(t, conns+2000) // each process (this one, nsqd) holds one end
	d := startNSQD(t, t.TempDir(), "--log-level=warn")
	pid := d.cmd.Process.Pid
	time.Sleep(200 * time.Millisecond)
	before := vmRSS(t, pid)

	began := time.Now()
	held := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", d.tcp, 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, c)
		if _, err := c.Write(wire.MagicV2); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	dialled := time.Since(began)
	time.Sleep(time.Second) // let nsqd set every one up
	after := vmRSS(t, pid)

	// still serving: a publish on a new connection, and /ping
	if err := pubRaw(d.tcp, "idle_load", "hello"); err != nil {
		t.Fatalf("publish with %d idle connections: %v", conns, err)
	}
	if code, body := do(t, "GET", "http://"+d.http+"/ping", nil); code != 200 {
		t.Fatalf("/ping with %d idle connections: %d %s", conns, code, body)
	}
	// none was dropped
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil && !isTimeout(err) {
			t.Fatalf("connection %d dropped: %v", i, err)
		}
	}
	t.Logf("%d idle connections in %s: nsqd RSS %d MiB -> %d MiB, %.1f KiB per connection",
		conns, dialled.Round(time.Millisecond), before>>20, after>>20, float64(after-before)/conns/1024)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestLoadManyProducers: 1 000 producers connect and publish at once;
// every publish is acknowledged and counted.
func TestLoadManyProducers(t *testing.T) {
	testutil.Long(t)
	const producers, each = 1000, 20
	raiseFDLimit(t, 4*producers)
	d := startNSQD(t, t.TempDir(), "--log-level=warn")
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			bodies := make([]string, each)
			for i := range bodies {
				bodies[i] = fmt.Sprintf("p%d-%d", p, i)
			}
			<-start
			if err := pubRaw(d.tcp, "many_producers", bodies...); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}(p)
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d producers failed, first: %v", n, producers, firstErr.Load())
	}
	var stats struct {
		Topics []struct {
			Name         string `json:"topic_name"`
			MessageCount int64  `json:"message_count"`
		} `json:"topics"`
	}
	getJSON(t, "http://"+d.http+"/stats?format=json&topic=many_producers", &stats)
	if len(stats.Topics) != 1 || stats.Topics[0].MessageCount != producers*each {
		t.Fatalf("stats: %+v, want %d messages", stats.Topics, producers*each)
	}
	t.Logf("%d producers × %d PUBs at once: all %d acknowledged and counted in %s",
		producers, each, producers*each, took.Round(time.Millisecond))
}

// latencies times n GETs of url and returns p50, max and the body size.
func latencies(t *testing.T, url string, n int) (p50, max time.Duration, size int) {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		began := time.Now()
		resp, err := httpClient.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
		}
		ds[i] = time.Since(began)
		size = len(b)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2], ds[n-1], size
}

// parallel runs f(0..n-1) on workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// TestLoadStatsManyTopics: /stats with 1 000 topics × 10 channels stays
// fast; the test reports its latency.
func TestLoadStatsManyTopics(t *testing.T) {
	testutil.Long(t)
	const topics, channels = 1000, 10
	d := startNSQD(t, t.TempDir(), "--log-level=warn")
	base := "http://" + d.http
	parallel(topics, 8, func(i int) {
		topic := fmt.Sprintf("stats_t%04d", i)
		if code, body := do(t, "POST", base+"/topic/create?topic="+topic, nil); code != 200 {
			t.Errorf("create %s: %d %s", topic, code, body)
			return
		}
		for c := 0; c < channels; c++ {
			if code, body := do(t, "POST", fmt.Sprintf("%s/channel/create?topic=%s&channel=c%d", base, topic, c), nil); code != 200 {
				t.Errorf("create %s/c%d: %d %s", topic, c, code, body)
				return
			}
		}
	})
	if t.Failed() {
		return
	}
	var stats struct {
		Topics []struct {
			Channels []json.RawMessage `json:"channels"`
		} `json:"topics"`
	}
	getJSON(t, base+"/stats?format=json", &stats)
	nch := 0
	for _, tp := range stats.Topics {
		nch += len(tp.Channels)
	}
	if len(stats.Topics) != topics || nch != topics*channels {
		t.Fatalf("stats list %d topics, %d channels; want %d, %d", len(stats.Topics), nch, topics, topics*channels)
	}
	p50, max, size := latencies(t, base+"/stats?format=json", 20)
	tp50, tmax, tsize := latencies(t, base+"/stats", 20)
	t.Logf("/stats with %d topics × %d channels: JSON p50 %s, max %s (%d KiB); text p50 %s, max %s (%d KiB)",
		topics, channels, p50.Round(time.Microsecond), max.Round(time.Microsecond), size>>10,
		tp50.Round(time.Microsecond), tmax.Round(time.Microsecond), tsize>>10)
}

// TestLoadLookupdManyNodes: nsqlookupd with 100 nsqd (V1 peers) × 1 000
// topics registered answers /lookup, /nodes and /topics; the test
// reports their latency.
func TestLoadLookupdManyNodes(t *testing.T) {
	testutil.Long(t)
	const nodes, topics = 100, 1000
	raiseFDLimit(t, 4*nodes)
	tcpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	l := startLookupd(t, tcpAddr, httpAddr, "--log-level=warn")

	peers := make([]net.Conn, nodes)
	defer func() {
		for _, c := range peers {
			if c != nil {
				c.Close()
			}
		}
	}()
	began := time.Now()
	var failed atomic.Value
	parallel(nodes, 8, func(i int) {
		c, err := net.DialTimeout("tcp", l.tcpAddr, 10*time.Second)
		if err != nil {
			failed.CompareAndSwap(nil, err)
			return
		}
		peers[i] = c
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		if err := registerPeer(c, i, topics); err != nil {
			failed.CompareAndSwap(nil, fmt.Errorf("peer %d: %w", i, err))
		}
	})
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	registered := time.Since(began)

	var lookup struct {
		Producers []lookupProducer `json:"producers"`
		Channels  []string         `json:"channels"`
	}
	getJSON(t, "http://"+httpAddr+"/lookup?topic=load_t0500", &lookup)
	if len(lookup.Producers) != nodes {
		t.Fatalf("/lookup lists %d producers, want %d", len(lookup.Producers), nodes)
	}
	lp50, lmax, lsize := latencies(t, "http://"+httpAddr+"/lookup?topic=load_t0500", 50)
	tp50, tmax, tsize := latencies(t, "http://"+httpAddr+"/topics", 20)
	np50, nmax, nsize := latencies(t, "http://"+httpAddr+"/nodes", 10)
	t.Logf("%d peers × %d topics registered in %s; /lookup p50 %s max %s (%d B); /topics p50 %s max %s (%d KiB); /nodes p50 %s max %s (%d KiB)",
		nodes, topics, registered.Round(time.Millisecond),
		lp50.Round(time.Microsecond), lmax.Round(time.Microsecond), lsize,
		tp50.Round(time.Microsecond), tmax.Round(time.Microsecond), tsize>>10,
		np50.Round(time.Microsecond), nmax.Round(time.Microsecond), nsize>>10)
}

// registerPeer speaks V1 as nsqd does: magic, IDENTIFY, then a REGISTER per
// topic (written in one go, replies read after).
func registerPeer(c net.Conn, i, topics int) error {
	w := bufio.NewWriter(c)
	r := bufio.NewReader(c)
	ident, _ := json.Marshal(map[string]any{
		"version": "1.3.0", "tcp_port": 10000 + i, "http_port": 20000 + i,
		"hostname": fmt.Sprintf("node%d", i), "broadcast_address": fmt.Sprintf("127.0.1.%d", i+1),
	})
	w.Write(wire.MagicV1)
	w.WriteString("IDENTIFY\n")
	binary.Write(w, binary.BigEndian, uint32(len(ident)))
	w.Write(ident)
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := wire.ReadV1Response(r, 1<<20); err != nil {
		return fmt.Errorf("IDENTIFY: %w", err)
	}
	done := make(chan error, 1)
	go func() {
		for j := 0; j < topics; j++ {
			fmt.Fprintf(w, "REGISTER load_t%04d\n", j)
		}
		done <- w.Flush()
	}()
	for j := 0; j < topics; j++ {
		b, err := wire.ReadV1Response(r, 1<<20)
		if err != nil {
			return fmt.Errorf("REGISTER %d: %w", j, err)
		}
		if string(b) != "OK" {
			return fmt.Errorf("REGISTER %d: %q", j, b)
		}
	}
	return <-done
}
