package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// lookupdConcurrency caps the /lookup requests in flight per lookupd.
const lookupdConcurrency = 8

// pollLookupds asks every lookupd (concurrently, the whole bounded by
// Options.Timeout) for /topics and /nodes, then each topic's /lookup
// (its channels and producers in one request; at most
// lookupdConcurrency at once per lookupd). Results are in Source order.
func (p *Poller) pollLookupds(ctx context.Context) []LookupdState {
	o := &p.opts
	timeout := p.currentTimeout()
	lds := dedupAddrs(o.Source.LookupdHTTPAddrs)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]LookupdState, len(lds))
	var wg sync.WaitGroup
	for i, a := range lds {
		wg.Go(func() { out[i] = askLookupd(ctx, o.Client, a, timeout) })
	}
	wg.Wait()
	return out
}

func askLookupd(ctx context.Context, c *lookup.Client, addr string, timeout time.Duration) LookupdState {
	ls := LookupdState{Addr: addr, Topics: []LookupdTopic{}, Producers: []lookup.Node{}}
	var (
		topics     []string
		nodes      []lookup.Node
		terr, nerr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { topics, terr = c.Topics(ctx, addr) })
	wg.Go(func() { nodes, nerr = c.Nodes(ctx, addr) })
	wg.Wait()
	var errs []string
	note := func(what string, err error) {
		s := errText(err)
		if lookup.IsTimeout(err) && ctx.Err() != nil {
			s = "timeout: no answer within " + timeout.String()
		}
		errs = append(errs, what+": "+s)
	}
	if nerr != nil {
		note("/nodes", nerr)
	} else {
		ls.Producers = lookup.MergeNodes(nodes) // sorted, topics sorted with their tombstones
	}
	if terr != nil {
		note("/topics", terr)
	} else {
		topics = sortStrings(topics)
		topics = slices.Compact(topics)
		ls.Topics = make([]LookupdTopic, len(topics))
		lerrs := make([]error, len(topics))
		sem := make(chan struct{}, lookupdConcurrency)
		var tw sync.WaitGroup
		for i, t := range topics {
			ls.Topics[i] = LookupdTopic{Name: t, Channels: []string{}, Producers: []string{}}
			tw.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					lerrs[i] = ctx.Err()
					return
				}
				defer func() { <-sem }()
				r, err := c.Lookup(ctx, addr, t)
				if errors.Is(err, lookup.ErrTopicNotFound) {
					return // deleted meanwhile
				}
				if err != nil {
					lerrs[i] = err
					return
				}
				lt := &ls.Topics[i]
				lt.Channels = sortStrings(r.Channels)
				lt.Channels = slices.Compact(lt.Channels)
				for _, pr := range r.Producers {
					lt.Producers = append(lt.Producers, pr.HTTPAddress())
				}
				slices.Sort(lt.Producers)
				lt.Producers = slices.Compact(lt.Producers)
			})
		}
		tw.Wait()
		failed := 0
		var first error
		var firstTopic string
		for i, err := range lerrs {
			if err != nil {
				if failed == 0 {
					first, firstTopic = err, topics[i]
				}
				failed++
			}
		}
		if failed > 0 {
			note(fmt.Sprintf("/lookup failed for %d of %d topics, e.g. %s", failed, len(topics), firstTopic), first)
		}
	}
	for i, e := range errs {
		if i > 0 {
			ls.Err += "; "
		}
		ls.Err += e
	}
	return ls
}
