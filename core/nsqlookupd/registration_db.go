package nsqlookupd

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// The registration database (daemon-behaviour.md §6). Keys are
// (category, key, subkey) registrations; each holds the producers (nsqd
// connections) registered for it, indexed by peer id. Keys outlive their
// producers: a disconnect empties keys but never removes them; only an
// UNREGISTER that empties an #ephemeral name and the HTTP deletes do.
//
// Lists come back sorted (names by name, producers by peer id); v1.3.0's
// order is its map order, which clients must not rely on.

// Registration categories.
const (
	CategoryClient  = "client"  // ("client", "", ""): every identified nsqd
	CategoryTopic   = "topic"   // ("topic", T, "")
	CategoryChannel = "channel" // ("channel", T, C)
)

// Registration is one key of the database.
type Registration struct {
	Category string
	Key      string
	SubKey   string
}

func (r Registration) String() string {
	return fmt.Sprintf("category:%s key:%s subkey:%s", r.Category, r.Key, r.SubKey)
}

var clientKey = Registration{CategoryClient, "", ""}

func topicKey(topic string) Registration { return Registration{CategoryTopic, topic, ""} }

func channelKey(topic, channel string) Registration {
	return Registration{CategoryChannel, topic, channel}
}

// PeerInfo is what an nsqd told about itself in IDENTIFY, plus the
// address of its connection; the JSON keys are /lookup's, in order.
type PeerInfo struct {
	RemoteAddress    string `json:"remote_address"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
}

// Peer is one identified nsqd connection. Its id is the connection's
// remote ip:port; its last update (IDENTIFY, then every PING) is shared
// by all its registrations.
type Peer struct {
	id         string
	info       PeerInfo
	lastUpdate atomic.Int64 // Unix nanoseconds
}

// NewPeer makes the peer of a connection from id (its remote ip:port),
// seen now.
func NewPeer(id string, info PeerInfo, now time.Time) *Peer {
	p := &Peer{id: id, info: info}
	p.Touch(now)
	return p
}

// ID is the peer id (the remote ip:port of its connection).
func (p *Peer) ID() string { return p.id }

// Info is the peer's IDENTIFY data.
func (p *Peer) Info() PeerInfo { return p.info }

// Touch records that the peer was seen at now (PING).
func (p *Peer) Touch(now time.Time) { p.lastUpdate.Store(now.UnixNano()) }

// LastUpdate is when the peer was last seen.
func (p *Peer) LastUpdate() time.Time { return time.Unix(0, p.lastUpdate.Load()) }

// node is "<broadcast_address>:<http_port>", what /topic/tombstone names.
func (p *Peer) node() string { return fmt.Sprintf("%s:%d", p.info.BroadcastAddress, p.info.HTTPPort) }

// producer is a peer's registration under one key, with the key's own
// tombstone.
type producer struct {
	peer         *Peer
	tombstoned   bool
	tombstonedAt time.Time
}

// Filter says which producers the queries show: those seen within
// InactiveTimeout of Now and, for /lookup, not tombstoned within
// TombstoneLifetime of Now.
type Filter struct {
	Now               time.Time
	InactiveTimeout   time.Duration
	TombstoneLifetime time.Duration
}

func (f Filter) active(p *Peer) bool { return f.Now.Sub(p.LastUpdate()) <= f.InactiveTimeout }

func (f Filter) isTombstoned(pr *producer) bool {
	return pr.tombstoned && f.Now.Sub(pr.tombstonedAt) < f.TombstoneLifetime
}

// DB is the registration database; it is safe for concurrent use.
type DB struct {
	mu   sync.RWMutex
	regs map[Registration]map[string]*producer
}

// NewDB returns an empty database.
func NewDB() *DB { return &DB{regs: make(map[Registration]map[string]*producer)} }

// addKey adds k without producers if it is missing; mu is held.
func (db *DB) addKey(k Registration) map[string]*producer {
	m, ok := db.regs[k]
	if !ok {
		m = make(map[string]*producer)
		db.regs[k] = m
	}
	return m
}

// add registers p under k unless it already is (an existing record,
// with its tombstone, is kept); mu is held.
func (db *DB) add(k Registration, p *Peer) bool {
	m := db.addKey(k)
	if _, ok := m[p.id]; ok {
		return false
	}
	m[p.id] = &producer{peer: p}
	return true
}

// remove drops p from k (keeping the key) and reports whether it was
// there and how many producers are left; mu is held.
func (db *DB) remove(k Registration, p *Peer) (removed bool, left int) {
	m, ok := db.regs[k]
	if !ok {
		return false, 0
	}
	if pr, ok := m[p.id]; ok && pr.peer == p {
		delete(m, p.id)
		removed = true
	}
	return removed, len(m)
}

// AddPeer registers an identified peer under ("client", "", "").
func (db *DB) AddPeer(p *Peer) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.add(clientKey, p)
}

// Register records p as a producer of topic and, when channel is not
// empty, of the channel too (REGISTER). It returns the registrations
// that are new; registering again changes nothing.
func (db *DB) Register(p *Peer, topic, channel string) []Registration {
	db.mu.Lock()
	defer db.mu.Unlock()
	var added []Registration
	if channel != "" {
		if k := channelKey(topic, channel); db.add(k, p) {
			added = append(added, k)
		}
	}
	if k := topicKey(topic); db.add(k, p) {
		added = append(added, k)
	}
	return added
}

// Unregister removes p (UNREGISTER). With a channel: from that channel,
// whose key goes too when it is #ephemeral and left without producers.
// Without: from every channel of the topic and from the topic, whose key
// goes too when it is #ephemeral and left without producers. It returns
// the registrations p was removed from.
func (db *DB) Unregister(p *Peer, topic, channel string) []Registration {
	db.mu.Lock()
	defer db.mu.Unlock()
	var removed []Registration
	if channel != "" {
		k := channelKey(topic, channel)
		ok, left := db.remove(k, p)
		if ok {
			removed = append(removed, k)
		}
		if left == 0 && wire.IsEphemeral(channel) {
			delete(db.regs, k)
		}
		return removed
	}
	for _, k := range db.channelKeys(topic) {
		if ok, _ := db.remove(k, p); ok {
			removed = append(removed, k)
		}
	}
	k := topicKey(topic)
	ok, left := db.remove(k, p)
	if ok {
		removed = append(removed, k)
	}
	if left == 0 && wire.IsEphemeral(topic) {
		delete(db.regs, k)
	}
	return removed
}

// RemovePeer removes p from every registration (its connection closed);
// the keys stay. It returns the registrations p was removed from.
func (db *DB) RemovePeer(p *Peer) []Registration {
	db.mu.Lock()
	defer db.mu.Unlock()
	var removed []Registration
	for k := range db.regs {
		if ok, _ := db.remove(k, p); ok {
			removed = append(removed, k)
		}
	}
	slices.SortFunc(removed, compareRegistrations)
	return removed
}

// CreateTopic adds the topic key (/topic/create).
func (db *DB) CreateTopic(topic string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.addKey(topicKey(topic))
}

// CreateChannel adds the channel key and its topic key
// (/channel/create).
func (db *DB) CreateChannel(topic, channel string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.addKey(channelKey(topic, channel))
	db.addKey(topicKey(topic))
}

// DeleteTopic removes every channel key of the topic and the topic key,
// with their producers (/topic/delete). It returns the keys removed.
func (db *DB) DeleteTopic(topic string) []Registration {
	db.mu.Lock()
	defer db.mu.Unlock()
	removed := db.channelKeys(topic)
	if _, ok := db.regs[topicKey(topic)]; ok {
		removed = append(removed, topicKey(topic))
	}
	for _, k := range removed {
		delete(db.regs, k)
	}
	return removed
}

// DeleteChannel removes the channel key (/channel/delete) and reports
// whether it existed.
func (db *DB) DeleteChannel(topic, channel string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	k := channelKey(topic, channel)
	_, ok := db.regs[k]
	delete(db.regs, k)
	return ok
}

// Tombstone marks, as of now, the topic registration of every producer
// whose "<broadcast_address>:<http_port>" is node (/topic/tombstone),
// and returns how many it marked.
func (db *DB) Tombstone(topic, node string, now time.Time) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := 0
	for _, pr := range db.regs[topicKey(topic)] {
		if pr.peer.node() == node {
			pr.tombstoned, pr.tombstonedAt = true, now
			n++
		}
	}
	return n
}

// channelKeys lists the topic's channel keys, sorted; mu is held.
func (db *DB) channelKeys(topic string) []Registration {
	var out []Registration
	for k := range db.regs {
		if k.Category == CategoryChannel && k.Key == topic {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, compareRegistrations)
	return out
}

// HasTopic reports whether the topic key exists.
func (db *DB) HasTopic(topic string) bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	_, ok := db.regs[topicKey(topic)]
	return ok
}

// Topics lists every topic key, with or without producers (/topics).
func (db *DB) Topics() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := []string{}
	for k := range db.regs {
		if k.Category == CategoryTopic {
			out = append(out, k.Key)
		}
	}
	slices.Sort(out)
	return out
}

// Channels lists the topic's channel keys ([] for an unknown topic).
func (db *DB) Channels(topic string) []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.channels(topic)
}

func (db *DB) channels(topic string) []string {
	out := []string{}
	for _, k := range db.channelKeys(topic) {
		out = append(out, k.SubKey)
	}
	return out
}

// Lookup answers /lookup: the topic's channels and its producers that f
// lets through (active, not tombstoned); ok is false when the topic key
// does not exist.
func (db *DB) Lookup(topic string, f Filter) (channels []string, producers []PeerInfo, ok bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	m, ok := db.regs[topicKey(topic)]
	if !ok {
		return nil, nil, false
	}
	producers = []PeerInfo{}
	for _, pr := range sortedProducers(m) {
		if f.active(pr.peer) && !f.isTombstoned(pr) {
			producers = append(producers, pr.peer.info)
		}
	}
	return db.channels(topic), producers, true
}

// Node is an nsqd as /nodes shows it: its IDENTIFY data, the topics it
// is registered for and, for each, whether it is tombstoned.
type Node struct {
	PeerInfo
	Tombstones []bool   `json:"tombstones"`
	Topics     []string `json:"topics"`
}

// Nodes answers /nodes: every identified peer that f finds active
// (tombstoned ones included), with its topics and their tombstones as of
// f.Now within f.TombstoneLifetime.
func (db *DB) Nodes(f Filter) []Node {
	db.mu.RLock()
	defer db.mu.RUnlock()
	nodes := []Node{}
	for _, c := range sortedProducers(db.regs[clientKey]) {
		p := c.peer
		if !f.active(p) {
			continue
		}
		n := Node{PeerInfo: p.info, Tombstones: []bool{}, Topics: []string{}}
		for k, m := range db.regs {
			if k.Category != CategoryTopic {
				continue
			}
			if pr, ok := m[p.id]; ok && pr.peer == p {
				n.Topics = append(n.Topics, k.Key)
			}
		}
		slices.Sort(n.Topics)
		for _, t := range n.Topics {
			n.Tombstones = append(n.Tombstones, f.isTombstoned(db.regs[topicKey(t)][p.id]))
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// Record is one producer of one key as /debug shows it, keys in
// alphabetical order like v1.3.0's maps. TombstonedAt of a producer
// never tombstoned is the zero time's UnixNano, -6795364578871345152.
type Record struct {
	BroadcastAddress string `json:"broadcast_address"`
	Hostname         string `json:"hostname"`
	HTTPPort         int    `json:"http_port"`
	ID               string `json:"id"`
	LastUpdate       int64  `json:"last_update"`
	TCPPort          int    `json:"tcp_port"`
	Tombstoned       bool   `json:"tombstoned"`
	TombstonedAt     int64  `json:"tombstoned_at"`
	Version          string `json:"version"`
}

// Dump answers /debug: every key that has producers, as
// "<category>:<key>:<subkey>", with its producers' records.
func (db *DB) Dump() map[string][]Record {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make(map[string][]Record)
	for k, m := range db.regs {
		name := k.Category + ":" + k.Key + ":" + k.SubKey
		for _, pr := range sortedProducers(m) {
			i := pr.peer.info
			out[name] = append(out[name], Record{
				BroadcastAddress: i.BroadcastAddress,
				Hostname:         i.Hostname,
				HTTPPort:         i.HTTPPort,
				ID:               pr.peer.id,
				LastUpdate:       pr.peer.lastUpdate.Load(),
				TCPPort:          i.TCPPort,
				Tombstoned:       pr.tombstoned,
				TombstonedAt:     pr.tombstonedAt.UnixNano(),
				Version:          i.Version,
			})
		}
	}
	return out
}

func sortedProducers(m map[string]*producer) []*producer {
	out := make([]*producer, 0, len(m))
	for _, pr := range m {
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b *producer) int { return cmp.Compare(a.peer.id, b.peer.id) })
	return out
}

func compareRegistrations(a, b Registration) int {
	return cmp.Or(cmp.Compare(a.Category, b.Category), cmp.Compare(a.Key, b.Key), cmp.Compare(a.SubKey, b.SubKey))
}
