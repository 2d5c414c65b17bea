package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Handler processes messages. Returning nil finishes the message, an error
// requeues it (with the default delay) and signals backoff, unless the
// handler disabled the automatic response.
type Handler interface {
	HandleMessage(m *Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(m *Message) error

// HandleMessage calls f(m).
func (f HandlerFunc) HandleMessage(m *Message) error { return f(m) }

// FailedMessageLogger is implemented by handlers that want to see messages
// given up after max_attempts (they are finished without being handled).
type FailedMessageLogger interface {
	LogFailedMessage(m *Message)
}

// ConsumerStats counts what a consumer did.
type ConsumerStats struct {
	MessagesReceived uint64
	MessagesFinished uint64
	MessagesRequeued uint64
	Connections      int
}

// Backoff signals (client-behaviour.md §5).
type backoffSignal int

const (
	signalResume backoffSignal = iota
	signalBackoff
	signalContinue
)

// rdyRetryDelay is how long an RDY update refused for being over
// max_in_flight waits before it is tried again.
const rdyRetryDelay = 5 * time.Second

// Consumer reads one channel of one topic from one or several nsqd, given
// directly (ConnectToNSQD) or discovered through nsqlookupd
// (ConnectToNSQLookupd), and hands the messages to its handlers.
//
// At most max_in_flight messages are in flight over all connections: each
// connection gets RDY max(1, max_in_flight / connections) while that fits,
// and when there are more connections than max_in_flight the RDY is
// periodically taken from idle connections and given to others, so none
// starves. Handler failures put the consumer in backoff (RDY 0, then one
// test message) as in client-behaviour.md §5.
//
// A dropped nsqd is reconnected by its own loop with the reconnect_*
// policy (exponential backoff with jitter), for directly given nsqd and
// for discovered ones alike (the latter until lookupd stops listing them);
// lookupd is also asked again at once. Between attempts a bare TCP probe
// each second cuts the wait short once the nsqd is back.
type Consumer struct {
	topic   string
	channel string
	cfg     *Config
	log     *logger.Logger

	mu             sync.Mutex
	conns          map[string]*consumerConn
	connecting     map[string]bool
	direct         map[string]bool // addresses given with ConnectToNSQD
	listed         map[string]bool // addresses in the last lookupd answer
	reconnecting   map[string]bool
	totalRdy       int64
	maxInFlight    int64
	backoffCounter int
	backoffPending bool // a backoff timer is running
	backoffTimer   *time.Timer
	needRedist     bool
	stopping       bool
	queueClosed    bool
	handlers       int
	failedHook     func(*Message)
	poller         *lookupdPoller

	backoffActive atomic.Bool // backoffCounter > 0 || backoffPending

	queue     *msgQueue
	handlerWG sync.WaitGroup
	bgWG      sync.WaitGroup
	ctx       context.Context // cancelled by Stop: ends dials and loops
	cancel    context.CancelFunc
	forced    chan struct{}
	stopTimer *time.Timer

	// StopChan is closed when the consumer has stopped: every connection
	// closed, the handlers returned (or stop_timeout passed), every
	// background goroutine ended.
	StopChan chan int

	received atomic.Uint64
	finished atomic.Uint64
	requeued atomic.Uint64
}

// NewConsumer makes a consumer of topic's channel. cfg nil means
// NewConfig().
func NewConsumer(topic, channel string, cfg *Config) (*Consumer, error) {
	if !wire.IsValidTopicName(topic) {
		return nil, invalid(ErrInvalidTopic, "%q", topic)
	}
	if !wire.IsValidChannelName(channel) {
		return nil, invalid(ErrInvalidChannel, "%q", channel)
	}
	if cfg == nil {
		cfg = NewConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{
		topic:        topic,
		channel:      channel,
		cfg:          cfg,
		log:          cfg.logger(),
		conns:        make(map[string]*consumerConn),
		connecting:   make(map[string]bool),
		direct:       make(map[string]bool),
		listed:       make(map[string]bool),
		reconnecting: make(map[string]bool),
		maxInFlight:  int64(cfg.MaxInFlight),
		queue:        newMsgQueue(),
		ctx:          ctx,
		cancel:       cancel,
		forced:       make(chan struct{}),
		StopChan:     make(chan int),
	}
	c.bgWG.Add(1)
	go c.rdyLoop()
	return c, nil
}

// Topic is the topic the consumer reads.
func (c *Consumer) Topic() string { return c.topic }

// Channel is the channel the consumer reads.
func (c *Consumer) Channel() string { return c.channel }

// AddHandler adds one handler goroutine. Handlers must be added before
// connecting.
func (c *Consumer) AddHandler(h Handler) { c.AddConcurrentHandlers(h, 1) }

// AddConcurrentHandlers adds n goroutines running h, each processing one
// message at a time.
func (c *Consumer) AddConcurrentHandlers(h Handler, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return
	}
	c.handlers += n
	for i := 0; i < n; i++ {
		c.handlerWG.Add(1)
		go c.handlerLoop(h)
	}
}

// SetFailedMessageHook sets a function called with every message given up
// after max_attempts (in addition to a handler's LogFailedMessage).
func (c *Consumer) SetFailedMessageHook(f func(*Message)) {
	c.mu.Lock()
	c.failedHook = f
	c.mu.Unlock()
}

// Stats reports the consumer's counters and its number of connections.
func (c *Consumer) Stats() ConsumerStats {
	c.mu.Lock()
	n := len(c.conns)
	c.mu.Unlock()
	return ConsumerStats{
		MessagesReceived: c.received.Load(),
		MessagesFinished: c.finished.Load(),
		MessagesRequeued: c.requeued.Load(),
		Connections:      n,
	}
}

// Pending is how many messages were received from nsqd and not yet taken
// by a handler (the handlers' queue). It is cheap: one atomic load, no
// lock, for a handler to ask on every message.
func (c *Consumer) Pending() int { return int(c.queue.n.Load()) }

// Connections lists the addresses of the live connections.
func (c *Consumer) Connections() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.conns))
	for a := range c.conns {
		out = append(out, a)
	}
	return out
}

