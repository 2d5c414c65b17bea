package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"github.com/nsqkit/nsqkit/core/internal/testutil"
)

// Multi-host: nsqlookupd and two nsqd, each in its own network namespace,
// joined by veth pairs to a bridge in a fourth namespace where the
// producers and the consumer run (this test, re-executed there). Only
// loopback-range addresses are used (127.77.0.0/24, with route_localnet),
// and nothing changes in the machine's own network namespace.

const (
	netnsEnv    = "NSQKIT_NETNS" // set in the re-executed test: the namespaces' prefix
	netnsBinEnv = "NSQKIT_E2E_BIN"
)

var netnsAddr = map[string]string{"c": "127.77.0.1", "l": "127.77.0.2", "a": "127.77.0.3", "b": "127.77.0.4"}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// setupNetns makes the four namespaces; they are deleted at cleanup.
func setupNetns(t *testing.T, prefix string) {
	t.Helper()
	ns := func(role string) string { return prefix + "-" + role }
	for _, role := range []string{"c", "l", "a", "b"} {
		if err := ipCmd("netns", "add", ns(role)); err != nil {
			t.Skipf("network namespaces not permitted here: %v", err)
		}
		role := role
		t.Cleanup(func() { ipCmd("netns", "del", ns(role)) })
	}
	steps := [][]string{
		{"-n", ns("c"), "link", "add", "br0", "type", "bridge"},
		{"-n", ns("c"), "link", "set", "br0", "up"},
	}
	for _, role := range []string{"l", "a", "b"} {
		steps = append(steps,
			[]string{"-n", ns("c"), "link", "add", "v" + role, "type", "veth", "peer", "name", "eth0", "netns", ns(role)},
			[]string{"-n", ns("c"), "link", "set", "v" + role, "master", "br0", "up"},
			[]string{"-n", ns(role), "link", "set", "eth0", "up"},
			[]string{"-n", ns(role), "addr", "add", netnsAddr[role] + "/24", "dev", "eth0"},
		)
	}
	steps = append(steps, []string{"-n", ns("c"), "addr", "add", netnsAddr["c"] + "/24", "dev", "br0"})
	for _, role := range []string{"c", "l", "a", "b"} {
		// 127.0.0.0/8 is local on lo by default: keep only 127.0.0.1 there
		steps = append(steps,
			[]string{"-n", ns(role), "link", "set", "lo", "up"},
			[]string{"-n", ns(role), "addr", "del", "127.0.0.1/8", "dev", "lo"},
			[]string{"-n", ns(role), "addr", "add", "127.0.0.1/32", "dev", "lo"},
		)
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatal(err)
		}
	}
	for _, role := range []string{"c", "l", "a", "b"} {
		dev := "eth0"
		if role == "c" {
			dev = "br0"
		}
		for _, key := range []string{"all", dev} {
			out, err := exec.Command("ip", "netns", "exec", ns(role), "sysctl", "-qw",
				"net.ipv4.conf."+key+".route_localnet=1").CombinedOutput()
			if err != nil {
				t.Fatalf("sysctl in %s: %v: %s", ns(role), err, out)
			}
		}
	}
}

// runIn runs one of our binaries inside namespace ns.
func runIn(t testing.TB, ns, name string, args ...string) *daemon {
	t.Helper()
	return runCmd(t, name+" in "+ns, exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(binDir, name)}, args...)...))
}

// TestMultiHostPartition: the lookupd is cut off from everyone; producers
// keep publishing to the nsqd they know and the consumer keeps consuming
// from them; after the partition heals the nsqd register again (a topic
// made during the partition shows up), and every acknowledged message
// was delivered.
func TestMultiHostPartition(t *testing.T) {
	testutil.Long(t)
	prefix := os.Getenv(netnsEnv)
	if prefix == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root for network namespaces")
		}
		if _, err := exec.LookPath("ip"); err != nil {
			t.Skip("needs iproute2's ip")
		}
		prefix = "nsqk" + strconv.Itoa(os.Getpid())
		setupNetns(t, prefix)
		// the rest runs inside the clients' namespace
		cmd := exec.Command("ip", "netns", "exec", prefix+"-c", os.Args[0],
			"-test.run=^TestMultiHostPartition$", "-test.v", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), netnsEnv+"="+prefix, netnsBinEnv+"="+binDir, testutil.LongEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("inside %s-c:\n%s", prefix, out)
		if err != nil {
			t.Fatalf("inner run: %v", err)
		}
		return
	}
	multiHostInner(t, prefix)
}

