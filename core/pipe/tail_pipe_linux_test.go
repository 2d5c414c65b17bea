package pipe

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTrackPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tr := TrackPipe(w)
	if tr == nil {
		t.Fatal("a pipe is not tracked")
	}
	if _, err := tr.Write([]byte("hello\nworld\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.Unread(); n != 12 || err != nil {
		t.Fatalf("Unread = %d, %v; want 12", n, err)
	}
	buf := make([]byte, 6)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.Unread(); n != 6 || err != nil {
		t.Fatalf("Unread after reading 6 = %d, %v; want 6", n, err)
	}

	// done ends the wait while the reader is there
	done := make(chan struct{})
	got := make(chan bool, 1)
	go func() { got <- tr.WaitReaderClosed(done) }()
	close(done)
	select {
	case v := <-got:
		if v {
			t.Fatal("WaitReaderClosed reported a close while the reader is open")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitReaderClosed ignores done")
	}

	// closing the reader ends it with true; what was unread stays counted
	go func() { got <- tr.WaitReaderClosed(make(chan struct{})) }()
	r.Close()
	select {
	case v := <-got:
		if !v {
			t.Fatal("WaitReaderClosed = false after the reader closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitReaderClosed did not notice the reader closing")
	}
	if n, err := tr.Unread(); n != 6 || err != nil {
		t.Fatalf("Unread after the reader closed = %d, %v; want 6", n, err)
	}
	if _, err := tr.Write([]byte("x")); !IsBrokenPipe(err) {
		t.Fatalf("write after the reader closed: %v, want EPIPE", err)
	}
}

func TestTrackPipeNotAPipe(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if tr := TrackPipe(f); tr != nil {
		t.Fatal("a regular file is tracked")
	}
}
