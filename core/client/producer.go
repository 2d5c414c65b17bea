package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/wire"
)

// NodeState is the state of a producer's connection to one nsqd.
type NodeState int32

// Node states.
const (
	NodeDown       NodeState = iota // not connected, waiting to retry
	NodeConnecting                  // dialling / handshaking
	NodeConnected                   // ready to publish
)

func (s NodeState) String() string {
	switch s {
	case NodeDown:
		return "down"
	case NodeConnecting:
		return "connecting"
	case NodeConnected:
		return "connected"
	}
	return fmt.Sprintf("NodeState(%d)", int32(s))
}

// NodeStatus is a snapshot of one nsqd of a Producer.
type NodeStatus struct {
	Addr       string
	State      NodeState
	Since      time.Time // when State was entered
	LastError  error     // the last connection or protocol error, nil if none
	Discovered bool      // found through nsqlookupd
	Pending    int       // publishes sent and awaiting their reply
	Published  uint64    // publishes this node acknowledged
	Failures   int       // consecutive failed (or short-lived) connection attempts
}

// ProducerTransaction is one publish (PUB, MPUB or DPUB). An asynchronous
// publish delivers it on its done channel once nsqd acknowledged it (Error
// nil) or it finally failed; Args are the caller's values.
type ProducerTransaction struct {
	Error error
	Args  []any

	cmd      *wire.Command
	doneChan chan *ProducerTransaction
	deadline time.Time
	attempts int   // times sent
	last     *node // node of the last attempt
	lastErr  error
	timer    *time.Timer // deadline while waiting for a connection
	waiting  bool        // in Producer.waiting (guarded by Producer.mu)
	done     atomic.Bool
}

// Producer publishes to one or several nsqd. Each nsqd (a node) has a
// connection kept alive in the background; a publish goes to the first
// connected node in the order they were added (or, with
// publish_round_robin, to each connected node in turn), is retried on
// another node when its connection is lost or nsqd could not queue it
// (publish_attempts, publish_timeout), and waits for a connection when none
// is up. Publishes from all goroutines are pipelined on the connections and
// their replies matched in order.
type Producer struct {
	cfg *Config
	log *logger.Logger

	mu          sync.Mutex
	nodes       []*node
	byAddr      map[string]*node
	rr          int
	waiting     []*ProducerTransaction
	outstanding int
	stopping    bool // no new publishes
	stopped     bool // no more retries
	changed     chan struct{}

	ctx      context.Context // cancelled when the nodes must go away
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopDone chan struct{}
	poller   *lookupdPoller
}

// NewProducer makes a producer that publishes to the nsqd at nsqdAddrs
// ("host:port"; more can be added with AddNSQD or discovered with
// ConnectToNSQLookupd). cfg nil means NewConfig(). Connections are made in
// the background right away.
func NewProducer(cfg *Config, nsqdAddrs ...string) (*Producer, error) {
	if cfg == nil {
		cfg = NewConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{
		cfg:      cfg,
		log:      cfg.logger(),
		byAddr:   make(map[string]*node),
		changed:  make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		stopDone: make(chan struct{}),
	}
	for _, a := range nsqdAddrs {
		if err := p.addNode(a, false); err != nil && !errors.Is(err, ErrAlreadyConnected) {
			p.Stop()
			return nil, err
		}
	}
	return p, nil
}

// AddNSQD adds an nsqd to publish to.
func (p *Producer) AddNSQD(addr string) error { return p.addNode(addr, false) }

// ConnectToNSQLookupd adds lookupds whose /nodes list the nsqd to publish
// to; they are asked once now, then every lookupd_poll_interval. Nodes that
// lookupd stops listing are kept.
func (p *Producer) ConnectToNSQLookupd(addrs ...string) error {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return ErrStopped
	}
	if p.poller == nil {
		p.poller = newLookupdPoller(p.cfg, p.queryLookupd)
	}
	poller := p.poller
	p.mu.Unlock()
	return poller.add(addrs...)
}

func (p *Producer) queryLookupd(ctx context.Context, addrs []string) {
	res, err := p.poller.client.NodesAll(ctx, addrs)
	if err != nil {
		p.log.Errorf("producer: lookupd query failed: %s", err)
		return
	}
	if perr := res.Err(); perr != nil {
		p.log.Warnf("producer: some lookupds failed: %s", perr)
	}
	for _, n := range res.Nodes {
		if err := p.addNode(n.TCPAddress(), true); err != nil && !errors.Is(err, ErrAlreadyConnected) {
			p.log.Warnf("producer: %s", err)
		}
	}
}

