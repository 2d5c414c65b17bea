package nsqd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

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
	client := &http.Client{
		Timeout: n.opts.HTTPClientRequestTimeout,
		Transport: &http.Transport{
			DialContext:       (&net.Dialer{Timeout: n.opts.HTTPClientConnectTimeout}).DialContext,
			DisableKeepAlives: true,
		},
	}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	names := map[string]bool{}
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chans, err := lookupdChannels(client, addr, t.name)
			if err != nil {
				n.logger.Warnf("failed to query nsqlookupd %s for channels to pre-create for topic %s - %s", addr, t.name, err)
				return
			}
			mu.Lock()
			for _, c := range chans {
				names[c] = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for name := range names {
		if wire.IsEphemeral(name) || !wire.IsValidChannelName(name) {
			continue
		}
		t.GetChannel(name)
	}
}

// lookupdChannels is GET /channels?topic= on one lookupd; it accepts the
// v1 format and the legacy "data" envelope.
func lookupdChannels(client *http.Client, addr, topic string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), client.Timeout+time.Second)
	defer cancel()
	u := "http://" + addr + "/channels?topic=" + url.QueryEscape(topic)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.nsq; version=1.0")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d: %s", u, resp.StatusCode, body)
	}
	var r struct {
		Channels []string `json:"channels"`
		Data     *struct {
			Channels []string `json:"channels"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if r.Data != nil {
		return r.Data.Channels, nil
	}
	return r.Channels, nil
}
