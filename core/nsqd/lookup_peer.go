package nsqd

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Timing of the lookupd registration protocol (daemon-behaviour.md §5).
const (
	lookupdDialTimeout  = time.Second
	lookupdIOTimeout    = time.Second
	lookupdPingInterval = 15 * time.Second
	lookupdMaxBackoff   = 15 * time.Second
)

// lookupdInfo is nsqlookupd's IDENTIFY reply.
type lookupdInfo struct {
	BroadcastAddress string `json:"broadcast_address"`
	Hostname         string `json:"hostname"`
	HTTPPort         int    `json:"http_port"`
	TCPPort          int    `json:"tcp_port"`
	Version          string `json:"version"`
}

// lookupPeer keeps nsqd registered with one nsqlookupd.
//
// Goroutines: loop (connects, registers everything, pings every 15 s,
// forwards change notifications, reconnects with backoff) and, while
// connected, one reader of the replies. Both end when the peer is stopped
// or nsqd exits.
type lookupPeer struct {
	n      *NSQD
	addr   string
	cmds   chan *wire.Command
	resync atomic.Bool // a notification was dropped: reconnect and replay
	// identifiedOnce is set when a session got through IDENTIFY, so the
	// next reconnect starts with a short backoff again.
	identifiedOnce atomic.Bool
	info           atomic.Pointer[lookupdInfo]
	stopChan       chan struct{}
	stopOnce       sync.Once
}

// lookupPeers is the set of running peers, by address.
type lookupPeers struct {
	mu    sync.Mutex
	peers map[string]*lookupPeer
}

// startLookupPeers connects to every configured lookupd (called by Main).
func (n *NSQD) startLookupPeers() { n.syncLookupPeers() }

// syncLookupPeers starts peers for new addresses and stops removed ones.
func (n *NSQD) syncLookupPeers() {
	want := map[string]bool{}
	for _, a := range n.lookupdAddresses() {
		want[a] = true
	}
	n.lookup.mu.Lock()
	defer n.lookup.mu.Unlock()
	if n.lookup.peers == nil {
		n.lookup.peers = map[string]*lookupPeer{}
	}
	for addr, p := range n.lookup.peers {
		if !want[addr] {
			p.stop()
			delete(n.lookup.peers, addr)
		}
	}
	for addr := range want {
		if _, ok := n.lookup.peers[addr]; ok {
			continue
		}
		p := &lookupPeer{n: n, addr: addr, cmds: make(chan *wire.Command, 1024), stopChan: make(chan struct{})}
		if n.goBackground(p.loop) {
			n.lookup.peers[addr] = p
		}
	}
}

func (n *NSQD) lookupPeerList() []*lookupPeer {
	n.lookup.mu.Lock()
	defer n.lookup.mu.Unlock()
	out := make([]*lookupPeer, 0, len(n.lookup.peers))
	for _, p := range n.lookup.peers {
		out = append(out, p)
	}
	return out
}

// notifyLookupPeers tells every peer about a created or deleted topic or
// channel.
func (n *NSQD) notifyLookupPeers(v any, created bool) {
	name := "UNREGISTER"
	if created {
		name = "REGISTER"
	}
	var cmd *wire.Command
	switch x := v.(type) {
	case *Topic:
		cmd = &wire.Command{Name: []byte(name), Params: [][]byte{[]byte(x.name)}}
	case *Channel:
		cmd = &wire.Command{Name: []byte(name), Params: [][]byte{[]byte(x.topicName), []byte(x.name)}}
	default:
		return
	}
	for _, p := range n.lookupPeerList() {
		select {
		case p.cmds <- cmd:
		default:
			p.resync.Store(true)
		}
	}
}

func (p *lookupPeer) stop() { p.stopOnce.Do(func() { close(p.stopChan) }) }

func (p *lookupPeer) stopping() bool {
	select {
	case <-p.stopChan:
		return true
	case <-p.n.exitChan:
		return true
	default:
		return false
	}
}

// wait sleeps for d unless the peer stops first.
func (p *lookupPeer) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.stopChan:
	case <-p.n.exitChan:
	}
	return false
}

func (p *lookupPeer) loop() {
	lg := p.n.logger
	backoff := 250 * time.Millisecond
	for !p.stopping() {
		err := p.session()
		if p.stopping() {
			return
		}
		if p.identifiedOnce.Swap(false) {
			backoff = 250 * time.Millisecond // it worked for a while: retry soon
		}
		lg.Errorf("LOOKUPD(%s): %s - reconnecting in %s", p.addr, err, backoff)
		jitter := time.Duration(rand.Int64N(int64(backoff) / 4))
		if !p.wait(backoff + jitter) {
			return
		}
		if backoff *= 2; backoff > lookupdMaxBackoff {
			backoff = lookupdMaxBackoff
		}
	}
}

// lookupConn is one connection to nsqlookupd with its reply reader.
type lookupConn struct {
	conn    net.Conn
	replies chan []byte
	readErr error
	done    chan struct{}
}

