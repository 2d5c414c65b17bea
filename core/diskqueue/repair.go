package diskqueue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Log levels of Options.Logf used here.
const (
	levelInfo  = 2
	levelWarn  = 3
	levelError = 4
)

// maxFileSpan bounds how many data file numbers a metadata file may span
// before it is taken for damaged (at 100 MiB per file, 100 TiB).
const maxFileSpan = 1 << 20

// queueMeta is the content of a go-diskqueue metadata file.
type queueMeta struct {
	depth              int64
	readNum, readPos   int64
	writeNum, writePos int64
}

func (m queueMeta) String() string {
	return fmt.Sprintf("depth %d, read %d:%d, write %d:%d", m.depth, m.readNum, m.readPos, m.writeNum, m.writePos)
}

// queuePaths names the files of one queue exactly as go-diskqueue does.
type queuePaths struct {
	dir, name string
}

func (q queuePaths) meta() string {
	return fmt.Sprintf(path.Join(q.dir, "%s.diskqueue.meta.dat"), q.name)
}

func (q queuePaths) data(num int64) string {
	return fmt.Sprintf(path.Join(q.dir, "%s.diskqueue.%06d.dat"), q.name, num)
}

// size is the size of data file num; ok is false when it does not exist.
func (q queuePaths) size(num int64) (int64, bool) {
	fi, err := os.Stat(q.data(num))
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	return fi.Size(), true
}

// list returns the numbers of the queue's data files, ascending, and the
// highest number of any of its data or set-aside (.bad) files (-1: none).
func (q queuePaths) list() ([]int64, int64, error) {
	dir := q.dir
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, -1, fmt.Errorf("listing %s: %w", dir, err)
	}
	prefix := q.name + ".diskqueue."
	var nums []int64
	highest := int64(-1)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		bad := strings.HasSuffix(rest, ".dat.bad")
		rest = strings.TrimSuffix(strings.TrimSuffix(rest, ".bad"), ".dat")
		if len(rest) < 6 || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		num, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			continue
		}
		highest = max(highest, num)
		if !bad && e.Type().IsRegular() {
			nums = append(nums, num)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	return nums, highest, nil
}

// readMeta reads the metadata file. exists is false when there is none;
// err is set when it exists but cannot be read or parsed.
func (q queuePaths) readMeta() (m queueMeta, exists bool, err error) {
	b, err := os.ReadFile(q.meta())
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, true, err
	}
	if _, err := fmt.Sscanf(string(b), "%d\n%d,%d\n%d,%d\n", &m.depth, &m.readNum, &m.readPos, &m.writeNum, &m.writePos); err != nil {
		return m, true, fmt.Errorf("parsing %q: %w", b, err)
	}
	return m, true, nil
}

