package archive

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Namer turns --filename-format into file names: <TOPIC> is the topic,
// <HOST> the short hostname (up to the first '.') or the expanded
// --host-identifier (which may use <SHORT_HOST> and <HOSTNAME>), <PID>
// the process id, <DATETIME> the time through --datetime-format, and <REV>
// "-NNNNNN" (the revision, six digits) when revisions are enabled, else
// nothing. With gzip ".gz" is appended unless the name already ends so.
// A name may contain '/': it is then a path relative to the output (and
// work) directory.
type Namer struct {
	format string
	dt     *datetime
	host   string
	pid    string
	revs   bool
	gzip   bool
}

// NewNamer builds the Namer of o.
func NewNamer(o *Options) (*Namer, error) {
	dt, err := newDatetime(o.DatetimeFormat)
	if err != nil {
		return nil, fmt.Errorf("--datetime-format: %w", err)
	}
	hostname := o.Hostname
	if hostname == "" {
		if hostname, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("hostname: %w", err)
		}
	}
	short, _, _ := strings.Cut(hostname, ".")
	host := short
	if o.HostIdentifier != "" {
		host = strings.NewReplacer("<SHORT_HOST>", short, "<HOSTNAME>", hostname).Replace(o.HostIdentifier)
	}
	pid := o.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	return &Namer{
		format: o.FilenameFormat,
		dt:     dt,
		host:   host,
		pid:    strconv.Itoa(pid),
		revs:   o.needsRev(),
		gzip:   o.GZIP,
	}, nil
}

// Datetime is <DATETIME> at t.
func (n *Namer) Datetime(t time.Time) string { return string(n.dt.Append(nil, t)) }

// Revisions reports whether <REV> is expanded (otherwise it is removed).
func (n *Namer) Revisions() bool { return n.revs }

// Name is the file name of topic for a datetime string and a revision.
func (n *Namer) Name(topic, datetime string, rev int) string {
	r := ""
	if n.revs {
		r = fmt.Sprintf("-%06d", rev)
	}
	name := strings.NewReplacer(
		"<TOPIC>", topic,
		"<HOST>", n.host,
		"<PID>", n.pid,
		"<DATETIME>", datetime,
		"<REV>", r,
	).Replace(n.format)
	if n.gzip && !strings.HasSuffix(name, ".gz") {
		name += ".gz"
	}
	return name
}