// IsStarved reports whether some connection has in flight at least 85 % of
// its RDY: the handlers are the bottleneck (used to decide when to flush
// batches).
func (c *Consumer) IsStarved() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cc := range c.conns {
		inFlight := cc.inFlight.Load()
		if !cc.closing && inFlight > 0 && float64(inFlight) >= 0.85*float64(cc.rdy) {
			return true
		}
	}
	return false
}

// ChangeMaxInFlight changes max_in_flight at run time and re-applies the
// per-connection RDY (0 pauses consumption).
func (c *Consumer) ChangeMaxInFlight(n int) {
	if n < 0 {
		n = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxInFlight = int64(n)
	if c.stopping || c.backoffCounter > 0 || c.backoffPending {
		return
	}
	c.applyTargetLocked()
}

// applyTargetLocked sets every connection to the per-connection target,
// lowering first so the total never exceeds max_in_flight.
func (c *Consumer) applyTargetLocked() {
	target := c.perConnLocked()
	for _, cc := range c.conns {
		if cc.rdy > target {
			c.updateRDYLocked(cc, target)
		}
	}
	for _, cc := range c.conns {
		if cc.rdy < target {
			c.updateRDYLocked(cc, target)
		}
	}
}

// perConnLocked is min(max(1, M/N), M).
func (c *Consumer) perConnLocked() int64 {
	m := c.maxInFlight
	n := int64(len(c.conns))
	if n == 0 {
		return m
	}
	return min(max(1, m/n), m)
}

// --- connecting ---

// ConnectToNSQD connects to the nsqd at addr and subscribes, returning
// the error of that first attempt. Once connected the address is
// remembered: if the connection drops it is reconnected with the
// reconnect policy until DisconnectFromNSQD or Stop.
func (c *Consumer) ConnectToNSQD(addr string) error {
	if err := checkNSQDAddr(addr); err != nil {
		return err
	}
	return c.tryConnect(addr, false)
}

// ConnectToNSQDs connects to each address, stopping at the first error.
func (c *Consumer) ConnectToNSQDs(addrs []string) error {
	for _, a := range addrs {
		if err := c.ConnectToNSQD(a); err != nil {
			return err
		}
	}
	return nil
}

// DisconnectFromNSQD closes the connection to an address given with
// ConnectToNSQD and forgets it.
func (c *Consumer) DisconnectFromNSQD(addr string) error {
	c.mu.Lock()
	if !c.direct[addr] {
		c.mu.Unlock()
		return fmt.Errorf("%s: not a configured nsqd", addr)
	}
	delete(c.direct, addr)
	cc := c.conns[addr]
	c.mu.Unlock()
	if cc != nil {
		cc.conn.Close()
	}
	return nil
}

// ConnectToNSQLookupd adds lookupds to discover the topic's nsqd from. The
// first one triggers a query right away; then they are polled every
// lookupd_poll_interval (after a random jitter), and asked again whenever
// a connection closes. The answers of all lookupds are merged.
func (c *Consumer) ConnectToNSQLookupd(addrs ...string) error {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return ErrStopped
	}
	if c.handlers == 0 {
		c.mu.Unlock()
		return ErrNoHandlers
	}
	if c.poller == nil {
		c.poller = newLookupdPoller(c.cfg, c.queryLookupd)
	}
	poller := c.poller
	c.mu.Unlock()
	return poller.add(addrs...)
}

