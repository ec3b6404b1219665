package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/earshot/earshot/demo"
	"github.com/earshot/earshot/web"
)

func init() {
	register(command{
		name:    "demo",
		summary: "run the whole product on the bundled sample calls: engine, pages, live replays",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "demo", "",
		"Starts the engine with a fresh data directory, creates tokens, and replays the sample calls\n"+
			"continuously at real speed as three agents' endpoints would, so the overlay, the supervisor\n"+
			"wall and the call history fill up live. Prints the URLs and tokens; Ctrl-C stops everything.")
	addr := fs.String("addr", envDefault("EARSHOT_ADDR", "127.0.0.1:8470"), "listen address")
	data := fs.String("data", "", "data directory (default: a fresh temporary one, removed at exit)")
	lanes := fs.Int("agents", len(demo.Agents), fmt.Sprintf("agents taking calls at once (1..%d)", len(demo.Agents)))
	speed := fs.Float64("speed", 1, "replay speed (1 = real time)")
	once := fs.Bool("once", false, "replay each lane's calls once, then stop")
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *lanes < 1 || *lanes > len(demo.Agents) || *speed <= 0 {
		fmt.Fprintf(env.stderr, "earshot demo: --agents must be 1..%d and --speed positive\n", len(demo.Agents))
		return errUsage
	}
	env.log.Info("loading recognizers, playbook and knowledge base", "decoders", 2**lanes)
	deps, closeDeps, err := loadDeps(env, af, sf, true, 2**lanes)
	if err != nil {
		return err
	}
	defer closeDeps()
	err = demo.Run(ctx, demo.Config{Addr: *addr, DataDir: *data, Lanes: *lanes, Speed: *speed, Once: *once,
		Deps: deps, Web: web.Handler(), Logger: env.log, Out: env.stdout})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
