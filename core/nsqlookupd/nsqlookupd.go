// Package nsqlookupd is the discovery daemon: registration database, TCP
// protocol V1, HTTP API.
//
// nsqd connect over TCP (protocol V1, tcp-protocol.md Part 2) to announce
// themselves and the topics and channels they have; consumers and tools
// ask the HTTP API (http-api.md §3) where a topic lives. Everything is in
// memory (daemon-behaviour.md §6).
//
// Differences from v1.3.0, on purpose: the IDENTIFY body is capped at
// wire.MaxV1BodySize (5 MiB) and a size above it or not above 0 is
// rejected with the fatal "E_BAD_BODY IDENTIFY invalid body size <n>"
// (v1.3.0 reads any size and crashes on a negative one); a command line
// longer than wire.MaxV1LineLength (16 KiB) closes the connection without
// a reply; the HTTP API takes "*" as a plain name, not as v1.3.0's
// accidental wildcard; lists are sorted rather than in map order.
package nsqlookupd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/tcpserver"
	"github.com/nsqkit/nsqkit/core/version"
)

// NSQLookupd is one discovery daemon.
//
// Long-lived goroutines, all started by Main and ended by Exit: the TCP
// accept loop, one goroutine per TCP connection (it owns its peer's
// registrations and removes them when the connection ends), and the HTTP
// server's Serve loop (net/http's request goroutines end with Shutdown).
// The database is shared by all of them behind its own lock.
type NSQLookupd struct {
	opts   *Options
	logger *logger.Logger
	db     *DB

	tcpListener  net.Listener
	httpListener net.Listener
	httpServer   *http.Server

	tcpConns tcpserver.Conns // nsqd connections and their handlers

	exitChan chan struct{} // closed when Exit starts
	exitOnce sync.Once
	done     chan struct{} // closed by Exit or a fatal serve error
	doneOnce sync.Once
	errMu    sync.Mutex
	fatalErr error

	bgMu     sync.Mutex // guards wg.Add against Exit's wg.Wait
	bgClosed bool
	wg       sync.WaitGroup
}

// New opens the TCP and HTTP listeners (port 0 picks a free port, see
// TCPAddr and HTTPAddr). Nothing is served until Main.
func New(opts *Options) (*NSQLookupd, error) {
	if opts.Logger == nil {
		opts.Logger = logger.New(opts.LogOutput, opts.LogPrefix, opts.LogLevel)
	}
	l := &NSQLookupd{
		opts:     opts,
		logger:   opts.Logger,
		db:       NewDB(),
		exitChan: make(chan struct{}),
		done:     make(chan struct{}),
	}
	l.logger.Infof("%s", version.String("nsqlookupd"))

	var err error
	l.tcpListener, err = net.Listen("tcp", opts.TCPAddress)
	if err != nil {
		return nil, fmt.Errorf("listen (%s) failed - %s", opts.TCPAddress, err)
	}
	l.httpListener, err = net.Listen("tcp", opts.HTTPAddress)
	if err != nil {
		l.tcpListener.Close()
		return nil, fmt.Errorf("listen (%s) failed - %s", opts.HTTPAddress, err)
	}
	l.httpServer = newHTTPServer(l)
	return l, nil
}

// TCPAddr is the TCP listener's address.
func (l *NSQLookupd) TCPAddr() *net.TCPAddr { return l.tcpListener.Addr().(*net.TCPAddr) }

// HTTPAddr is the HTTP listener's address.
func (l *NSQLookupd) HTTPAddr() *net.TCPAddr { return l.httpListener.Addr().(*net.TCPAddr) }

// DB is the registration database.
func (l *NSQLookupd) DB() *DB { return l.db }

// Options are the daemon's options (read-only for callers).
func (l *NSQLookupd) Options() *Options { return l.opts }

// Main serves until Exit is called (it then returns nil) or a listener
// fails (it returns the error; the caller then calls Exit).
func (l *NSQLookupd) Main() error {
	l.goBackground(func() {
		if err := l.serveTCP(); err != nil {
			l.fail(err)
		}
	})
	l.goBackground(func() {
		l.logger.Infof("HTTP: listening on %s", l.httpListener.Addr())
		err := l.httpServer.Serve(l.httpListener)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) && !l.exiting() {
			l.fail(fmt.Errorf("http.Serve() error - %w", err))
		}
		l.logger.Infof("HTTP: closing %s", l.httpListener.Addr())
	})
	<-l.done
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.fatalErr
}

func (l *NSQLookupd) fail(err error) {
	l.errMu.Lock()
	if l.fatalErr == nil {
		l.fatalErr = err
	}
	l.errMu.Unlock()
	l.doneOnce.Do(func() { close(l.done) })
}

// goBackground runs f on a goroutine Exit waits for; once Exit waits it
// runs nothing.
func (l *NSQLookupd) goBackground(f func()) {
	l.bgMu.Lock()
	defer l.bgMu.Unlock()
	if l.bgClosed {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

// Exit shuts down: the listeners and every nsqd connection close,
// requests being served get up to 2 s to finish, every goroutine ends.
// Nothing is persisted. It is safe to call more than once.
func (l *NSQLookupd) Exit() {
	first := false
	l.exitOnce.Do(func() { first = true; close(l.exitChan) })
	if !first {
		return
	}
	l.tcpListener.Close()
	l.tcpConns.CloseAll()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := l.httpServer.Shutdown(ctx); err != nil {
		l.httpServer.Close()
	}
	cancel()
	l.httpListener.Close()

	l.doneOnce.Do(func() { close(l.done) })
	l.bgMu.Lock()
	l.bgClosed = true
	l.bgMu.Unlock()
	l.wg.Wait()
	l.logger.Infof("LOOKUP: bye")
}

func (l *NSQLookupd) exiting() bool {
	select {
	case <-l.exitChan:
		return true
	default:
		return false
	}
}

// filter is the query filter of /lookup and /nodes as of now.
func (l *NSQLookupd) filter() Filter {
	return Filter{Now: time.Now(), InactiveTimeout: l.opts.InactiveProducerTimeout, TombstoneLifetime: l.opts.TombstoneLifetime}
}
