package nsqlookupd

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func testPeer(id string, httpPort int) *Peer {
	return NewPeer(id, PeerInfo{RemoteAddress: id, Hostname: "h-" + id, BroadcastAddress: "127.0.0.2",
		TCPPort: httpPort - 1, HTTPPort: httpPort, Version: "1.3.0"}, t0)
}

// dbState lists every key with the ids of its producers, "*" marking a
// tombstoned record: "topic:t:=[a b*]".
func dbState(db *DB) []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var out []string
	for k, m := range db.regs {
		ids := []string{}
		for _, pr := range sortedProducers(m) {
			id := pr.peer.id
			if pr.tombstoned {
				id += "*"
			}
			ids = append(ids, id)
		}
		out = append(out, fmt.Sprintf("%s:%s:%s=%v", k.Category, k.Key, k.SubKey, ids))
	}
	slices.Sort(out)
	return out
}

func TestDBRegistrations(t *testing.T) {
	a, b := testPeer("a", 4151), testPeer("b", 4251)
	reg := func(p *Peer, topic, channel string) func(*DB) { return func(db *DB) { db.Register(p, topic, channel) } }
	unreg := func(p *Peer, topic, channel string) func(*DB) {
		return func(db *DB) { db.Unregister(p, topic, channel) }
	}
	ident := func(p *Peer) func(*DB) { return func(db *DB) { db.AddPeer(p) } }
	gone := func(p *Peer) func(*DB) { return func(db *DB) { db.RemovePeer(p) } }
	tomb := func(topic, node string) func(*DB) { return func(db *DB) { db.Tombstone(topic, node, t0) } }
	for _, tc := range []struct {
		name string
		ops  []func(*DB)
		want []string
	}{
		{"identify", []func(*DB){ident(a), ident(a), ident(b)}, []string{"client::=[a b]"}},
		{"register topic", []func(*DB){ident(a), reg(a, "t", "")}, []string{"client::=[a]", "topic:t:=[a]"}},
		{"register channel registers the topic",
			[]func(*DB){reg(a, "t", "c"), reg(b, "t", "")},
			[]string{"channel:t:c=[a]", "topic:t:=[a b]"}},
		{"idempotent, tombstone kept",
			[]func(*DB){reg(a, "t", "c"), tomb("t", "127.0.0.2:4151"), reg(a, "t", "c"), reg(a, "t", "")},
			[]string{"channel:t:c=[a]", "topic:t:=[a*]"}},
		{"tombstone matches broadcast_address:http_port only",
			[]func(*DB){reg(a, "t", ""), reg(b, "t", ""), tomb("t", "127.0.0.2:4251"), tomb("t", "h-a:4151"), tomb("t", "127.0.0.2:4150"), tomb("u", "127.0.0.2:4151")},
			[]string{"topic:t:=[a b*]"}},
		{"channels are never tombstoned",
			[]func(*DB){reg(a, "t", "c"), tomb("t", "127.0.0.2:4151")},
			[]string{"channel:t:c=[a]", "topic:t:=[a*]"}},
		{"unregister channel keeps the key",
			[]func(*DB){reg(a, "t", "c"), unreg(a, "t", "c")},
			[]string{"channel:t:c=[]", "topic:t:=[a]"}},
		{"unregister ephemeral channel removes the empty key",
			[]func(*DB){reg(a, "t", "c#ephemeral"), reg(b, "t", "c#ephemeral"), unreg(a, "t", "c#ephemeral")},
			[]string{"channel:t:c#ephemeral=[b]", "topic:t:=[a b]"}},
		{"unregister ephemeral channel, last producer",
			[]func(*DB){reg(a, "t", "c#ephemeral"), reg(b, "t", "c#ephemeral"), unreg(a, "t", "c#ephemeral"), unreg(b, "t", "c#ephemeral")},
			[]string{"topic:t:=[a b]"}},
		{"unregister ephemeral channel never registered by the peer",
			[]func(*DB){reg(a, "t", ""), unreg(a, "t", "x#ephemeral")},
			[]string{"topic:t:=[a]"}},
		{"unregister topic removes the peer from its channels",
			[]func(*DB){reg(a, "t", "c"), reg(a, "t", "d#ephemeral"), reg(b, "t", "c"), unreg(a, "t", "")},
			[]string{"channel:t:c=[b]", "channel:t:d#ephemeral=[]", "topic:t:=[b]"}},
		{"unregister topic keeps the empty key",
			[]func(*DB){reg(a, "t", ""), unreg(a, "t", "")},
			[]string{"topic:t:=[]"}},
		{"unregister ephemeral topic removes the empty key (not its channels)",
			[]func(*DB){reg(a, "t#ephemeral", "c"), unreg(a, "t#ephemeral", "")},
			[]string{"channel:t#ephemeral:c=[]"}},
		{"unregister ephemeral topic with producers left",
			[]func(*DB){reg(a, "t#ephemeral", ""), reg(b, "t#ephemeral", ""), unreg(a, "t#ephemeral", "")},
			[]string{"topic:t#ephemeral:=[b]"}},
		{"unregister clears a tombstone; register again is fresh",
			[]func(*DB){reg(a, "t", ""), tomb("t", "127.0.0.2:4151"), unreg(a, "t", ""), reg(a, "t", "")},
			[]string{"topic:t:=[a]"}},
		{"unregister of what is not registered",
			[]func(*DB){ident(a), unreg(a, "t", ""), unreg(a, "t", "c")},
			[]string{"client::=[a]"}},
		{"disconnect removes the peer everywhere and keeps every key",
			[]func(*DB){ident(a), ident(b), reg(a, "t", "c"), reg(a, "e#ephemeral", "f#ephemeral"), reg(b, "t", ""), gone(a)},
			[]string{"channel:e#ephemeral:f#ephemeral=[]", "channel:t:c=[]", "client::=[b]", "topic:e#ephemeral:=[]", "topic:t:=[b]"}},
		{"disconnect of an old peer with the same id leaves the new one",
			[]func(*DB){reg(a, "t", ""), gone(testPeer("a", 4151))},
			[]string{"topic:t:=[a]"}},
		{"create topic and channel",
			[]func(*DB){func(db *DB) { db.CreateTopic("t") }, func(db *DB) { db.CreateChannel("u", "c") }, func(db *DB) { db.CreateTopic("u") }},
			[]string{"channel:u:c=[]", "topic:t:=[]", "topic:u:=[]"}},
		{"create keeps producers",
			[]func(*DB){reg(a, "t", "c"), func(db *DB) { db.CreateChannel("t", "c") }},
			[]string{"channel:t:c=[a]", "topic:t:=[a]"}},
		{"delete topic removes its channels",
			[]func(*DB){reg(a, "t", "c"), reg(a, "t", "d"), reg(a, "u", "c"), ident(a), func(db *DB) { db.DeleteTopic("t") }},
			[]string{"channel:u:c=[a]", "client::=[a]", "topic:u:=[a]"}},
		{"register after delete re-adds",
			[]func(*DB){reg(a, "t", "c"), func(db *DB) { db.DeleteTopic("t") }, reg(a, "t", "d")},
			[]string{"channel:t:d=[a]", "topic:t:=[a]"}},
		{"delete channel",
			[]func(*DB){reg(a, "t", "c"), reg(a, "t", "d"), func(db *DB) { db.DeleteChannel("t", "c") }},
			[]string{"channel:t:d=[a]", "topic:t:=[a]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := NewDB()
			for _, op := range tc.ops {
				op(db)
			}
			if got := dbState(db); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("state\n %q\nwant\n %q", got, tc.want)
			}
		})
	}
}