// ConnectToNSQLookupds is ConnectToNSQLookupd for a list.
func (c *Consumer) ConnectToNSQLookupds(addrs []string) error {
	return c.ConnectToNSQLookupd(addrs...)
}

// DisconnectFromNSQLookupd stops asking a lookupd (connections it led to
// stay).
func (c *Consumer) DisconnectFromNSQLookupd(addr string) error {
	c.mu.Lock()
	poller := c.poller
	c.mu.Unlock()
	if poller == nil || !poller.remove(addr) {
		return fmt.Errorf("%s: not a configured lookupd", addr)
	}
	return nil
}

func (c *Consumer) queryLookupd(ctx context.Context, addrs []string) {
	res, err := c.poller.client.LookupAll(ctx, addrs, c.topic)
	if err != nil {
		c.log.Errorf("consumer %s/%s: lookupd query failed: %s", c.topic, c.channel, err)
		return
	}
	if perr := res.Err(); perr != nil {
		c.log.Warnf("consumer %s/%s: some lookupds failed: %s", c.topic, c.channel, perr)
	}
	listed := make(map[string]bool, len(res.Producers))
	for _, p := range res.Producers {
		listed[p.TCPAddress()] = true
	}
	c.mu.Lock()
	c.listed = listed
	c.mu.Unlock()
	for _, p := range res.Producers {
		addr := p.TCPAddress()
		if err := c.tryConnect(addr, true); err != nil && !errors.Is(err, ErrAlreadyConnected) && !errors.Is(err, ErrStopped) {
			c.log.Errorf("consumer %s/%s: connecting to %s: %s", c.topic, c.channel, addr, err)
		}
	}
}

// tryConnect connects to addr unless a connection to it exists or is
// being made.
func (c *Consumer) tryConnect(addr string, discovered bool) error {
	c.mu.Lock()
	switch {
	case c.stopping:
		c.mu.Unlock()
		return ErrStopped
	case c.handlers == 0:
		c.mu.Unlock()
		return ErrNoHandlers
	case c.conns[addr] != nil || c.connecting[addr]:
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", addr, ErrAlreadyConnected)
	}
	c.connecting[addr] = true
	c.mu.Unlock()
	return c.connect(addr, discovered)
}

