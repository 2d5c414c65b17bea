package nsqd

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// configOption reads one option for GET /config/:opt. Strings come back
// raw; durations as nanoseconds; lists as JSON arrays ([] when empty).
type configOption func(n *NSQD, o *Options) any

func dur(d time.Duration) any { return int64(d) }

func list[T any](v []T) any {
	if v == nil {
		return []T{}
	}
	return v
}

// configOptions maps every flag's config-file name (cli-flags.md §1, §2)
// to its current value.
var configOptions = map[string]configOption{
	"log_level":  func(n *NSQD, o *Options) any { return int(n.logger.Level()) },
	"log_prefix": func(n *NSQD, o *Options) any { return o.LogPrefix },
	"id":         func(n *NSQD, o *Options) any { return o.NodeID },

	"tcp_address":                 func(n *NSQD, o *Options) any { return o.TCPAddress },
	"http_address":                func(n *NSQD, o *Options) any { return o.HTTPAddress },
	"https_address":               func(n *NSQD, o *Options) any { return o.HTTPSAddress },
	"broadcast_address":           func(n *NSQD, o *Options) any { return o.BroadcastAddress },
	"broadcast_tcp_port":          func(n *NSQD, o *Options) any { return o.BroadcastTCPPort },
	"broadcast_http_port":         func(n *NSQD, o *Options) any { return o.BroadcastHTTPPort },
	"nsqlookupd_tcp_addresses":    func(n *NSQD, o *Options) any { return list(n.lookupdAddresses()) },
	"auth_http_addresses":         func(n *NSQD, o *Options) any { return list(o.AuthHTTPAddresses) },
	"http_client_connect_timeout": func(n *NSQD, o *Options) any { return dur(o.HTTPClientConnectTimeout) },
	"http_client_request_timeout": func(n *NSQD, o *Options) any { return dur(o.HTTPClientRequestTimeout) },

	"data_path":                  func(n *NSQD, o *Options) any { return o.DataPath },
	"mem_queue_size":             func(n *NSQD, o *Options) any { return o.MemQueueSize },
	"max_bytes_per_file":         func(n *NSQD, o *Options) any { return o.MaxBytesPerFile },
	"sync_every":                 func(n *NSQD, o *Options) any { return o.SyncEvery },
	"sync_timeout":               func(n *NSQD, o *Options) any { return dur(o.SyncTimeout) },
	"queue_scan_worker_pool_max": func(n *NSQD, o *Options) any { return o.QueueScanWorkerPoolMax },
	"queue_scan_selection_count": func(n *NSQD, o *Options) any { return o.QueueScanSelectionCount },

	"msg_timeout":               func(n *NSQD, o *Options) any { return dur(o.MsgTimeout) },
	"max_msg_timeout":           func(n *NSQD, o *Options) any { return dur(o.MaxMsgTimeout) },
	"max_msg_size":              func(n *NSQD, o *Options) any { return o.MaxMsgSize },
	"max_req_timeout":           func(n *NSQD, o *Options) any { return dur(o.MaxReqTimeout) },
	"max_body_size":             func(n *NSQD, o *Options) any { return o.MaxBodySize },
	"max_heartbeat_interval":    func(n *NSQD, o *Options) any { return dur(o.MaxHeartbeatInterval) },
	"max_rdy_count":             func(n *NSQD, o *Options) any { return o.MaxRdyCount },
	"max_output_buffer_size":    func(n *NSQD, o *Options) any { return o.MaxOutputBufferSize },
	"max_output_buffer_timeout": func(n *NSQD, o *Options) any { return dur(o.MaxOutputBufferTimeout) },
	"min_output_buffer_timeout": func(n *NSQD, o *Options) any { return dur(o.MinOutputBufferTimeout) },
	"output_buffer_timeout":     func(n *NSQD, o *Options) any { return dur(o.OutputBufferTimeout) },
	"max_channel_consumers":     func(n *NSQD, o *Options) any { return o.MaxChannelConsumers },

	"statsd_address":           func(n *NSQD, o *Options) any { return o.StatsdAddress },
	"statsd_interval":          func(n *NSQD, o *Options) any { return dur(o.StatsdInterval) },
	"statsd_mem_stats":         func(n *NSQD, o *Options) any { return o.StatsdMemStats },
	"statsd_prefix":            func(n *NSQD, o *Options) any { return o.StatsdPrefix },
	"statsd_udp_packet_size":   func(n *NSQD, o *Options) any { return o.StatsdUDPPacketSize },
	"statsd_exclude_ephemeral": func(n *NSQD, o *Options) any { return o.StatsdExcludeEphemeral },

	"e2e_processing_latency_percentiles": func(n *NSQD, o *Options) any { return list(o.E2EProcessingLatencyPercentiles) },
	"e2e_processing_latency_window_time": func(n *NSQD, o *Options) any { return dur(o.E2EProcessingLatencyWindowTime) },

	"tls_cert":               func(n *NSQD, o *Options) any { return o.TLSCert },
	"tls_key":                func(n *NSQD, o *Options) any { return o.TLSKey },
	"tls_client_auth_policy": func(n *NSQD, o *Options) any { return o.TLSClientAuthPolicy },
	"tls_root_ca_file":       func(n *NSQD, o *Options) any { return o.TLSRootCAFile },
	"tls_required":           func(n *NSQD, o *Options) any { return o.TLSRequired },
	"tls_min_version":        func(n *NSQD, o *Options) any { return o.TLSMinVersion },

	"deflate":           func(n *NSQD, o *Options) any { return o.DeflateEnabled },
	"max_deflate_level": func(n *NSQD, o *Options) any { return o.MaxDeflateLevel },
	"snappy":            func(n *NSQD, o *Options) any { return o.SnappyEnabled },
}