func TestDBResults(t *testing.T) {
	db := NewDB()
	a, b := testPeer("a", 4151), testPeer("b", 4251)
	db.AddPeer(a)
	if !reflect.DeepEqual(db.Register(a, "t", "c"), []Registration{{"channel", "t", "c"}, {"topic", "t", ""}}) {
		t.Fatal("first REGISTER t c")
	}
	if got := db.Register(a, "t", "c"); got != nil {
		t.Fatalf("second REGISTER t c: %v", got)
	}
	db.Register(a, "t", "d")
	db.Register(b, "t", "")
	if got := db.Unregister(a, "t", ""); !reflect.DeepEqual(got, []Registration{{"channel", "t", "c"}, {"channel", "t", "d"}, {"topic", "t", ""}}) {
		t.Fatalf("UNREGISTER t: %v", got)
	}
	db.Register(a, "u", "")
	if got := db.RemovePeer(a); !reflect.DeepEqual(got, []Registration{{"client", "", ""}, {"topic", "u", ""}}) {
		t.Fatalf("RemovePeer: %v", got)
	}
	if got := db.DeleteTopic("t"); !reflect.DeepEqual(got, []Registration{{"channel", "t", "c"}, {"channel", "t", "d"}, {"topic", "t", ""}}) {
		t.Fatalf("DeleteTopic: %v", got)
	}
	if got := db.DeleteTopic("t"); got != nil {
		t.Fatalf("DeleteTopic again: %v", got)
	}
	db.CreateChannel("x", "y")
	if !db.DeleteChannel("x", "y") || db.DeleteChannel("x", "y") {
		t.Fatal("DeleteChannel")
	}
	if !db.HasTopic("x") || db.HasTopic("y") || db.HasTopic("") {
		t.Fatal("HasTopic")
	}
	if got := (Registration{"channel", "t", "c"}).String(); got != "category:channel key:t subkey:c" {
		t.Fatal(got)
	}
}

