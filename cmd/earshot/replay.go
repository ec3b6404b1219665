package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/internal/replay"
)

func init() {
	register(command{
		name:    "replay",
		summary: "stream recordings to a running engine as an endpoint would",
		run:     runReplay,
	})
}

func runReplay(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "replay", "FILE...",
		"Streams each stereo recording (left = agent, right = caller) to the engine over the ingest protocol at real speed and prints the call ids. "+
			"Given several engines (the nodes of a cluster), a call starts on the first and moves to the next when its engine fails, resuming from the last ack.")
	url := fs.String("url", envDefault("EARSHOT_URL", "http://127.0.0.1:8470"), "engine base URL, or a comma-separated list of a cluster's nodes to fail over between (env EARSHOT_URL)")
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
	var jobs []*replay.Job
	failed := false
	for i, path := range fs.Args() {
		a, c, err := audio.LoadCall(path)
		if err != nil {
			fmt.Fprintf(env.stderr, "earshot replay: %v\n", err)
			failed = true
			continue
		}
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		jobs = append(jobs, &replay.Job{Name: path, CallID: replay.CallID(*prefix, stamp, base, i), AgentID: agentID, Agent: a, Caller: c})
	}
	for _, r := range replay.All(ctx, *url, *token, *speed, *concurrency, jobs) {
		if r.Err != nil {
			fmt.Fprintf(env.stderr, "earshot replay: %s: %v\n", r.Job.Name, r.Err)
			failed = true
			continue
		}
		fmt.Fprintf(env.stdout, "%s\t%s\tframes=%d gaps=%d resent=%d failovers=%d\n", r.Ended.CallID, r.Job.Name, r.Ended.Frames, r.Ended.Gaps, r.Stats.Resent, r.Stats.Failovers)
	}
	if failed {
		return errReported
	}
	return nil
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
