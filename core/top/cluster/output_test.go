package cluster_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/top/cluster"
	"github.com/nsqkit/nsqkit/core/top/cluster/clustertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got (addresses normalized) with testdata/name.
func golden(t *testing.T, h *harness, name, got string) {
	t.Helper()
	got = h.c.Normalize(got)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !h.c.StableAddrs() { // unusual port lengths shift the columns
		got, want = strings.Join(strings.Fields(got), " "), []byte(strings.Join(strings.Fields(string(want)), " "))
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// stablePorts replaces the servers' ports in "http_port" fields.
func stablePorts(h *harness, s string) string {
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	return strings.NewReplacer(
		`"http_port": `+port(h.c.NSQDA), `"http_port": `+port(clustertest.StableNSQDA),
		`"http_port": `+port(h.c.NSQDB), `"http_port": `+port(clustertest.StableNSQDB),
	).Replace(s)
}

// threeStates polls the fixture cluster: the first poll, one second of
// traffic later, then with B and the lookupd down.
func threeStates(t *testing.T) (*harness, []*cluster.State) {
	h := newHarness(t, viaLookupd)
	s1 := h.poll(t)
	h.c.SetTraffic(clustertest.Traffic{Published: 10, Consumed: 8, Requeued: 1})
	h.c.SetChannelTraffic("clicks", "analytics", clustertest.Traffic{Consumed: 20})
	s2 := h.step(t, time.Second)
	h.c.SetDown(h.c.NSQDB, true)
	h.c.SetDown(h.c.Lookupd, true)
	s3 := h.step(t, time.Second)
	return h, []*cluster.State{s1, s2, s3}
}

func TestWriteTextGolden(t *testing.T) {
	h, states := threeStates(t)
	for i, name := range []string{"once.txt", "once-rates.txt", "once-failed.txt"} {
		var buf bytes.Buffer
		if err := cluster.WriteText(&buf, states[i]); err != nil {
			t.Fatal(err)
		}
		golden(t, h, name, buf.String())
	}
}

func TestWriteJSON(t *testing.T) {
	h, states := threeStates(t)
	docs := make([]map[string]any, len(states))
	for i, st := range states {
		var buf bytes.Buffer
		if err := cluster.WriteJSON(&buf, st); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(buf.Bytes()) {
			t.Fatalf("poll %d: invalid JSON:\n%s", i+1, buf.String())
		}
		for _, bad := range []string{"NaN", "Inf"} {
			if bytes.Contains(buf.Bytes(), []byte(bad)) {
				t.Fatalf("poll %d: %s in JSON", i+1, bad)
			}
		}
		if err := json.Unmarshal(buf.Bytes(), &docs[i]); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			golden(t, h, "once-rates.json", stablePorts(h, buf.String()))
		}
	}
	get := func(doc map[string]any, path ...any) any {
		var v any = doc
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	// Poll 1: unknown rates are null.
	d := docs[0]
	if get(d, "has_rates") != false || get(d, "cluster", "rate_in") != nil || get(d, "cluster", "rate_out") != nil {
		t.Errorf("poll 1 cluster: %v", get(d, "cluster"))
	}
	// topics sorted: clicks, events#ephemeral, orders, paused_topic
	if get(d, "topics", 2, "name") != "orders" || get(d, "topics", 2, "channels", 2, "name") != "billing" {
		t.Fatalf("order: %v", get(d, "topics", 2, "name"))
	}
	billing := get(d, "topics", 2, "channels", 2).(map[string]any)
	for _, k := range []string{"rate_out", "requeue_rate", "timeout_rate", "lag", "eta_s"} {
		if v, ok := billing[k]; !ok || v != nil {
			t.Errorf("poll 1 billing %s = %v, want null", k, v)
		}
	}
	if billing["eta_growing"] != false || billing["depth"] != 35.0 {
		t.Errorf("poll 1 billing %v", billing)
	}
	// Poll 2: rates; growing channels have a null ETA and eta_growing.
	d = docs[1]
	if get(d, "has_rates") != true || get(d, "cluster", "rate_in") != 50.0 {
		t.Errorf("poll 2 cluster rate_in %v", get(d, "cluster", "rate_in"))
	}
	billing = get(d, "topics", 2, "channels", 2).(map[string]any)
	if billing["rate_out"] != 16.0 || billing["eta_s"] != nil || billing["eta_growing"] != true {
		t.Errorf("poll 2 billing rate_out %v eta %v growing %v", billing["rate_out"], billing["eta_s"], billing["eta_growing"])
	}
	analytics := get(d, "topics", 0, "channels", 0).(map[string]any)
	if analytics["lag"] != -10.0 || analytics["eta_s"] != 8.6 || analytics["eta_growing"] != false {
		t.Errorf("poll 2 analytics lag %v eta %v", analytics["lag"], analytics["eta_s"])
	}
	// Poll 3: B stale with its error, the lookupd's failure listed.
	d = docs[2]
	if get(d, "nodes", 1, "status") != "stale" || get(d, "nodes", 1, "error") != "connection refused" ||
		get(d, "lookupd_errors", 0, "error") != "connection refused" {
		t.Errorf("poll 3 nodes %v lookupd errors %v", get(d, "nodes"), get(d, "lookupd_errors"))
	}
}
