package nsqd

import (
	"crypto/md5"
	"crypto/tls"
	"hash/crc32"
	"io"
	"os"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// TLS requirement levels (the integers /config/tls_required reports).
const (
	TLSNotRequired        = 0
	TLSRequiredExceptHTTP = 1
	TLSRequired           = 2
)

// Options holds every nsqd setting. NewOptions has every default; cmd/nsqd
// fills it from flags, the environment and a TOML file.
type Options struct {
	LogLevel  logger.Level
	LogPrefix string
	Logger    *logger.Logger // when nil, New makes one on LogOutput
	LogOutput io.Writer      // stderr when nil

	NodeID int64

	TCPAddress               string
	HTTPAddress              string
	HTTPSAddress             string
	BroadcastAddress         string
	BroadcastTCPPort         int
	BroadcastHTTPPort        int
	NSQLookupdTCPAddresses   []string
	AuthHTTPAddresses        []string
	HTTPClientConnectTimeout time.Duration
	HTTPClientRequestTimeout time.Duration

	DataPath        string
	MemQueueSize    int64
	MaxBytesPerFile int64
	SyncEvery       int64
	SyncTimeout     time.Duration

	QueueScanInterval        time.Duration
	QueueScanRefreshInterval time.Duration
	QueueScanSelectionCount  int
	QueueScanWorkerPoolMax   int
	QueueScanDirtyPercent    float64

	MsgTimeout    time.Duration
	MaxMsgTimeout time.Duration
	MaxMsgSize    int64
	MaxBodySize   int64
	MaxReqTimeout time.Duration
	ClientTimeout time.Duration

	MaxHeartbeatInterval   time.Duration
	MaxRdyCount            int64
	MaxOutputBufferSize    int64
	MaxOutputBufferTimeout time.Duration
	MinOutputBufferTimeout time.Duration
	OutputBufferTimeout    time.Duration
	MaxChannelConsumers    int

	StatsdAddress          string
	StatsdPrefix           string
	StatsdInterval         time.Duration
	StatsdMemStats         bool
	StatsdUDPPacketSize    int
	StatsdExcludeEphemeral bool

	E2EProcessingLatencyWindowTime  time.Duration
	E2EProcessingLatencyPercentiles []float64

	TLSCert             string
	TLSKey              string
	TLSClientAuthPolicy string
	TLSRootCAFile       string
	TLSRequired         int
	TLSMinVersion       uint16

	DeflateEnabled  bool
	MaxDeflateLevel int
	SnappyEnabled   bool
}

// NewOptions returns nsqd's defaults (cli-flags.md §2).
func NewOptions() *Options {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "localhost"
	}
	return &Options{
		LogLevel:  logger.Info,
		LogPrefix: "[nsqd] ",
		NodeID:    DefaultNodeID(hostname),

		TCPAddress:               "0.0.0.0:4150",
		HTTPAddress:              "0.0.0.0:4151",
		HTTPSAddress:             "0.0.0.0:4152",
		BroadcastAddress:         hostname,
		NSQLookupdTCPAddresses:   []string{},
		AuthHTTPAddresses:        []string{},
		HTTPClientConnectTimeout: 2 * time.Second,
		HTTPClientRequestTimeout: 5 * time.Second,

		MemQueueSize:    10000,
		MaxBytesPerFile: 100 * 1024 * 1024,
		SyncEvery:       2500,
		SyncTimeout:     2 * time.Second,

		QueueScanInterval:        100 * time.Millisecond,
		QueueScanRefreshInterval: 5 * time.Second,
		QueueScanSelectionCount:  20,
		QueueScanWorkerPoolMax:   4,
		QueueScanDirtyPercent:    0.25,

		MsgTimeout:    60 * time.Second,
		MaxMsgTimeout: 15 * time.Minute,
		MaxMsgSize:    1024 * 1024,
		MaxBodySize:   5 * 1024 * 1024,
		MaxReqTimeout: 1 * time.Hour,
		ClientTimeout: 60 * time.Second,

		MaxHeartbeatInterval:   60 * time.Second,
		MaxRdyCount:            2500,
		MaxOutputBufferSize:    64 * 1024,
		MaxOutputBufferTimeout: 30 * time.Second,
		MinOutputBufferTimeout: 25 * time.Millisecond,
		OutputBufferTimeout:    250 * time.Millisecond,

		StatsdPrefix:        "nsq.%s",
		StatsdInterval:      60 * time.Second,
		StatsdMemStats:      true,
		StatsdUDPPacketSize: 508,

		E2EProcessingLatencyWindowTime: 10 * time.Minute,

		TLSMinVersion: tls.VersionTLS10,

		DeflateEnabled:  true,
		MaxDeflateLevel: 6,
		SnappyEnabled:   true,
	}
}

// DefaultNodeID is CRC-32 (IEEE) of the MD5 digest of the hostname, mod 1024.
func DefaultNodeID(hostname string) int64 {
	h := md5.Sum([]byte(hostname))
	return int64(crc32.ChecksumIEEE(h[:]) % 1024)
}
