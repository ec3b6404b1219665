package call

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
)

// Record is everything a finished call's analysis found: what `earshot
// analyze` prints and what the engine folds into the stored call. Text is
// redacted.
type Record struct {
	CallID, AgentID string
	Duration        time.Duration
	Segments        []insights.SpeechSegment
	Utterances      []Utterance
	Dynamics        insights.Dynamics
	Sentiment       insights.SentimentSummary
	Hints           []Hint
	Categories      []string
	Alerts          []Alert
	Gaps            []Gap
	// Channels is where each channel (agent, caller) stood at the end, for
	// a pipeline that continues the call (Config.Resume).
	Channels [2]ChannelState
}

// Utterance is a final utterance with its sentiment.
type Utterance struct {
	insights.Utterance
	Sentiment insights.Sentiment
}

// Wire is the utterance as transcript.final and the store carry it.
func (u Utterance) Wire() protocol.Utterance { return wireUtterance(u.Utterance, u.Sentiment) }

// Hint is a hint shown to the agent at call time T.
type Hint struct {
	T time.Duration
	protocol.Hint
}

// MarshalJSON writes the hint event's data with T as seconds ("t").
func (h Hint) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		protocol.Hint
		T float64 `json:"t"`
	}{h.Hint, protocol.Seconds(h.T)})
}

// AlertNoTranscript is the id of the alert a call gets when a channel had
// to go without a recognizer (Config.RecognizerWait).
const AlertNoTranscript = "no_transcript"

// Alert is an alert raised for supervisors at call time T.
type Alert struct {
	T time.Duration
	protocol.Alert
}

// MarshalJSON writes the alert event's data with T as seconds ("t").
func (a Alert) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		protocol.Alert
		T float64 `json:"t"`
	}{a.Alert, protocol.Seconds(a.T)})
}

// Gap is audio of one channel that never arrived.
type Gap struct {
	Channel    protocol.Channel
	Start, End time.Duration
	Reason     string
}

// MarshalJSON writes the gap with its channel number and times in seconds.
func (g Gap) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Channel uint8   `json:"channel"`
		Start   float64 `json:"start"`
		End     float64 `json:"end"`
		Reason  string  `json:"reason"`
	}{uint8(g.Channel), protocol.Seconds(g.Start), protocol.Seconds(g.End), g.Reason})
}

// ChannelState is where one channel's analysis stood when its pipeline
// stopped in the middle of a call (an engine shutdown, an endpoint gone),
// for the pipeline that continues the call (Config.Resume). The engine
// keeps it with the call's checkpoint; the open speech is audio, which it
// keeps apart.
type ChannelState struct {
	// NoiseFloorDBFS is the channel's background level; 0 unknown.
	NoiseFloorDBFS float64
	// Speaking is whether the channel was in the middle of speech.
	Speaking bool
	// Adaptation is what the recognizer had learned of the voice and line
	// (stt.Adaptive), opaque here.
	Adaptation []float32
	// OpenSpeech is the 16 kHz audio of the utterance in progress, from
	// call time OpenSpeechFrom, so the next pipeline decodes it whole.
	OpenSpeech     []int16
	OpenSpeechFrom time.Duration
	// HeardTo, when non-zero and before Config.Start, is the call time up
	// to which this channel was analysed: a checkpoint taken in the middle
	// of an utterance leaves the utterance's audio unacknowledged, so the
	// endpoint resends it and the next pipeline hears it whole from here
	// (the other channel goes on from Start).
	HeardTo time.Duration
}

// from is the call time the channel's next pipeline starts at.
func (r ChannelState) from(start time.Duration) time.Duration {
	if r.HeardTo > 0 && r.HeardTo < start {
		return r.HeardTo
	}
	return start
}

// SegmentsWire returns the speech segments in their wire form.
func SegmentsWire(segs []insights.SpeechSegment) []protocol.Segment {
	out := make([]protocol.Segment, len(segs))
	for i, s := range segs {
		out[i] = protocol.Segment{Speaker: s.Speaker, Start: protocol.Seconds(s.Start), End: protocol.Seconds(s.End)}
	}
	return out
}

// SegmentsFromWire is the inverse of SegmentsWire; segments of no side of
// the call are left out.
func SegmentsFromWire(in []protocol.Segment) []insights.SpeechSegment {
	out := make([]insights.SpeechSegment, 0, len(in))
	for _, s := range in {
		if !s.Speaker.Valid() {
			continue
		}
		out = append(out, insights.SpeechSegment{Speaker: s.Speaker, Start: protocol.FromSeconds(s.Start), End: protocol.FromSeconds(s.End)})
	}
	return out
}

// UtterancesWire returns the utterances in their wire form.
func UtterancesWire(utts []Utterance) []protocol.Utterance {
	out := make([]protocol.Utterance, len(utts))
	for i := range utts {
		out[i] = utts[i].Wire()
	}
	return out
}

func wireUtterance(u insights.Utterance, s insights.Sentiment) protocol.Utterance {
	words := make([]protocol.Word, len(u.Words))
	for i, w := range u.Words {
		words[i] = protocol.Word{Text: w.Text, Start: protocol.Seconds(w.Start), End: protocol.Seconds(w.End),
			Confidence: protocol.Round3(w.Confidence)}
	}
	return protocol.Utterance{
		Speaker: u.Speaker, Start: protocol.Seconds(u.Start), End: protocol.Seconds(u.End),
		Text: u.Text, Words: words, Confidence: protocol.Round3(u.Confidence), Sentiment: wireSentiment(s),
	}
}

func wireSentiment(s insights.Sentiment) *protocol.UtteranceSentiment {
	return &protocol.UtteranceSentiment{Score: protocol.Round3(s.Score), Label: string(s.Label),
		Text: protocol.Round3(s.Text), Arousal: protocol.Round3(s.Arousal)}
}

func sortSegments(s []insights.SpeechSegment) {
	slices.SortStableFunc(s, func(a, b insights.SpeechSegment) int {
		if a.Start != b.Start {
			return cmp.Compare(a.Start, b.Start)
		}
		return cmp.Compare(a.End, b.End)
	})
}

func sortUtterances(u []Utterance) []Utterance {
	out := slices.Clone(u)
	slices.SortStableFunc(out, func(a, b Utterance) int { return cmp.Compare(a.Start, b.Start) })
	return out
}
