package archive

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
)

// fileHandle is what a writer needs of an open file (an *os.File; tests
// put a recorder in between).
type fileHandle interface {
	io.Writer
	Sync() error
	Close() error
	Stat() (os.FileInfo, error)
}

func osOpenFile(name string, flag int, perm os.FileMode) (fileHandle, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a *PathError naming the file
	}
	return f, nil
}

// bufSize is the write buffer in front of the file.
const bufSize = 256 << 10

// outFile is one open output file in the work directory.
type outFile struct {
	rel      string // path relative to the work and output directories
	path     string // in the work directory
	datetime string // its <DATETIME>
	rev      int
	openedAt time.Time

	fh     fileHandle
	bw     *bufio.Writer // in front of fh
	gz     *gzip.Writer  // in front of bw; nil for plain files
	member bool          // gz holds data of an unfinished member

	size        int64 // uncompressed bytes, including what an appended file held
	messages    int64 // written by us
	redelivered int64 // of those, with attempts > 1
	dirty       bool  // written since the last sync
	dirSynced   bool  // the directory entry was synced
}

// newOutFile wraps an open file; size is what it already holds.
func newOutFile(fh fileHandle, rel, path, datetime string, rev int, size int64, gzipLevel int, now time.Time) (*outFile, error) {
	f := &outFile{
		rel: rel, path: path, datetime: datetime, rev: rev, openedAt: now,
		fh: fh, bw: bufio.NewWriterSize(fh, bufSize), size: size,
	}
	if gzipLevel > 0 {
		gz, err := gzip.NewWriterLevel(f.bw, gzipLevel)
		if err != nil {
			return nil, fmt.Errorf("gzip writer: %w", err)
		}
		f.gz = gz
	}
	return f, nil
}

// write appends one record: body and a newline.
func (f *outFile) write(body []byte) error {
	var err error
	if f.gz != nil {
		f.member = true
		if _, err = f.gz.Write(body); err == nil {
			_, err = f.gz.Write(newline)
		}
	} else {
		if _, err = f.bw.Write(body); err == nil {
			err = f.bw.WriteByte('\n')
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	f.size += int64(len(body)) + 1
	f.messages++
	f.dirty = true
	return nil
}

var newline = []byte{'\n'}

// flush pushes everything written so far into the file: it ends the gzip
// member and empties the buffer. The caller then has fsync called.
func (f *outFile) flush() error {
	if f.gz != nil && f.member {
		if err := f.gz.Close(); err != nil {
			return fmt.Errorf("ending gzip member of %s: %w", f.path, err)
		}
		f.gz.Reset(f.bw)
		f.member = false
	}
	if err := f.bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	f.dirty = false
	return nil
}

// fsync makes what was flushed durable, and the first time the
// directory entry too.
func (f *outFile) fsync() error {
	if err := f.fh.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", f.path, err)
	}
	if !f.dirSynced {
		if err := syncDir(dirOf(f.path)); err != nil {
			return err
		}
		f.dirSynced = true
	}
	return nil
}

// close closes the file; everything written must have been flushed and
// fsynced.
func (f *outFile) close() error {
	if err := f.fh.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", f.path, err)
	}
	return nil
}
