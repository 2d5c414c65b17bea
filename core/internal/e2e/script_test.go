package e2e

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs the txtar scripts in testdata/script: each drives the
// built binaries (on PATH) as a user would, against real daemons started
// with the commands below. Files named like the tool they test
// (to_nsq_*.txtar, nsq_tail_*.txtar, …).
//
// Commands added to testscript's own (exec, stdout, cmp, …):
//
//	cluster                       start nsqlookupd and one nsqd registered with it; sets
//	                              $LOOKUPD_HTTP, $LOOKUPD_TCP, $NSQD_TCP, $NSQD_HTTP
//	nsqd NAME [flags...]          start another nsqd (registered with the cluster's lookupd if
//	                              there is one); sets $NAME_TCP, $NAME_HTTP
//	stopd NAME [SIGNAL]           stop a daemon started above (TERM by default; KILL, INT)
//	bg NAME cmd args...           start a command in the background, stdout/stderr to files
//	                              NAME.stdout and NAME.stderr in $WORK
//	signal NAME SIGNAL            send a signal to a background command
//	waitbg NAME [CODE]            wait (≤ 60 s) for a background command; check its exit code
//	                              (default 0)
//	httpget URL                   GET; the body goes to stdout (fails unless 200)
//	httppost URL [@file|body]     POST; the body goes to stdout (fails unless 200)
//	waitdepth ADDR TOPIC CHANNEL N  wait (≤ 60 s) until nsqd at ADDR (HTTP) shows depth N for
//	                              the channel ("-" for the topic itself)
//	waitfile GLOB [N]             wait (≤ 60 s) until GLOB matches at least N files (default 1)
//	waitlines FILE N              wait (≤ 60 s) until FILE holds at least N lines
//	catfiles OUT GLOB...          concatenate the files (gunzipping *.gz) into OUT, in name order
//	samelines A B                 A and B hold the same lines as multisets
//	coverlines A B                every line of A is somewhere in B (duplicates in B allowed)
//	seq N OUT                     write the lines 1…N to OUT
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Values["procs"] = map[string]*bgProc{}
			return nil
		},
		Cmds:                scriptCmds,
		RequireExplicitExec: true,
	})
}

// scriptCmds are the custom commands; other files may add their own in
// init functions.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"cluster":    cmdCluster,
	"nsqd":       cmdNSQD,
	"stopd":      cmdStop,
	"bg":         cmdBg,
	"signal":     cmdSignal,
	"waitbg":     cmdWaitBg,
	"httpget":    cmdHTTPGet,
	"httppost":   cmdHTTPPost,
	"waitdepth":  cmdWaitDepth,
	"waitfile":   cmdWaitFile,
	"waitlines":  cmdWaitLines,
	"catfiles":   cmdCatFiles,
	"samelines":  cmdSameLines,
	"coverlines": cmdCoverLines,
	"seq":        cmdSeq,
}

// bgProc is a process a script started: a daemon or a bg command.
type bgProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  *os.File // daemons: combined output, shown when the script fails
}

func procs(ts *testscript.TestScript) map[string]*bgProc {
	return ts.Value("procs").(map[string]*bgProc)
}

var signals = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL,
	"HUP": syscall.SIGHUP, "PIPE": syscall.SIGPIPE,
}

