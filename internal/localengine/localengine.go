package localengine

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/earshot/earshot/engine"
)

// Engine is an engine serving on a listener of this process.
type Engine struct {
	Server *engine.Server
	Addr   net.Addr // the listening address (the port chosen for ":0")
	done   chan struct{}
	err    error // Run's, once done is closed
}

// Start opens an engine with cfg, listens on addr and serves in a goroutine
// until ctx ends; Wait waits for that goroutine. It fails, with nothing
// left running, when the engine cannot open its data directory or addr
// cannot be listened on.
func Start(ctx context.Context, cfg engine.Config, addr string) (*Engine, error) {
	srv, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	e := &Engine{Server: srv, Addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.err = srv.Run(ctx, ln)
	}()
	return e, nil
}

// URL is the engine's base URL, http://host:port.
func (e *Engine) URL() string { return "http://" + e.Addr.String() }

// Done is closed once the engine has shut down and closed its store.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Wait blocks until the engine has shut down (ctx ended, or serving
// failed) and returns Run's error; an engine stopped by its context
// returns nil.
func (e *Engine) Wait() error {
	<-e.done
	if errors.Is(e.err, context.Canceled) {
		return nil
	}
	return e.err
}