func TestDBQueries(t *testing.T) {
	db := NewDB()
	a, b, c := testPeer("a", 4151), testPeer("b", 4251), testPeer("c", 4351)
	for _, p := range []*Peer{a, b, c} {
		db.AddPeer(p)
	}
	db.Register(a, "t", "c2")
	db.Register(a, "t", "c1")
	db.Register(b, "t", "")
	db.Register(b, "s", "")
	db.Register(c, "t", "")
	db.CreateTopic("empty")
	c.Touch(t0.Add(-time.Minute))                             // inactive with a 30s timeout
	db.Tombstone("t", "127.0.0.2:4251", t0.Add(-time.Second)) // b, for t only

	f := Filter{Now: t0, InactiveTimeout: 30 * time.Second, TombstoneLifetime: 10 * time.Second}
	if got := db.Topics(); !reflect.DeepEqual(got, []string{"empty", "s", "t"}) {
		t.Fatalf("Topics %q", got)
	}
	if got := db.Channels("t"); !reflect.DeepEqual(got, []string{"c1", "c2"}) {
		t.Fatalf("Channels %q", got)
	}
	if got := db.Channels("nosuch"); got == nil || len(got) != 0 {
		t.Fatalf("Channels of an unknown topic %#v", got)
	}
	if got := NewDB().Topics(); got == nil || len(got) != 0 {
		t.Fatalf("Topics of an empty DB %#v", got)
	}

	ids := func(pp []PeerInfo) []string {
		out := []string{}
		for _, p := range pp {
			out = append(out, p.RemoteAddress)
		}
		return out
	}
	for _, tc := range []struct {
		topic    string
		f        Filter
		channels []string
		ids      []string
		ok       bool
	}{
		{"t", f, []string{"c1", "c2"}, []string{"a"}, true},                                                     // b tombstoned, c inactive
		{"t", Filter{t0.Add(9*time.Second - 1), time.Hour, 10 * time.Second}, nil, []string{"a", "c"}, true},    // tombstone still on
		{"t", Filter{t0.Add(9 * time.Second), time.Hour, 10 * time.Second}, nil, []string{"a", "b", "c"}, true}, // lifetime over
		{"t", Filter{t0.Add(-time.Second), time.Minute, 0}, nil, []string{"a", "b", "c"}, true},                 // lifetime 0: never hidden
		{"t", Filter{t0.Add(30 * time.Second), 30 * time.Second, 0}, nil, []string{"a", "b"}, true},
		{"t", Filter{t0.Add(30*time.Second + 1), 30 * time.Second, 0}, nil, []string{}, true},
		{"s", f, []string{}, []string{"b"}, true}, // tombstone is per topic
		{"empty", f, []string{}, []string{}, true},
		{"nosuch", f, nil, nil, false},
	} {
		channels, producers, ok := db.Lookup(tc.topic, tc.f)
		if ok != tc.ok || (tc.channels != nil && !reflect.DeepEqual(channels, tc.channels)) ||
			(tc.ok && !reflect.DeepEqual(ids(producers), tc.ids)) {
			t.Errorf("Lookup(%s, %+v) = %q %q %v; want %q %q %v", tc.topic, tc.f, channels, ids(producers), ok, tc.channels, tc.ids, tc.ok)
		}
	}

	nodes := db.Nodes(f)
	js, _ := json.Marshal(nodes)
	want := `[{"remote_address":"a","hostname":"h-a","broadcast_address":"127.0.0.2","tcp_port":4150,"http_port":4151,"version":"1.3.0","tombstones":[false],"topics":["t"]},` +
		`{"remote_address":"b","hostname":"h-b","broadcast_address":"127.0.0.2","tcp_port":4250,"http_port":4251,"version":"1.3.0","tombstones":[false,true],"topics":["s","t"]}]`
	if string(js) != want {
		t.Fatalf("Nodes\n%s\nwant\n%s", js, want)
	}
	if got := db.Nodes(Filter{t0, time.Hour, 0}); len(got) != 3 || got[1].Tombstones[1] {
		t.Fatalf("Nodes without tombstone lifetime: %+v", got)
	}
	db.RemovePeer(a)
	if got := db.Nodes(f); len(got) != 1 || got[0].RemoteAddress != "b" {
		t.Fatalf("Nodes after a disconnect: %+v", got)
	}
	if js, _ := json.Marshal(NewDB().Nodes(f)); string(js) != "[]" {
		t.Fatalf("no nodes: %s", js)
	}
	a2 := testPeer("a2", 4151)
	db.AddPeer(a2)
	if got := db.Nodes(f); len(got) != 2 || got[0].RemoteAddress != "a2" || len(got[0].Topics) != 0 || got[0].Tombstones == nil {
		t.Fatalf("node without topics: %+v", got)
	}
}

