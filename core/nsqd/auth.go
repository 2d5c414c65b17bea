package nsqd

import "github.com/nsqkit/nsqkit/core/wire"

// authState is a connection's cached answer from the auth server.
type authState struct{}

func (n *NSQD) authEnabled() bool { return len(n.opts.AuthHTTPAddresses) > 0 }

// checkAuth is the authorisation gate of SUB/PUB/MPUB/DPUB.
func (c *client) checkAuth(cmd, topic, channel string) error {
	if !c.nsqd.authEnabled() {
		return nil
	}
	return wire.Fatal(wire.ErrCodeAuthFirst, "AUTH required before "+cmd)
}

func (c *client) authCmd(params [][]byte) ([]byte, error) {
	return nil, wire.Fatal(wire.ErrCodeAuthDisabled, "AUTH disabled")
}
