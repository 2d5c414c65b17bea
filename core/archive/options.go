package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
	"github.com/nsqkit/nsqkit/core/wire"
)

// Options are everything nsq_to_file can be told (cli-flags.md §5).
type Options struct {
	Topics       []string      // topics to archive (--topic)
	TopicPattern string        // unanchored regexp a topic must match (--topic-pattern)
	TopicRefresh time.Duration // how often lookupd is asked for topics when no topic is given
	Channel      string

	NSQDTCPAddresses     []string
	LookupdHTTPAddresses []string
	// Client is the consumers' configuration (TLS, compression, timeouts
	// …); MaxInFlight below overrides its max_in_flight. Nil: defaults.
	Client *client.Config
	// MaxInFlight is each topic consumer's max-in-flight, also the largest
	// batch of messages between two syncs.
	MaxInFlight int

	HTTPConnectTimeout time.Duration // lookupd /topics queries
	HTTPRequestTimeout time.Duration

	OutputDir      string
	WorkDir        string // "" means OutputDir
	FilenameFormat string
	DatetimeFormat string
	HostIdentifier string

	GZIP           bool
	GZIPLevel      int
	SkipEmptyFiles bool
	RotateSize     int64
	RotateInterval time.Duration
	SyncInterval   time.Duration

	// Logger receives the archiver's lines (nil: discard).
	Logger *logger.Logger

	// Hostname and PID feed <HOST>, <SHORT_HOST>, <HOSTNAME> and <PID>
	// (zero values: the OS hostname and this process).
	Hostname string
	PID      int
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	// hooks for tests
	openFile  func(name string, flag int, perm os.FileMode) (fileHandle, error)
	afterSync func(topic string, acks []Acker) // after the fsync, before the FINs
}

// Defaults of nsq_to_file.
const (
	DefaultChannel        = "nsq_to_file"
	DefaultFilenameFormat = "<TOPIC>.<HOST><REV>.<DATETIME>.log"
	DefaultDatetimeFormat = "%Y-%m-%d_%H"
)

// NewOptions returns nsq_to_file's defaults.
func NewOptions() *Options {
	return &Options{
		TopicRefresh:       time.Minute,
		Channel:            DefaultChannel,
		MaxInFlight:        1000, // NSQ: 200; each fsync pauses delivery, a larger window archives faster
		HTTPConnectTimeout: 2 * time.Second,
		HTTPRequestTimeout: 5 * time.Second,
		OutputDir:          "/tmp",
		FilenameFormat:     DefaultFilenameFormat,
		DatetimeFormat:     DefaultDatetimeFormat,
		GZIPLevel:          6,
		SyncInterval:       30 * time.Second,
	}
}

// workDir is the directory files are written in.
func (o *Options) workDir() string {
	if o.WorkDir == "" {
		return o.OutputDir
	}
	return o.WorkDir
}

// separateWorkDir reports whether finished files move to another directory.
func (o *Options) separateWorkDir() bool {
	return filepath.Clean(o.workDir()) != filepath.Clean(o.OutputDir)
}

// needsRev reports whether <REV> is required: gzip, rotation or a separate
// work directory can each make a name be used twice.
func (o *Options) needsRev() bool {
	return o.GZIP || o.RotateSize > 0 || o.RotateInterval > 0 || o.separateWorkDir()
}

// appendable reports whether an existing file of the same name is appended
// to (plain files without time rotation); otherwise the revision is bumped.
func (o *Options) appendable() bool { return !o.GZIP && o.RotateInterval == 0 }

// Validate checks the options with nsq_to_file's messages (each one a
// usage error for the command line).
func (o *Options) Validate() error {
	if o.Channel == "" {
		return errors.New("--channel is required")
	}
	if !wire.IsValidChannelName(o.Channel) {
		return fmt.Errorf("--channel %q: invalid channel name", o.Channel)
	}
	switch {
	case len(o.NSQDTCPAddresses) == 0 && len(o.LookupdHTTPAddresses) == 0:
		return errors.New("--nsqd-tcp-address or --lookupd-http-address required.")
	case len(o.NSQDTCPAddresses) > 0 && len(o.LookupdHTTPAddresses) > 0:
		return errors.New("use --nsqd-tcp-address or --lookupd-http-address not both")
	}
	if len(o.Topics) == 0 && o.TopicPattern == "" {
		return errors.New("--topic or --topic-pattern required")
	}
	if len(o.Topics) == 0 && len(o.LookupdHTTPAddresses) == 0 {
		return errors.New("--lookupd-http-address must be specified when no --topic specified")
	}
	for _, t := range o.Topics {
		if !wire.IsValidTopicName(t) {
			return fmt.Errorf("--topic %q: invalid topic name", t)
		}
	}
	if o.TopicPattern != "" {
		if _, err := regexp.Compile(o.TopicPattern); err != nil {
			return fmt.Errorf("--topic-pattern: %w", err)
		}
	}
	if len(o.Topics) == 0 && o.TopicRefresh <= 0 {
		return errors.New("--topic-refresh should be positive")
	}
	if o.HTTPConnectTimeout <= 0 {
		return errors.New("--http-client-connect-timeout should be positive")
	}
	if o.HTTPRequestTimeout <= 0 {
		return errors.New("--http-client-request-timeout should be positive")
	}
	if o.MaxInFlight < 1 {
		return fmt.Errorf("--max-in-flight (%d) should be at least 1", o.MaxInFlight)
	}
	if o.GZIPLevel < 1 || o.GZIPLevel > 9 {
		return fmt.Errorf("invalid --gzip-level value (%d), should be 1-9", o.GZIPLevel)
	}
	if o.RotateSize < 0 {
		return fmt.Errorf("--rotate-size (%d) should not be negative", o.RotateSize)
	}
	if o.RotateInterval < 0 {
		return fmt.Errorf("--rotate-interval (%s) should not be negative", o.RotateInterval)
	}
	if o.SyncInterval <= 0 {
		return errors.New("--sync-interval should be positive")
	}
	if o.OutputDir == "" {
		return errors.New("--output-dir is required")
	}
	if o.needsRev() && !strings.Contains(o.FilenameFormat, "<REV>") {
		return errors.New("missing <REV> in --filename-format when gzip, rotation, or work dir enabled")
	}
	if _, err := newDatetime(o.DatetimeFormat); err != nil {
		return fmt.Errorf("--datetime-format: %w", err)
	}
	return nil
}
