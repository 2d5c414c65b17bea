package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the nsq_to_file scripts:
//
//	mpubfile ADDR TOPIC FILE   publish every line of FILE to nsqd's HTTP /mpub (text
//	                           mode), in requests of at most 4 MiB cut at line ends
//	waitdrained ADDR TOPIC CHANNEL  wait (≤ 60 s) until the topic and the channel hold
//	                           nothing: no depth, nothing in flight or deferred (every
//	                           message finished)
//	nofiles GLOB               no file matches GLOB
func init() {
	scriptCmds["mpubfile"] = cmdMpubFile
	scriptCmds["waitdrained"] = cmdWaitDrained
	scriptCmds["nofiles"] = cmdNoFiles
}

func cmdWaitDrained(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitdrained ADDR TOPIC CHANNEL")
	}
	addr, topic, channel := args[0], args[1], args[2]
	last := "no stats yet"
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			Topics []struct {
				TopicName string `json:"topic_name"`
				Depth     int64  `json:"depth"`
				Channels  []struct {
					ChannelName string `json:"channel_name"`
					Depth       int64  `json:"depth"`
					InFlight    int64  `json:"in_flight_count"`
					Deferred    int64  `json:"deferred_count"`
				} `json:"channels"`
			} `json:"topics"`
		}
		if getJSONTS("http://"+addr+"/stats?format=json&topic="+topic, &st) == nil {
			for _, tp := range st.Topics {
				if tp.TopicName != topic {
					continue
				}
				for _, ch := range tp.Channels {
					if ch.ChannelName != channel {
						continue
					}
					last = fmt.Sprintf("topic depth %d, channel depth %d, in flight %d, deferred %d",
						tp.Depth, ch.Depth, ch.InFlight, ch.Deferred)
					if tp.Depth == 0 && ch.Depth == 0 && ch.InFlight == 0 && ch.Deferred == 0 {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s/%s not drained after 60s: %s", topic, channel, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cmdNoFiles(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: nofiles GLOB")
	}
	m, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(m) > 0 {
		ts.Fatalf("%s matches %v", args[0], m)
	}
}

// mpubChunk stays under nsqd's default --max-body-size (5 MiB).
const mpubChunk = 4 << 20

func cmdMpubFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mpubfile ADDR TOPIC FILE")
	}
	addr, topic := args[0], args[1]
	data, err := os.ReadFile(ts.MkAbs(args[2]))
	ts.Check(err)
	url := fmt.Sprintf("http://%s/mpub?topic=%s", addr, topic)
	for len(data) > 0 {
		n := len(data)
		if n > mpubChunk {
			n = bytes.LastIndexByte(data[:mpubChunk], '\n') + 1
			if n == 0 {
				ts.Fatalf("%s: a line longer than %d bytes", args[2], mpubChunk)
			}
		}
		resp, err := httpClient.Post(url, "application/octet-stream", bytes.NewReader(data[:n]))
		ts.Check(err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			ts.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
		}
		data = data[n:]
	}
}
