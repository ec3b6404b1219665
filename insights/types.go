package insights

import (
	"time"

	"github.com/earshot/earshot/stt"
)

// Speaker names one side of a call.
type Speaker string

// The two sides of every call: the left channel is the agent, the right the caller.
const (
	Agent  Speaker = "agent"
	Caller Speaker = "caller"
)

// Other returns the opposite side.
func (s Speaker) Other() Speaker {
	if s == Agent {
		return Caller
	}
	return Agent
}

// SpeechSegment is a stretch of speech by one speaker, in offsets from the
// call start, as found by the voice activity detector.
type SpeechSegment struct {
	Speaker    Speaker
	Start, End time.Duration
}

// Utterance is one final recognized utterance of one speaker. Text and Words
// are already redacted when an Utterance leaves the engine.
type Utterance struct {
	Speaker    Speaker
	Start, End time.Duration
	Text       string
	Words      []stt.Word
	Confidence float64
}