// connect dials addr, subscribes and registers the connection; the caller
// marked addr as connecting.
func (c *Consumer) connect(addr string, discovered bool) error {
	conn, err := dialConn(c.ctx, addr, c.cfg)
	if err == nil {
		err = c.subscribe(conn)
		if err != nil {
			conn.Close()
		}
	}
	c.mu.Lock()
	delete(c.connecting, addr)
	if err == nil && c.stopping {
		conn.Close()
		err = ErrStopped
	}
	if err != nil {
		c.maybeFinishStopLocked()
		c.mu.Unlock()
		return err
	}
	cc := &consumerConn{c: c, conn: conn, addr: addr, maxRdy: conn.MaxRdyCount(), discovered: discovered}
	cc.lastMsgAt.Store(time.Now().UnixNano())
	c.conns[addr] = cc
	if !discovered {
		c.direct[addr] = true
	}
	if cc.maxRdy < c.maxInFlight {
		c.log.Warnf("consumer %s/%s: %s: max RDY count %d < consumer max in flight %d, truncation possible",
			c.topic, c.channel, addr, cc.maxRdy, c.maxInFlight)
	}
	// Lower the others to the new share first, then give the new one its
	// RDY, so that the total never exceeds max_in_flight.
	if c.backoffCounter == 0 && !c.backoffPending {
		target := c.perConnLocked()
		for _, o := range c.conns {
			if o != cc && o.rdy > target {
				c.updateRDYLocked(o, target)
			}
		}
		c.updateRDYLocked(cc, target)
	}
	c.mu.Unlock()
	conn.start(cc)
	c.log.Infof("consumer %s/%s: connected to %s", c.topic, c.channel, addr)
	return nil
}

func (c *Consumer) subscribe(conn *Conn) error {
	ft, data, err := conn.roundTrip(wire.Subscribe(c.topic, c.channel))
	if err != nil {
		return fmt.Errorf("SUB: %w", err)
	}
	if ft == wire.FrameTypeError {
		return fmt.Errorf("SUB: %w", parseErrorFrame(data))
	}
	if ft != wire.FrameTypeResponse || !bytes.Equal(data, wire.OK) {
		return fmt.Errorf("SUB: unexpected reply %q", data)
	}
	return nil
}

// connClosed removes a closed connection, rebalances RDY and arranges its
// reconnection.
func (c *Consumer) connClosed(cc *consumerConn, err error) {
	c.mu.Lock()
	if c.conns[cc.addr] == cc {
		delete(c.conns, cc.addr)
	}
	if cc.rdy > 0 && (int64(len(c.conns)+1) > c.maxInFlight || c.backoffCounter > 0) {
		c.needRedist = true
	}
	c.totalRdy -= cc.rdy
	cc.rdy = 0
	if cc.rdyRetry != nil {
		cc.rdyRetry.Stop()
		cc.rdyRetry = nil
	}
	if c.stopping {
		c.maybeFinishStopLocked()
		c.mu.Unlock()
		return
	}
	if err != nil {
		c.log.Warnf("consumer %s/%s: connection to %s closed: %s", c.topic, c.channel, cc.addr, err)
	}
	if c.backoffCounter == 0 && !c.backoffPending {
		c.applyTargetLocked()
	}
	direct := c.direct[cc.addr]
	if (direct || cc.discovered) && !c.reconnecting[cc.addr] {
		c.reconnecting[cc.addr] = true
		c.bgWG.Add(1)
		go c.reconnectLoop(cc.addr, direct, time.Now())
	}
	poller := c.poller
	c.mu.Unlock()
	if poller != nil {
		poller.kick()
	}
}

