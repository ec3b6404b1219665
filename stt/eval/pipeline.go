package eval

import (
	"context"
	"strings"

	"github.com/earshot/earshot/stt"
)

// ResettableRecognizer is a recognizer that can start a new stream, as
// *pocketsphinx.Decoder can.
type ResettableRecognizer interface {
	stt.Recognizer
	// Reset forgets the current stream; the next Accept starts a new one.
	Reset() error
}

// Pipeline is Earshot's own recognizer as the engine runs it: the VAD gate
// over one channel in front of Recognizer (stt.Transcribe). It is a System.
// It does not own Recognizer, and, like it, is not safe for concurrent use.
type Pipeline struct {
	Recognizer ResettableRecognizer
	Label      string // the report's system name (default "earshot")
}

// Name is Label, or "earshot".
func (p *Pipeline) Name() string {
	if p.Label == "" {
		return "earshot"
	}
	return p.Label
}

// Transcribe resets the recognizer (each file is a new stream, as a new
// call is) and returns the text of every final result.
func (p *Pipeline) Transcribe(ctx context.Context, pcm []float32) (Transcript, error) {
	if err := ctx.Err(); err != nil {
		return Transcript{}, err
	}
	if err := p.Recognizer.Reset(); err != nil {
		return Transcript{}, err
	}
	results, err := stt.Transcribe(p.Recognizer, pcm, stt.TranscribeConfig{})
	if err != nil {
		return Transcript{}, err
	}
	var words []string
	for _, r := range results {
		if r.Final && r.Text != "" {
			words = append(words, r.Text)
		}
	}
	return Transcript{Text: strings.Join(words, " ")}, nil
}
