package engine

import (
	"context"
	"fmt"

	"github.com/earshot/earshot/audio"
)

// AnalyzeChannels runs a whole recorded call (two 16 kHz channels) through
// a Pipeline as fast as the CPU allows, the channels interleaved frame by
// frame as a live call arrives, and returns the call's record. It is what
// `earshot analyze` and the golden tests run: the same code as a live call.
func AnalyzeChannels(ctx context.Context, deps Deps, cfg PipelineConfig, agent, caller []float32) (Record, error) {
	p, err := NewPipeline(ctx, deps, cfg)
	if err != nil {
		return Record{}, err
	}
	defer p.Close()
	n := max(len(agent), len(caller))
	frame := make([]float32, audio.FrameSize)
	for i := 0; i < n; i += audio.FrameSize {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		at := audio.PipelineRate.Duration(i)
		for ch, pcm := range [][]float32{agent, caller} {
			m := 0
			if i < len(pcm) {
				m = copy(frame, pcm[i:])
			}
			clear(frame[m:])
			if _, err := p.Push(ch, frame, at); err != nil {
				return Record{}, fmt.Errorf("at %.2f s: %w", at.Seconds(), err)
			}
		}
	}
	_, rec, err := p.Finish(audio.PipelineRate.Duration(n))
	return rec, err
}
