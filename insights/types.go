package insights

import (
	"time"

	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt"
)

// Speaker is one side of a call: the protocol's Channel, by the name the
// analysis gives it (one type for a side of the call everywhere).
type Speaker = protocol.Channel

// The two sides of every call: the left channel is the agent, the right
// the caller.
const (
	Agent  = protocol.ChannelAgent
	Caller = protocol.ChannelCaller
)

// NoSpeaker stands for neither side: who caused dead air, the side of an
// overtalk both began at once, a rule that listens to either side. It is
// no channel (Valid is false); SpeakerName gives it as "". A Speaker's
// zero value is the agent, so whatever may mean neither is set to it
// explicitly.
const NoSpeaker Speaker = 0xff

// SpeakerName is sp's name in JSON and logs: "agent", "caller", or "" for
// NoSpeaker.
func SpeakerName(sp Speaker) string {
	if !sp.Valid() {
		return ""
	}
	return sp.String()
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

// SentimentLabel is the coarse reading of a sentiment score.
type SentimentLabel string

// Sentiment labels.
const (
	Negative SentimentLabel = "negative"
	Neutral  SentimentLabel = "neutral"
	Positive SentimentLabel = "positive"
)

// Sentiment is the reading of one final utterance.
type Sentiment struct {
	Score   float64        // -1 (very negative) .. 1 (very positive), text and voice combined
	Label   SentimentLabel // from Score
	Text    float64        // the text-only score, -1..1
	Arousal float64        // 0 (calm, at the speaker's baseline) .. 1 (raised, fast, loud)
}

// DynamicsEventKind names a conversation-dynamics event.
type DynamicsEventKind string

// Dynamics event kinds, reported by the dynamics tracker as they happen.
const (
	DeadAir    DynamicsEventKind = "dead_air"    // both sides silent for at least the threshold
	Overtalk   DynamicsEventKind = "overtalk"    // Speaker started talking while the other was talking
	Monologue  DynamicsEventKind = "monologue"   // Speaker has talked without a turn for too long
	FastSpeech DynamicsEventKind = "fast_speech" // Speaker's words per minute above the threshold
)

// DynamicsEvent is one dynamics event. Ongoing events (a dead-air stretch
// still running) are reported once when they pass their threshold with
// Ongoing set, and again with the final End when they stop.
type DynamicsEvent struct {
	Kind       DynamicsEventKind
	Speaker    Speaker // who caused it; NoSpeaker for dead air
	Start, End time.Duration
	Ongoing    bool
	Value      float64 // words per minute for FastSpeech; unused otherwise
}
