package nsqd

import (
	"io"
	"net"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// serveTCP accepts connections until the listener closes.
func (n *NSQD) serveTCP() error {
	n.logger.Infof("TCP: listening on %s", n.tcpListener.Addr())
	return n.tcpConns.Serve(n.tcpListener, n.handleConn)
}

// handleConn checks the magic and runs a V2 client.
func (n *NSQD) handleConn(conn net.Conn) {
	n.logger.Infof("TCP: new client(%s)", conn.RemoteAddr())
	var magic [4]byte
	// The original waits forever for the magic; we give a silent peer one
	// client timeout (60 s) before dropping it.
	conn.SetReadDeadline(time.Now().Add(n.opts.ClientTimeout))
	if _, err := io.ReadFull(conn, magic[:]); err != nil {
		conn.Close()
		return
	}
	if string(magic[:]) != string(wire.MagicV2) {
		n.logger.Errorf("client(%s) bad protocol magic '%s'", conn.RemoteAddr(), magic[:])
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		wire.WriteFrame(conn, wire.FrameTypeError, []byte(wire.ErrCodeBadProtocol))
		conn.Close()
		return
	}
	c := newClient(n.clientIDSeq.Add(1), conn, n)
	n.clientsMu.Lock()
	n.clients[c.id] = c
	n.clientsMu.Unlock()
	c.ioLoop()
	n.clientsMu.Lock()
	delete(n.clients, c.id)
	n.clientsMu.Unlock()
}
