package cluster

// HistorySizes reports how many entities of each kind the poller keeps
// history for (tests check that vanished ones are dropped).
func (p *Poller) HistorySizes() map[string]int {
	im := p.impl
	return map[string]int{
		"nodes":       len(im.nodes),
		"node_topics": len(im.nodeTopics),
		"node_chans":  len(im.nodeChans),
		"topics":      len(im.topics),
		"channels":    len(im.chans),
		"clients":     len(im.clients),
	}
}

// EffectiveOptions is the Poller's options with defaults filled in.
func (p *Poller) EffectiveOptions() Options { return p.opts }
