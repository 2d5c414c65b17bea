package pipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// pubCountingReader hands its data out in pieces of at most n bytes and
// remembers how much it handed out.
type pubCountingReader struct {
	mu    sync.Mutex
	data  []byte
	n     int
	given int
}

func (r *pubCountingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p = p[:min(len(p), r.n, len(r.data)-r.given)]
	if len(p) == 0 {
		select {} // an endless input: never at its end
	}
	n := copy(p, r.data[r.given:])
	r.given += n
	return n, nil
}

func (r *pubCountingReader) handedOut() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data[:r.given]
}

// After a failure, the records the publisher had already taken from its
// input (in chunks read but not yet split) count as unsent: everything
// it read is accounted for, so "N not published" is exactly the records
// taken minus those acknowledged (to_nsq's exit line; a user restarts
// from there). Regression: those chunks were dropped uncounted.
func TestPublisherFailureAccountsForWhatWasRead(t *testing.T) {
	var in bytes.Buffer
	for i := range 100000 {
		fmt.Fprintf(&in, "%05d\n", i)
	}
	r := &pubCountingReader{data: in.Bytes(), n: 1000}
	boom := errors.New("connection reset")
	f := &pubFakeTarget{hold: true, fail: func(i int) error {
		if i > 0 {
			return boom
		}
		return nil
	}}
	p := pubMust(t, PublishOptions{BatchSize: 100, InFlight: 2, ReadSize: 4096, Targets: []PublishTarget{f}})
	type result struct {
		st  PublishStats
		err error
	}
	res := make(chan result, 1)
	go func() {
		st, err := p.Run(context.Background(), r)
		res <- result{st, err}
	}()
	// Two batches out, the reader's buffers full: then the answers, the
	// second one a failure.
	pubWaitFor(t, "two batches in flight", func() bool { return len(f.sizes()) >= 2 })
	pubWaitFor(t, "the reader to have read ahead", func() bool { return len(r.handedOut()) >= 5000 })
	var got result
	for done := false; !done; {
		f.release(1 << 20) // batches sent meanwhile fail too
		select {
		case got = <-res:
			done = true
		case <-time.After(time.Millisecond):
		}
	}
	if !errors.Is(got.err, boom) {
		t.Fatalf("err %v", got.err)
	}
	st := got.st
	taken := uint64(bytes.Count(r.handedOut(), []byte("\n")))
	if st.Read+st.Empty+st.Oversized != taken || st.Read != st.Published+st.NotAcked+st.Unsent {
		t.Fatalf("%d records taken from the input, the stats account for %d: %+v", taken, st.Read+st.Empty+st.Oversized, st)
	}
	if st.Published != 100 || st.NotAcked < 100 || st.Unsent == 0 {
		t.Errorf("stats %+v", st)
	}
}
