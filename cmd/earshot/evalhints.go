package main

import (
	"context"

	"github.com/earshot/earshot/bench"
)

// runEvalHints analyzes every embedded sample call with the full pipeline
// and prints, per call and in total, the playbook hints and categories
// against the call's ground truth: precision and recall.
func runEvalHints(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "eval hints", "",
		"Analyzes the sample calls (samples/calls) with the recognizer, playbook and KB, and compares the\n"+
			"hints and categories with each call's ground truth: a hint counts when it fires within 5 s after\n"+
			"the utterance that calls for it ends. Prints precision and recall over all calls.")
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	deps, closeDeps, err := loadDeps(env, af, sf, true, 2)
	if err != nil {
		return err
	}
	defer closeDeps()
	scores, err := bench.Hints(ctx, deps)
	if err != nil {
		return err
	}
	return bench.PrintHintScores(env.stdout, scores)
}
