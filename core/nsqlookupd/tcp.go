package nsqlookupd

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// serveTCP accepts nsqd connections until the listener closes.
func (l *NSQLookupd) serveTCP() error {
	l.logger.Infof("TCP: listening on %s", l.tcpListener.Addr())
	defer l.logger.Infof("TCP: closing %s", l.tcpListener.Addr())
	return l.tcpConns.Serve(l.tcpListener, l.handleConn)
}

// v1Conn is one connection speaking protocol V1; its peer is set by
// IDENTIFY.
type v1Conn struct {
	conn net.Conn
	addr string // remote ip:port, the peer id
	r    *wire.V1Reader
	peer *Peer
	out  []byte
}

// handleConn checks the magic, runs the V1 command loop and, when the
// connection ends, removes the peer from every registration.
func (l *NSQLookupd) handleConn(conn net.Conn) {
	defer conn.Close()
	c := &v1Conn{conn: conn, addr: conn.RemoteAddr().String()}
	l.logger.Infof("TCP: new client(%s)", c.addr)
	var magic [4]byte
	l.readDeadline(conn)
	if _, err := io.ReadFull(conn, magic[:]); err != nil {
		l.logger.Errorf("failed to read protocol version - %s", err)
		return
	}
	l.logger.Infof("CLIENT(%s): desired protocol magic '%s'", c.addr, magic[:])
	if string(magic[:]) != string(wire.MagicV1) {
		l.logger.Errorf("client(%s) bad protocol magic '%s'", c.addr, magic[:])
		c.send([]byte(wire.ErrCodeBadProtocol))
		return
	}
	c.r = wire.NewV1Reader(conn)
	l.ioLoop(c)
	l.logger.Infof("PROTOCOL(V1): [%s] exiting ioloop", c.addr)
	if c.peer != nil {
		for _, r := range l.db.RemovePeer(c.peer) {
			l.logger.Infof("DB: client(%s) UNREGISTER %s", c.addr, r)
		}
	}
}

// readDeadline gives the peer ClientTimeout for what it sends next (the
// magic, or a command with its body).
func (l *NSQLookupd) readDeadline(conn net.Conn) {
	if d := l.opts.ClientTimeout; d > 0 {
		conn.SetReadDeadline(time.Now().Add(d))
	}
}

// send writes one reply [u32 size][data].
func (c *v1Conn) send(data []byte) error {
	c.out = wire.AppendV1Response(c.out[:0], data)
	_, err := c.conn.Write(c.out)
	return err
}

// ioLoop answers commands until the peer goes, an I/O error or a
// protocol error (every one is fatal: replied, then the connection
// closes).
func (l *NSQLookupd) ioLoop(c *v1Conn) {
	for {
		l.readDeadline(c.conn)
		params, err := c.r.ReadCommand()
		if err != nil {
			if errors.Is(err, wire.ErrLineTooLong) {
				l.logger.Errorf("[%s] - command line longer than %d bytes", c.addr, wire.MaxV1LineLength)
			}
			return
		}
		resp, err := l.exec(c, params)
		if err != nil {
			l.logger.Errorf("[%s] - %s", c.addr, err)
			c.send([]byte(err.Error()))
			return
		}
		if err := c.send(resp); err != nil {
			return
		}
	}
}

func (l *NSQLookupd) exec(c *v1Conn, params []string) ([]byte, error) {
	switch params[0] {
	case "PING":
		return l.ping(c), nil
	case "IDENTIFY":
		return l.identify(c)
	case "REGISTER":
		return l.register(c, params[1:])
	case "UNREGISTER":
		return l.unregister(c, params[1:])
	}
	return nil, wire.Fatal(wire.ErrCodeInvalid, "invalid command "+params[0])
}

func (l *NSQLookupd) ping(c *v1Conn) []byte {
	if c.peer != nil {
		now := time.Now()
		l.logger.Infof("CLIENT(%s): pinged (last ping %s)", c.addr, now.Sub(c.peer.LastUpdate()))
		c.peer.Touch(now)
	}
	return wire.OK
}

func (l *NSQLookupd) identify(c *v1Conn) ([]byte, error) {
	if c.peer != nil {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "cannot IDENTIFY again")
	}
	body, err := c.r.ReadBody("IDENTIFY", wire.MaxV1BodySize)
	if err != nil {
		return nil, err
	}
	id, err := wire.ParseLookupdIdentify(body)
	if err != nil {
		return nil, err
	}
	c.peer = NewPeer(c.addr, PeerInfo{
		RemoteAddress:    c.addr,
		Hostname:         id.Hostname,
		BroadcastAddress: id.BroadcastAddress,
		TCPPort:          id.TCPPort,
		HTTPPort:         id.HTTPPort,
		Version:          id.Version,
	}, time.Now())
	l.logger.Infof("CLIENT(%s): IDENTIFY Address:%s TCP:%d HTTP:%d Version:%s",
		c.addr, id.BroadcastAddress, id.TCPPort, id.HTTPPort, id.Version)
	if l.db.AddPeer(c.peer) {
		l.logger.Infof("DB: client(%s) REGISTER %s", c.addr, clientKey)
	}
	hostname, err := os.Hostname()
	if err != nil {
		l.logger.Errorf("unable to get hostname - %s", err)
	}
	return json.Marshal(wire.LookupdIdentifyResponse{
		BroadcastAddress: l.opts.BroadcastAddress,
		Hostname:         hostname,
		HTTPPort:         l.HTTPAddr().Port,
		TCPPort:          l.TCPAddr().Port,
		Version:          version.Reported,
	})
}

func (l *NSQLookupd) register(c *v1Conn, args []string) ([]byte, error) {
	if c.peer == nil {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "client must IDENTIFY")
	}
	topic, channel, err := wire.ParseV1TopicChannel("REGISTER", args)
	if err != nil {
		return nil, err
	}
	for _, r := range l.db.Register(c.peer, topic, channel) {
		l.logger.Infof("DB: client(%s) REGISTER %s", c.addr, r)
	}
	return wire.OK, nil
}

func (l *NSQLookupd) unregister(c *v1Conn, args []string) ([]byte, error) {
	if c.peer == nil {
		return nil, wire.Fatal(wire.ErrCodeInvalid, "client must IDENTIFY")
	}
	topic, channel, err := wire.ParseV1TopicChannel("UNREGISTER", args)
	if err != nil {
		return nil, err
	}
	for _, r := range l.db.Unregister(c.peer, topic, channel) {
		if channel == "" && r.Category == CategoryChannel {
			// nsqd unregisters its channels before their topic
			l.logger.Warnf("client(%s) unexpected UNREGISTER %s", c.addr, r)
			continue
		}
		l.logger.Infof("DB: client(%s) UNREGISTER %s", c.addr, r)
	}
	return wire.OK, nil
}