// startProc starts a process; stdout and stderr go to the given files.
func startProc(ts *testscript.TestScript, name string, stdout, stderr *os.File, argv ...string) *bgProc {
	if _, ok := procs(ts)[name]; ok {
		ts.Fatalf("%s: already started", name)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		// testscript's PATH is in its own environment, not ours
		path = filepath.Join(binDir, argv[0])
	}
	p := &bgProc{cmd: exec.Command(path, argv[1:]...), done: make(chan struct{})}
	p.cmd.Dir = ts.Getenv("WORK")
	p.cmd.Env = scriptEnv(ts)
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	if err := p.cmd.Start(); err != nil {
		ts.Fatalf("start %s: %v", argv[0], err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	procs(ts)[name] = p
	ts.Defer(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// scriptEnv is the script's environment for a child process.
func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "WORK", "NO_COLOR", "TERM", "LANG", "TZ"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// startDaemon runs one of our daemons on fresh loopback ports and waits
// for /ping.
func startDaemon(ts *testscript.TestScript, name, bin string, args ...string) (tcp, httpAddr string) {
	tcp = fmt.Sprintf("127.0.0.1:%d", freePortTS(ts))
	httpAddr = fmt.Sprintf("127.0.0.1:%d", freePortTS(ts))
	argv := append([]string{bin, "--tcp-address=" + tcp, "--http-address=" + httpAddr}, args...)
	if bin == "nsqd" {
		argv = append(argv, "--https-address=", "--broadcast-address=127.0.0.1")
	}
	log, err := os.Create(filepath.Join(ts.Getenv("WORK"), name+".log"))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	p := startProc(ts, name, log, log, argv...)
	p.out = log
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			out, _ := os.ReadFile(log.Name())
			ts.Fatalf("%s exited early: %v\n%s", name, p.err, out)
		default:
		}
		resp, err := httpClient.Get("http://" + httpAddr + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return tcp, httpAddr
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s not ready after 15s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePortTS(ts *testscript.TestScript) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func cmdCluster(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: cluster")
	}
	ltcp, lhttp := startDaemon(ts, "nsqlookupd", "nsqlookupd", "--broadcast-address=127.0.0.1")
	ts.Setenv("LOOKUPD_TCP", ltcp)
	ts.Setenv("LOOKUPD_HTTP", lhttp)
	cmdNSQD(ts, false, []string{"nsqd"})
	// nsqd has registered once lookupd lists it
	waitFor(ts, "nsqd registered with nsqlookupd", func() bool {
		var nodes struct{ Producers []json.RawMessage }
		return getJSONTS("http://"+lhttp+"/nodes", &nodes) == nil && len(nodes.Producers) > 0
	})
}

func cmdNSQD(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: nsqd NAME [flags...]")
	}
	name := args[0]
	flags := []string{"--data-path=" + filepath.Join(ts.Getenv("WORK"), name+"-data")}
	if err := os.MkdirAll(flags[0][len("--data-path="):], 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	if l := ts.Getenv("LOOKUPD_TCP"); l != "" {
		flags = append(flags, "--lookupd-tcp-address="+l)
	}
	tcp, httpAddr := startDaemon(ts, name, "nsqd", append(flags, args[1:]...)...)
	env := strings.ToUpper(name)
	ts.Setenv(env+"_TCP", tcp)
	ts.Setenv(env+"_HTTP", httpAddr)
}

func cmdStop(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: stopd NAME [SIGNAL]")
	}
	sig := syscall.SIGTERM
	if len(args) == 2 {
		s, ok := signals[args[1]]
		if !ok {
			ts.Fatalf("unknown signal %s", args[1])
		}
		sig = s
	}
	p := procs(ts)[args[0]]
	if p == nil {
		ts.Fatalf("%s: not started", args[0])
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		ts.Fatalf("%s did not exit within 30s after %s", args[0], sig)
	}
	delete(procs(ts), args[0])
}

func cmdBg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: bg NAME cmd args...")
	}
	work := ts.Getenv("WORK")
	stdout, err := os.Create(filepath.Join(work, args[0]+".stdout"))
	ts.Check(err)
	stderr, err := os.Create(filepath.Join(work, args[0]+".stderr"))
	ts.Check(err)
	startProc(ts, args[0], stdout, stderr, args[1:]...)
}

func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal NAME SIGNAL")
	}
	p := procs(ts)[args[0]]
	sig, ok := signals[args[1]]
	if p == nil || !ok {
		ts.Fatalf("signal: unknown process %s or signal %s", args[0], args[1])
	}
	ts.Check(p.cmd.Process.Signal(sig))
}

func cmdWaitBg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitbg NAME [CODE]")
	}
	p := procs(ts)[args[0]]
	if p == nil {
		ts.Fatalf("%s: not started", args[0])
	}
	want := 0
	if len(args) == 2 {
		want, _ = strconv.Atoi(args[1])
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		ts.Fatalf("%s still running after 60s", args[0])
	}
	delete(procs(ts), args[0])
	if got := p.cmd.ProcessState.ExitCode(); got != want {
		stderr, _ := os.ReadFile(filepath.Join(ts.Getenv("WORK"), args[0]+".stderr"))
		ts.Fatalf("%s exited %d (%v), want %d; stderr:\n%s", args[0], got, p.err, want, stderr)
	}
}

func httpDo(ts *testscript.TestScript, method, url string, body io.Reader) {
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	req, err := http.NewRequest(method, url, body)
	ts.Check(err)
	resp, err := httpClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ts.Stdout().Write(b)
	if resp.StatusCode != 200 {
		ts.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
}

func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpget URL")
	}
	httpDo(ts, "GET", args[0], nil)
}

func cmdHTTPPost(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: httppost URL [@file|body]")
	}
	var body io.Reader
	if len(args) == 2 {
		if f, ok := strings.CutPrefix(args[1], "@"); ok {
			b, err := os.ReadFile(ts.MkAbs(f))
			ts.Check(err)
			body = strings.NewReader(string(b))
		} else {
			body = strings.NewReader(args[1])
		}
	}
	httpDo(ts, "POST", args[0], body)
}