func multiHostInner(t *testing.T, prefix string) {
	ns := func(role string) string { return prefix + "-" + role }
	lTCP, lHTTP := netnsAddr["l"]+":4160", netnsAddr["l"]+":4161"
	runIn(t, ns("l"), "nsqlookupd", "--tcp-address="+lTCP, "--http-address="+lHTTP,
		"--broadcast-address="+netnsAddr["l"], "--log-level=warn")
	var nodes []*daemon
	for _, role := range []string{"a", "b"} {
		d := runIn(t, ns(role), "nsqd", "--tcp-address="+netnsAddr[role]+":4150", "--http-address="+netnsAddr[role]+":4151",
			"--https-address=", "--broadcast-address="+netnsAddr[role], "--lookupd-tcp-address="+lTCP,
			"--data-path="+t.TempDir(), "--log-level=warn")
		d.tcp, d.http = netnsAddr[role]+":4150", netnsAddr[role]+":4151"
		d.waitHTTP("/ping")
		nodes = append(nodes, d)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	lookup := func(topic string) (int, error) {
		var v struct {
			Producers []lookupProducer `json:"producers"`
		}
		resp, err := client.Get("http://" + lHTTP + "/lookup?topic=" + topic)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			io.Copy(io.Discard, resp.Body)
			return 0, nil
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return 0, err
		}
		return len(v.Producers), nil
	}
	for _, d := range nodes {
		if code, body := do(t, "POST", "http://"+d.http+"/topic/create?topic=part", nil); code != 200 {
			t.Fatalf("create topic on %s: %d %s", d.http, code, body)
		}
	}
	until(t, 20*time.Second, "both nsqd registered", func() bool { n, _ := lookup("part"); return n == 2 })

	// consumer through lookupd, producers to each nsqd
	cfg := nsq.NewConfig()
	cfg.LookupdPollInterval = time.Second
	cfg.MaxInFlight = 100
	cons, err := nsq.NewConsumer("part", "ch", cfg)
	if err != nil {
		t.Fatal(err)
	}
	cons.SetLogger(nil, nsq.LogLevelError)
	var mu sync.Mutex
	got := map[string]bool{}
	cons.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		mu.Lock()
		got[string(m.Body)] = true
		mu.Unlock()
		return nil
	}))
	if err := cons.ConnectToNSQLookupd(lHTTP); err != nil {
		t.Fatal(err)
	}
	defer func() { cons.Stop(); <-cons.StopChan }()
	until(t, 20*time.Second, "consumer on both nsqd", func() bool { return cons.Stats().Connections == 2 })
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	var producers []*nsq.Producer
	for _, d := range nodes {
		p, err := nsq.NewProducer(d.tcp, nsq.NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		p.SetLogger(nil, nsq.LogLevelError)
		defer p.Stop()
		producers = append(producers, p)
	}
	var acked, failed atomic.Int64
	var ackedMu sync.Mutex
	ackedBodies := map[string]bool{}
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			body := "m" + strconv.Itoa(i)
			if err := producers[i%2].Publish("part", []byte(body)); err != nil {
				failed.Add(1)
				continue
			}
			ackedMu.Lock()
			ackedBodies[body] = true
			ackedMu.Unlock()
			acked.Add(1)
		}
	}()
	time.Sleep(time.Second)

	// partition: the lookupd's link goes down
	if err := ipCmd("-n", ns("l"), "link", "set", "eth0", "down"); err != nil {
		t.Fatal(err)
	}
	if _, err := lookup("part"); err == nil {
		t.Fatal("lookupd still reachable during the partition")
	}
	ackedAt, recvAt := acked.Load(), received()
	time.Sleep(5 * time.Second)
	if a, r := acked.Load(), received(); a <= ackedAt || r <= recvAt {
		t.Fatalf("during the partition: acknowledged %d -> %d, received %d -> %d (want both growing)", ackedAt, a, recvAt, r)
	}
	// a topic made during the partition, to be registered after it
	if code, body := do(t, "POST", "http://"+nodes[0].http+"/topic/create?topic=part_new", nil); code != 200 {
		t.Fatalf("create topic during the partition: %d %s", code, body)
	}
	t.Logf("partition (5 s): producers %d -> %d acknowledged (%d failed), consumer %d -> %d received",
		ackedAt, acked.Load(), failed.Load(), recvAt, received())

	// heal
	if err := ipCmd("-n", ns("l"), "link", "set", "eth0", "up"); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	until(t, 60*time.Second, "registrations back after the partition", func() bool {
		n, _ := lookup("part")
		m, _ := lookup("part_new")
		return n == 2 && m == 1
	})
	t.Logf("registrations back %s after healing", time.Since(healed).Round(100*time.Millisecond))

	close(stop)
	<-pubDone
	until(t, 30*time.Second, "every acknowledged message delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for b := range ackedBodies {
			if !got[b] {
				return false
			}
		}
		return true
	})
	t.Logf("%d acknowledged, all delivered (%d publishes failed, none during the partition expected)", acked.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d publishes failed although the nsqd were reachable", failed.Load())
	}
}
