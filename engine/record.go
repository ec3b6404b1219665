package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/insights/store"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt"
)

// Pipeline errors.
var (
	// ErrPipelineDone means Push, Tick or Finish came after Finish or Close.
	ErrPipelineDone = errors.New("engine: call pipeline already finished")
	// ErrBadChannel means a channel index other than 0 (agent) or 1 (caller).
	ErrBadChannel = errors.New("engine: channel out of range")
	// ErrBadFrame means a frame of the wrong length or out of time order.
	ErrBadFrame = errors.New("engine: bad audio frame")
)

// Record is everything a finished call's analysis found: what
// `earshot analyze` prints and what the engine stores. Text is redacted.
type Record struct {
	CallID, AgentID string
	Duration        time.Duration
	Segments        []insights.SpeechSegment
	Utterances      []UtteranceRecord
	Dynamics        insights.Dynamics
	Sentiment       insights.SentimentSummary
	Hints           []HintRecord
	Categories      []string
	Alerts          []AlertRecord
	Gaps            []GapRecord
	// Channels is where each channel (agent, caller) stood at the end, for
	// a pipeline that continues the call (PipelineConfig.Resume).
	Channels [2]store.ChannelState
}

// UtteranceRecord is a final utterance with its sentiment.
type UtteranceRecord struct {
	insights.Utterance
	Sentiment insights.Sentiment
}

// HintRecord is a hint shown to the agent. T is the call time it fired.
type HintRecord struct {
	ID       string        `json:"id"`
	Kind     string        `json:"kind"` // "playbook" or "kb"
	T        time.Duration `json:"-"`
	Title    string        `json:"title"`
	Text     string        `json:"text"`
	Priority int           `json:"priority,omitempty"`
	KB       string        `json:"kb,omitempty"`
	// TTL is how long the overlay shows the hint after T (the rule's
	// ttl_s); zero leaves it to the overlay's default.
	TTL time.Duration `json:"-"`
}

// MarshalJSON writes T and TTL as seconds; ttl_s is left out when zero.
func (h HintRecord) MarshalJSON() ([]byte, error) {
	type plain HintRecord
	return json.Marshal(struct {
		plain
		T   float64 `json:"t"`
		TTL float64 `json:"ttl_s,omitempty"`
	}{plain(h), insights.Seconds(h.T), insights.Seconds(h.TTL)})
}

// AlertNoTranscript is the id of the alert a call gets when a channel had
// to go without a recognizer (PipelineConfig.RecognizerWait).
const AlertNoTranscript = "no_transcript"

// AlertStorage is the id of the alert a call gets when the engine cannot
// write its records and drops it for a resume (ErrStorage).
const AlertStorage = "storage_unavailable"

// AlertRecord is an alert raised for supervisors.
type AlertRecord struct {
	ID       string        `json:"id"`
	T        time.Duration `json:"-"`
	Severity string        `json:"severity"`
	Text     string        `json:"text"`
}

// MarshalJSON writes T as seconds.
func (a AlertRecord) MarshalJSON() ([]byte, error) {
	type plain AlertRecord
	return json.Marshal(struct {
		plain
		T float64 `json:"t"`
	}{plain(a), insights.Seconds(a.T)})
}

// GapRecord is audio of one channel that never arrived.
type GapRecord struct {
	Channel    int
	Start, End time.Duration
	Reason     string
}

// MarshalJSON writes the gap in seconds.
func (g GapRecord) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"channel": g.Channel, "start": insights.Seconds(g.Start), "end": insights.Seconds(g.End), "reason": g.Reason,
	})
}

// segmentJSON is a speech segment on the wire and in `earshot analyze`.
type segmentJSON struct {
	Speaker string  `json:"speaker"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
}

type wordJSON struct {
	Text       string  `json:"text"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float64 `json:"confidence"`
}

