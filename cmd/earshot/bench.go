package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/earshot/earshot/bench"
)

func init() {
	register(command{
		name:    "bench",
		summary: "benchmarks: bench live --calls N (engine + concurrent real-time replays); bench cluster --nodes 3 --calls N",
		run:     runBench,
	})
}

func runBench(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 && args[0] == "cluster" {
		return runBenchCluster(ctx, env, args[1:])
	}
	if len(args) == 0 || args[0] != "live" {
		fmt.Fprintln(env.stderr, "Usage: earshot bench live --calls N [--format json]\n       earshot bench cluster --nodes 3 --calls N [--kill] [--format json]")
		return errUsage
	}
	fs := newFlagSet(env, "bench live", "",
		"Starts an engine in-process on a free loopback port with a temporary data directory, replays N embedded sample calls concurrently at real speed, and measures latency at a live subscriber, CPU and memory.")
	calls := fs.Int("calls", 4, "concurrent calls")
	format := fs.String("format", "text", "text or json")
	speed := fs.Float64("speed", 1, "replay speed (1 = real time, as the issue asks)")
	noSTT := fs.Bool("no-stt", false, "without speech recognition (measures the rest of the engine)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the replay window to this file")
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *calls < 1 || (*format != "text" && *format != "json") || *speed <= 0 {
		fmt.Fprintln(env.stderr, "earshot bench live: --calls ≥ 1, --format text or json, --speed > 0")
		return errUsage
	}
	env.log.Info("bench: loading recognizers", "decoders", 2**calls)
	quiet := &environment{stdout: env.stdout, stderr: env.stderr, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	deps, closeDeps, err := loadDeps(quiet, af, sf, !*noSTT, 2**calls)
	if err != nil {
		return err
	}
	defer closeDeps()
	res, err := bench.Live(ctx, bench.LiveConfig{Calls: *calls, Speed: *speed, Deps: deps, CPUProfile: *cpuProfile, Logger: env.log})
	if err != nil {
		return err
	}
	if *format == "json" {
		return res.WriteJSON(env.stdout)
	}
	return res.WriteText(env.stdout)
}

func runBenchCluster(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench cluster", "",
		"Starts --nodes `earshot serve` processes of this binary on loopback as one cluster (temporary data directories), streams N embedded sample calls into every node but the second, and measures at a wall on the second node: latency of events that crossed the cluster, what JetStream keeps per call, and with --kill the failover after a SIGKILL of the node running the first call.")
	nodes := fs.Int("nodes", 3, "engine processes (2 or more; 3 for a quorum that survives a loss)")
	calls := fs.Int("calls", 4, "concurrent calls")
	speed := fs.Float64("speed", 1, "replay speed (1 = real time)")
	noSTT := fs.Bool("no-stt", false, "nodes without speech recognition")
	kill := fs.Bool("kill", false, "SIGKILL the node running the first call a third of the way in and measure the failover")
	format := fs.String("format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *nodes < 2 || *calls < 1 || *speed <= 0 || (*format != "text" && *format != "json") {
		fmt.Fprintln(env.stderr, "earshot bench cluster: --nodes ≥ 2, --calls ≥ 1, --speed > 0, --format text or json")
		return errUsage
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	wd, _ := os.Getwd()
	res, err := bench.Cluster(ctx, bench.ClusterConfig{Binary: bin, Nodes: *nodes, Calls: *calls, Speed: *speed, NoSTT: *noSTT,
		Kill: *kill, WorkDir: wd, Logger: env.log})
	if err != nil {
		return err
	}
	if *format == "json" {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(env.stdout, string(b))
		return err
	}
	fmt.Fprintf(env.stdout, "nodes %d, calls %d, realtime %v; at a wall on another node: final p50 %.3f s, p95 %.3f s, hint p95 %.3f s (%d finals); frames lost %d, errors %d\n",
		res.Nodes, res.Calls, res.Realtime, res.FinalLatencyP50, res.FinalLatencyP95, res.HintLatencyP95, res.Finals, res.FramesLost, res.Errors)
	fmt.Fprintf(env.stdout, "JetStream keeps %.0f records (%.1f kB) per call; %.0f s wall\n", res.StoredRecordsPerCall, res.StoredKBPerCall, res.WallS)
	if *kill {
		fmt.Fprintf(env.stdout, "failover after SIGKILL: calls stream leader again %.2f s, the call's first event from its new node %.2f s, its next transcript %.2f s\n",
			res.FailoverLeaderS, res.FailoverFirstEventS, res.FailoverTranscriptS)
	}
	return nil
}
