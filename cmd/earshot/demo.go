package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/insights/store"
	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/samples"
	"github.com/earshot/earshot/web"
)

func init() {
	register(command{
		name:    "demo",
		summary: "run the whole product on the bundled sample calls: engine, pages, live replays",
		run:     runDemo,
	})
}

// demoAgents are the agents the demo's call lanes stand for; the first
// one's overlay is the one the printed agent token opens.
var demoAgents = []string{"A17", "A21", "A35"}

func runDemo(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "demo", "",
		"Starts the engine with a fresh data directory, creates tokens, and replays the sample calls\n"+
			"continuously at real speed as three agents' endpoints would, so the overlay, the supervisor\n"+
			"wall and the call history fill up live. Prints the URLs and tokens; Ctrl-C stops everything.")
	addr := fs.String("addr", envDefault("EARSHOT_ADDR", "127.0.0.1:8470"), "listen address")
	data := fs.String("data", "", "data directory (default: a fresh temporary one, removed at exit)")
	lanes := fs.Int("agents", len(demoAgents), fmt.Sprintf("agents taking calls at once (1..%d)", len(demoAgents)))
	speed := fs.Float64("speed", 1, "replay speed (1 = real time)")
	once := fs.Bool("once", false, "replay each lane's calls once, then stop")
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *lanes < 1 || *lanes > len(demoAgents) || *speed <= 0 {
		fmt.Fprintf(env.stderr, "earshot demo: --agents must be 1..%d and --speed positive\n", len(demoAgents))
		return errUsage
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "earshot-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	calls, err := loadSampleCalls()
	if err != nil {
		return err
	}
	env.log.Info("loading recognizers, playbook and knowledge base", "decoders", 2**lanes)
	deps, closeDeps, err := loadDeps(env, af, sf, true, 2**lanes)
	if err != nil {
		return err
	}
	defer closeDeps()

	cfg := engine.Config{
		DataDir: dir, Retention: store.DefaultRetention,
		NewAnalyzer: engine.PipelineAnalyzers(ctx, deps),
		Logger:      env.log,
		Web:         web.Handler(),
		Articles:    deps.KB,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listening := make(chan net.Addr, 1)
	var wg sync.WaitGroup
	var serveErr error
	wg.Go(func() {
		serveErr = serveEngine(ctx, cfg, *addr, func(_ *engine.Server, a net.Addr) { listening <- a })
		cancel()
	})
	var base string
	select {
	case a := <-listening:
		base = "http://" + a.String()
	case <-ctx.Done():
		wg.Wait()
		return serveErr
	}

	tokens, err := demoTokens(dir)
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	fmt.Fprintf(env.stdout, `
Earshot demo is running (data in %s).

  Agent overlay:     %s/overlay      sign in with the agent token (agent %s)
  Supervisor wall:   %s/supervisor   sign in with the supervisor token
  Call history:      %s/calls

  agent token:       %s
  supervisor token:  %s

Replaying the %d sample calls as %d agents at %.3gx real time. Ctrl-C stops everything.

`, dir, base, demoAgents[0], base, base, tokens.agent, tokens.supervisor, len(calls), *lanes, *speed)

	stamp := time.Now().UTC().Format("20060102-150405")
	var lanesDone sync.WaitGroup
	for lane := range *lanes {
		lanesDone.Go(func() {
			demoLane(ctx, env, base, tokens.endpoint[lane], demoAgents[lane], stamp, lane, calls, *speed, *once)
		})
	}
	wg.Go(func() {
		lanesDone.Wait()
		if *once {
			fmt.Fprintln(env.stdout, "All sample calls replayed; stopping.")
			cancel()
		}
	})
	<-ctx.Done()
	env.log.Info("stopping: ending live calls and saving them")
	wg.Wait()
	if serveErr != nil && !errors.Is(serveErr, context.Canceled) {
		return serveErr
	}
	return nil
}

type demoTokenSet struct {
	agent, supervisor string
	endpoint          []string // one per demo agent
}

// demoTokens issues the demo's tokens with the engine's secret, which the
// engine created in dir when it started.
func demoTokens(dir string) (demoTokenSet, error) {
	secret, err := auth.LoadOrCreateSecret(dir)
	if err != nil {
		return demoTokenSet{}, err
	}
	a := auth.NewAuthority(secret, time.Now)
	const ttl = 24 * time.Hour
	var t demoTokenSet
	if t.agent, err = a.Issue(auth.RoleAgent, demoAgents[0], ttl); err != nil {
		return t, err
	}
	if t.supervisor, err = a.Issue(auth.RoleSupervisor, "", ttl); err != nil {
		return t, err
	}
	for _, ag := range demoAgents {
		tok, err := a.Issue(auth.RoleEndpoint, ag, ttl)
		if err != nil {
			return t, err
		}
		t.endpoint = append(t.endpoint, tok)
	}
	return t, nil
}

// demoCall is one decoded sample call.
type demoCall struct {
	name          string
	agent, caller []float32
}

// loadSampleCalls decodes the embedded sample calls to 16 kHz channels.
func loadSampleCalls() ([]demoCall, error) {
	truths, err := samples.Calls()
	if err != nil {
		return nil, err
	}
	var out []demoCall
	for _, tr := range truths {
		agent, caller, err := decodeSample(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, demoCall{tr.Name, agent, caller})
	}
	return out, nil
}

// decodeSample decodes one embedded sample call to two 16 kHz channels.
func decodeSample(tr samples.Truth) (agent, caller []float32, err error) {
	f, err := samples.Open(tr.AudioPath())
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	src, err := audio.Decode(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", tr.AudioPath(), err)
	}
	chans, err := audio.ReadAll(audio.Resample(src, audio.PipelineRate))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", tr.AudioPath(), err)
	}
	if len(chans) != 2 {
		return nil, nil, fmt.Errorf("%s: %w", tr.AudioPath(), audio.ErrNotStereo)
	}
	return chans[0], chans[1], nil
}

// demoLane plays the sample calls one after another as one agent's
// endpoint would, each lane starting at a different call, with a short
// pause between calls, until ctx ends (or once through with once).
func demoLane(ctx context.Context, env *environment, base, token, agentID, stamp string, lane int, calls []demoCall, speed float64, once bool) {
	logf := func(msg string, kv ...any) { env.log.Info(msg, kv...) }
	for n := 0; ; n++ {
		if once && n == len(calls) {
			return
		}
		c := calls[(lane*2+n)%len(calls)]
		job := &replayJob{
			name:    c.name,
			callID:  callID("demo-"+agentID, stamp, c.name, n),
			agentID: agentID,
			agent:   c.agent,
			caller:  c.caller,
		}
		r := replayOne(ctx, base, token, speed, job, logf)
		if ctx.Err() != nil {
			return
		}
		if r.err != nil {
			env.log.Warn("demo call failed", "agent", agentID, "call", c.name, "err", r.err)
		} else {
			env.log.Info("demo call stored", "agent", agentID, "call_id", r.ended.CallID, "sample", c.name)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}
