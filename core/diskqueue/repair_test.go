package diskqueue

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepairOnOpen: New makes damaged metadata agree with the data files
// before go-diskqueue opens them (the cases core/nsqd's corruption tests
// do not reach). The queue starts with 6 records of 40 bytes, two per
// file: files 0, 1 and 2 of 80 bytes, metadata "6\n0,0\n2,80\n".
func TestRepairOnOpen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		depth  int64 // right after New
		read   []int // the messages then read, in order
		log    string
	}{{
		name: "partial length field after the write position",
		damage: func(t *testing.T, dir string) {
			appendTo(t, filepath.Join(dir, "q.diskqueue.000002.dat"), []byte{0, 0})
		},
		depth: 6, read: []int{0, 1, 2, 3, 4, 5}, log: "is damaged after offset 80",
	}, {
		name: "read position past the end of a shorter read file",
		damage: func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "q.diskqueue.000000.dat"), 40); err != nil {
				t.Fatal(err)
			}
			writeMeta(t, dir, "5\n0,60\n2,80\n")
		},
		depth: 5, read: []int{0, 2, 3, 4, 5}, log: "shorter than the read position",
	}, {
		name:   "read file already read to its end",
		damage: func(t *testing.T, dir string) { writeMeta(t, dir, "9\n0,80\n2,80\n") },
		depth:  4, read: []int{2, 3, 4, 5}, log: "depth impossible",
	}, {
		name:   "negative depth",
		damage: func(t *testing.T, dir string) { writeMeta(t, dir, "-3\n0,0\n2,80\n") },
		depth:  6, read: []int{0, 1, 2, 3, 4, 5}, log: "negative value",
	}, {
		name:   "write file number out of range",
		damage: func(t *testing.T, dir string) { writeMeta(t, dir, "6\n0,0\n99999999999,80\n") },
		depth:  6, read: []int{0, 1, 2, 3, 4, 5}, log: "too many files",
	}, {
		name: "unparsable metadata and no data files",
		damage: func(t *testing.T, dir string) {
			for i := 0; i < 3; i++ {
				os.Remove(filepath.Join(dir, fmt.Sprintf("q.diskqueue.%06d.dat", i)))
			}
			writeMeta(t, dir, "x")
		},
		depth: 0, read: nil, log: "unreadable",
	}, {
		// plausible for the bytes, so not caught: the depth reported
		// stays at 0 while go-diskqueue's count goes below
		name:   "depth too low",
		damage: func(t *testing.T, dir string) { writeMeta(t, dir, "2\n0,0\n2,80\n") },
		depth:  2, read: []int{0, 1, 2, 3, 4, 5},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOptions(t, dir)
			o.MaxBytesPerFile = 100
			msgs := makeMessages(6, 10)
			q := New("q", o)
			put(t, q, msgs)
			closeQ(t, q)
			tc.damage(t, dir)

			var logs strings.Builder
			o.Logf = func(level int, format string, args ...any) {
				fmt.Fprintf(&logs, format+"\n", args...)
				t.Logf("L%d "+format, append([]any{level}, args...)...)
			}
			q = New("q", o)
			defer closeQ(t, q)
			if d := q.Depth(); d != tc.depth {
				t.Errorf("depth after New = %d, want %d", d, tc.depth)
			}
			for _, i := range tc.read {
				sameMessage(t, read(t, q), msgs[i])
				if d := q.Depth(); d < 0 {
					t.Fatalf("depth %d", d)
				}
			}
			if d := q.Depth(); d != 0 {
				t.Errorf("depth after reading everything = %d", d)
			}
			more := makeMessages(3, 12)
			put(t, q, more)
			readAll(t, q, more)
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("log lacks %q", tc.log)
			}
			if bad, _ := filepath.Glob(filepath.Join(dir, "*.bad")); len(bad) > 0 && tc.name == "read file already read to its end" {
				t.Errorf("a file was set aside: %v", bad)
			}
		})
	}
}

func writeMeta(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "q.diskqueue.meta.dat"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, fn string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(fn, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}