func getJSONTS(url string, v any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitFor polls cond for up to 60 s.
func waitFor(ts *testscript.TestScript, what string, cond func() bool) {
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			ts.Fatalf("timed out after 60s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cmdWaitDepth(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: waitdepth ADDR TOPIC CHANNEL N")
	}
	addr, topic, channel := args[0], args[1], args[2]
	want, err := strconv.ParseInt(args[3], 10, 64)
	ts.Check(err)
	var last int64 = -1
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			Topics []struct {
				TopicName string `json:"topic_name"`
				Depth     int64  `json:"depth"`
				Channels  []struct {
					ChannelName string `json:"channel_name"`
					Depth       int64  `json:"depth"`
				} `json:"channels"`
			} `json:"topics"`
		}
		if getJSONTS("http://"+addr+"/stats?format=json&include_clients=false&topic="+topic, &st) == nil {
			for _, tp := range st.Topics {
				if tp.TopicName != topic {
					continue
				}
				if channel == "-" {
					last = tp.Depth
				}
				for _, ch := range tp.Channels {
					if ch.ChannelName == channel {
						last = ch.Depth
					}
				}
			}
		}
		if last == want {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("depth of %s/%s is %d after 60s, want %d", topic, channel, last, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitfile GLOB [N]")
	}
	n := 1
	if len(args) == 2 {
		n, _ = strconv.Atoi(args[1])
	}
	waitFor(ts, fmt.Sprintf("%d files matching %s", n, args[0]), func() bool {
		m, _ := filepath.Glob(ts.MkAbs(args[0]))
		return len(m) >= n
	})
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "\n")
}

func cmdWaitLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitlines FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	waitFor(ts, fmt.Sprintf("%d lines in %s", n, args[0]), func() bool {
		return countLines(ts.MkAbs(args[0])) >= n
	})
}

func cmdCatFiles(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: catfiles OUT GLOB...")
	}
	out, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	defer out.Close()
	var files []string
	for _, g := range args[1:] {
		m, err := filepath.Glob(ts.MkAbs(g))
		ts.Check(err)
		files = append(files, m...)
	}
	sort.Strings(files)
	for _, f := range files {
		in, err := os.Open(f)
		ts.Check(err)
		var r io.Reader = in
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(in) // reads every member
			if err != nil {
				ts.Fatalf("%s: %v", f, err)
			}
			r = zr
		}
		if _, err := io.Copy(out, r); err != nil {
			ts.Fatalf("%s: %v", f, err)
		}
		in.Close()
	}
}

// lineCounts counts each line of a file.
func lineCounts(ts *testscript.TestScript, path string) map[string]int {
	f, err := os.Open(ts.MkAbs(path))
	ts.Check(err)
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		counts[sc.Text()]++
	}
	ts.Check(sc.Err())
	return counts
}

func cmdSameLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: samelines A B")
	}
	a, b := lineCounts(ts, args[0]), lineCounts(ts, args[1])
	var diff []string
	for l, n := range a {
		if b[l] != n {
			diff = append(diff, fmt.Sprintf("%q: %d in %s, %d in %s", l, n, args[0], b[l], args[1]))
		}
	}
	for l, n := range b {
		if _, ok := a[l]; !ok {
			diff = append(diff, fmt.Sprintf("%q: 0 in %s, %d in %s", l, args[0], n, args[1]))
		}
	}
	if neg != (len(diff) > 0) {
		slices.Sort(diff)
		if len(diff) > 10 {
			diff = append(diff[:10], fmt.Sprintf("… %d more", len(diff)-10))
		}
		ts.Fatalf("samelines %s %s: %d differences\n%s", args[0], args[1], len(diff), strings.Join(diff, "\n"))
	}
}

func cmdCoverLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: coverlines A B")
	}
	a, b := lineCounts(ts, args[0]), lineCounts(ts, args[1])
	var missing []string
	for l := range a {
		if b[l] == 0 {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		ts.Fatalf("%d lines of %s are not in %s, e.g. %q", len(missing), args[0], args[1], missing[:min(5, len(missing))])
	}
	dups := 0
	for l, n := range b {
		if n > a[l] {
			dups += n - a[l]
		}
	}
	ts.Logf("coverlines: every line of %s is in %s (%d extra copies)", args[0], args[1], dups)
}

func cmdSeq(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: seq N OUT")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	w := bufio.NewWriter(f)
	for i := 1; i <= n; i++ {
		w.WriteString(strconv.Itoa(i))
		w.WriteByte('\n')
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
}
