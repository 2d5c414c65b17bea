package nsqd

import (
	"net/http"
	"strconv"

	"github.com/nsqkit/nsqkit/core/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetricsHandler serves GET /metrics in the Prometheus exposition
// format from a registry of its own: the broker's topics and channels
// (from GetStats, without per-client series), plus the Go runtime and
// process collectors.
func newMetricsHandler(n *NSQD) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStatsCollector(n))
	reg.MustRegister(collectors.NewGoCollector())
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{n},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

type promLogger struct{ n *NSQD }

func (l promLogger) Println(v ...any) { l.n.logger.Errorf("METRICS: %v", v) }

// statsCollector turns one GetStats snapshot per scrape into metrics.
type statsCollector struct {
	n *NSQD

	healthy, startTime, info *prometheus.Desc

	topicDepth, topicBackendDepth, topicMessages, topicBytes, topicPaused, topicChannels *prometheus.Desc
	topicLatency, topicLatencyCount                                                      *prometheus.Desc

	chDepth, chBackendDepth, chInFlight, chDeferred, chMessages, chRequeued, chTimedOut *prometheus.Desc
	chClients, chPaused, chLatency, chLatencyCount                                      *prometheus.Desc
}

func newStatsCollector(n *NSQD) *statsCollector {
	t := []string{"topic"}
	tc := []string{"topic", "channel"}
	d := prometheus.NewDesc
	return &statsCollector{
		n:         n,
		healthy:   d("nsq_healthy", "1 when the last disk-queue write succeeded (see /ping), else 0.", nil, nil),
		startTime: d("nsq_start_time_seconds", "Start time of nsqd, Unix seconds.", nil, nil),
		info:      d("nsq_info", "Constant 1, labelled with the reported version.", []string{"version"}, nil),

		topicDepth:        d("nsq_topic_depth", "Messages queued at topic level (memory + disk).", t, nil),
		topicBackendDepth: d("nsq_topic_backend_depth", "Messages queued at topic level on disk.", t, nil),
		topicMessages:     d("nsq_topic_messages_total", "Messages accepted by the topic since start.", t, nil),
		topicBytes:        d("nsq_topic_message_bytes_total", "Body bytes of the messages accepted by the topic since start.", t, nil),
		topicPaused:       d("nsq_topic_paused", "1 when the topic is paused.", t, nil),
		topicChannels:     d("nsq_topic_channels", "Number of channels of the topic.", t, nil),
		topicLatency: d("nsq_topic_e2e_processing_latency_seconds",
			"End-to-end processing latency (publish to FIN) over the sliding window, merged over the topic's channels.",
			[]string{"topic", "quantile"}, nil),
		topicLatencyCount: d("nsq_topic_e2e_processing_latency_samples",
			"FINs counted in the topic's e2e latency window.", t, nil),

		chDepth:        d("nsq_channel_depth", "Messages waiting in the channel (memory + disk), excluding in-flight and deferred.", tc, nil),
		chBackendDepth: d("nsq_channel_backend_depth", "Messages waiting in the channel on disk.", tc, nil),
		chInFlight:     d("nsq_channel_in_flight", "Messages delivered and not yet finished, requeued or timed out.", tc, nil),
		chDeferred:     d("nsq_channel_deferred", "Messages waiting for a defer or requeue delay.", tc, nil),
		chMessages:     d("nsq_channel_messages_total", "Messages the channel received from its topic since start.", tc, nil),
		chRequeued:     d("nsq_channel_requeued_total", "REQs since start.", tc, nil),
		chTimedOut:     d("nsq_channel_timed_out_total", "In-flight timeouts since start.", tc, nil),
		chClients:      d("nsq_channel_clients", "Subscribed connections.", tc, nil),
		chPaused:       d("nsq_channel_paused", "1 when the channel is paused.", tc, nil),
		chLatency: d("nsq_channel_e2e_processing_latency_seconds",
			"End-to-end processing latency (publish to FIN) over the sliding window.",
			[]string{"topic", "channel", "quantile"}, nil),
		chLatencyCount: d("nsq_channel_e2e_processing_latency_samples",
			"FINs counted in the channel's e2e latency window.", tc, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.healthy, c.startTime, c.info,
		c.topicDepth, c.topicBackendDepth, c.topicMessages, c.topicBytes, c.topicPaused, c.topicChannels,
		c.topicLatency, c.topicLatencyCount,
		c.chDepth, c.chBackendDepth, c.chInFlight, c.chDeferred, c.chMessages, c.chRequeued, c.chTimedOut,
		c.chClients, c.chPaused, c.chLatency, c.chLatencyCount,
	} {
		ch <- d
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	latency := func(d, count *prometheus.Desc, l LatencyStats, labels ...string) {
		if l.Percentiles == nil {
			return
		}
		gauge(count, float64(l.Count), labels...)
		for _, p := range l.Percentiles {
			gauge(d, p.Value/1e9, append(append([]string(nil), labels...), strconv.FormatFloat(p.Quantile, 'g', -1, 64))...)
		}
	}

	gauge(c.healthy, boolFloat(c.n.IsHealthy()))
	gauge(c.startTime, float64(c.n.startTime.Unix()))
	gauge(c.info, 1, version.Reported)

	stats := c.n.GetStats("", "", false)
	for _, t := range stats.Topics {
		gauge(c.topicDepth, float64(t.Depth), t.TopicName)
		gauge(c.topicBackendDepth, float64(t.BackendDepth), t.TopicName)
		counter(c.topicMessages, float64(t.MessageCount), t.TopicName)
		counter(c.topicBytes, float64(t.MessageBytes), t.TopicName)
		gauge(c.topicPaused, boolFloat(t.Paused), t.TopicName)
		gauge(c.topicChannels, float64(len(t.Channels)), t.TopicName)
		latency(c.topicLatency, c.topicLatencyCount, t.E2eProcessingLatency, t.TopicName)
		for _, chs := range t.Channels {
			l := []string{t.TopicName, chs.ChannelName}
			gauge(c.chDepth, float64(chs.Depth), l...)
			gauge(c.chBackendDepth, float64(chs.BackendDepth), l...)
			gauge(c.chInFlight, float64(chs.InFlightCount), l...)
			gauge(c.chDeferred, float64(chs.DeferredCount), l...)
			counter(c.chMessages, float64(chs.MessageCount), l...)
			counter(c.chRequeued, float64(chs.RequeueCount), l...)
			counter(c.chTimedOut, float64(chs.TimeoutCount), l...)
			gauge(c.chClients, float64(chs.ClientCount), l...)
			gauge(c.chPaused, boolFloat(chs.Paused), l...)
			latency(c.chLatency, c.chLatencyCount, chs.E2eProcessingLatency, l...)
		}
	}
}
