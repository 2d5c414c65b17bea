package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the nsq_bench scripts:
//
//	jsonfield FILE PATH [WANT]    print the value at PATH (dot-separated keys, array
//	                              indexes as numbers: pub.clients.0.msgs) of the JSON
//	                              document in FILE to stdout; with WANT, fail unless the
//	                              value's JSON text is WANT (strings unquoted)
//	jsonnum FILE PATH MIN MAX     the number at PATH is within [MIN, MAX]
func init() {
	for name, cmd := range map[string]func(*testscript.TestScript, bool, []string){
		"jsonfield": cmdJSONField,
		"jsonnum":   cmdJSONNum,
	} {
		if _, dup := scriptCmds[name]; dup {
			panic("script command " + name + " defined twice")
		}
		scriptCmds[name] = cmd
	}
}

// jsonAt reads FILE and walks PATH.
func jsonAt(ts *testscript.TestScript, file, path string) any {
	b, err := os.ReadFile(ts.MkAbs(file))
	ts.Check(err)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		ts.Fatalf("%s is not one JSON document: %v", file, err)
	}
	for _, key := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[key]
			if !ok {
				ts.Fatalf("%s: no key %q on the way to %s", file, key, path)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				ts.Fatalf("%s: no element %q on the way to %s", file, key, path)
			}
			v = node[i]
		default:
			ts.Fatalf("%s: %s: %q is inside a %T", file, path, key, v)
		}
	}
	return v
}

func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: jsonfield FILE PATH [WANT]")
	}
	v := jsonAt(ts, args[0], args[1])
	text := ""
	if s, ok := v.(string); ok {
		text = s
	} else {
		b, _ := json.Marshal(v)
		text = string(b)
	}
	fmt.Fprintln(ts.Stdout(), text)
	if len(args) == 3 && (text == args[2]) == neg {
		ts.Fatalf("%s %s = %s, want %s%s", args[0], args[1], text, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

func cmdJSONNum(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: jsonnum FILE PATH MIN MAX")
	}
	v, ok := jsonAt(ts, args[0], args[1]).(float64)
	if !ok {
		ts.Fatalf("%s %s is not a number", args[0], args[1])
	}
	lo, err1 := strconv.ParseFloat(args[2], 64)
	hi, err2 := strconv.ParseFloat(args[3], 64)
	if err1 != nil || err2 != nil {
		ts.Fatalf("jsonnum: bad bounds %s %s", args[2], args[3])
	}
	if v < lo || v > hi {
		ts.Fatalf("%s %s = %v, want within [%v, %v]", args[0], args[1], v, lo, hi)
	}
	ts.Logf("%s %s = %v", args[0], args[1], v)
}

// TestBenchrunSmoke runs the program behind `make bench` with --smoke: one
// tiny round of every scenario against our nsqd, so `make test` keeps the
// harness working (no figure is checked).
func TestBenchrunSmoke(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "benchrun")
	if out, err := exec.Command("go", "build", "-o", prog, "github.com/nsqkit/nsqkit/core/internal/benchrun").CombinedOutput(); err != nil {
		t.Fatalf("building benchrun: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--smoke"}, {"--smoke", "--json", "--only", "nospill,pubsub"}} {
		cmd := exec.Command(prog, append([]string{"--bin", binDir}, args...)...)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
		out, err := cmd.Output()
		timer.Stop()
		if err != nil {
			t.Fatalf("benchrun %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, stderr.String())
		}
		if len(args) > 1 && args[1] == "--json" {
			var rep struct {
				Scenarios []struct {
					Name    string
					Metrics []struct {
						Name       string
						OursMedian float64 `json:"ours_median"`
					}
				}
			}
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			if len(rep.Scenarios) != 2 || rep.Scenarios[0].Name != "nospill" || rep.Scenarios[1].Name != "pubsub" {
				t.Fatalf("scenarios %+v", rep.Scenarios)
			}
			for _, s := range rep.Scenarios {
				for _, m := range s.Metrics {
					if m.OursMedian <= 0 {
						t.Errorf("%s %s = %v", s.Name, m.Name, m.OursMedian)
					}
				}
			}
			continue
		}
		for _, want := range []string{"== benchsh:", "== nospill:", "RSS bytes/msg", "== big:", "== spill:", "go-diskqueue ceiling", "== pubsub:", "e2e p99", "Put records/s"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}
}
