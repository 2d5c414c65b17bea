package cluster

// Placeholders until the implementation lands (this file goes then).

import (
	"context"
	"errors"
	"io"

	"github.com/nsqkit/nsqkit/core/lookup"
)

type poller struct{}

func newPoller(opts Options) *Poller                          { return &Poller{opts: opts} }
func (p *Poller) poll(ctx context.Context) *State             { return &State{} }
func (p *Poller) pollLookupds(context.Context) []LookupdState { return nil }
func planAction(*State, Source, Action) (*Plan, error)        { return nil, errors.New("not implemented") }
func execute(context.Context, *lookup.Client, *Plan) *Result  { return &Result{} }
func writeText(io.Writer, *State) error                       { return errors.New("not implemented") }
func writeJSON(io.Writer, *State) error                       { return errors.New("not implemented") }
