package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/internal/ingestclient"
)

func init() {
	register(command{
		name:    "replay",
		summary: "stream recordings to a running engine as an endpoint would",
		run:     runReplay,
	})
}

// replayJob is one recording to stream as one call.
type replayJob struct {
	name          string // for messages
	callID        string
	agentID       string
	agent, caller []float32
	onFrame       func(end time.Duration, sent time.Time)
}

// replayResult is what streaming one call gave.
type replayResult struct {
	job     *replayJob
	ended   ingestclient.Ended
	stats   ingestclient.Stats
	elapsed time.Duration // first frame handed over → stream done
	drain   time.Duration // stream done → engine's "ended"
	err     error
}

// replayOne streams one call through its own ingest client. The client's
// Run goroutine is owned here: started, then waited for before returning.
func replayOne(ctx context.Context, url, token string, speed float64, job *replayJob, log func(string, ...any)) replayResult {
	res := replayResult{job: job}
	c, err := ingestclient.New(ingestclient.Config{URL: url, Token: token, CallID: job.callID, AgentID: job.agentID})
	if err != nil {
		res.err = err
		return res
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = c.Run(runCtx) }()
	start := time.Now()
	err = ingestclient.Stream(ctx, c, job.agent, job.caller, ingestclient.StreamConfig{Speed: speed, OnFrame: job.onFrame})
	res.elapsed = time.Since(start)
	if err == nil {
		res.ended, err = c.End(ctx)
		res.drain = time.Since(start) - res.elapsed
	}
	cancel()
	wg.Wait()
	if err != nil && runErr != nil && !errors.Is(runErr, context.Canceled) {
		err = fmt.Errorf("%w (connection: %v)", err, runErr)
	}
	res.err, res.stats = err, c.Stats()
	return res
}

// runJobs streams jobs with at most concurrency at once and returns the
// results in job order.
func runJobs(ctx context.Context, url, token string, speed float64, concurrency int, jobs []*replayJob, log func(string, ...any)) []replayResult {
	results := make([]replayResult, len(jobs))
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = replayResult{job: j, err: ctx.Err()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = replayOne(ctx, url, token, speed, j, log)
		}()
	}
	wg.Wait()
	return results
}

func runReplay(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "replay", "FILE...",
		"Streams each stereo recording (left = agent, right = caller) to the engine over the ingest protocol at real speed and prints the call ids.")
	url := fs.String("url", envDefault("EARSHOT_URL", "http://127.0.0.1:8470"), "engine base URL (env EARSHOT_URL)")
	token := fs.String("token", envDefault("EARSHOT_TOKEN", ""), "endpoint or admin token (env EARSHOT_TOKEN)")
	speed := fs.Float64("speed", 1, "playback speed (1 = real time)")
	concurrency := fs.Int("concurrency", 1, "calls streamed at once")
	agent := fs.String("agent", "", "agent id (default: the token's agent; required with an admin token)")
	prefix := fs.String("call-prefix", "replay", "call id prefix")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *token == "" || *speed <= 0 {
		fmt.Fprintln(env.stderr, "earshot replay: need --token, a positive --speed and at least one FILE")
		return errUsage
	}
	agentID := *agent
	if agentID == "" {
		agentID = tokenAgent(*token)
	}
	if agentID == "" {
		fmt.Fprintln(env.stderr, "earshot replay: --agent is required (the token names no agent)")
		return errUsage
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	var jobs []*replayJob
	failed := false
	for i, path := range fs.Args() {
		a, c, err := audio.LoadCall(path)
		if err != nil {
			fmt.Fprintf(env.stderr, "earshot replay: %v\n", err)
			failed = true
			continue
		}
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		jobs = append(jobs, &replayJob{name: path, callID: callID(*prefix, stamp, base, i), agentID: agentID, agent: a, caller: c})
	}
	logf := func(msg string, kv ...any) { env.log.Info(msg, kv...) }
	for _, r := range runJobs(ctx, *url, *token, *speed, *concurrency, jobs, logf) {
		if r.err != nil {
			fmt.Fprintf(env.stderr, "earshot replay: %s: %v\n", r.job.name, r.err)
			failed = true
			continue
		}
		fmt.Fprintf(env.stdout, "%s\t%s\tframes=%d gaps=%d resent=%d\n", r.ended.CallID, r.job.name, r.ended.Frames, r.ended.Gaps, r.stats.Resent)
	}
	if failed {
		return errReported
	}
	return nil
}

// callID makes a protocol-valid call id: [A-Za-z0-9._:-], at most 64.
func callID(prefix, stamp, base string, i int) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, base)
	id := fmt.Sprintf("%s-%s-%d-%s", prefix, stamp, i, clean)
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}

// tokenAgent reads the agent claim of a token without verifying it (the
// engine verifies); it only saves typing --agent. "" if there is none.
func tokenAgent(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Agent string `json:"agent"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Agent
}
