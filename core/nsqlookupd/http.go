package nsqlookupd

import (
	"net/http"
	"net/url"
	"time"

	"github.com/nsqkit/nsqkit/core/httpapi"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// The HTTP API of http-api.md §3: every endpoint V1 except /ping.

func newHTTPServer(l *NSQLookupd) *http.Server {
	s := &httpHandler{l: l}
	rt := &httpapi.Router{}
	rt.Add("GET", "/ping", httpapi.PlainText(s.ping))
	rt.Add("GET", "/info", httpapi.V1(s.info))

	rt.Add("GET", "/debug", httpapi.V1(s.debug))
	rt.Add("GET", "/lookup", httpapi.V1(s.lookup))
	rt.Add("GET", "/topics", httpapi.V1(s.topics))
	rt.Add("GET", "/channels", httpapi.V1(s.channels))
	rt.Add("GET", "/nodes", httpapi.V1(s.nodes))

	rt.Add("POST", "/topic/create", httpapi.V1(s.topicCreate))
	rt.Add("POST", "/topic/delete", httpapi.V1(s.topicDelete))
	rt.Add("POST", "/channel/create", httpapi.V1(s.channelCreate))
	rt.Add("POST", "/channel/delete", httpapi.V1(s.channelDelete))
	rt.Add("POST", "/topic/tombstone", httpapi.V1(s.topicTombstone))

	rt.AddPprof("/debug/pprof")
	return httpapi.NewServer(httpapi.Logged(l.logger, rt), l.logger)
}

type httpHandler struct{ l *NSQLookupd }

func missing(what string) error { return httpapi.Err(http.StatusBadRequest, "MISSING_ARG_"+what) }

// topicParam parses the query and returns it with the topic parameter
// (present, possibly empty, not validated).
func topicParam(r *http.Request) (url.Values, string, error) {
	params, err := httpapi.QueryParams(r)
	if err != nil {
		return nil, "", err
	}
	topic, ok := httpapi.First(params, "topic")
	if !ok {
		return nil, "", missing("TOPIC")
	}
	return params, topic, nil
}

// topicChannelParams returns a valid topic and channel, checked in the
// order MISSING_ARG_TOPIC, INVALID_ARG_TOPIC, MISSING_ARG_CHANNEL,
// INVALID_ARG_CHANNEL.
func topicChannelParams(r *http.Request) (string, string, error) {
	params, topic, err := topicParam(r)
	if err != nil {
		return "", "", err
	}
	if !wire.IsValidTopicName(topic) {
		return "", "", httpapi.Err(http.StatusBadRequest, "INVALID_ARG_TOPIC")
	}
	channel, ok := httpapi.First(params, "channel")
	if !ok {
		return "", "", missing("CHANNEL")
	}
	if !wire.IsValidChannelName(channel) {
		return "", "", httpapi.Err(http.StatusBadRequest, "INVALID_ARG_CHANNEL")
	}
	return topic, channel, nil
}

func (s *httpHandler) ping(http.ResponseWriter, *http.Request, string) (any, error) {
	return "OK", nil
}

func (s *httpHandler) info(http.ResponseWriter, *http.Request, string) (any, error) {
	return struct {
		Version string `json:"version"`
	}{version.Reported}, nil
}

func (s *httpHandler) debug(http.ResponseWriter, *http.Request, string) (any, error) {
	return s.l.db.Dump(), nil
}

func (s *httpHandler) lookup(_ http.ResponseWriter, r *http.Request, _ string) (any, error) {
	_, topic, err := topicParam(r)
	if err != nil {
		return nil, err
	}
	channels, producers, ok := s.l.db.Lookup(topic, s.l.filter())
	if !ok {
		return nil, httpapi.Err(http.StatusNotFound, "TOPIC_NOT_FOUND")
	}
	return struct {
		Channels  []string   `json:"channels"`
		Producers []PeerInfo `json:"producers"`
	}{channels, producers}, nil
}

func (s *httpHandler) topics(http.ResponseWriter, *http.Request, string) (any, error) {
	return struct {
		Topics []string `json:"topics"`
	}{s.l.db.Topics()}, nil
}

func (s *httpHandler) channels(_ http.ResponseWriter, r *http.Request, _ string) (any, error) {
	_, topic, err := topicParam(r)
	if err != nil {
		return nil, err
	}
	return struct {
		Channels []string `json:"channels"`
	}{s.l.db.Channels(topic)}, nil
}

func (s *httpHandler) nodes(http.ResponseWriter, *http.Request, string) (any, error) {
	return struct {
		Producers []Node `json:"producers"`
	}{s.l.db.Nodes(s.l.filter())}, nil
}

func (s *httpHandler) topicCreate(_ http.ResponseWriter, r *http.Request, _ string) (any, error) {
	_, topic, err := topicParam(r)
	if err != nil {
		return nil, err
	}
	if !wire.IsValidTopicName(topic) {
		return nil, httpapi.Err(http.StatusBadRequest, "INVALID_ARG_TOPIC")
	}
	s.l.logger.Infof("DB: adding topic(%s)", topic)
	s.l.db.CreateTopic(topic)
	return nil, nil
}

func (s *httpHandler) topicDelete(_ http.ResponseWriter, r *http.Request, _ string) (any, error) {
	_, topic, err := topicParam(r)
	if err != nil {
		return nil, err
	}
	for _, k := range s.l.db.DeleteTopic(topic) {
		if k.Category == CategoryChannel {
			s.l.logger.Infof("DB: removing channel(%s) from topic(%s)", k.SubKey, topic)
		} else {
			s.l.logger.Infof("DB: removing topic(%s)", topic)
		}
	}
	return nil, nil
}

func (s *httpHandler) channelCreate(_ http.ResponseWriter, r *http.Request, _ string) (any, error) {
	topic, channel, err := topicChannelParams(r)
	if err != nil {
		return nil, err
	}
	s.l.logger.Infof("DB: adding channel(%s) in topic(%s)", channel, topic)
	s.l.db.CreateChannel(topic, channel)
	return nil, nil
}

func (s *httpHandler) channelDelete(_ http.ResponseWriter, r *http.Request, _ string) (any, error) {
	topic, channel, err := topicChannelParams(r)
	if err != nil {
		return nil, err
	}
	if !s.l.db.DeleteChannel(topic, channel) {
		return nil, httpapi.Err(http.StatusNotFound, "CHANNEL_NOT_FOUND")
	}
	s.l.logger.Infof("DB: removing channel(%s) from topic(%s)", channel, topic)
	return nil, nil
}

func (s *httpHandler) topicTombstone(_ http.ResponseWriter, r *http.Request, _ string) (any, error) {
	params, topic, err := topicParam(r)
	if err != nil {
		return nil, err
	}
	node, ok := httpapi.First(params, "node")
	if !ok {
		return nil, missing("NODE")
	}
	s.l.logger.Infof("DB: setting tombstone for producer@%s of topic(%s)", node, topic)
	s.l.db.Tombstone(topic, node, time.Now())
	return nil, nil
}
