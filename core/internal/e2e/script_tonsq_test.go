package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
)

// Commands for the to_nsq scripts:
//
//	bgin [-open] NAME FILE cmd args...  bg with stdin read from FILE (waitbg NAME CODE checks
//	                              the exit status; output in NAME.stdout and NAME.stderr);
//	                              -open: stdin is a pipe fed with FILE and left open (no EOF)
//	                              until the command exits
//	consume ADDR TOPIC CHANNEL N OUT  subscribe to nsqd at ADDR (TCP), receive N messages
//	                              (≤ 60 s), finish them and write each body Go-quoted on a
//	                              line of OUT, in arrival order (so every byte shows)
//	writebytes FILE QUOTED        write FILE with the bytes of a Go string literal's contents
//	                              (no newline added: 'a\nb' is three bytes)
//	spreaddepth TOPIC N ADDR...   wait (≤ 60 s) until the topic's depths on the nsqd at the
//	                              ADDRs (HTTP) add up to N, each of them holding some
//	waitnodes ADDR N              wait (≤ 60 s) until nsqlookupd at ADDR (HTTP) lists N nsqd
func init() {
	for name, cmd := range map[string]func(*testscript.TestScript, bool, []string){
		"bgin":        cmdBgIn,
		"consume":     cmdConsume,
		"spreaddepth": cmdSpreadDepth,
		"waitnodes":   cmdWaitNodes,
		"writebytes":  cmdWriteBytes,
	} {
		if _, dup := scriptCmds[name]; dup {
			panic("script command " + name + " defined twice")
		}
		scriptCmds[name] = cmd
	}
}

func cmdBgIn(ts *testscript.TestScript, neg bool, args []string) {
	open := len(args) > 0 && args[0] == "-open"
	if open {
		args = args[1:]
	}
	if neg || len(args) < 3 {
		ts.Fatalf("usage: bgin [-open] NAME FILE cmd args...")
	}
	name, work := args[0], ts.Getenv("WORK")
	if _, ok := procs(ts)[name]; ok {
		ts.Fatalf("%s: already started", name)
	}
	in, err := os.Open(ts.MkAbs(args[1]))
	ts.Check(err)
	var stdin *os.File = in
	var feed *os.File // the pipe's write end, kept open
	if open {
		r, w, err := os.Pipe()
		ts.Check(err)
		stdin, feed = r, w
	}
	stdout, err := os.Create(filepath.Join(work, name+".stdout"))
	ts.Check(err)
	stderr, err := os.Create(filepath.Join(work, name+".stderr"))
	ts.Check(err)
	path := filepath.Join(binDir, args[2])
	if _, err := os.Stat(path); err != nil {
		path = args[2]
	}
	p := &bgProc{cmd: exec.Command(path, args[3:]...), done: make(chan struct{})}
	p.cmd.Dir = work
	p.cmd.Env = scriptEnv(ts)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = stdin, stdout, stderr
	if err := p.cmd.Start(); err != nil {
		ts.Fatalf("start %s: %v", args[2], err)
	}
	if feed != nil {
		stdin.Close() // the child has its own copy
		go io.Copy(feed, in)
	}
	go func() {
		p.err = p.cmd.Wait()
		in.Close()
		if feed != nil {
			feed.Close()
		}
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
}

func cmdConsume(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 5 {
		ts.Fatalf("usage: consume ADDR TOPIC CHANNEL N OUT")
	}
	want, err := strconv.Atoi(args[3])
	ts.Check(err)
	cfg := client.NewConfig()
	cfg.MaxInFlight = 500
	cfg.Logger = logger.Discard()
	c, err := client.NewConsumer(args[1], args[2], cfg)
	ts.Check(err)
	out, err := os.Create(ts.MkAbs(args[4]))
	ts.Check(err)
	defer out.Close()
	w := bufio.NewWriter(out)
	var mu sync.Mutex
	n := 0
	all := make(chan struct{})
	c.AddHandler(client.HandlerFunc(func(m *client.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if n >= want {
			return nil // more than expected: counted, not written
		}
		w.WriteString(strconv.Quote(string(m.Body)))
		w.WriteByte('\n')
		if n++; n == want {
			close(all)
		}
		return nil
	}))
	ts.Check(c.ConnectToNSQD(args[0]))
	defer func() {
		c.Stop()
		<-c.StopChan
	}()
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		ts.Fatalf("consume: %d of %d messages after 60s", n, want)
	}
	mu.Lock()
	defer mu.Unlock()
	ts.Check(w.Flush())
}

// topicDepth is the depth of topic on the nsqd at addr (HTTP), -1 if
// it has no such topic.
func topicDepth(addr, topic string) (int64, error) {
	var st struct {
		Topics []struct {
			TopicName string `json:"topic_name"`
			Depth     int64  `json:"depth"`
		} `json:"topics"`
	}
	if err := getJSONTS("http://"+addr+"/stats?format=json&include_clients=false&topic="+topic, &st); err != nil {
		return 0, err
	}
	for _, tp := range st.Topics {
		if tp.TopicName == topic {
			return tp.Depth, nil
		}
	}
	return -1, nil
}

func cmdSpreadDepth(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: spreaddepth TOPIC N ADDR...")
	}
	topic := args[0]
	want, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	var depths []int64
	ok := func() bool {
		depths = depths[:0]
		var sum int64
		for _, addr := range args[2:] {
			d, err := topicDepth(addr, topic)
			if err != nil || d <= 0 {
				depths = append(depths, d)
				return false
			}
			depths = append(depths, d)
			sum += d
		}
		return sum == want
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			ts.Fatalf("depths of %s: %v after 60s, want %d in all, some on each", topic, depths, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Logf("depths of %s: %v", topic, depths)
}

func cmdWaitNodes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitnodes ADDR N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	waitFor(ts, fmt.Sprintf("%d nsqd listed by nsqlookupd", want), func() bool {
		var nodes struct{ Producers []json.RawMessage }
		return getJSONTS("http://"+args[0]+"/nodes", &nodes) == nil && len(nodes.Producers) >= want
	})
}

func cmdWriteBytes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: writebytes FILE QUOTED")
	}
	b, err := strconv.Unquote(`"` + args[1] + `"`)
	if err != nil {
		ts.Fatalf("writebytes: %q is not the inside of a Go string literal: %v", args[1], err)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b), 0o644))
}
