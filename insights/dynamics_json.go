package insights

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/earshot/earshot/protocol"
)

// dynamicsReport is the JSON form of Dynamics: seconds as numbers rounded
// to the millisecond (protocol.Seconds), field names fixed by the analyze and live-event formats.
type dynamicsReport struct {
	TalkS             speakerSeconds `json:"talk_s"`
	TalkRatio         float64        `json:"talk_ratio"`
	DeadAir           []spanReport   `json:"dead_air"`
	Overtalk          []overtalkItem `json:"overtalk"`
	Interruptions     speakerCounts  `json:"interruptions"`
	LongestMonologueS speakerSeconds `json:"longest_monologue_s"`
	Turns             int            `json:"turns"`
	ResponseGapsS     []float64      `json:"response_gaps_s"`
	MeanResponseGapS  float64        `json:"mean_response_gap_s"`
	WPM               speakerFloats  `json:"wpm"`
}

type speakerSeconds struct {
	Agent  float64 `json:"agent"`
	Caller float64 `json:"caller"`
}

type speakerCounts struct {
	Agent  int `json:"agent"`
	Caller int `json:"caller"`
}

type speakerFloats = speakerSeconds

type spanReport struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

type overtalkItem struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	By    string  `json:"by"` // "" when both sides began at once
}

func round(x, scale float64) float64 { return math.Round(x*scale) / scale }

// MarshalJSON writes d as
//
//	{"talk_s":{"agent":s,"caller":s},"talk_ratio":r,"dead_air":[{"start":s,"end":s}],
//	 "overtalk":[{"start":s,"end":s,"by":"agent"|"caller"|""}],
//	 "interruptions":{"agent":n,"caller":n},"longest_monologue_s":{"agent":s,"caller":s},
//	 "turns":n,"response_gaps_s":[s],"mean_response_gap_s":s,"wpm":{"agent":w,"caller":w}}
//
// with seconds rounded to the millisecond, talk_ratio to 0.001 and wpm to 0.1. Lists
// are [] rather than null when empty.
func (d Dynamics) MarshalJSON() ([]byte, error) {
	r := dynamicsReport{
		TalkS:             speakerSeconds{protocol.Seconds(d.Talk.Agent), protocol.Seconds(d.Talk.Caller)},
		TalkRatio:         round(d.TalkRatio, 1000),
		DeadAir:           make([]spanReport, 0, len(d.DeadAir)),
		Overtalk:          make([]overtalkItem, 0, len(d.Overtalk)),
		Interruptions:     speakerCounts{d.Interruptions.Agent, d.Interruptions.Caller},
		LongestMonologueS: speakerSeconds{protocol.Seconds(d.LongestMonologue.Agent), protocol.Seconds(d.LongestMonologue.Caller)},
		Turns:             d.Turns,
		ResponseGapsS:     make([]float64, 0, len(d.ResponseGaps)),
		MeanResponseGapS:  protocol.Seconds(d.MeanResponseGap),
		WPM:               speakerFloats{round(d.WPM.Agent, 10), round(d.WPM.Caller, 10)},
	}
	for _, s := range d.DeadAir {
		r.DeadAir = append(r.DeadAir, spanReport{protocol.Seconds(s.Start), protocol.Seconds(s.End)})
	}
	for _, s := range d.Overtalk {
		r.Overtalk = append(r.Overtalk, overtalkItem{protocol.Seconds(s.Start), protocol.Seconds(s.End), SpeakerName(s.By)})
	}
	for _, g := range d.ResponseGaps {
		r.ResponseGapsS = append(r.ResponseGapsS, protocol.Seconds(g))
	}
	return json.Marshal(r)
}

// UnmarshalJSON reads the form MarshalJSON writes (for stored calls).
// Duration, Monologues and MaxResponseGap are not part of it: MaxResponseGap
// is recomputed from the gaps, the others stay zero.
func (d *Dynamics) UnmarshalJSON(b []byte) error {
	var r dynamicsReport
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	*d = Dynamics{
		Talk:             BySpeaker[time.Duration]{protocol.FromSeconds(r.TalkS.Agent), protocol.FromSeconds(r.TalkS.Caller)},
		TalkRatio:        r.TalkRatio,
		Interruptions:    BySpeaker[int]{r.Interruptions.Agent, r.Interruptions.Caller},
		LongestMonologue: BySpeaker[time.Duration]{protocol.FromSeconds(r.LongestMonologueS.Agent), protocol.FromSeconds(r.LongestMonologueS.Caller)},
		Turns:            r.Turns,
		MeanResponseGap:  protocol.FromSeconds(r.MeanResponseGapS),
		WPM:              BySpeaker[float64]{r.WPM.Agent, r.WPM.Caller},
	}
	for _, s := range r.DeadAir {
		d.DeadAir = append(d.DeadAir, Span{protocol.FromSeconds(s.Start), protocol.FromSeconds(s.End)})
	}
	for _, s := range r.Overtalk {
		by := NoSpeaker
		if s.By != "" {
			var err error
			if by, err = ParseSpeaker(s.By); err != nil {
				return fmt.Errorf("dynamics: overtalk: %w", err)
			}
		}
		d.Overtalk = append(d.Overtalk, OvertalkSpan{protocol.FromSeconds(s.Start), protocol.FromSeconds(s.End), by})
	}
	for _, g := range r.ResponseGapsS {
		gd := protocol.FromSeconds(g)
		d.ResponseGaps = append(d.ResponseGaps, gd)
		d.MaxResponseGap = max(d.MaxResponseGap, gd)
	}
	return nil
}
