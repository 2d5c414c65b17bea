package nsqd

import (
	"context"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/wire"
)

// precreateChannels asks every identified lookupd which channels the new
// topic has elsewhere in the cluster and creates them here, so a topic that
// appears on this node feeds channels consumers already use (§2.1).
func (n *NSQD) precreateChannels(t *Topic) {
	addrs, configured := n.identifiedLookupds()
	if !configured {
		return
	}
	if len(addrs) == 0 {
		n.logger.Errorf("no available nsqlookupd to query for channels to pre-create for new topic %s", t.name)
		return
	}
	client := lookup.NewClient(lookup.Options{
		ConnectTimeout: n.opts.HTTPClientConnectTimeout,
		RequestTimeout: n.opts.HTTPClientRequestTimeout,
	})
	defer client.Close()
	res, err := client.ChannelsAll(context.Background(), addrs, t.name)
	if err != nil {
		n.logger.Warnf("failed to query nsqlookupd for channels to pre-create for topic %s - %s", t.name, err)
		return
	}
	if perr := res.Partial.Err(); perr != nil {
		n.logger.Warnf("failed to query some nsqlookupd for channels of topic %s - %s", t.name, perr)
	}
	for _, name := range res.Channels {
		if wire.IsEphemeral(name) || !wire.IsValidChannelName(name) {
			continue
		}
		t.GetChannel(name)
	}
}
