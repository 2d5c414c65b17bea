package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNSQTopLive runs the built nsqtop in a real pseudo-terminal against a
// live nsqlookupd and two nsqd with traffic, as an operator would: the
// topics and their rates appear within two refreshes; pausing a channel
// from nsqtop pauses it on both nodes and shows at the next refresh;
// killing a node shows it stale with its error.
func TestNSQTopLive(t *testing.T) {
	lk := startLookupd(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	a := startNSQD(t, t.TempDir(), "--lookupd-tcp-address="+lk.tcpAddr)
	b := startNSQD(t, t.TempDir(), "--lookupd-tcp-address="+lk.tcpAddr)
	nodes := []*daemon{a, b}
	for _, n := range nodes {
		for _, path := range []string{"/topic/create?topic=live", "/channel/create?topic=live&channel=work"} {
			if code, body := do(t, "POST", "http://"+n.http+path, nil); code != 200 {
				t.Fatalf("%s%s: %d %s", n.http, path, code, body)
			}
		}
	}
	// ~100 messages a second into each node, and a consumer on each
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	for _, n := range nodes {
		go publishLoop(ctx, "http://"+n.http+"/pub?topic=live", 10*time.Millisecond)
	}
	run(t, "nsq_tail", "--topic=live", "--channel=work", "--lookupd-http-address="+lk.http)

	start := time.Now()
	top := startTTY(t, 140, 40, nil, "nsqtop", "--lookupd-http-address="+lk.http, "--interval=1s")
	top.waitText(10*time.Second, "nodes 2 up", "live")
	t.Logf("first frame with both nodes after %s", time.Since(start).Round(time.Millisecond))

	// rates from the second poll on: the topic's row shows a rate in
	rate := regexp.MustCompile(`(?m)^. live .* [1-9][0-9.]*k?/s`)
	top.waitScreen(5*time.Second, "a rate on the topic row", func(s string) bool { return rate.MatchString(s) })

	// pause the channel from the channels view: filter, p, confirm
	top.keys("2")
	top.waitText(5*time.Second, "CHANNELS")
	top.keys("/work\r")
	top.waitText(5*time.Second, "live/work")
	top.keys("p")
	confirm := top.waitText(5*time.Second, "Pause channel live/work?")
	for _, n := range nodes {
		if !strings.Contains(confirm, n.http+"/channel/pause?topic=live&channel=work") {
			t.Fatalf("the confirm dialog does not name the call on %s:\n%s", n.http, confirm)
		}
	}
	top.keys("y")
	top.waitText(5*time.Second, "paused live/work on 2 nsqd")
	for _, n := range nodes {
		var st struct {
			Topics []struct {
				Channels []struct {
					ChannelName string `json:"channel_name"`
					Paused      bool   `json:"paused"`
				} `json:"channels"`
			} `json:"topics"`
		}
		getJSON(t, "http://"+n.http+"/stats?format=json&topic=live&channel=work", &st)
		if len(st.Topics) != 1 || len(st.Topics[0].Channels) != 1 || !st.Topics[0].Channels[0].Paused {
			t.Fatalf("channel not paused on %s: %+v", n.http, st)
		}
	}
	paused := regexp.MustCompile(`(?m)^. live/work +P `)
	top.waitScreen(5*time.Second, "the P mark on live/work", func(s string) bool { return paused.MatchString(s) })

	// kill one node: the nodes view shows it stale, with the error
	top.keys("3")
	top.waitText(5*time.Second, "NODES")
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
	down := regexp.MustCompile(`(?m)` + regexp.QuoteMeta(b.http) + `.*(stale|down)`)
	s := top.waitScreen(10*time.Second, "the killed node shown stale or down", func(s string) bool {
		return down.MatchString(s) && strings.Contains(s, "1 up")
	})
	if !strings.Contains(s, "refused") {
		t.Errorf("the killed node's error is not shown:\n%s", s)
	}

	top.keys("q")
	if code := top.wait(10 * time.Second); code != 0 {
		t.Fatalf("nsqtop exited %d", code)
	}
}

// publishLoop publishes to url every interval until ctx is done.
func publishLoop(ctx context.Context, url string, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(fmt.Sprint("m", n)))
		if resp, err := httpClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}