// reconnectLoop retries a dropped nsqd with the reconnect policy. A
// discovered nsqd is retried for at least lookupd_poll_interval after the
// drop, and after that only while lookupd lists it.
func (c *Consumer) reconnectLoop(addr string, direct bool, dropped time.Time) {
	defer c.bgWG.Done()
	defer func() {
		c.mu.Lock()
		delete(c.reconnecting, addr)
		c.mu.Unlock()
	}()
	for attempt := 1; ; attempt++ {
		if !c.waitReconnect(addr, reconnectDelay(c.cfg, attempt)) {
			return
		}
		c.mu.Lock()
		switch {
		case c.stopping, c.conns[addr] != nil:
			c.mu.Unlock()
			return
		case direct && !c.direct[addr]:
			c.mu.Unlock()
			return
		case !direct && !c.listed[addr] && time.Since(dropped) > c.cfg.LookupdPollInterval:
			c.mu.Unlock()
			return
		case c.connecting[addr]:
			c.mu.Unlock()
			continue
		}
		c.connecting[addr] = true
		c.mu.Unlock()
		err := c.connect(addr, !direct)
		if err == nil || errors.Is(err, ErrStopped) {
			return
		}
		c.log.Warnf("consumer %s/%s: reconnecting to %s (attempt %d): %s", c.topic, c.channel, addr, attempt, err)
	}
}

// waitReconnect waits d before the next reconnect attempt to addr, but
// ends early once addr accepts TCP connections again: every probeInterval
// (1 s) it opens and at once closes a bare TCP connection (no handshake,
// nothing logged). So a returning nsqd is re-dialled within about a second
// however long it was away, while one that stays down only gets a SYN a
// second and full attempts on the reconnect policy's schedule. It reports
// false when the consumer stops.
func (c *Consumer) waitReconnect(addr string, d time.Duration) bool {
	every := c.cfg.probeInterval
	if every <= 0 {
		every = time.Second
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		if !sleep(min(left, every), c.ctx.Done(), nil) {
			return false
		}
		if time.Until(deadline) <= 0 || c.probe(addr, every) {
			return true
		}
	}
}

// probe reports whether addr accepts a TCP connection within timeout
// (at most dial_timeout).
func (c *Consumer) probe(addr string, timeout time.Duration) bool {
	if c.cfg.DialTimeout > 0 {
		timeout = min(timeout, c.cfg.DialTimeout)
	}
	dl := net.Dialer{Timeout: timeout, LocalAddr: c.cfg.LocalAddr}
	conn, err := dl.DialContext(c.ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// --- RDY ---

// updateRDYLocked is updateRDY of client-behaviour.md §3.
func (c *Consumer) updateRDYLocked(cc *consumerConn, count int64) error {
	if cc.closing {
		return ErrNotConnected
	}
	if count > cc.maxRdy {
		count = cc.maxRdy
	}
	room := c.maxInFlight - c.totalRdy + cc.rdy
	if room > 0 && room < count {
		count = room
	}
	if room <= 0 && count > 0 {
		if cc.rdy == 0 && cc.rdyRetry == nil {
			want := count
			cc.rdyRetry = time.AfterFunc(rdyRetryDelay, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				cc.rdyRetry = nil
				if c.conns[cc.addr] == cc && !c.stopping && c.backoffCounter == 0 && !c.backoffPending {
					c.updateRDYLocked(cc, want)
				}
			})
		}
		return ErrOverMaxInFlight
	}
	return c.sendRDYLocked(cc, count)
}

func (c *Consumer) sendRDYLocked(cc *consumerConn, count int64) error {
	if cc.rdyRetry != nil {
		cc.rdyRetry.Stop()
		cc.rdyRetry = nil
	}
	if count == cc.rdy {
		return nil
	}
	c.totalRdy += count - cc.rdy
	cc.rdy = count
	if count > 0 {
		cc.lastRdyAt = time.Now()
	}
	return cc.conn.enqueue(wire.Ready(int(count)))
}

func (c *Consumer) rdyLoop() {
	defer c.bgWG.Done()
	t := time.NewTicker(c.cfg.RDYRedistributeInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.redistributeRDY()
		case <-c.ctx.Done():
			return
		}
	}
}

