// Package tcpserver accepts a daemon's TCP connections, one handler
// goroutine each, and tracks them so shutdown can close every connection
// and wait for every handler.
package tcpserver

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Conns is the set of open connections of one listener. The zero value is
// ready to use.
type Conns struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Serve accepts on l until l is closed or CloseAll was called, running
// handle on its own goroutine for each connection. It returns nil on a
// normal stop and the error of a listener that failed otherwise.
func (s *Conns) Serve(l net.Listener, handle func(net.Conn)) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("listener.Accept() error - %w", err)
		}
		if !s.add(conn) {
			conn.Close()
			continue
		}
		go func() {
			defer s.remove(conn)
			handle(conn)
		}()
	}
}

// CloseAll refuses new connections, closes every open one and waits until
// every handler has returned.
func (s *Conns) CloseAll() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Wait blocks until every handler started so far has returned.
func (s *Conns) Wait() { s.wg.Wait() }

func (s *Conns) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Conns) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[net.Conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Conns) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}