type utteranceOut struct {
	Speaker    string              `json:"speaker"`
	Start      float64             `json:"start"`
	End        float64             `json:"end"`
	Text       string              `json:"text"`
	Words      []wordJSON          `json:"words"`
	Confidence float64             `json:"confidence"`
	Sentiment  *insights.Sentiment `json:"sentiment,omitempty"`
	// Replaces is the seq of an earlier final this one takes the place of:
	// the first part of an utterance an engine restart cut, now decoded
	// whole. Zero (left out) otherwise.
	Replaces uint64 `json:"replaces,omitempty"`
}

// sentimentOut is a sentiment event's data: the utterance's score and
// label, the speaker's rolling sentiment, and the call's trend (the
// caller's change over the call, insights.SentimentSummary.Trend).
type sentimentOut struct {
	Speaker string  `json:"speaker"`
	Score   float64 `json:"score"`
	Label   string  `json:"label"`
	Rolling float64 `json:"rolling"`
	Trend   float64 `json:"trend"`
}

// categoryOut is a category event's data.
type categoryOut struct {
	ID string `json:"id"`
}

func utteranceJSON(u insights.Utterance, s *insights.Sentiment) utteranceOut {
	words := make([]wordJSON, len(u.Words))
	for i, w := range u.Words {
		words[i] = wordJSON{Text: w.Text, Start: insights.Seconds(w.Start), End: insights.Seconds(w.End), Confidence: roundMilli(w.Confidence)}
	}
	return utteranceOut{
		Speaker: string(u.Speaker), Start: insights.Seconds(u.Start), End: insights.Seconds(u.End),
		Text: u.Text, Words: words, Confidence: roundMilli(u.Confidence), Sentiment: s,
	}
}

// SegmentsJSON returns the segments in their wire form.
func SegmentsJSON(segs []insights.SpeechSegment) any {
	out := make([]segmentJSON, len(segs))
	for i, s := range segs {
		out[i] = segmentJSON{Speaker: string(s.Speaker), Start: insights.Seconds(s.Start), End: insights.Seconds(s.End)}
	}
	return out
}

// UtterancesJSON returns the utterances in their wire form.
func UtterancesJSON(utts []UtteranceRecord) any {
	out := make([]utteranceOut, len(utts))
	for i := range utts {
		out[i] = utteranceJSON(utts[i].Utterance, &utts[i].Sentiment)
	}
	return out
}

// CallResult converts the record to what a live session stores.
func (r Record) CallResult() CallResult {
	return CallResult{
		TalkRatio:  r.Dynamics.TalkRatio,
		Categories: slices.Clone(r.Categories),
		Sentiment: &store.Sentiment{
			Caller: r.Sentiment.Caller,
			Agent:  r.Sentiment.Agent,
			Trend:  trendWord(r.Sentiment.Trend),
		},
		Dynamics: r.Dynamics,
		Segments: SegmentsJSON(r.Segments),
		Channels: r.Channels[:],
	}
}

// trendWord names the caller's sentiment trend for list views.
func trendWord(delta float64) string {
	switch {
	case delta >= 0.15:
		return "improving"
	case delta <= -0.15:
		return "worsening"
	default:
		return "steady"
	}
}

func sortSegments(s []insights.SpeechSegment) {
	slices.SortStableFunc(s, func(a, b insights.SpeechSegment) int {
		if a.Start != b.Start {
			return cmp.Compare(a.Start, b.Start)
		}
		return cmp.Compare(a.End, b.End)
	})
}

