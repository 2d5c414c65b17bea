package lookup

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Stats fetches nsqd's /stats in JSON. A topic filter naming an unknown
// topic gives stats with no topics (nsqd's "topics":null).
func (c *Client) Stats(ctx context.Context, nsqdAddr string, q StatsQuery) (*NodeStats, error) {
	v := url.Values{
		"format":          {"json"},
		"include_clients": {strconv.FormatBool(q.IncludeClients)},
		"include_mem":     {strconv.FormatBool(q.IncludeMem)},
	}
	if q.Topic != "" {
		v.Set("topic", q.Topic)
	}
	if q.Channel != "" {
		v.Set("channel", q.Channel)
	}
	var r NodeStats
	if err := c.do(ctx, request{method: http.MethodGet, addr: nsqdAddr, path: "/stats", query: v}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// NodeInfo is nsqd's /info.
func (c *Client) NodeInfo(ctx context.Context, nsqdAddr string) (*NodeInfo, error) {
	var r NodeInfo
	if err := c.do(ctx, request{method: http.MethodGet, addr: nsqdAddr, path: "/info"}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// EmptyTopic discards the messages queued at topic level on nsqd.
func (c *Client) EmptyTopic(ctx context.Context, nsqdAddr, topic string) error {
	return c.post(ctx, nsqdAddr, "/topic/empty", topic, "")
}

// PauseTopic stops nsqd moving topic's messages to its channels.
func (c *Client) PauseTopic(ctx context.Context, nsqdAddr, topic string) error {
	return c.post(ctx, nsqdAddr, "/topic/pause", topic, "")
}

// UnpauseTopic resumes a paused topic on nsqd.
func (c *Client) UnpauseTopic(ctx context.Context, nsqdAddr, topic string) error {
	return c.post(ctx, nsqdAddr, "/topic/unpause", topic, "")
}

// EmptyChannel discards a channel's queued, in-flight and deferred messages.
func (c *Client) EmptyChannel(ctx context.Context, nsqdAddr, topic, channel string) error {
	return c.post(ctx, nsqdAddr, "/channel/empty", topic, channel)
}

// PauseChannel stops delivery to the channel's subscribers on nsqd.
func (c *Client) PauseChannel(ctx context.Context, nsqdAddr, topic, channel string) error {
	return c.post(ctx, nsqdAddr, "/channel/pause", topic, channel)
}

// UnpauseChannel resumes a paused channel on nsqd.
func (c *Client) UnpauseChannel(ctx context.Context, nsqdAddr, topic, channel string) error {
	return c.post(ctx, nsqdAddr, "/channel/unpause", topic, channel)
}

// Publish publishes one message to topic over nsqd's HTTP /pub.
func (c *Client) Publish(ctx context.Context, nsqdAddr, topic string, body []byte) error {
	return c.publish(ctx, nsqdAddr, topic, body, -1)
}

// DeferredPublish publishes one message that nsqd delivers after delay
// (millisecond resolution).
func (c *Client) DeferredPublish(ctx context.Context, nsqdAddr, topic string, body []byte, delay time.Duration) error {
	if delay < 0 {
		return errors.New("negative defer")
	}
	return c.publish(ctx, nsqdAddr, topic, body, delay.Milliseconds())
}

func (c *Client) publish(ctx context.Context, nsqdAddr, topic string, body []byte, deferMS int64) error {
	q := url.Values{"topic": {topic}}
	if deferMS >= 0 {
		q.Set("defer", strconv.FormatInt(deferMS, 10))
	}
	if body == nil {
		body = []byte{}
	}
	return c.do(ctx, request{method: http.MethodPost, addr: nsqdAddr, path: "/pub", query: q, body: body}, nil)
}

// MultiPublish publishes several messages at once over nsqd's /mpub in
// binary mode (bodies may contain newlines).
func (c *Client) MultiPublish(ctx context.Context, nsqdAddr, topic string, bodies [][]byte) error {
	q := url.Values{"topic": {topic}, "binary": {"true"}}
	return c.do(ctx, request{method: http.MethodPost, addr: nsqdAddr, path: "/mpub", query: q, body: wire.EncodeMPUBBody(bodies)}, nil)
}
