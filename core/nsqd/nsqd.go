// Package nsqd is the broker: topics, channels, in-flight and deferred
// queues, the TCP and HTTP servers, metadata and lookupd registration.
package nsqd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nsqkit/nsqkit/core/diskqueue"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/tcpserver"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// NSQD is one broker.
//
// Long-lived goroutines, all started by Main and ended by Exit: the TCP
// accept loop (one goroutine per connection, each with a message pump once
// subscribed), the HTTP and HTTPS servers, the queue scanner, the statsd
// loop, and one pump per topic.
type NSQD struct {
	clientIDSeq atomic.Int64

	opts      *Options
	optsMu    sync.RWMutex // guards the run-time changeable options
	logger    *logger.Logger
	startTime time.Time
	dataPath  string
	dirLock   *os.File

	healthMu  sync.RWMutex
	healthErr error

	topicsMu sync.RWMutex
	topicMap map[string]*Topic

	clientsMu sync.RWMutex
	clients   map[int64]*client

	tcpListener   net.Listener
	httpListener  net.Listener
	httpsListener net.Listener
	tlsConfig     *tls.Config

	tcpConns tcpserver.Conns // TCP clients and their handlers

	metaMu sync.Mutex

	exitChan  chan struct{}
	exitOnce  sync.Once
	exited    chan struct{}
	wg        sync.WaitGroup // every goroutine the broker starts
	bgMu      sync.Mutex     // guards wg.Add against Exit's wg.Wait
	bgClosed  bool
	errMu     sync.Mutex
	fatalErr  error
	isLoading atomic.Bool

	lookup lookupPeers
}

// New validates opts, locks the data path, opens the listeners and loads
// the metadata. Nothing is served until Main.
func New(opts *Options) (*NSQD, error) {
	if opts.Logger == nil {
		opts.Logger = logger.New(opts.LogOutput, opts.LogPrefix, opts.LogLevel)
	}
	n := &NSQD{
		opts:      opts,
		logger:    opts.Logger,
		startTime: time.Now(),
		topicMap:  make(map[string]*Topic),
		clients:   make(map[int64]*client),
		exitChan:  make(chan struct{}),
		exited:    make(chan struct{}),
	}
	n.dataPath = opts.DataPath
	if n.dataPath == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		n.dataPath = cwd
	}
	n.logger.Infof("%s", strings.TrimPrefix(version.String("nsqd"), ""))
	n.logger.Infof("ID: %d", opts.NodeID)

	if err := n.lockDataPath(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			n.closeListeners()
			n.unlockDataPath()
		}
	}()
	if opts.MaxDeflateLevel < 1 || opts.MaxDeflateLevel > 9 {
		return nil, errors.New("--max-deflate-level must be [1,9]")
	}
	if opts.NodeID < 0 || opts.NodeID >= wire.MaxNodeID {
		return nil, errors.New("--node-id must be [0,1024)")
	}
	if opts.TLSClientAuthPolicy != "" && opts.TLSRequired == TLSNotRequired {
		opts.TLSRequired = TLSRequired
	}
	tlsConfig, err := buildTLSConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("failed to build TLS config - %s", err)
	}
	if tlsConfig == nil && opts.TLSRequired != TLSNotRequired {
		return nil, errors.New("cannot require TLS client connections without TLS key and cert")
	}
	n.tlsConfig = tlsConfig
	for _, p := range opts.E2EProcessingLatencyPercentiles {
		if p <= 0 || p > 1 {
			return nil, fmt.Errorf("invalid E2E processing latency percentile: %v", p)
		}
	}
	if opts.StatsdAddress != "" && opts.StatsdInterval <= time.Second {
		return nil, fmt.Errorf("--statsd-interval must be > 1s (got %s)", opts.StatsdInterval)
	}

	n.tcpListener, err = listen(opts.TCPAddress)
	if err != nil {
		return nil, fmt.Errorf("listen (%s) failed - %s", opts.TCPAddress, err)
	}
	if opts.HTTPAddress != "" {
		n.httpListener, err = listen(opts.HTTPAddress)
		if err != nil {
			return nil, fmt.Errorf("listen (%s) failed - %s", opts.HTTPAddress, err)
		}
	}
	if n.tlsConfig != nil && opts.HTTPSAddress != "" {
		n.httpsListener, err = net.Listen("tcp", opts.HTTPSAddress)
		if err != nil {
			return nil, fmt.Errorf("listen (%s) failed - %s", opts.HTTPSAddress, err)
		}
	}
	if opts.BroadcastTCPPort == 0 {
		opts.BroadcastTCPPort = portOf(n.tcpListener)
	}
	if opts.BroadcastHTTPPort == 0 && n.httpListener != nil {
		opts.BroadcastHTTPPort = portOf(n.httpListener)
	}
	if opts.StatsdPrefix != "" {
		hostKey := net.JoinHostPort(opts.BroadcastAddress, fmt.Sprint(opts.BroadcastHTTPPort))
		hostKey = strings.NewReplacer(".", "_", ":", "_").Replace(hostKey)
		p := strings.ReplaceAll(opts.StatsdPrefix, "%s", hostKey)
		if !strings.HasSuffix(p, ".") {
			p += "."
		}
		opts.StatsdPrefix = p
	}

	// temporary files a failed metadata write left behind (nothing writes
	// the queues yet)
	if k := diskqueue.RemoveStaleTemp(opts.DataPath, 0); k > 0 {
		n.logger.Infof("removed %d stale disk-queue temporary file(s)", k)
	}
	if err := n.LoadMetadata(); err != nil {
		return nil, fmt.Errorf("failed to load metadata - %s", err)
	}
	if err := n.PersistMetadata(); err != nil {
		return nil, fmt.Errorf("failed to persist metadata - %s", err)
	}
	ok = true
	return n, nil
}

