package replay

import (
	"fmt"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/samples"
)

// Call is one decoded sample call.
type Call struct {
	Name          string
	Agent, Caller []float32 // 16 kHz channels
}

// SampleCalls decodes every embedded sample call (package samples), in
// the order samples.Calls lists them.
func SampleCalls() ([]Call, error) {
	truths, err := samples.Calls()
	if err != nil {
		return nil, err
	}
	var out []Call
	for _, tr := range truths {
		agent, caller, err := DecodeSample(tr)
		if err != nil {
			return nil, err
		}
		out = append(out, Call{tr.Name, agent, caller})
	}
	return out, nil
}

// DecodeSample decodes one embedded sample call to two 16 kHz channels.
// A recording that is not stereo wraps audio.ErrNotStereo.
func DecodeSample(tr samples.Truth) (agent, caller []float32, err error) {
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