// redistributeRDY is the low-RDY redistribution of §3: idle connections
// lose their RDY and the budget goes to randomly chosen connections,
// those without RDY first, so that none starves.
func (c *Consumer) redistributeRDY() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping || c.backoffPending {
		return
	}
	n := int64(len(c.conns))
	inBackoff := c.backoffCounter > 0
	if !(n > c.maxInFlight || (inBackoff && n > 1) || c.needRedist) {
		return
	}
	c.needRedist = false
	now := time.Now()
	var idle, zeroed, busy []*consumerConn
	for _, cc := range c.conns {
		if cc.closing {
			continue
		}
		if cc.rdy > 0 {
			lastMsg := time.Unix(0, cc.lastMsgAt.Load())
			if now.Sub(lastMsg) > c.cfg.LowRdyIdleTimeout || now.Sub(cc.lastRdyAt) > c.cfg.LowRdyTimeout {
				c.updateRDYLocked(cc, 0)
				zeroed = append(zeroed, cc)
			} else {
				busy = append(busy, cc)
			}
			continue
		}
		idle = append(idle, cc)
	}
	avail := c.maxInFlight - c.totalRdy
	if inBackoff {
		avail = 1 - c.totalRdy
	}
	shuffle(idle)
	shuffle(zeroed)
	shuffle(busy)
	for _, cc := range append(append(idle, zeroed...), busy...) {
		if avail <= 0 {
			break
		}
		avail--
		c.updateRDYLocked(cc, 1)
	}
}

func shuffle(s []*consumerConn) {
	rand.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// --- backoff ---

// signal feeds the backoff state machine of client-behaviour.md §5.
func (c *Consumer) signal(s backoffSignal) {
	if s == signalResume && !c.backoffActive.Load() {
		return // the common case: not in backoff, nothing to do
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping || c.backoffPending {
		return
	}
	changed := false
	switch s {
	case signalResume:
		if c.backoffCounter > 0 {
			c.backoffCounter--
			changed = true
		}
	case signalBackoff:
		if backoffDuration(c.cfg, c.backoffCounter+1) <= c.cfg.MaxBackoffDuration {
			c.backoffCounter++
			changed = true
		}
	}
	switch {
	case changed && c.backoffCounter == 0:
		c.log.Warnf("consumer %s/%s: exiting backoff, RDY %d per connection", c.topic, c.channel, c.perConnLocked())
		c.backoffActive.Store(false)
		c.applyTargetLocked()
	case c.backoffCounter > 0:
		d := min(backoffDuration(c.cfg, c.backoffCounter), c.cfg.MaxBackoffDuration)
		c.log.Warnf("consumer %s/%s: backing off for %s (level %d)", c.topic, c.channel, d, c.backoffCounter)
		for _, cc := range c.conns {
			c.updateRDYLocked(cc, 0)
		}
		c.backoffPending = true
		c.backoffActive.Store(true)
		c.backoffTimer = time.AfterFunc(d, c.backoffExpired)
	}
}

// backoffExpired "tests the waters": RDY 1 on one random connection (or a
// new try in 1 s), after which signals are processed again.
func (c *Consumer) backoffExpired() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return
	}
	var cands []*consumerConn
	for _, cc := range c.conns {
		if !cc.closing {
			cands = append(cands, cc)
		}
	}
	if len(cands) > 0 {
		cc := cands[rand.IntN(len(cands))]
		if err := c.updateRDYLocked(cc, 1); err == nil {
			c.backoffPending = false
			c.backoffActive.Store(c.backoffCounter > 0)
			return
		}
	}
	c.backoffTimer = time.AfterFunc(time.Second, c.backoffExpired)
}

// BackoffLevel is the current backoff counter (0: not in backoff).
func (c *Consumer) BackoffLevel() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backoffCounter
}

// --- handlers ---