func listen(addr string) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.Listen("unix", addr)
	}
	return net.Listen("tcp", addr)
}

func portOf(l net.Listener) int {
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return -1
}

// Options returns the broker's options (read-only for callers).
func (n *NSQD) Options() *Options { return n.opts }

// Logger is the broker's logger.
func (n *NSQD) Logger() *logger.Logger { return n.logger }

// TCPAddr is the TCP listener's address.
func (n *NSQD) TCPAddr() net.Addr { return n.tcpListener.Addr() }

// HTTPAddr is the HTTP listener's address (nil when disabled).
func (n *NSQD) HTTPAddr() net.Addr {
	if n.httpListener == nil {
		return nil
	}
	return n.httpListener.Addr()
}

// HTTPSAddr is the HTTPS listener's address (nil when disabled).
func (n *NSQD) HTTPSAddr() net.Addr {
	if n.httpsListener == nil {
		return nil
	}
	return n.httpsListener.Addr()
}

// StartTime is when the broker was created.
func (n *NSQD) StartTime() time.Time { return n.startTime }

func (n *NSQD) lockDataPath() error {
	f, err := os.Open(n.dataPath)
	if err != nil {
		return fmt.Errorf("failed to lock data-path: %s", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("failed to lock data-path: cannot flock directory %s - %s (possibly in use by another instance of nsqd)", n.dataPath, err)
	}
	n.dirLock = f
	return nil
}

func (n *NSQD) unlockDataPath() {
	if n.dirLock != nil {
		syscall.Flock(int(n.dirLock.Fd()), syscall.LOCK_UN)
		n.dirLock.Close()
		n.dirLock = nil
	}
}

func (n *NSQD) closeListeners() {
	for _, l := range []net.Listener{n.tcpListener, n.httpListener, n.httpsListener} {
		if l != nil {
			l.Close()
		}
	}
}

func (n *NSQD) queueOptions() diskqueue.Options {
	o := n.opts
	return diskqueue.Options{
		DataPath:        n.dataPath,
		MaxBytesPerFile: o.MaxBytesPerFile,
		MinMsgSize:      int32(wire.MsgHeaderLength),
		MaxMsgSize:      int32(o.MaxMsgSize) + int32(wire.MsgHeaderLength),
		SyncEvery:       o.SyncEvery,
		SyncTimeout:     o.SyncTimeout,
		Logf: func(level int, format string, args ...any) {
			n.logger.Logf(logger.Level(level), format, args...)
		},
	}
}

// Main serves until Exit is called or a listener fails; it returns the
// listener's error in the latter case (after which the caller calls Exit).
func (n *NSQD) Main() error {
	fail := func(err error) {
		n.errMu.Lock()
		if n.fatalErr == nil {
			n.fatalErr = err
		}
		n.errMu.Unlock()
		n.exitOnce.Do(func() { close(n.exited) })
	}
	n.goBackground(func() {
		if err := n.serveTCP(); err != nil {
			fail(err)
		}
	})
	n.serveHTTP(fail)
	n.goBackground(n.queueScanLoop)
	n.startLookupPeers()
	if n.opts.StatsdAddress != "" {
		n.goBackground(n.statsdLoop)
	}
	<-n.exited
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.fatalErr
}

// goBackground runs f on a goroutine that Exit waits for. Once Exit has
// started waiting it runs nothing and reports false.
func (n *NSQD) goBackground(f func()) bool {
	n.bgMu.Lock()
	defer n.bgMu.Unlock()
	if n.bgClosed {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// Exit shuts down gracefully: listeners and connections close, metadata
// is written, every queue is flushed to disk, every goroutine ends.
func (n *NSQD) Exit() {
	select {
	case <-n.exitChan:
		return
	default:
	}
	close(n.exitChan)
	if n.tcpListener != nil {
		n.tcpListener.Close()
	}
	n.tcpConns.CloseAll()
	n.shutdownHTTP()
	n.isLoading.Store(false)
	if err := n.PersistMetadata(); err != nil {
		n.logger.Errorf("failed to persist metadata - %s", err)
	}
	n.logger.Infof("NSQ: closing topics")
	n.topicsMu.Lock()
	for _, t := range n.topicMap {
		t.Close()
	}
	n.topicsMu.Unlock()
	n.exitOnce.Do(func() { close(n.exited) })
	n.bgMu.Lock()
	n.bgClosed = true
	n.bgMu.Unlock()
	n.wg.Wait()
	n.unlockDataPath()
	n.logger.Infof("NSQ: bye")
}

func (n *NSQD) exiting() bool {
	select {
	case <-n.exitChan:
		return true
	default:
		return false
	}
}

// setHealth records the result of a disk write.
func (n *NSQD) setHealth(err error) {
	n.healthMu.RLock()
	same := n.healthErr == nil && err == nil
	n.healthMu.RUnlock()
	if same {
		return
	}
	n.healthMu.Lock()
	recovered := n.healthErr != nil && err == nil
	n.healthErr = err
	n.healthMu.Unlock()
	if recovered {
		// go-diskqueue leaves its metadata temp file behind when writing
		// it fails (a full disk): clear those once writes work again
		n.goBackground(func() {
			// files of writes that failed before now are over a second
			// old then; a younger one may be a write in progress
			select {
			case <-time.After(time.Second):
			case <-n.exited:
				return
			}
			if k := diskqueue.RemoveStaleTemp(n.opts.DataPath, 500*time.Millisecond); k > 0 {
				n.logger.Infof("removed %d stale disk-queue temporary file(s) left by failed writes", k)
			}
		})
	}
}

// Health is "OK" or "NOK - <last disk error>".
func (n *NSQD) Health() string {
	n.healthMu.RLock()
	defer n.healthMu.RUnlock()
	if n.healthErr == nil {
		return "OK"
	}
	return "NOK - " + n.healthErr.Error()
}

// IsHealthy reports whether the last disk write succeeded.
func (n *NSQD) IsHealthy() bool {
	n.healthMu.RLock()
	defer n.healthMu.RUnlock()
	return n.healthErr == nil
}

// GetTopic returns the topic, creating and starting it if needed.
func (n *NSQD) GetTopic(name string) *Topic {
	n.topicsMu.RLock()
	t, ok := n.topicMap[name]
	n.topicsMu.RUnlock()
	if ok {
		return t
	}
	n.topicsMu.Lock()
	t, ok = n.topicMap[name]
	if ok {
		n.topicsMu.Unlock()
		return t
	}
	t = newTopic(name, n)
	n.topicMap[name] = t
	n.topicsMu.Unlock()
	n.logger.Infof("TOPIC(%s): created", name)
	if n.isLoading.Load() {
		return t
	}
	n.topicCreated(t)
	n.precreateChannels(t)
	t.Start()
	return t
}

// GetExistingTopic returns a topic that exists.
func (n *NSQD) GetExistingTopic(name string) (*Topic, error) {
	n.topicsMu.RLock()
	defer n.topicsMu.RUnlock()
	t, ok := n.topicMap[name]
	if !ok {
		return nil, errors.New("topic does not exist")
	}
	return t, nil
}

// Topics returns every topic sorted by name.
func (n *NSQD) Topics() []*Topic {
	n.topicsMu.RLock()
	out := make([]*Topic, 0, len(n.topicMap))
	for _, t := range n.topicMap {
		out = append(out, t)
	}
	n.topicsMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// DeleteExistingTopic deletes a topic with its channels and data.
func (n *NSQD) DeleteExistingTopic(name string) error {
	n.topicsMu.RLock()
	t, ok := n.topicMap[name]
	n.topicsMu.RUnlock()
	if !ok {
		return errors.New("topic does not exist")
	}
	n.deleteTopic(t)
	return nil
}

// deleteUnusedTopic deletes t, an ephemeral topic its last channel left,
// unless it gained a channel since or is no longer the topic of its name
// (deleted, perhaps created anew: the new one stays). A SUB that finds the
// topic as it is being deleted sees it exiting and tries again on a new
// one, as in 1.3.0.
func (n *NSQD) deleteUnusedTopic(t *Topic) {
	n.topicsMu.RLock()
	current := n.topicMap[t.name] == t
	n.topicsMu.RUnlock()
	if current && t.channelCount() == 0 {
		n.deleteTopic(t)
	}
}

// deleteTopic deletes t, then takes it out of the topic map (while it is
// being deleted, lookups still find it exiting rather than create a new
// one, so lookupd hears of the deletion before any new topic of the name).
func (n *NSQD) deleteTopic(t *Topic) {
	if err := t.Delete(); errors.Is(err, errExiting) {
		return // being deleted (or closed) already
	} else if err != nil {
		n.logger.Errorf("TOPIC(%s): deleting: %s", t.name, err)
	}
	n.topicsMu.Lock()
	if n.topicMap[t.name] == t {
		delete(n.topicMap, t.name)
	}
	n.topicsMu.Unlock()
	n.topicDeleted(t)
}

// Change notifications: metadata is rewritten and (later) lookupd told.
func (n *NSQD) topicCreated(t *Topic) {
	n.notify(t, true)
}

func (n *NSQD) topicDeleted(t *Topic) { n.notify(t, false) }

func (n *NSQD) channelCreated(t *Topic, c *Channel) { n.notify(c, true) }

func (n *NSQD) channelDeleted(t *Topic, c *Channel) { n.notify(c, false) }

// channelDeletedQuiet is for channels deleted along with their topic.
func (n *NSQD) channelDeletedQuiet(t *Topic, c *Channel) {}

func (n *NSQD) notify(v any, created bool) {
	if n.isLoading.Load() {
		return
	}
	ephemeral := false
	switch x := v.(type) {
	case *Topic:
		ephemeral = x.ephemeral
	case *Channel:
		ephemeral = x.ephemeral
	}
	n.notifyLookupPeers(v, created)
	if !ephemeral && !n.exiting() {
		if err := n.PersistMetadata(); err != nil {
			n.logger.Errorf("failed to persist metadata - %s", err)
		}
	}
}

// channels returns every channel of every topic.
func (n *NSQD) channels() []*Channel {
	var out []*Channel
	for _, t := range n.Topics() {
		out = append(out, t.Channels()...)
	}
	return out
}

// queueScanLoop returns timed-out in-flight messages and due deferred
// messages to their channel queues, every QueueScanInterval.
func (n *NSQD) queueScanLoop() {
	tick := time.NewTicker(n.opts.QueueScanInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-n.exited:
			return
		}
		now := monoNow()
		for _, c := range n.channels() {
			c.processInFlight(now)
			c.processDeferred(now)
		}
	}
}

func (n *NSQD) metadataFile() string { return filepath.Join(n.dataPath, "nsqd.dat") }