// writeMeta replaces the metadata file atomically, as go-diskqueue does.
func (q queuePaths) writeMeta(m queueMeta) error {
	fn := q.meta()
	tmp := fmt.Sprintf("%s.%d.tmp", fn, rand.Int())
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d\n%d,%d\n%d,%d\n", m.depth, m.readNum, m.readPos, m.writeNum, m.writePos)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, fn)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(path.Dir(fn)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// scan counts the records go-diskqueue will read from data file num when
// it starts at offset from: whole records with a valid length, up to the
// end of the file or the first one that is not (where go-diskqueue sets
// the file aside). end is where the last counted record ends, size the
// file's size, and clean tells that the records reach exactly the end of
// the file.
func (q queuePaths) scan(num, from int64, minSize, maxSize int32) (n, end, size int64, clean bool, err error) {
	f, err := os.Open(q.data(num))
	if err != nil {
		return 0, from, 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, from, 0, false, err
	}
	size = fi.Size()
	if from > size {
		return 0, from, size, false, nil
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return 0, from, size, false, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	pos := from
	var hdr [4]byte
	for {
		if pos == size {
			return n, pos, size, true, nil
		}
		if size-pos < 4 {
			return n, pos, size, false, nil
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return n, pos, size, false, err
		}
		l := int32(binary.BigEndian.Uint32(hdr[:]))
		if l < minSize || l > maxSize || pos+4+int64(l) > size {
			return n, pos, size, false, nil
		}
		if _, err := r.Discard(int(l)); err != nil {
			return n, pos, size, false, err
		}
		pos += 4 + int64(l)
		n++
	}
}

// check makes the metadata of queue name in o.DataPath agree with its
// data files before go-diskqueue opens it, so that go-diskqueue reports
// the depth it will deliver, reads every record that is there and never
// writes where unread records are:
//
//   - After a crash (the write file longer than the recorded write
//     position) the depth is raised by the records written since the
//     last sync and writing continues after them (go-diskqueue would
//     start a new file and report a depth that goes negative).
//   - When the metadata is missing, unreadable or contradicts the files
//     (positions past the end of a file, a missing or truncated file, a
//     depth the unread bytes cannot hold, files past the write file), it
//     is rebuilt from the files: reading starts at the recorded read
//     position when that is a record boundary (else at the start of the
//     file), the depth is the number of records go-diskqueue will read,
//     and writing goes on after the last valid record, in a new file if
//     the last one ends with damage.
//
// A queue whose metadata agrees with its files is left alone without
// reading the files. Problems are logged through logf, never returned.
func check(name string, o Options, logf func(int, string, ...any)) {
	q := queuePaths{dir: o.DataPath, name: name}
	m, exists, err := q.readMeta()
	if err != nil {
		logf(levelError, "DISKQUEUE(%s) metadata %s unreadable - %s; rebuilding it from the data files", name, q.meta(), err)
		q.rebuild(nil, o, logf)
		return
	}
	if !exists {
		nums, _, err := q.list()
		if err != nil {
			logf(levelError, "DISKQUEUE(%s) %s", name, err)
			return
		}
		if len(nums) > 0 {
			logf(levelWarn, "DISKQUEUE(%s) metadata %s missing but %d data file(s) exist; rebuilding it from the data files", name, q.meta(), len(nums))
			q.rebuild(nil, o, logf)
		}
		return
	}
	if reason := q.contradiction(m, o.MinMsgSize); reason != "" {
		logf(levelWarn, "DISKQUEUE(%s) metadata (%s) does not match the data files: %s; rebuilding it from the data files", name, m, reason)
		q.rebuild(&m, o, logf)
		return
	}
	fixed := m
	if size, ok := q.size(m.writeNum); ok && size > m.writePos {
		// Records written after the last sync (nsqd stopped without
		// closing the queue): count them and write after them.
		n, end, _, clean, err := q.scan(m.writeNum, m.writePos, o.MinMsgSize, o.MaxMsgSize)
		if err != nil {
			logf(levelError, "DISKQUEUE(%s) reading %s - %s; rebuilding the metadata from the data files", name, q.data(m.writeNum), err)
			q.rebuild(&m, o, logf)
			return
		}
		fixed.depth += n
		fixed.writePos = end
		logf(levelWarn, "DISKQUEUE(%s) %s holds %d record(s) (%d bytes) written after the last sync", name, q.data(m.writeNum), n, size-m.writePos)
		if !clean {
			logf(levelError, "DISKQUEUE(%s) %s is damaged after offset %d; what follows will be set aside when read", name, q.data(m.writeNum), end)
			fixed.writeNum, fixed.writePos = m.writeNum+1, 0
		}
	}
	fixed = newWriteFile(fixed)
	if fixed != m {
		logf(levelInfo, "DISKQUEUE(%s) metadata %s -> %s", name, m, fixed)
		if err := q.writeMeta(fixed); err != nil {
			logf(levelError, "DISKQUEUE(%s) failed to write metadata - %s", name, err)
		}
	}
}

// newWriteFile moves writing to a new data file when the write file holds
// records not read yet: what this run writes never goes after records
// that were not checked (go-diskqueue sets a whole file aside at the
// first damaged record, and would take the new records with it).
func newWriteFile(m queueMeta) queueMeta {
	if m.writePos > 0 && (m.readNum < m.writeNum || m.readPos < m.writePos) {
		m.writeNum, m.writePos = m.writeNum+1, 0
	}
	return m
}

// contradiction returns why m cannot describe the queue's files, or ""
// when it can (a write file longer than the write position, as a crash
// leaves it, is not a contradiction).
func (q queuePaths) contradiction(m queueMeta, minSize int32) string {
	switch {
	case m.depth < 0 || m.readNum < 0 || m.readPos < 0 || m.writeNum < 0 || m.writePos < 0:
		return "negative value"
	case m.readNum > m.writeNum:
		return "read file after write file"
	case m.readNum == m.writeNum && m.readPos > m.writePos:
		return "read position after write position"
	case m.writeNum-m.readNum > maxFileSpan:
		return "too many files between read and write file"
	}
	if size, ok := q.size(m.writeNum); !ok && m.writePos > 0 {
		return fmt.Sprintf("write file %s missing", q.data(m.writeNum))
	} else if ok && size < m.writePos {
		return fmt.Sprintf("write file %s is %d bytes, shorter than the write position", q.data(m.writeNum), size)
	}
	if _, ok := q.size(m.writeNum + 1); ok {
		return fmt.Sprintf("data file %s after the write file", q.data(m.writeNum+1))
	}
	var unread int64
	for num := m.readNum; num < m.writeNum; num++ {
		size, ok := q.size(num)
		if !ok {
			return fmt.Sprintf("data file %s missing", q.data(num))
		}
		if num == m.readNum {
			if size < m.readPos {
				return fmt.Sprintf("read file %s is %d bytes, shorter than the read position", q.data(num), size)
			}
			size -= m.readPos
		}
		unread += size
	}
	if m.readNum == m.writeNum {
		unread = m.writePos - m.readPos
	} else {
		unread += m.writePos
	}
	if unread == 0 && m.depth != 0 {
		return "depth with nothing to read"
	}
	if unread > 0 && (m.depth == 0 || m.depth > unread/(4+int64(minSize))) {
		return fmt.Sprintf("depth impossible for %d unread bytes", unread)
	}
	return ""
}

// rebuild writes metadata derived from the data files (see check); old is
// the metadata found, nil when there was none that could be parsed.
func (q queuePaths) rebuild(old *queueMeta, o Options, logf func(int, string, ...any)) {
	nums, highest, err := q.list()
	if err != nil {
		logf(levelError, "DISKQUEUE(%s) %s", q.name, err)
		return
	}
	if old != nil && old.writeNum >= 0 && old.writeNum < 1<<40 {
		highest = max(highest, old.writeNum)
	}
	// Files before the recorded read file were read already (go-diskqueue
	// removes a file once it has read past it): start at the read file,
	// unless the metadata is unusable or points past every file.
	files := nums
	if old != nil {
		var from []int64
		for _, num := range nums {
			if num >= old.readNum {
				from = append(from, num)
			}
		}
		if len(from) > 0 {
			files = from
		}
	}
	var fixed queueMeta
	var lastEnd int64
	lastClean := false
	for i := 0; i < len(files); i++ {
		num := files[i]
		var from int64
		if i == 0 && old != nil && num == old.readNum {
			from = old.readPos
		}
		n, end, size, clean, err := q.scan(num, from, o.MinMsgSize, o.MaxMsgSize)
		if err == nil && from > 0 && n == 0 && !(clean && end == from) {
			logf(levelWarn, "DISKQUEUE(%s) read position %d of %s is not at a record; reading the file from its start", q.name, from, q.data(num))
			from = 0
			n, end, size, clean, err = q.scan(num, 0, o.MinMsgSize, o.MaxMsgSize)
		}
		if err != nil {
			logf(levelError, "DISKQUEUE(%s) reading %s - %s", q.name, q.data(num), err)
		} else if !clean {
			logf(levelError, "DISKQUEUE(%s) %s is damaged after offset %d (%d bytes); %d record(s) before it will be read, the rest set aside",
				q.name, q.data(num), end, size, n)
		}
		if i == 0 {
			fixed.readNum, fixed.readPos = num, from
			if n == 0 && clean && i+1 < len(files) {
				// nothing left in this file: go-diskqueue would set it
				// aside as unreadable, so start at the next one
				files = files[1:]
				i--
				continue
			}
		}
		fixed.depth += n
		lastEnd, lastClean = end, clean && err == nil
	}
	switch {
	case len(files) == 0:
		next := highest + 1
		fixed = queueMeta{readNum: next, writeNum: next}
	case lastClean:
		fixed.writeNum, fixed.writePos = files[len(files)-1], lastEnd
		fixed = newWriteFile(fixed)
	default:
		fixed.writeNum, fixed.writePos = files[len(files)-1]+1, 0
	}
	was := "none"
	if old != nil {
		was = old.String()
	}
	logf(levelWarn, "DISKQUEUE(%s) metadata rebuilt from %d data file(s): %s (was: %s)", q.name, len(files), fixed, was)
	if err := q.writeMeta(fixed); err != nil {
		logf(levelError, "DISKQUEUE(%s) failed to write metadata - %s", q.name, err)
	}
}

// RemoveStaleTemp removes the metadata temporary files go-diskqueue leaves
// in dir when writing one fails (name.diskqueue.meta.dat.N.tmp), those
// older than minAge (a younger one may be a write in progress), and
// returns how many it removed.
func RemoveStaleTemp(dir string, minAge time.Duration) int {
	matches, err := filepath.Glob(filepath.Join(dir, "*.diskqueue.meta.dat.*.tmp"))
	if err != nil {
		return 0
	}
	removed := 0
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < minAge {
			continue
		}
		if os.Remove(m) == nil {
			removed++
		}
	}
	return removed
}
