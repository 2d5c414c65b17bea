package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/klauspost/compress/gzip"
)

// What a crash (SIGKILL, power loss) can leave behind: a file whose tail
// was written but never synced, possibly cut in the middle of a record or
// of a gzip member. Those messages were never finished, so nsqd delivers
// them again; the damaged tail only has to go. Plain files are cut after
// their last newline, gzip files after their last complete member.

// repairPlainTail cuts a plain file after its last newline and returns its
// size (fh is the file opened for appending; path is read directly).
func repairPlainTail(fh fileHandle, path string) (int64, error) {
	st, err := fh.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 || !st.Mode().IsRegular() {
		return size, nil
	}
	good, err := lastNewlineEnd(path, size)
	if err != nil {
		return 0, err
	}
	if good == size {
		return size, nil
	}
	if err := os.Truncate(path, good); err != nil {
		return 0, fmt.Errorf("cutting the incomplete last line of %s: %w", path, err)
	}
	return good, nil
}

// lastNewlineEnd is the offset just after the last '\n' of the first size
// bytes of path (0 if there is none).
func lastNewlineEnd(path string, size int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("checking %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("checking %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// gzipGoodPrefix is the length of the longest prefix of r made of complete,
// valid gzip members.
func gzipGoodPrefix(r io.Reader) int64 {
	cr := &countingReader{r: r}
	br := bufio.NewReader(cr)
	var good int64
	var zr *gzip.Reader
	for {
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(br)
		} else {
			err = zr.Reset(br)
		}
		if err != nil {
			return good
		}
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return good
		}
		good = cr.n - int64(br.Buffered())
	}
}

// repairGzip cuts a gzip file after its last complete member and returns
// the new size.
func repairGzip(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("checking %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("checking %s: %w", path, err)
	}
	good := gzipGoodPrefix(f)
	f.Close()
	if good == st.Size() {
		return good, nil
	}
	if err := os.Truncate(path, good); err != nil {
		return 0, fmt.Errorf("cutting the incomplete gzip member at the end of %s: %w", path, err)
	}
	return good, nil
}

// lockFile takes an exclusive advisory lock on an open file without
// waiting, so that another nsq_to_file's recovery leaves it alone. It
// reports false when another process holds the lock. Handles without a
// descriptor (tests) are not locked.
func lockFile(fh fileHandle) (bool, error) {
	fd, ok := fh.(interface{ Fd() uintptr })
	if !ok {
		return true, nil
	}
	err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, nil
	case errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EINVAL):
		return true, nil // no locking on this file system
	}
	return false, fmt.Errorf("locking: %w", err)
}

// namePattern matches the names the Namer makes for topic, whatever their
// <DATETIME>, <PID> and <REV>; the submatch "rev" is the revision.
func namePattern(n *Namer, topic string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	rest := n.format
	for rest != "" {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:i]))
		rest = rest[i:]
		tokens := []struct{ tok, re string }{
			{"<TOPIC>", regexp.QuoteMeta(topic)},
			{"<HOST>", regexp.QuoteMeta(n.host)},
			{"<PID>", "[0-9]+"},
			{"<DATETIME>", ".*?"},
			{"<REV>", "(?P<rev>-[0-9]{6})"},
		}
		matched := false
		for _, t := range tokens {
			if strings.HasPrefix(rest, t.tok) {
				if t.tok == "<REV>" && !n.revs {
					// removed from names
				} else {
					b.WriteString(t.re)
				}
				rest = rest[len(t.tok):]
				matched = true
				break
			}
		}
		if !matched {
			b.WriteString(regexp.QuoteMeta("<"))
			rest = rest[1:]
		}
	}
	if n.gzip && !strings.HasSuffix(n.format, ".gz") {
		b.WriteString(`(?:\.gz)?`)
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// recoverWorkDir finds the files of topic a crash left in the work
// directory (not locked by a running nsq_to_file), repairs their tails and
// moves them to the output directory. Only used with a separate work
// directory, which holds nothing but files being written.
func (w *TopicWriter) recoverWorkDir() error {
	re := namePattern(w.namer, w.topic)
	revIdx := re.SubexpIndex("rev")
	root := w.o.workDir()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return nil
		}
		if re.MatchString(filepath.ToSlash(rel)) {
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("looking for unfinished files in %s: %w", root, err)
	}
	for _, rel := range found {
		if err := w.recoverOne(root, rel, re, revIdx); err != nil {
			return err
		}
	}
	return nil
}

func (w *TopicWriter) recoverOne(root, rel string, re *regexp.Regexp, revIdx int) error {
	path := filepath.Join(root, rel)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("recovering %s: %w", path, err)
	}
	defer f.Close()
	ok, err := lockFile(f)
	if err != nil {
		return fmt.Errorf("recovering %s: %w", path, err)
	}
	if !ok {
		return nil // being written by another process
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("recovering %s: %w", path, err)
	}
	var size int64
	if strings.HasSuffix(path, ".gz") {
		size, err = repairGzip(path)
	} else {
		size, err = repairPlainTail(f, path)
	}
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("recovering %s: %w", path, err)
	}
	if size == 0 {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("removing empty leftover %s: %w", path, err)
		}
		w.log.Infof("[%s/%s] removed empty leftover %s", w.topic, w.o.Channel, path)
		return nil
	}
	slashRel := filepath.ToSlash(rel)
	loc := re.FindStringSubmatchIndex(slashRel)
	for r := 0; ; r++ {
		dstRel := slashRel
		if r > 0 {
			if revIdx < 0 || loc == nil || loc[2*revIdx] < 0 {
				return fmt.Errorf("recovering %s: %s exists in the output directory", path, rel)
			}
			var cur int
			fmt.Sscanf(slashRel[loc[2*revIdx]+1:loc[2*revIdx+1]], "%d", &cur)
			dstRel = slashRel[:loc[2*revIdx]] + fmt.Sprintf("-%06d", cur+r) + slashRel[loc[2*revIdx+1]:]
		}
		dst := filepath.Join(w.o.OutputDir, filepath.FromSlash(dstRel))
		err := moveNoReplace(path, dst)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("recovering %s: %w", path, err)
		}
		cut := ""
		if size < st.Size() {
			cut = fmt.Sprintf(", cut %d incomplete bytes", st.Size()-size)
		}
		w.log.Infof("[%s/%s] recovered unfinished %s -> %s (%d bytes%s)", w.topic, w.o.Channel, path, dst, size, cut)
		return nil
	}
}
