package nsqd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"

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
func (n *NSQD) LoadMetadata() error {
	n.isLoading.Store(true)
	defer n.isLoading.Store(false)
	fn := n.metadataFile()
	data, err := os.ReadFile(fn)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("failed to read metadata from %s - %s", fn, err)
	}
	var m metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("failed to parse metadata in %s - %s", fn, err)
	}
	for _, tm := range m.Topics {
		if !wire.IsValidTopicName(tm.Name) {
			n.logger.Warnf("skipping creation of invalid topic %s", tm.Name)
			continue
		}
		t := n.GetTopic(tm.Name)
		if tm.Paused {
			t.Pause()
		}
		for _, cm := range tm.Channels {
			if !wire.IsValidChannelName(cm.Name) {
				n.logger.Warnf("skipping creation of invalid channel %s", cm.Name)
				continue
			}
			c := t.GetChannel(cm.Name)
			if cm.Paused {
				c.Pause()
			}
		}
		t.Start()
	}
	return nil
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