func (p *Producer) addNode(addr string, discovered bool) error {
	if err := checkNSQDAddr(addr); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return ErrStopped
	}
	if _, ok := p.byAddr[addr]; ok {
		return fmt.Errorf("%s: %w", addr, ErrAlreadyConnected)
	}
	n := &node{p: p, addr: addr, discovered: discovered, since: time.Now(), kick: make(chan struct{}, 1)}
	p.nodes = append(p.nodes, n)
	p.byAddr[addr] = n
	p.wg.Add(1)
	go n.run()
	return nil
}

func checkNSQDAddr(addr string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("invalid nsqd address %q: want host:port", addr)
	}
	return nil
}

// Nodes reports the state of every nsqd, in the order they were added.
func (p *Producer) Nodes() []NodeStatus {
	p.mu.Lock()
	nodes := append([]*node(nil), p.nodes...)
	p.mu.Unlock()
	out := make([]NodeStatus, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.status())
	}
	return out
}

// Ping waits until at least one nsqd is connected. It fails as soon as
// every nsqd has failed a connection attempt made after the call (so a
// wrong address is reported at once), or when ctx ends.
func (p *Producer) Ping(ctx context.Context) error {
	start := time.Now()
	p.kickAll()
	for {
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			return ErrStopped
		}
		if len(p.nodes) == 0 {
			p.mu.Unlock()
			return ErrNoNodes
		}
		allFailed := true
		var errs []string
		for _, n := range p.nodes {
			st := n.status()
			if st.State == NodeConnected {
				p.mu.Unlock()
				return nil
			}
			n.mu.Lock()
			failed := n.lastFail.After(start)
			n.mu.Unlock()
			if !failed {
				allFailed = false
			} else if st.LastError != nil {
				errs = append(errs, st.Addr+": "+st.LastError.Error())
			}
		}
		ch := p.changed
		p.mu.Unlock()
		if allFailed {
			return fmt.Errorf("%w: %s", ErrNotConnected, strings.Join(errs, "; "))
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes everyone waiting for a state change; p.mu is held.
func (p *Producer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Producer) notify() {
	p.mu.Lock()
	p.notifyLocked()
	p.mu.Unlock()
}

// kickAll makes nodes waiting to reconnect try now.
func (p *Producer) kickAll() {
	p.mu.Lock()
	nodes := append([]*node(nil), p.nodes...)
	p.mu.Unlock()
	for _, n := range nodes {
		n.wake()
	}
}

// --- publishing ---

// Publish sends a message to topic and waits for nsqd's acknowledgement.
func (p *Producer) Publish(topic string, body []byte) error {
	return p.PublishContext(context.Background(), topic, body)
}

// PublishContext is Publish bounded by ctx (as well as publish_timeout).
func (p *Producer) PublishContext(ctx context.Context, topic string, body []byte) error {
	if err := p.checkPublish(topic, body); err != nil {
		return err
	}
	return p.doSync(ctx, &ProducerTransaction{cmd: wire.Publish(topic, body)})
}

// MultiPublish sends several messages to topic in one MPUB and waits for
// the acknowledgement.
func (p *Producer) MultiPublish(topic string, bodies [][]byte) error {
	return p.MultiPublishContext(context.Background(), topic, bodies)
}

// MultiPublishContext is MultiPublish bounded by ctx.
func (p *Producer) MultiPublishContext(ctx context.Context, topic string, bodies [][]byte) error {
	if err := p.checkMultiPublish(topic, bodies); err != nil {
		return err
	}
	return p.doSync(ctx, &ProducerTransaction{cmd: wire.MultiPublish(topic, bodies)})
}

// DeferredPublish sends a message that nsqd holds for delay before
// delivering it, and waits for the acknowledgement.
func (p *Producer) DeferredPublish(topic string, delay time.Duration, body []byte) error {
	return p.DeferredPublishContext(context.Background(), topic, delay, body)
}

// DeferredPublishContext is DeferredPublish bounded by ctx.
func (p *Producer) DeferredPublishContext(ctx context.Context, topic string, delay time.Duration, body []byte) error {
	if err := p.checkDeferred(topic, delay, body); err != nil {
		return err
	}
	return p.doSync(ctx, &ProducerTransaction{cmd: wire.DeferredPublish(topic, int64(delay/time.Millisecond), body)})
}

// PublishAsync publishes without waiting: the transaction (with args) is
// sent on doneChan when it completes. doneChan may be nil; otherwise it
// must be buffered or drained promptly, since completions are delivered by
// the connections' reader goroutines. A validation error is returned
// directly and nothing is sent on doneChan.
func (p *Producer) PublishAsync(topic string, body []byte, doneChan chan *ProducerTransaction, args ...any) error {
	if err := p.checkPublish(topic, body); err != nil {
		return err
	}
	return p.doAsync(&ProducerTransaction{cmd: wire.Publish(topic, body), doneChan: doneChan, Args: args})
}

// MultiPublishAsync is the asynchronous MultiPublish (see PublishAsync).
func (p *Producer) MultiPublishAsync(topic string, bodies [][]byte, doneChan chan *ProducerTransaction, args ...any) error {
	if err := p.checkMultiPublish(topic, bodies); err != nil {
		return err
	}
	return p.doAsync(&ProducerTransaction{cmd: wire.MultiPublish(topic, bodies), doneChan: doneChan, Args: args})
}

// DeferredPublishAsync is the asynchronous DeferredPublish (see
// PublishAsync).
func (p *Producer) DeferredPublishAsync(topic string, delay time.Duration, body []byte, doneChan chan *ProducerTransaction, args ...any) error {
	if err := p.checkDeferred(topic, delay, body); err != nil {
		return err
	}
	return p.doAsync(&ProducerTransaction{cmd: wire.DeferredPublish(topic, int64(delay/time.Millisecond), body), doneChan: doneChan, Args: args})
}

func (p *Producer) checkTopic(topic string) error {
	if !wire.IsValidTopicName(topic) {
		return invalid(ErrInvalidTopic, "%q", topic)
	}
	return nil
}

func (p *Producer) checkBody(body []byte) error {
	if len(body) == 0 {
		return &ValidationError{Err: ErrEmptyBody}
	}
	if len(body) > p.cfg.PublishMaxMsgSize {
		return invalid(ErrMessageTooBig, "%d > %d", len(body), p.cfg.PublishMaxMsgSize)
	}
	return nil
}

func (p *Producer) checkPublish(topic string, body []byte) error {
	if err := p.checkTopic(topic); err != nil {
		return err
	}
	return p.checkBody(body)
}

func (p *Producer) checkDeferred(topic string, delay time.Duration, body []byte) error {
	if err := p.checkPublish(topic, body); err != nil {
		return err
	}
	if delay < 0 {
		return invalid(ErrInvalidDelay, "%s", delay)
	}
	return nil
}

func (p *Producer) checkMultiPublish(topic string, bodies [][]byte) error {
	if err := p.checkTopic(topic); err != nil {
		return err
	}
	if len(bodies) == 0 {
		return &ValidationError{Err: ErrNoMessages}
	}
	size := 4
	for i, b := range bodies {
		if err := p.checkBody(b); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				ve.Detail = strings.TrimPrefix(fmt.Sprintf("message %d %s", i, ve.Detail), " ")
			}
			return err
		}
		size += 4 + len(b)
	}
	if size > p.cfg.PublishMaxBodySize {
		return invalid(ErrBodyTooBig, "%d > %d", size, p.cfg.PublishMaxBodySize)
	}
	return nil
}

