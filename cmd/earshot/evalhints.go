package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/earshot/earshot/engine"
	"github.com/earshot/earshot/samples"
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
	truths, err := samples.Calls()
	if err != nil {
		return err
	}
	deps, closeDeps, err := loadDeps(env, af, sf, true, 2)
	if err != nil {
		return err
	}
	defer closeDeps()
	var scores []engine.HintScore
	for _, tr := range truths {
		agent, caller, err := decodeSample(tr)
		if err != nil {
			return err
		}
		rec, err := engine.AnalyzeChannels(ctx, deps, engine.PipelineConfig{CallID: filepath.Base(tr.Name)}, agent, caller)
		if err != nil {
			return fmt.Errorf("%s: %w", tr.Name, err)
		}
		scores = append(scores, engine.ScoreHints(tr, rec))
	}
	return engine.PrintHintScores(env.stdout, scores)
}
