package demo

import (
	"context"
	"fmt"
	"github.com/earshot/earshot/cluster"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/internal/localengine"
	"github.com/earshot/earshot/internal/replay"
	"github.com/earshot/earshot/store"
)

// Agents are the agents the demo's call lanes stand for, in lane order;
// the first one's overlay is the one the printed agent token opens.
var Agents = []string{"A17", "A21", "A35"}

// Config configures Run. Zero values mean the defaults noted.
type Config struct {
	Addr    string  // listen address (default 127.0.0.1:8470)
	DataDir string  // data directory (default: a fresh temporary one, removed when Run returns)
	Lanes   int     // agents taking calls at once, 1..len(Agents) (default len(Agents))
	Speed   float64 // replay speed (default 1, real time)
	Once    bool    // replay each lane's calls once, then stop
	// Deps is the call pipeline: at least two recognizers per lane, the
	// playbook and the KB. Run does not close it.
	Deps   call.Deps
	Web    http.Handler // the pages; nil serves the API only
	Logger *slog.Logger // the engine's and the lanes' log (default: discarded)
	Out    io.Writer    // where the URLs and tokens are printed (default: discarded)
}

func (c *Config) defaults() error {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8470"
	}
	if c.Lanes == 0 {
		c.Lanes = len(Agents)
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Lanes < 1 || c.Lanes > len(Agents) || c.Speed < 0 {
		return fmt.Errorf("%w: %d lanes (1..%d) at speed %v", ErrConfig, c.Lanes, len(Agents), c.Speed)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return nil
}

// Run starts the engine, prints where to look and with which tokens, and
// replays the sample calls until ctx ends (or, with Once, every lane is
// through), then stops the engine, which ends and saves the live calls.
// It blocks until then and returns the engine's error, if it failed.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	dir := cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "earshot-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	calls, err := replay.SampleCalls()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	eng, err := localengine.Start(ctx, engine.Config{
		DataDir: dir, Retention: store.DefaultRetention,
		NewAnalyzer: engine.PipelineAnalyzers(ctx, cfg.Deps),
		Logger:      cfg.Logger,
		Web:         cfg.Web,
		Articles:    cfg.Deps.KB,
		Cluster:     &cluster.Config{}, // one node, embedded NATS, no port: as `earshot serve`
	}, cfg.Addr)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		// An engine that stops on its own stops the demo.
		<-eng.Done()
		cancel()
	})
	tokens, err := issueTokens(eng.Server.Authority())
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	printBanner(cfg, dir, eng.URL(), tokens, len(calls))
	wg.Go(func() { replayLanes(ctx, cancel, cfg, eng.URL(), tokens, calls) })
	<-ctx.Done()
	cfg.Logger.Info("stopping: ending live calls and saving them")
	wg.Wait()
	return eng.Wait()
}

type tokenSet struct {
	agent, supervisor string
	endpoint          []string // one per agent of Agents
}

// issueTokens issues the demo's tokens, valid for a day, with the
// engine's authority.
func issueTokens(a *auth.Authority) (tokenSet, error) {
	const ttl = 24 * time.Hour
	var t tokenSet
	var err error
	if t.agent, err = a.Issue(auth.RoleAgent, Agents[0], ttl); err != nil {
		return t, err
	}
	if t.supervisor, err = a.Issue(auth.RoleSupervisor, "", ttl); err != nil {
		return t, err
	}
	for _, ag := range Agents {
		tok, err := a.Issue(auth.RoleEndpoint, ag, ttl)
		if err != nil {
			return t, err
		}
		t.endpoint = append(t.endpoint, tok)
	}
	return t, nil
}

func printBanner(cfg Config, dir, base string, tokens tokenSet, calls int) {
	fmt.Fprintf(cfg.Out, `
Earshot demo is running (data in %s).

  Agent overlay:     %s/overlay      sign in with the agent token (agent %s)
  Supervisor wall:   %s/supervisor   sign in with the supervisor token
  Call history:      %s/calls

  agent token:       %s
  supervisor token:  %s

Replaying the %d sample calls as %d agents at %.3gx real time. Ctrl-C stops everything.

`, dir, base, Agents[0], base, base, tokens.agent, tokens.supervisor, calls, cfg.Lanes, cfg.Speed)
}

// replayLanes runs one lane per agent until ctx ends; with cfg.Once it
// cancels the demo when every lane is through.
func replayLanes(ctx context.Context, cancel context.CancelFunc, cfg Config, base string, tokens tokenSet, calls []replay.Call) {
	stamp := time.Now().UTC().Format("20060102-150405")
	var lanes sync.WaitGroup
	for i := range cfg.Lanes {
		l := lane{cfg: cfg, base: base, token: tokens.endpoint[i], agentID: Agents[i], stamp: stamp, index: i, calls: calls}
		lanes.Go(func() { l.run(ctx) })
	}
	lanes.Wait()
	if cfg.Once {
		fmt.Fprintln(cfg.Out, "All sample calls replayed; stopping.")
		cancel()
	}
}

// lane is one agent's endpoint taking the sample calls one after another.
type lane struct {
	cfg     Config
	base    string
	token   string
	agentID string
	stamp   string
	index   int
	calls   []replay.Call
}

// run plays the sample calls, each lane starting at a different call,
// with a short pause between calls, until ctx ends (or once through with
// Once).
func (l lane) run(ctx context.Context) {
	for n := 0; ; n++ {
		if l.cfg.Once && n == len(l.calls) {
			return
		}
		c := l.calls[(l.index*2+n)%len(l.calls)]
		job := &replay.Job{
			Name:    c.Name,
			CallID:  replay.CallID("demo-"+l.agentID, l.stamp, c.Name, n),
			AgentID: l.agentID,
			Agent:   c.Agent,
			Caller:  c.Caller,
		}
		r := replay.One(ctx, l.base, l.token, l.cfg.Speed, job)
		if ctx.Err() != nil {
			return
		}
		if r.Err != nil {
			l.cfg.Logger.Warn("demo call failed", "agent", l.agentID, "call", c.Name, "err", r.Err)
		} else {
			l.cfg.Logger.Info("demo call stored", "agent", l.agentID, "call_id", r.Ended.CallID, "sample", c.Name)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}