// roundTrip sends cmd and waits up to a second for its reply.
func (lc *lookupConn) roundTrip(cmd *wire.Command) ([]byte, error) {
	lc.conn.SetWriteDeadline(time.Now().Add(lookupdIOTimeout))
	if _, err := lc.conn.Write(cmd.Append(nil)); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	t := time.NewTimer(lookupdIOTimeout)
	defer t.Stop()
	select {
	case r, ok := <-lc.replies:
		if !ok {
			return nil, fmt.Errorf("%s: connection closed: %v", cmd, lc.readErr)
		}
		return r, nil
	case <-t.C:
		return nil, fmt.Errorf("%s: no reply within %s", cmd, lookupdIOTimeout)
	}
}

// readReplies reads size-prefixed replies until the connection fails.
func (lc *lookupConn) readReplies(max int64) {
	defer close(lc.done)
	defer close(lc.replies)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(lc.conn, hdr[:]); err != nil {
			lc.readErr = err
			return
		}
		size := int64(int32(binary.BigEndian.Uint32(hdr[:])))
		if size < 0 || size > max {
			lc.readErr = fmt.Errorf("reply size %d out of range", size)
			return
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(lc.conn, buf); err != nil {
			lc.readErr = err
			return
		}
		lc.replies <- buf
	}
}

// session connects, identifies, registers everything and then serves
// pings and notifications until something fails.
func (p *lookupPeer) session() error {
	n, lg := p.n, p.n.logger
	conn, err := net.DialTimeout("tcp", p.addr, lookupdDialTimeout)
	if err != nil {
		return err
	}
	lc := &lookupConn{conn: conn, replies: make(chan []byte, 16), done: make(chan struct{})}
	go lc.readReplies(n.opts.MaxBodySize)
	defer func() {
		conn.Close()
		<-lc.done
	}()
	lg.Infof("LOOKUP(%s): adding peer", p.addr)
	conn.SetWriteDeadline(time.Now().Add(lookupdIOTimeout))
	if _, err := conn.Write(wire.MagicV1); err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	ident, _ := json.Marshal(map[string]any{
		"version":           version.Reported,
		"tcp_port":          n.opts.BroadcastTCPPort,
		"http_port":         n.opts.BroadcastHTTPPort,
		"hostname":          hostname,
		"broadcast_address": n.opts.BroadcastAddress,
	})
	reply, err := lc.roundTrip(wire.Identify(ident))
	if err != nil {
		return err
	}
	var info lookupdInfo
	if err := json.Unmarshal(reply, &info); err != nil {
		return fmt.Errorf("IDENTIFY reply %q: %w", reply, err)
	}
	p.info.Store(&info)
	p.identifiedOnce.Store(true)
	defer p.info.Store(nil)
	lg.Infof("LOOKUPD(%s): peer info %+v", p.addr, info)

	// Everything queued so far is covered by the full registration below.
	p.resync.Store(false)
	for drained := false; !drained; {
		select {
		case <-p.cmds:
		default:
			drained = true
		}
	}
	for _, cmd := range n.registrationCommands() {
		if err := p.send(lc, cmd); err != nil {
			return err
		}
	}

	ping := time.NewTicker(lookupdPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ping.C:
			if err := p.send(lc, &wire.Command{Name: []byte("PING")}); err != nil {
				return err
			}
		case cmd := <-p.cmds:
			if err := p.send(lc, cmd); err != nil {
				return err
			}
			if p.resync.Load() {
				return errors.New("notifications dropped; re-registering")
			}
		case <-lc.done:
			return fmt.Errorf("connection closed: %v", lc.readErr)
		case <-p.stopChan:
			return nil
		case <-n.exitChan:
			return nil
		}
	}
}

// send runs one command; an error reply is logged, an I/O error returned.
func (p *lookupPeer) send(lc *lookupConn, cmd *wire.Command) error {
	reply, err := lc.roundTrip(cmd)
	if err != nil {
		return err
	}
	if string(reply) != "OK" {
		p.n.logger.Warnf("LOOKUPD(%s): %s - %s", p.addr, cmd, reply)
	}
	return nil
}

// registrationCommands lists REGISTER commands for the current topics and
// channels (a topic with channels is registered through them).
func (n *NSQD) registrationCommands() []*wire.Command {
	var out []*wire.Command
	reg := []byte("REGISTER")
	for _, t := range n.Topics() {
		chans := t.Channels()
		if len(chans) == 0 {
			out = append(out, &wire.Command{Name: reg, Params: [][]byte{[]byte(t.name)}})
			continue
		}
		for _, c := range chans {
			out = append(out, &wire.Command{Name: reg, Params: [][]byte{[]byte(t.name), []byte(c.name)}})
		}
	}
	return out
}

// identifiedLookupds returns the HTTP addresses of lookupds that have
// answered IDENTIFY, and whether any lookupd is configured at all.
func (n *NSQD) identifiedLookupds() ([]string, bool) {
	peers := n.lookupPeerList()
	var out []string
	for _, p := range peers {
		if info := p.info.Load(); info != nil {
			out = append(out, net.JoinHostPort(info.BroadcastAddress, strconv.Itoa(info.HTTPPort)))
		}
	}
	return out, len(peers) > 0
}