func (p *Producer) doSync(ctx context.Context, t *ProducerTransaction) error {
	if p.cfg.PublishTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.PublishTimeout)
		defer cancel()
	}
	if dl, ok := ctx.Deadline(); ok {
		t.deadline = dl
	}
	t.doneChan = make(chan *ProducerTransaction, 1)
	if err := p.submit(t, true); err != nil {
		return err
	}
	select {
	case <-t.doneChan:
		return t.Error
	case <-ctx.Done():
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = p.timeoutError(t)
		}
		p.abandon(t, err)
		return err
	}
}

func (p *Producer) doAsync(t *ProducerTransaction) error {
	if p.cfg.PublishTimeout > 0 {
		t.deadline = time.Now().Add(p.cfg.PublishTimeout)
	}
	return p.submit(t, true)
}

// timeoutError is ErrPublishTimeout with the reason: the last error of t,
// or, if it was never sent, why no node is connected.
func (p *Producer) timeoutError(t *ProducerTransaction) error {
	p.mu.Lock()
	last := t.lastErr
	nodes := append([]*node(nil), p.nodes...)
	p.mu.Unlock()
	if last != nil {
		return fmt.Errorf("%w (last error: %v)", ErrPublishTimeout, last)
	}
	var reasons []string
	for _, n := range nodes {
		if st := n.status(); st.State != NodeConnected && st.LastError != nil {
			reasons = append(reasons, st.Addr+": "+st.LastError.Error())
		}
	}
	if len(reasons) > 0 {
		return fmt.Errorf("%w: no nsqd connected (%s)", ErrPublishTimeout, strings.Join(reasons, "; "))
	}
	return ErrPublishTimeout
}

