package nsqd

// serveHTTP starts the HTTP and HTTPS servers; fail is called with a fatal
// listener error.
func (n *NSQD) serveHTTP(fail func(error)) {}

// shutdownHTTP closes the HTTP and HTTPS listeners and servers.
func (n *NSQD) shutdownHTTP() {
	if n.httpListener != nil {
		n.httpListener.Close()
	}
	if n.httpsListener != nil {
		n.httpsListener.Close()
	}
}