func TestDBDump(t *testing.T) {
	db := NewDB()
	a, b := testPeer("a", 4151), testPeer("b", 4251)
	db.AddPeer(a)
	db.Register(a, "t", "c")
	db.Register(b, "t", "")
	db.CreateTopic("empty")
	db.Tombstone("t", "127.0.0.2:4251", t0.Add(time.Second))
	a.Touch(t0.Add(2 * time.Second))
	js, _ := json.Marshal(db.Dump())
	rec := func(id string, port int, last int64, tomb bool, at int64) string {
		return fmt.Sprintf(`{"broadcast_address":"127.0.0.2","hostname":"h-%s","http_port":%d,"id":"%s","last_update":%d,"tcp_port":%d,"tombstoned":%v,"tombstoned_at":%d,"version":"1.3.0"}`,
			id, port, id, last, port-1, tomb, at)
	}
	ra := rec("a", 4151, t0.Add(2*time.Second).UnixNano(), false, -6795364578871345152)
	rb := rec("b", 4251, t0.UnixNano(), true, t0.Add(time.Second).UnixNano())
	want := `{"channel:t:c":[` + ra + `],"client::":[` + ra + `],"topic:t:":[` + ra + "," + rb + `]}`
	if string(js) != want {
		t.Fatalf("Dump\n%s\nwant\n%s", js, want)
	}
	if js, _ := json.Marshal(NewDB().Dump()); string(js) != "{}" {
		t.Fatalf("empty dump %s", js)
	}
	if !strings.Contains(string(js), `"tombstoned_at":-6795364578871345152`) {
		t.Fatal("zero tombstone time")
	}
}
