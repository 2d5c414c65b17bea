package nsqd

func (n *NSQD) statsdLoop() { <-n.exited }
