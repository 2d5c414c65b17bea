package diskqueue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsqkit/nsqkit/core/wire"
)

// WriteOriginalQueue is a test helper: it writes, without go-diskqueue, the
// files an original nsqd 1.3.0 leaves in its data directory dir for queue
// name after publishing msgs to it (none consumed) and shutting down
// cleanly. name is a topic name or ChannelQueueName(topic, channel).
//
// It writes name.diskqueue.000000.dat holding one record per message,
// [int32 big-endian length][26-byte header + body], and
// name.diskqueue.meta.dat holding "<depth>\n0,0\n0,<bytes written>\n" with
// depth = len(msgs), both with mode 0600. With no messages only the
// metadata file is written ("0\n0,0\n0,0\n"), as a queue never written to
// leaves it. dir is created if missing; existing files are overwritten.
func WriteOriginalQueue(dir, name string, msgs []*wire.Message) error {
	if name == "" {
		return errors.New("diskqueue: empty queue name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var data []byte
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("diskqueue: message %d is nil", i)
		}
		data = binary.BigEndian.AppendUint32(data, uint32(m.EncodedLen()))
		data = m.Append(data)
	}
	base := filepath.Join(dir, name+".diskqueue.")
	if len(msgs) > 0 {
		if err := writeFile(base+"000000.dat", data); err != nil {
			return err
		}
	}
	meta := fmt.Sprintf("%d\n%d,%d\n%d,%d\n", len(msgs), 0, 0, 0, len(data))
	return writeFile(base+"meta.dat", []byte(meta))
}

func writeFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
