package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunCluster runs the program behind `make run` on its default
// ports: nsqlookupd and nsqd come up, nsqd registers, SIGINT stops both
// with exit status 0 and nsqd's metadata written. Skipped when a default
// port is taken (e.g. a developer's own `make run`).
func TestMakeRunCluster(t *testing.T) {
	for _, p := range []string{"4150", "4151", "4160", "4161"} {
		l, err := net.Listen("tcp", "0.0.0.0:"+p)
		if err != nil {
			t.Skipf("port %s busy: %v", p, err)
		}
		l.Close()
	}
	data := t.TempDir()
	devcluster := filepath.Join(t.TempDir(), "devcluster")
	if out, err := exec.Command("go", "build", "-o", devcluster, "github.com/nsqkit/nsqkit/core/internal/devcluster").CombinedOutput(); err != nil {
		t.Fatalf("building devcluster: %v\n%s", err, out)
	}
	cmd := exec.Command(devcluster, "--bin", binDir, "--data", data)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	defer func() {
		if !exited {
			// devcluster stops its daemons on SIGTERM
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("output:\n%s", tail(out.String(), 40))
		}
	}()
	until(t, 15*time.Second, "nsqd registered with nsqlookupd", func() bool {
		var r struct{ Producers []lookupProducer }
		resp, err := httpClient.Get("http://127.0.0.1:4161/nodes")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return getJSON(t, "http://127.0.0.1:4161/nodes", &r) == 200 && len(r.Producers) == 1 && r.Producers[0].TCPPort == 4150
	})
	if code, _ := do(t, "POST", "http://127.0.0.1:4151/pub?topic=makerun", nil); code != 400 {
		t.Fatalf("empty pub should be 400, got %d", code)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("devcluster: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("devcluster did not stop after SIGINT")
	}
	if _, err := os.Stat(filepath.Join(data, "nsqd.dat")); err != nil {
		t.Fatal(err)
	}
}
