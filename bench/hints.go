package bench

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/internal/replay"
	"github.com/earshot/earshot/samples"
)

// Hints analyzes every embedded sample call offline with deps (the
// recognizer, playbook and KB) and scores its hints and categories against
// the call's ground truth (ScoreHints), in samples.Calls order. It
// blocks while the calls are decoded, about a tenth of their length each.
func Hints(ctx context.Context, deps call.Deps) ([]HintScore, error) {
	truths, err := samples.Calls()
	if err != nil {
		return nil, err
	}
	var scores []HintScore
	for _, tr := range truths {
		agent, caller, err := replay.DecodeSample(tr)
		if err != nil {
			return nil, err
		}
		rec, err := call.AnalyzeChannels(ctx, deps, call.Config{CallID: filepath.Base(tr.Name)}, agent, caller)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tr.Name, err)
		}
		scores = append(scores, ScoreHints(tr, rec))
	}
	return scores, nil
}
