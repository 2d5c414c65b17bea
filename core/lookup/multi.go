package lookup

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
)

// The *All methods ask several lookupds concurrently (at most
// Options.MaxConcurrency at once, each request bounded by the client's
// timeouts and ctx) and merge the answers. Repeated addresses are asked
// once. The error is non-nil only when no lookupd answered (or addrs is
// empty); failures of some lookupds while others answered are listed in the
// result's embedded [Partial].

// LookupAllResult is the union of several lookupds' /lookup answers.
type LookupAllResult struct {
	Channels  []string   `json:"channels"`  // sorted, de-duplicated
	Producers []Producer `json:"producers"` // de-duplicated by TCPAddress, sorted by it
	Partial
}

// TopicsAllResult is the union of several lookupds' /topics answers.
type TopicsAllResult struct {
	Topics []string `json:"topics"` // sorted, de-duplicated
	Partial
}

// ChannelsAllResult is the union of several lookupds' /channels answers.
type ChannelsAllResult struct {
	Channels []string `json:"channels"` // sorted, de-duplicated
	Partial
}

// NodesAllResult is the union of several lookupds' /nodes answers.
type NodesAllResult struct {
	// Nodes de-duplicated by HTTPAddress and sorted by it; each node's
	// topics are the union of what every lookupd said (sorted), tombstoned
	// if any lookupd says so.
	Nodes []Node `json:"nodes"`
	Partial
}

// LookupAll asks every lookupd for topic's producers and channels and
// returns their union. A lookupd that answers TOPIC_NOT_FOUND counts as
// having answered (with nothing).
func (c *Client) LookupAll(ctx context.Context, lookupdAddrs []string, topic string) (*LookupAllResult, error) {
	rs, p, err := fanOut(ctx, c, lookupdAddrs, func(ctx context.Context, addr string) (*LookupResponse, error) {
		r, err := c.Lookup(ctx, addr, topic)
		if errors.Is(err, ErrTopicNotFound) {
			return &LookupResponse{}, nil
		}
		return r, err
	})
	out := &LookupAllResult{Channels: []string{}, Producers: []Producer{}, Partial: p}
	seen := make(map[string]bool)
	for _, r := range rs {
		out.Channels = append(out.Channels, r.Channels...)
		for _, pr := range r.Producers {
			k := pr.TCPAddress()
			if !seen[k] {
				seen[k] = true
				out.Producers = append(out.Producers, pr)
			}
		}
	}
	out.Channels = sortedUnique(out.Channels)
	slices.SortFunc(out.Producers, func(a, b Producer) int { return cmp.Compare(a.TCPAddress(), b.TCPAddress()) })
	return out, err
}

// TopicsAll returns the union of every lookupd's topics.
func (c *Client) TopicsAll(ctx context.Context, lookupdAddrs []string) (*TopicsAllResult, error) {
	rs, p, err := fanOut(ctx, c, lookupdAddrs, c.Topics)
	return &TopicsAllResult{Topics: sortedUnique(slices.Concat(rs...)), Partial: p}, err
}

// ChannelsAll returns the union of every lookupd's channels of topic.
func (c *Client) ChannelsAll(ctx context.Context, lookupdAddrs []string, topic string) (*ChannelsAllResult, error) {
	rs, p, err := fanOut(ctx, c, lookupdAddrs, func(ctx context.Context, addr string) ([]string, error) {
		return c.Channels(ctx, addr, topic)
	})
	return &ChannelsAllResult{Channels: sortedUnique(slices.Concat(rs...)), Partial: p}, err
}

// NodesAll returns the union of every lookupd's nodes.
func (c *Client) NodesAll(ctx context.Context, lookupdAddrs []string) (*NodesAllResult, error) {
	rs, p, err := fanOut(ctx, c, lookupdAddrs, c.Nodes)
	return &NodesAllResult{Nodes: MergeNodes(rs...), Partial: p}, err
}

// MergeNodes merges node lists (from several lookupds) into one: nodes
// de-duplicated by HTTPAddress and sorted by it, the first record of a node
// kept for its producer fields, its topics the sorted union, tombstoned for
// a topic if any list says so.
func MergeNodes(lists ...[]Node) []Node {
	byAddr := make(map[string]map[string]bool) // node → topic → tombstoned
	first := make(map[string]Producer)
	var order []string
	for _, list := range lists {
		for _, n := range list {
			k := n.HTTPAddress()
			topics, ok := byAddr[k]
			if !ok {
				topics = make(map[string]bool)
				byAddr[k] = topics
				first[k] = n.Producer
				order = append(order, k)
			}
			for i, t := range n.Topics {
				tomb := i < len(n.Tombstones) && n.Tombstones[i]
				topics[t] = topics[t] || tomb
			}
		}
	}
	slices.Sort(order)
	out := make([]Node, 0, len(order))
	for _, k := range order {
		n := Node{Producer: first[k], Topics: []string{}, Tombstones: []bool{}}
		for t := range byAddr[k] {
			n.Topics = append(n.Topics, t)
		}
		slices.Sort(n.Topics)
		for _, t := range n.Topics {
			n.Tombstones = append(n.Tombstones, byAddr[k][t])
		}
		out = append(out, n)
	}
	return out
}

// fanOut calls fn for every (de-duplicated) address concurrently, at most
// c.maxConc at once, and returns the answers in address order, which
// addresses answered and which failed. err is ErrNoAddresses for no
// address, a *MultiError when none answered, nil otherwise.
func fanOut[T any](ctx context.Context, c *Client, addrs []string, fn func(context.Context, string) (T, error)) ([]T, Partial, error) {
	addrs = dedupAddrs(addrs)
	if len(addrs) == 0 {
		return nil, Partial{}, ErrNoAddresses
	}
	results := make([]T, len(addrs))
	errs := make([]error, len(addrs))
	c.each(ctx, len(addrs), func(ctx context.Context, i int) {
		results[i], errs[i] = fn(ctx, addrs[i])
	}, func(i int, err error) { errs[i] = err })
	var (
		out []T
		p   Partial
	)
	for i, a := range addrs {
		if errs[i] != nil {
			p.Errors = append(p.Errors, &AddrError{Addr: a, Err: errs[i]})
			continue
		}
		p.Answered = append(p.Answered, a)
		out = append(out, results[i])
	}
	if len(p.Answered) == 0 {
		return nil, p, &MultiError{Errors: p.Errors}
	}
	return out, p, nil
}

// sortedUnique sorts s and drops repeats; never nil.
func sortedUnique(s []string) []string {
	if s == nil {
		return []string{}
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// each runs fn(ctx, i) for i in [0, n) concurrently, at most c.maxConc at
// once, and returns when all are done. An index that could not start before
// ctx ended gets skipped(i, ctx.Err()) instead.
func (c *Client) each(ctx context.Context, n int, fn func(ctx context.Context, i int), skipped func(i int, err error)) {
	sem := make(chan struct{}, c.maxConc)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				skipped(i, ctx.Err())
				return
			}
			defer func() { <-sem }()
			fn(ctx, i)
		}()
	}
	wg.Wait()
}
