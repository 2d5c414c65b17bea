package nsqd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/nsqkit/nsqkit/core/diskqueue"
	"github.com/nsqkit/nsqkit/core/version"
	"github.com/nsqkit/nsqkit/core/wire"
)

// metadata is the content of nsqd.dat (daemon-behaviour.md §3).
type metadata struct {
	Topics  []topicMetadata `json:"topics"`
	Version string          `json:"version"`
}

type topicMetadata struct {
	Name     string            `json:"name"`
	Paused   bool              `json:"paused"`
	Channels []channelMetadata `json:"channels"`
}

type channelMetadata struct {
	Name   string `json:"name"`
	Paused bool   `json:"paused"`
}

// LoadMetadata creates the topics and channels listed in nsqd.dat, restoring
// their paused flags, then starts the topics.
//
// A damaged nsqd.dat (unreadable, empty, not the JSON nsqd writes) does not
// stop the daemon, unlike 1.3.0 where it is fatal: it is logged, set aside
// as nsqd.dat.bad, and the topics and channels are recreated from the disk
// queue files in the data path, so their messages are served (their
// paused flags are lost). So are they when nsqd.dat is missing but queue
// files are there (1.3.0 ignores them). Set-aside (.bad) files, and queue
// files of topics or channels nsqd.dat does not list, are logged.
func (n *NSQD) LoadMetadata() error {
	n.isLoading.Store(true)
	defer n.isLoading.Store(false)
	fn := n.metadataFile()
	queues := n.scanDataPath()
	m, found, err := readMetadata(fn)
	if !found && len(queues) > 0 {
		n.logger.Errorf("%s is missing but %d disk queue(s) are in %s: recovering their topics and channels", fn, len(queues), n.dataPath)
		m = metadataFromQueues(queues)
	}
	if err != nil {
		bad := fn + ".bad"
		if rerr := os.Rename(fn, bad); rerr != nil {
			n.logger.Errorf("%s; setting it aside failed - %s", err, rerr)
		} else {
			n.logger.Errorf("%s; set aside as %s", err, bad)
		}
		n.logger.Errorf("recovering topics and channels from the %d disk queue(s) in %s (paused flags are lost)", len(queues), n.dataPath)
		m = metadataFromQueues(queues)
	}
	listed := make(map[string]bool)
	for _, tm := range m.Topics {
		if !wire.IsValidTopicName(tm.Name) {
			n.logger.Warnf("skipping creation of invalid topic %s", tm.Name)
			continue
		}
		listed[tm.Name] = true
		t := n.GetTopic(tm.Name)
		if tm.Paused {
			t.Pause()
		}
		for _, cm := range tm.Channels {
			if !wire.IsValidChannelName(cm.Name) {
				n.logger.Warnf("skipping creation of invalid channel %s", cm.Name)
				continue
			}
			listed[diskqueue.ChannelQueueName(tm.Name, cm.Name)] = true
			c := t.GetChannel(cm.Name)
			if cm.Paused {
				c.Pause()
			}
		}
		t.Start()
	}
	for _, q := range queues {
		if !listed[q] {
			n.logger.Warnf("disk queue %s in %s belongs to no topic or channel in %s: its files are not read", q, n.dataPath, fn)
		}
	}
	return nil
}

// readMetadata reads nsqd.dat; found is false when there is none.
func readMetadata(fn string) (m metadata, found bool, err error) {
	data, err := os.ReadFile(fn)
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, true, fmt.Errorf("failed to read metadata from %s - %s", fn, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return metadata{}, true, fmt.Errorf("failed to parse metadata in %s - %s", fn, err)
	}
	return m, true, nil
}

// queueFileRE matches the files of a disk queue: its metadata and data
// files; group 1 is the queue's name.
var queueFileRE = regexp.MustCompile(`^(.+)\.diskqueue\.(?:meta|[0-9]{6,})\.dat$`)

// scanDataPath lists the disk queues that have files in the data path
// (sorted) and logs the files an earlier run set aside as unreadable.
func (n *NSQD) scanDataPath() []string {
	entries, err := os.ReadDir(n.dataPath)
	if err != nil {
		n.logger.Errorf("failed to list data path %s - %s", n.dataPath, err)
		return nil
	}
	seen := make(map[string]bool)
	var queues []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".bad") {
			n.logger.Warnf("%s in %s was set aside as unreadable by an earlier run: it is not read (inspect it, then remove it)", name, n.dataPath)
			continue
		}
		if sm := queueFileRE.FindStringSubmatch(name); sm != nil && e.Type().IsRegular() && !seen[sm[1]] {
			seen[sm[1]] = true
			queues = append(queues, sm[1])
		}
	}
	sort.Strings(queues)
	return queues
}

// metadataFromQueues is the metadata that names a topic for each topic
// queue and a channel for each channel queue (its topic included).
func metadataFromQueues(queues []string) metadata {
	sep := diskqueue.ChannelQueueName("", "")
	var m metadata
	index := make(map[string]int)
	topic := func(name string) *topicMetadata {
		i, ok := index[name]
		if !ok {
			i = len(m.Topics)
			index[name] = i
			m.Topics = append(m.Topics, topicMetadata{Name: name})
		}
		return &m.Topics[i]
	}
	for _, q := range queues {
		if t, c, ok := strings.Cut(q, sep); ok {
			tm := topic(t)
			tm.Channels = append(tm.Channels, channelMetadata{Name: c})
		} else {
			topic(q)
		}
	}
	return m
}

// PersistMetadata atomically rewrites nsqd.dat with the non-ephemeral
// topics and channels.
func (n *NSQD) PersistMetadata() error {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	m := metadata{Version: version.Reported}
	for _, t := range n.Topics() {
		if t.ephemeral {
			continue
		}
		tm := topicMetadata{Name: t.name, Paused: t.Paused()}
		for _, c := range t.Channels() {
			if c.ephemeral {
				continue
			}
			tm.Channels = append(tm.Channels, channelMetadata{Name: c.name, Paused: c.Paused()})
		}
		m.Topics = append(m.Topics, tm)
	}
	data, err := json.Marshal(&m)
	if err != nil {
		return err
	}
	fn := n.metadataFile()
	tmp := fmt.Sprintf("%s.%d.tmp", fn, rand.Int())
	if err := writeSyncFile(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, fn); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(fn)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func writeSyncFile(fn string, data []byte) error {
	f, err := os.OpenFile(fn, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