// submit accepts a new transaction and dispatches it.
func (p *Producer) submit(t *ProducerTransaction, fromCaller bool) error {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return ErrStopped
	}
	if len(p.nodes) == 0 {
		p.mu.Unlock()
		return ErrNoNodes
	}
	p.outstanding++
	p.mu.Unlock()
	p.dispatch(t, fromCaller)
	return nil
}

// dispatch sends t to a connected node, or parks it until one connects.
func (p *Producer) dispatch(t *ProducerTransaction, fromCaller bool) {
	var tried []*node
	for {
		if !t.deadline.IsZero() && !time.Now().Before(t.deadline) {
			p.complete(t, p.timeoutError(t))
			return
		}
		n, stopped := p.pickOrPark(t, tried)
		if stopped {
			p.complete(t, ErrStopped)
			return
		}
		if n == nil {
			return // parked
		}
		if fromCaller {
			n.waitSpace()
		}
		if n.send(t) {
			return
		}
		tried = append(tried, n)
	}
}

// pickOrPark returns a connected node for t (not in tried, preferably not
// the node of its last attempt), or parks t in the waiting list, all under
// p.mu so that a node connecting meanwhile is sure to see it.
func (p *Producer) pickOrPark(t *ProducerTransaction, tried []*node) (*node, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil, true
	}
	var cands []*node
	for _, n := range p.nodes {
		if n.connected() && !contains(tried, n) {
			cands = append(cands, n)
		}
	}
	if len(cands) > 1 && t.last != nil {
		others := cands[:0:0]
		for _, n := range cands {
			if n != t.last {
				others = append(others, n)
			}
		}
		if len(others) > 0 {
			cands = others
		}
	}
	if len(cands) > 0 {
		if p.cfg.PublishRoundRobin {
			p.rr++
			return cands[p.rr%len(cands)], false
		}
		return cands[0], false
	}
	// No node is connected: wait for one, within the deadline.
	t.waiting = true
	p.waiting = append(p.waiting, t)
	if !t.deadline.IsZero() {
		t.timer = time.AfterFunc(time.Until(t.deadline), func() { p.expire(t) })
	}
	for _, n := range p.nodes {
		n.wake()
	}
	return nil, false
}

func contains(list []*node, n *node) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// unparkLocked removes t from the waiting list; p.mu is held.
func (p *Producer) unparkLocked(t *ProducerTransaction) bool {
	if !t.waiting {
		return false
	}
	t.waiting = false
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	for i, w := range p.waiting {
		if w == t {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			break
		}
	}
	return true
}

func (p *Producer) expire(t *ProducerTransaction) {
	p.mu.Lock()
	ok := p.unparkLocked(t)
	p.mu.Unlock()
	if ok {
		p.complete(t, p.timeoutError(t))
	}
}

// abandon completes t with err if it is still waiting for a connection
// (a transaction already sent stays matched to its reply).
func (p *Producer) abandon(t *ProducerTransaction, err error) {
	p.mu.Lock()
	ok := p.unparkLocked(t)
	p.mu.Unlock()
	if ok {
		p.complete(t, err)
	}
}

// nodeConnected dispatches every parked transaction.
func (p *Producer) nodeConnected() {
	p.mu.Lock()
	parked := p.waiting
	p.waiting = nil
	for _, t := range parked {
		t.waiting = false
		if t.timer != nil {
			t.timer.Stop()
			t.timer = nil
		}
	}
	p.notifyLocked()
	p.mu.Unlock()
	for _, t := range parked {
		p.dispatch(t, false)
	}
}

