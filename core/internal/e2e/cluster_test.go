package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

// lookupdProc is a running nsqlookupd binary.
type lookupdProc struct {
	*daemon
	tcpAddr string
}

func startLookupd(t testing.TB, tcpAddr, httpAddr string, extra ...string) *lookupdProc {
	t.Helper()
	args := append([]string{"--tcp-address=" + tcpAddr, "--http-address=" + httpAddr, "--broadcast-address=127.0.0.1"}, extra...)
	d := run(t, "nsqlookupd", args...)
	d.http = httpAddr
	d.waitHTTP("/ping")
	return &lookupdProc{daemon: d, tcpAddr: tcpAddr}
}

// getJSON fetches a lookupd or nsqd JSON endpoint into v.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	code, body := do(t, "GET", url, nil)
	if code == 200 {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, body)
		}
	}
	return code
}

type lookupProducer struct {
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Tombstones       []bool `json:"tombstones"`
	Topics           []string
}

func producerPorts(ps []lookupProducer) string {
	var out []string
	for _, p := range ps {
		out = append(out, strconv.Itoa(p.HTTPPort))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// until polls cond for up to d.
func until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpPort(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

// TestCluster drives one nsqlookupd and two nsqd binaries: registration,
// deletion, tombstones, a killed node, a restarted lookupd and go-nsq
// discovery.
func TestCluster(t *testing.T) {
	lTCP := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	lHTTP := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	lookupd := startLookupd(t, lTCP, lHTTP, "--tombstone-lifetime=2s", "--inactive-producer-timeout=3s")
	a := startNSQD(t, t.TempDir(), "--lookupd-tcp-address="+lTCP)
	b := startNSQD(t, t.TempDir(), "--lookupd-tcp-address="+lTCP)
	L := "http://" + lHTTP
	aPort, bPort := httpPort(a.http), httpPort(b.http)
	both := strings.Join(sortedStrings(aPort, bPort), ",")

	nodes := func() string {
		var r struct{ Producers []lookupProducer }
		getJSON(t, L+"/nodes", &r)
		return producerPorts(r.Producers)
	}
	lookupPorts := func(topic string) string {
		var r struct{ Producers []lookupProducer }
		if getJSON(t, L+"/lookup?topic="+topic, &r) != 200 {
			return "404"
		}
		return producerPorts(r.Producers)
	}
	until(t, 10*time.Second, "both nsqd in /nodes", func() bool { return nodes() == both })

	// topics and channels created on either node appear
	for _, step := range []struct{ node, path string }{
		{a.http, "/topic/create?topic=orders"},
		{b.http, "/topic/create?topic=orders"},
		{b.http, "/topic/create?topic=clicks"},
		{b.http, "/channel/create?topic=clicks&channel=analytics"},
	} {
		if code, body := do(t, "POST", "http://"+step.node+step.path, nil); code != 200 {
			t.Fatalf("%s: %d %s", step.path, code, body)
		}
	}
	until(t, 10*time.Second, "orders on both nodes in /lookup", func() bool { return lookupPorts("orders") == both })
	until(t, 10*time.Second, "clicks on b", func() bool { return lookupPorts("clicks") == bPort })
	var topics struct{ Topics []string }
	getJSON(t, L+"/topics", &topics)
	if strings.Join(sortedStrings(topics.Topics...), ",") != "clicks,orders" {
		t.Fatalf("/topics = %v", topics.Topics)
	}
	var chans struct{ Channels []string }
	getJSON(t, L+"/channels?topic=clicks", &chans)
	if strings.Join(chans.Channels, ",") != "analytics" {
		t.Fatalf("/channels = %v", chans.Channels)
	}
	// a new topic on a picks up the channel b has (pre-creation from lookupd)
	if code, _ := do(t, "POST", "http://"+a.http+"/pub?topic=clicks", strings.NewReader("x")); code != 200 {
		t.Fatal("pub failed")
	}
	var st struct {
		Topics []struct {
			TopicName string `json:"topic_name"`
			Channels  []struct {
				ChannelName string `json:"channel_name"`
				Depth       int
			}
		}
	}
	getJSON(t, "http://"+a.http+"/stats?format=json&topic=clicks", &st)
	if len(st.Topics) != 1 || len(st.Topics[0].Channels) != 1 || st.Topics[0].Channels[0].ChannelName != "analytics" || st.Topics[0].Channels[0].Depth != 1 {
		t.Fatalf("channel not pre-created on a: %+v", st.Topics)
	}

	// deleting unregisters
	do(t, "POST", "http://"+a.http+"/topic/delete?topic=orders", nil)
	until(t, 10*time.Second, "orders only on b", func() bool { return lookupPorts("orders") == bPort })

	// tombstone hides b for orders for the lifetime, then it is back
	if code, body := do(t, "POST", L+"/topic/tombstone?topic=orders&node=127.0.0.1:"+bPort, nil); code != 200 {
		t.Fatalf("tombstone: %d %s", code, body)
	}
	if got := lookupPorts("orders"); got != "" {
		t.Fatalf("tombstoned producer still in /lookup: %q", got)
	}
	var nd struct{ Producers []lookupProducer }
	getJSON(t, L+"/nodes", &nd)
	tomb := false
	for _, p := range nd.Producers {
		for i, tp := range p.Topics {
			if tp == "orders" && strconv.Itoa(p.HTTPPort) == bPort && p.Tombstones[i] {
				tomb = true
			}
		}
	}
	if !tomb {
		t.Fatalf("/nodes does not show the tombstone: %+v", nd.Producers)
	}
	until(t, 10*time.Second, "tombstone expires", func() bool { return lookupPorts("orders") == bPort })

	// go-nsq finds both nodes through lookupd and consumes from both
	for _, n := range []*daemon{a, b} {
		for i := 0; i < 50; i++ {
			do(t, "POST", "http://"+n.http+"/pub?topic=spread", strings.NewReader(n.http+"-"+strconv.Itoa(i)))
		}
	}
	until(t, 10*time.Second, "spread on both", func() bool { return lookupPorts("spread") == both })
	seen := consumeLookupd(t, L, "spread", "ch", 100, 15*time.Second)
	if len(seen) != 100 {
		t.Fatalf("go-nsq via lookupd got %d of 100 messages", len(seen))
	}

	// a restarted lookupd is re-populated without restarting the nsqds
	if code := lookupd.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("lookupd exit %d", code)
	}
	startLookupd(t, lTCP, lHTTP, "--tombstone-lifetime=2s", "--inactive-producer-timeout=3s")
	until(t, 20*time.Second, "nodes re-registered", func() bool { return nodes() == both })
	until(t, 10*time.Second, "topics re-registered", func() bool { return lookupPorts("clicks") == both })

	// a node killed with SIGKILL disappears from /nodes
	b.cmd.Process.Kill()
	until(t, 10*time.Second, "killed node gone from /nodes", func() bool { return nodes() == aPort })
}

func sortedStrings(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// consumeLookupd consumes with go-nsq's ConnectToNSQLookupd.
func consumeLookupd(t *testing.T, lookupdHTTP, topic, channel string, want int, timeout time.Duration) map[string]int {
	t.Helper()
	return consumeWith(t, topic, channel, want, timeout, 100, func(c *nsq.Consumer) error {
		return c.ConnectToNSQLookupd(strings.TrimPrefix(lookupdHTTP, "http://"))
	})
}
