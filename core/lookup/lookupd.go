package lookup

import (
	"context"
	"net/http"
	"net/url"
)

// Lookup asks lookupd which nsqd produce topic and which channels it has.
// A topic lookupd does not know is an error matching [ErrTopicNotFound].
func (c *Client) Lookup(ctx context.Context, lookupdAddr, topic string) (*LookupResponse, error) {
	var r LookupResponse
	err := c.do(ctx, request{method: http.MethodGet, addr: lookupdAddr, path: "/lookup", query: url.Values{"topic": {topic}}}, &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Topics lists every topic lookupd knows.
func (c *Client) Topics(ctx context.Context, lookupdAddr string) ([]string, error) {
	var r struct {
		Topics []string `json:"topics"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, addr: lookupdAddr, path: "/topics"}, &r); err != nil {
		return nil, err
	}
	return r.Topics, nil
}

// Channels lists the channels lookupd knows for topic (none for an unknown
// topic: lookupd does not answer 404 here).
func (c *Client) Channels(ctx context.Context, lookupdAddr, topic string) ([]string, error) {
	var r struct {
		Channels []string `json:"channels"`
	}
	err := c.do(ctx, request{method: http.MethodGet, addr: lookupdAddr, path: "/channels", query: url.Values{"topic": {topic}}}, &r)
	if err != nil {
		return nil, err
	}
	return r.Channels, nil
}

// Nodes lists the live nsqd registered with lookupd.
func (c *Client) Nodes(ctx context.Context, lookupdAddr string) ([]Node, error) {
	var r struct {
		Producers []Node `json:"producers"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, addr: lookupdAddr, path: "/nodes"}, &r); err != nil {
		return nil, err
	}
	return r.Producers, nil
}

// Info is lookupd's /info (its version).
func (c *Client) Info(ctx context.Context, lookupdAddr string) (*LookupdInfo, error) {
	var r LookupdInfo
	if err := c.do(ctx, request{method: http.MethodGet, addr: lookupdAddr, path: "/info"}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Ping checks /ping of nsqd or lookupd. An unhealthy nsqd answers 500
// "NOK - <reason>", returned as an [*HTTPError] with that message.
func (c *Client) Ping(ctx context.Context, addr string) error {
	return c.do(ctx, request{method: http.MethodGet, addr: addr, path: "/ping"}, nil)
}

// CreateTopic creates topic on lookupd or nsqd (the path is the same).
func (c *Client) CreateTopic(ctx context.Context, addr, topic string) error {
	return c.post(ctx, addr, "/topic/create", topic, "")
}

// DeleteTopic deletes topic on lookupd or nsqd. nsqd answers
// [ErrTopicNotFound] for an unknown topic; lookupd succeeds anyway.
func (c *Client) DeleteTopic(ctx context.Context, addr, topic string) error {
	return c.post(ctx, addr, "/topic/delete", topic, "")
}

// CreateChannel creates topic's channel on lookupd or nsqd.
func (c *Client) CreateChannel(ctx context.Context, addr, topic, channel string) error {
	return c.post(ctx, addr, "/channel/create", topic, channel)
}

// DeleteChannel deletes topic's channel on lookupd or nsqd
// ([ErrChannelNotFound] if it does not exist).
func (c *Client) DeleteChannel(ctx context.Context, addr, topic, channel string) error {
	return c.post(ctx, addr, "/channel/delete", topic, channel)
}

// TombstoneTopicProducer tells lookupd to stop listing node as a producer
// of topic for its tombstone lifetime. node is "broadcast_address:http_port"
// ([Producer.HTTPAddress]).
func (c *Client) TombstoneTopicProducer(ctx context.Context, lookupdAddr, topic, node string) error {
	q := url.Values{"topic": {topic}, "node": {node}}
	return c.do(ctx, request{method: http.MethodPost, addr: lookupdAddr, path: "/topic/tombstone", query: q}, nil)
}

// post runs an admin action: POST path?topic=…[&channel=…], empty body.
func (c *Client) post(ctx context.Context, addr, path, topic, channel string) error {
	q := url.Values{"topic": {topic}}
	if channel != "" {
		q.Set("channel", channel)
	}
	return c.do(ctx, request{method: http.MethodPost, addr: addr, path: path, query: q}, nil)
}
