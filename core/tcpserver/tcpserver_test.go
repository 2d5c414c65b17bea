package tcpserver

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestServeAndCloseAll(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var s Conns
	served := make(chan error, 1)
	started := make(chan struct{}, 3)
	go func() {
		served <- s.Serve(l, func(c net.Conn) {
			started <- struct{}{}
			buf := make([]byte, 1)
			c.Read(buf) // blocks until CloseAll closes the connection
		})
	}()
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		select {
		case <-started:
		case <-time.After(2 * time.Second):
			t.Fatal("handler not started")
		}
	}
	done := make(chan struct{})
	go func() { s.CloseAll(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("CloseAll did not close the connections")
	}
	l.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve after close: %v", err)
	}
	// a connection accepted after CloseAll is refused
	if s.add(clients[0]) {
		t.Fatal("add after CloseAll succeeded")
	}
}
