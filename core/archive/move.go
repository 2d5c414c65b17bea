package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// dirMode is the mode of the directories nsq_to_file creates (before the
// umask).
const dirMode = 0o770

// fileMode is the mode of the files it creates (before the umask).
const fileMode = 0o666

func dirOf(path string) string { return filepath.Dir(path) }

// syncDir fsyncs a directory so that entries created or removed in it
// survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// exists reports whether path exists (an error other than "does not
// exist" counts as existing, so that nothing is overwritten).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// moveNoReplace moves src to dst without ever replacing an existing dst:
// a hard link then an unlink, or, where links are impossible (another
// file system), an exclusive copy that is fsynced before src is removed.
// It returns an error matching fs.ErrExist when dst exists. Both
// directories are synced.
func moveNoReplace(src, dst string) error {
	if err := os.MkdirAll(dirOf(dst), dirMode); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	err := os.Link(src, dst)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return err
	case errors.Is(err, syscall.EXDEV), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOTSUP),
		errors.Is(err, syscall.EMLINK):
		if err := copyExclusive(src, dst); err != nil {
			return err
		}
	default:
		return fmt.Errorf("moving %s: %w", src, err)
	}
	if err := syncDir(dirOf(dst)); err != nil {
		return err
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("removing %s after moving it to %s: %w", src, dst, err)
	}
	return syncDir(dirOf(src))
}

// copyExclusive copies src to a new file dst (which must not exist) and
// fsyncs it.
func copyExclusive(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("moving %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("moving %s: %w", src, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(dst)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", dst, err)
	}
	return nil
}