// failed handles a transaction that failed with err: retried if err is
// retryable and attempts and time remain, completed otherwise.
func (p *Producer) failed(t *ProducerTransaction, err error) {
	p.mu.Lock()
	t.lastErr = err
	stopped := p.stopped
	p.mu.Unlock()
	if !stopped && retryablePublishError(err) && t.attempts < p.cfg.PublishAttempts &&
		(t.deadline.IsZero() || time.Now().Before(t.deadline)) {
		p.log.Debugf("producer: retrying %s after: %s", t.cmd, err)
		p.dispatch(t, false)
		return
	}
	p.complete(t, err)
}

func (p *Producer) complete(t *ProducerTransaction, err error) {
	if !t.done.CompareAndSwap(false, true) {
		return
	}
	t.Error = err
	p.mu.Lock()
	p.outstanding--
	if p.outstanding == 0 {
		p.notifyLocked()
	}
	p.mu.Unlock()
	if t.doneChan != nil {
		t.doneChan <- t
	}
}

// Stop flushes: new publishes fail with ErrStopped, outstanding ones get
// up to stop_timeout to complete (retries and waiting for a connection
// included), then the connections are closed and every goroutine ends.
// It is idempotent and returns when all is torn down.
func (p *Producer) Stop() {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		<-p.stopDone
		return
	}
	p.stopping = true
	poller := p.poller
	p.mu.Unlock()
	if poller != nil {
		poller.close()
	}
	var timeout <-chan time.Time
	if p.cfg.StopTimeout > 0 {
		t := time.NewTimer(p.cfg.StopTimeout)
		defer t.Stop()
		timeout = t.C
	} else {
		closed := make(chan time.Time)
		close(closed)
		timeout = closed
	}
	p.mu.Lock()
wait:
	for p.outstanding > 0 {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
			p.mu.Lock()
		case <-timeout:
			p.mu.Lock()
			break wait
		}
	}
	p.stopped = true
	parked := p.waiting
	p.waiting = nil
	for _, t := range parked {
		t.waiting = false
		if t.timer != nil {
			t.timer.Stop()
		}
	}
	p.mu.Unlock()
	for _, t := range parked {
		p.complete(t, ErrStopped)
	}
	p.cancel()
	p.wg.Wait()
	close(p.stopDone)
}

// --- one nsqd ---

// stableConnection is how long a connection must have lived for its loss
// to be retried at once rather than with backoff.
const stableConnection = time.Second

// node is one nsqd of a producer: its connection loop, its state and the
// FIFO of transactions sent on its current connection.
type node struct {
	p          *Producer
	addr       string
	discovered bool
	kick       chan struct{}

	mu        sync.Mutex
	state     atomic.Int32
	conn      *Conn
	pending   []*ProducerTransaction
	head      int
	since     time.Time
	lastErr   error
	lastFail  time.Time
	failures  int
	published atomic.Uint64
}

func (n *node) connected() bool { return NodeState(n.state.Load()) == NodeConnected }

func (n *node) status() NodeStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return NodeStatus{
		Addr:       n.addr,
		State:      NodeState(n.state.Load()),
		Since:      n.since,
		LastError:  n.lastErr,
		Discovered: n.discovered,
		Pending:    len(n.pending) - n.head,
		Published:  n.published.Load(),
		Failures:   n.failures,
	}
}

func (n *node) setState(s NodeState) {
	n.mu.Lock()
	if NodeState(n.state.Load()) != s {
		n.state.Store(int32(s))
		n.since = time.Now()
	}
	n.mu.Unlock()
	n.p.notify()
}