// lookupdAddresses is the current --lookupd-tcp-address list (it can be
// changed at run time by PUT /config/nsqlookupd_tcp_addresses).
func (n *NSQD) lookupdAddresses() []string {
	n.optsMu.RLock()
	defer n.optsMu.RUnlock()
	return slices.Clone(n.opts.NSQLookupdTCPAddresses)
}

// setLookupdAddresses replaces the lookupd list: peers no longer listed
// are disconnected, new ones connected and fully registered.
func (n *NSQD) setLookupdAddresses(addrs []string) {
	n.optsMu.Lock()
	n.opts.NSQLookupdTCPAddresses = addrs
	n.optsMu.Unlock()
	n.syncLookupPeers()
}

// setLogLevel changes the verbosity at run time.
func (n *NSQD) setLogLevel(l logger.Level) {
	n.optsMu.Lock()
	n.opts.LogLevel = l
	n.optsMu.Unlock()
	n.logger.SetLevel(l)
}

// config is GET and PUT /config/:opt (http-api.md §2.8).
func (s *httpHandler) config(w http.ResponseWriter, r *http.Request, opt string) (any, error) {
	n := s.n
	if r.Method == http.MethodPut {
		readMax := n.opts.MaxMsgSize + 1
		body, err := io.ReadAll(io.LimitReader(r.Body, readMax))
		if err != nil {
			return nil, errf(http.StatusInternalServerError, "INTERNAL_ERROR")
		}
		if int64(len(body)) == readMax || len(body) == 0 {
			return nil, errf(http.StatusRequestEntityTooLarge, "INVALID_VALUE")
		}
		switch opt {
		case "nsqlookupd_tcp_addresses":
			var addrs []string
			if err := json.Unmarshal(body, &addrs); err != nil {
				return nil, errf(http.StatusBadRequest, "INVALID_VALUE")
			}
			if addrs == nil {
				addrs = []string{}
			}
			n.setLookupdAddresses(addrs)
		case "log_level":
			l, err := logger.ParseLevel(string(body))
			if err != nil {
				return nil, errf(http.StatusBadRequest, "INVALID_VALUE")
			}
			n.setLogLevel(l)
		default:
			return nil, errf(http.StatusBadRequest, "INVALID_OPTION")
		}
	}
	get, ok := configOptions[opt]
	if !ok {
		return nil, errf(http.StatusBadRequest, "INVALID_OPTION")
	}
	return get(n, n.opts), nil
}