func (c *Consumer) handlerLoop(h Handler) {
	defer c.handlerWG.Done()
	for {
		m, ok := c.queue.pop()
		if !ok {
			return
		}
		if c.cfg.MaxAttempts > 0 && int(m.Attempts) > c.cfg.MaxAttempts {
			c.log.Warnf("consumer %s/%s: message %s attempted %d > %d times, giving up", c.topic, c.channel, m.ID[:], m.Attempts, c.cfg.MaxAttempts)
			if l, ok := h.(FailedMessageLogger); ok {
				l.LogFailedMessage(m)
			}
			c.mu.Lock()
			hook := c.failedHook
			c.mu.Unlock()
			if hook != nil {
				hook(m)
			}
			m.Finish()
			continue
		}
		err := h.HandleMessage(m)
		if m.IsAutoResponseDisabled() {
			continue
		}
		if err != nil {
			c.log.Errorf("consumer %s/%s: handler returned error for message %s: %s", c.topic, c.channel, m.ID[:], err)
			m.Requeue(-1)
			continue
		}
		m.Finish()
	}
}

// --- stopping ---

// Stop stops gracefully: CLS on every connection; each closes once its
// in-flight messages are answered; then the handlers end and StopChan is
// closed. After stop_timeout the connections are closed regardless and
// StopChan no longer waits for stuck handlers. Stop does not block.
func (c *Consumer) Stop() {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return
	}
	c.stopping = true
	c.cancel()
	if c.backoffTimer != nil {
		c.backoffTimer.Stop()
	}
	conns := make([]*consumerConn, 0, len(c.conns))
	for _, cc := range c.conns {
		cc.closing = true
		if cc.rdyRetry != nil {
			cc.rdyRetry.Stop()
			cc.rdyRetry = nil
		}
		conns = append(conns, cc)
	}
	poller := c.poller
	c.maybeFinishStopLocked()
	c.stopTimer = time.AfterFunc(c.cfg.StopTimeout, c.forceStop)
	c.mu.Unlock()
	for _, cc := range conns {
		if err := cc.conn.enqueue(wire.StartClose()); err != nil {
			cc.conn.Close()
		}
	}
	go c.waitStopped(poller)
}

// forceStop closes every connection without waiting any longer.
func (c *Consumer) forceStop() {
	c.mu.Lock()
	conns := make([]*consumerConn, 0, len(c.conns))
	for _, cc := range c.conns {
		conns = append(conns, cc)
	}
	c.mu.Unlock()
	if len(conns) > 0 {
		c.log.Warnf("consumer %s/%s: stop timeout, closing %d connection(s)", c.topic, c.channel, len(conns))
	}
	close(c.forced)
	for _, cc := range conns {
		cc.conn.terminate(errors.New("stop timeout"))
	}
	c.queue.close()
}

// maybeFinishStopLocked closes the handlers' queue once stopping and no
// connection is left (or being made).
func (c *Consumer) maybeFinishStopLocked() {
	if c.stopping && !c.queueClosed && len(c.conns) == 0 && len(c.connecting) == 0 {
		c.queueClosed = true
		c.queue.close()
	}
}

func (c *Consumer) waitStopped(poller *lookupdPoller) {
	handlersDone := make(chan struct{})
	go func() {
		c.handlerWG.Wait()
		close(handlersDone)
	}()
	select {
	case <-handlersDone:
	case <-c.forced:
	}
	if poller != nil {
		poller.close()
	}
	c.bgWG.Wait()
	c.mu.Lock()
	conns := make([]*consumerConn, 0, len(c.conns))
	for _, cc := range c.conns {
		conns = append(conns, cc)
	}
	c.mu.Unlock()
	for _, cc := range conns {
		<-cc.conn.Done()
	}
	c.stopTimer.Stop()
	close(c.StopChan)
}

// --- one connection ---