func sortUtterances(u []UtteranceRecord) []UtteranceRecord {
	out := slices.Clone(u)
	slices.SortStableFunc(out, func(a, b UtteranceRecord) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	return out
}

func roundMilli(x float64) float64 { return math.Round(x*1000) / 1000 }

// liveAnalyzer adapts a Pipeline to the session's Analyzer interface.
type liveAnalyzer struct{ *Pipeline }

func (a liveAnalyzer) Finish(at time.Duration) ([]protocol.Event, CallResult, error) {
	evs, rec, err := a.Pipeline.Finish(at)
	return evs, rec.CallResult(), err
}

// PipelineAnalyzers returns the NewAnalyzerFunc live sessions use: a
// Pipeline per call over the shared deps. A call resumed after an engine
// restart starts its pipeline at the resume time (see PipelineConfig.Start):
// the old process's analysis of the audio before it was lost with it, its
// stored events and utterances were not. Without a deps.Scheduler the calls
// share one with a slot per processor Go may use (GOMAXPROCS).
//
// A live call waits at most LiveRecognizerWait for recognizers: its audio
// queues meanwhile, and after that it goes on without a transcript.
func PipelineAnalyzers(ctx context.Context, deps Deps) NewAnalyzerFunc {
	if deps.Scheduler == nil {
		deps.Scheduler = stt.NewScheduler(runtime.GOMAXPROCS(0))
	}
	return func(info CallInfo) (Analyzer, error) {
		var red *insights.RedactorState
		if len(info.Redaction) > 0 {
			red = new(insights.RedactorState)
			if err := json.Unmarshal(info.Redaction, red); err != nil {
				// The engine wrote it: unreadable means a damaged store,
				// and going on without it could let card digits through.
				return nil, fmt.Errorf("engine: call %s: stored redaction state: %w", info.ID, err)
			}
		}
		p, err := NewPipeline(ctx, deps, PipelineConfig{CallID: info.ID, AgentID: info.AgentID, Start: info.ResumedAt,
			PriorSegments: info.PriorSegments, PriorSentiment: info.PriorSentiment, Resume: info.Resume,
			Redaction: red, RecognizerWait: LiveRecognizerWait})
		if err != nil {
			return nil, err
		}
		return liveAnalyzer{p}, nil
	}
}

// LiveRecognizerWait is how long a live call waits for free recognizers
// before it goes on without a transcript (see PipelineConfig.RecognizerWait):
// long enough for a call ending at the same moment to hand its decoders
// back, short enough that the audio queued meanwhile is decoded in seconds.
const LiveRecognizerWait = 10 * time.Second

// storedSegments reads the segments a stored call kept (SegmentsJSON's
// form); nil when there are none or they cannot be read.
func storedSegments(raw []byte) []insights.SpeechSegment {
	if len(raw) == 0 {
		return nil
	}
	var in []segmentJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil
	}
	out := make([]insights.SpeechSegment, 0, len(in))
	for _, s := range in {
		out = append(out, insights.SpeechSegment{Speaker: insights.Speaker(s.Speaker), Start: secondsToDuration(s.Start), End: secondsToDuration(s.End)})
	}
	return out
}

// storedChannels reads the channel states a stored call kept; zero
// (unknown) when there are none.
// storedSentiment reads the sentiment scores of a call's stored utterances
// in the order their finals were published; utterances without a readable
// score and those in skip (to be replaced) are left out.
func storedSentiment(utts []store.Utterance, skip ...store.Utterance) []insights.TimedScore {
	utts = slices.DeleteFunc(slices.Clone(utts), func(u store.Utterance) bool {
		return slices.ContainsFunc(skip, func(x store.Utterance) bool { return x.Seq == u.Seq })
	})
	slices.SortStableFunc(utts, func(a, b store.Utterance) int { return cmp.Compare(a.Seq, b.Seq) })
	var out []insights.TimedScore
	for _, u := range utts {
		var s struct {
			Score *float64 `json:"score"`
		}
		if len(u.Sentiment) == 0 || json.Unmarshal(u.Sentiment, &s) != nil || s.Score == nil {
			continue
		}
		out = append(out, insights.TimedScore{Speaker: insights.Speaker(u.Speaker),
			At: time.Duration(u.End * float64(time.Second)), Score: *s.Score})
	}
	return out
}

func storedChannels(c []store.ChannelState) (out [2]store.ChannelState) {
	if len(c) == 2 {
		copy(out[:], c)
	}
	return out
}