// wake interrupts the reconnect wait.
func (n *node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// run keeps a connection to the nsqd until the producer goes away.
func (n *node) run() {
	p := n.p
	defer p.wg.Done()
	for {
		n.setState(NodeConnecting)
		c, err := Dial(p.ctx, n.addr, p.cfg, n)
		if err != nil {
			if p.ctx.Err() != nil {
				n.setState(NodeDown)
				return
			}
			n.mu.Lock()
			n.failures++
			n.lastErr = err
			n.lastFail = time.Now()
			attempt := n.failures
			n.mu.Unlock()
			n.setState(NodeDown)
			p.log.Warnf("producer: connecting to %s: %s", n.addr, err)
			// A publish waiting for a connection (or Ping) cuts the wait
			// short, but attempts stay at least reconnect_initial_interval
			// apart.
			d := reconnectDelay(p.cfg, attempt)
			first := min(d, p.cfg.ReconnectInitialInterval)
			if !sleep(first, p.ctx.Done(), nil) || !sleep(d-first, p.ctx.Done(), n.kick) {
				n.setState(NodeDown)
				return
			}
			continue
		}
		n.mu.Lock()
		n.conn = c
		n.head, n.pending = 0, n.pending[:0]
		n.mu.Unlock()
		n.setState(NodeConnected)
		p.log.Infof("producer: connected to %s", n.addr)
		p.nodeConnected()
		connected := time.Now()
		select {
		case <-c.Done():
		case <-p.ctx.Done():
			c.Close()
			<-c.Done()
			return
		}
		// The connection dropped: try again at once if it had been up a
		// while, otherwise (nsqd accepts then drops us) back off.
		n.mu.Lock()
		if time.Since(connected) >= stableConnection {
			n.failures = 0
		} else {
			n.failures++
		}
		attempt := n.failures
		n.mu.Unlock()
		if attempt > 0 && !sleep(reconnectDelay(p.cfg, attempt), p.ctx.Done(), nil) {
			return
		}
	}
}

func (n *node) waitSpace() {
	n.mu.Lock()
	c := n.conn
	n.mu.Unlock()
	if c != nil {
		c.waitSpace()
	}
}

// send queues t on the node's connection, recording it as pending.
func (n *node) send(t *ProducerTransaction) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil || !n.connected() {
		return false
	}
	if err := n.conn.enqueue(t.cmd); err != nil {
		return false
	}
	t.attempts++
	t.last = n
	n.pending = append(n.pending, t)
	return true
}

// pop takes the oldest pending transaction of connection c.
func (n *node) pop(c *Conn) *ProducerTransaction {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != c || n.head >= len(n.pending) {
		return nil
	}
	t := n.pending[n.head]
	n.pending[n.head] = nil
	n.head++
	if n.head == len(n.pending) {
		n.head, n.pending = 0, n.pending[:0]
	} else if n.head > 1024 && n.head*2 > len(n.pending) {
		k := copy(n.pending, n.pending[n.head:])
		clear(n.pending[k:])
		n.pending, n.head = n.pending[:k], 0
	}
	return t
}

// OnResponse completes the oldest pending publish (implements ConnHandler).
func (n *node) OnResponse(c *Conn, data []byte) {
	t := n.pop(c)
	if t == nil {
		n.p.log.Errorf("producer: %s: reply %q with no publish pending; closing", n.addr, data)
		c.terminate(errors.New("unexpected reply " + string(data)))
		return
	}
	n.published.Add(1)
	n.p.complete(t, nil)
}

// OnError fails (or retries) the oldest pending publish.
func (n *node) OnError(c *Conn, e *wire.Error) {
	if !e.Fatal {
		return
	}
	n.mu.Lock()
	n.lastErr = e
	n.mu.Unlock()
	t := n.pop(c)
	if t == nil {
		return
	}
	n.p.failed(t, e)
}

// OnMessage: producers are not subscribed; a message means a confused
// server.
func (n *node) OnMessage(c *Conn, data []byte) {
	c.terminate(errors.New("unexpected message frame on a producer connection"))
}

// OnClose fails over every publish still pending on the connection.
func (n *node) OnClose(c *Conn, err error) {
	n.mu.Lock()
	var pend []*ProducerTransaction
	if n.conn == c {
		pend = append(pend, n.pending[n.head:]...)
		clear(n.pending)
		n.head, n.pending = 0, n.pending[:0]
		n.conn = nil
		if err != nil {
			n.lastErr = err
		}
	}
	n.mu.Unlock()
	n.setState(NodeDown)
	if err != nil {
		n.p.log.Warnf("producer: connection to %s lost: %s", n.addr, err)
	}
	cerr := &connError{addr: n.addr, cause: err}
	for _, t := range pend {
		n.p.failed(t, cerr)
	}
}

var _ ConnHandler = (*node)(nil)