// consumerConn is the consumer's side of one connection. The RDY fields
// are guarded by Consumer.mu.
type consumerConn struct {
	c          *Consumer
	conn       *Conn
	addr       string
	maxRdy     int64
	discovered bool // connected because lookupd listed it

	rdy       int64
	lastRdyAt time.Time
	rdyRetry  *time.Timer
	closing   bool

	inFlight  atomic.Int64
	lastMsgAt atomic.Int64
	closeWait atomic.Bool
}

// OnMessage queues a message for the handlers (implements ConnHandler).
func (cc *consumerConn) OnMessage(_ *Conn, data []byte) {
	m := decodeMessage(data)
	m.cc = cc
	m.NSQDAddress = cc.addr
	cc.inFlight.Add(1)
	cc.lastMsgAt.Store(time.Now().UnixNano())
	cc.c.received.Add(1)
	cc.c.queue.push(m)
}

// OnResponse handles CLOSE_WAIT (other responses, such as OK, are
// ignored).
func (cc *consumerConn) OnResponse(_ *Conn, data []byte) {
	if bytes.Equal(data, wire.CloseWait) {
		cc.closeWait.Store(true)
		cc.maybeClose()
	}
}

// OnError: non-fatal errors (E_FIN_FAILED …) were logged by the
// connection; after a fatal one nsqd closes the connection.
func (cc *consumerConn) OnError(*Conn, *wire.Error) {}

// OnClose tells the consumer.
func (cc *consumerConn) OnClose(_ *Conn, err error) { cc.c.connClosed(cc, err) }

// maybeClose closes the connection once nsqd acknowledged CLS and no
// message is in flight.
func (cc *consumerConn) maybeClose() {
	if cc.closeWait.Load() && cc.inFlight.Load() <= 0 {
		cc.conn.Close()
	}
}

func (cc *consumerConn) finish(m *Message) {
	if cc.conn.enqueue(wire.Finish(m.ID)) == nil {
		cc.c.finished.Add(1)
	}
	cc.inFlight.Add(-1)
	cc.c.signal(signalResume)
	cc.maybeClose()
}

func (cc *consumerConn) requeue(m *Message, delay time.Duration, backoff bool) {
	cfg := cc.c.cfg
	if delay < 0 {
		delay = cfg.DefaultRequeueDelay * time.Duration(m.Attempts)
		if delay > cfg.MaxRequeueDelay || delay < 0 {
			delay = cfg.MaxRequeueDelay
		}
	}
	if cc.conn.enqueue(wire.Requeue(m.ID, int64(delay/time.Millisecond))) == nil {
		cc.c.requeued.Add(1)
	}
	cc.inFlight.Add(-1)
	if backoff {
		cc.c.signal(signalBackoff)
	} else {
		cc.c.signal(signalContinue)
	}
	cc.maybeClose()
}

func (cc *consumerConn) touch(m *Message) {
	cc.conn.enqueue(wire.Touch(m.ID))
}

var _ ConnHandler = (*consumerConn)(nil)

// --- the handlers' queue ---

// msgQueue hands messages from the reader goroutines to the handlers
// without ever blocking a reader (so heartbeats are answered while every
// handler is busy). It is bounded by the RDY counts given to nsqd.
type msgQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []*Message
	head   int
	closed bool
	n      atomic.Int64 // len(buf) - head, readable without mu
}

func newMsgQueue() *msgQueue {
	q := &msgQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *msgQueue) push(m *Message) {
	q.mu.Lock()
	q.buf = append(q.buf, m)
	q.n.Add(1)
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a message; false once the queue is closed and drained.
func (q *msgQueue) pop() (*Message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.buf) {
		if q.closed {
			return nil, false
		}
		q.cond.Wait()
	}
	m := q.buf[q.head]
	q.buf[q.head] = nil
	q.head++
	q.n.Add(-1)
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.buf) {
		k := copy(q.buf, q.buf[q.head:])
		clear(q.buf[k:])
		q.buf, q.head = q.buf[:k], 0
	}
	return m, true
}

func (q *msgQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}
