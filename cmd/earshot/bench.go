package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/earshot/earshot/bench"
)

func init() {
	register(command{
		name:    "bench",
		summary: "benchmarks: bench live --calls N (engine + concurrent real-time replays)",
		run:     runBench,
	})
}

func runBench(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] != "live" {
		fmt.Fprintln(env.stderr, "Usage: earshot bench live --calls N [--format json]")
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
