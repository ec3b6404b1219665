package call

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt"
)

func (p *Pipeline) vadEvent(c *channel, ev audio.VADEvent, now time.Duration) error {
	var evs []insights.DynamicsEvent
	var err error
	switch ev.Kind {
	case audio.SpeechStart:
		c.speechFrom = ev.Segment.Start
		evs, err = p.tracker.SpeechStart(c.speaker, ev.Segment.Start, now)
	case audio.SpeechEnd:
		c.segments = append(c.segments, ev.Segment)
		evs, err = p.tracker.SpeechEnd(c.speaker, ev.Segment.End, now)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("call: dynamics: %w", err)
	}
	p.dynamicsEvents(evs, now)
	return nil
}

func (p *Pipeline) dynamicsEvents(evs []insights.DynamicsEvent, now time.Duration) {
	for _, e := range evs {
		if e.Kind == insights.DeadAir && e.Start < p.cfg.Start {
			continue // silence a resumed call knows nothing about
		}
		p.emit(protocol.EventDynamics, now, protocol.Dynamics{
			Event: string(e.Kind), Speaker: insights.SpeakerName(e.Speaker),
			Start: protocol.Seconds(e.Start), End: protocol.Seconds(e.End),
			Ongoing: e.Ongoing, Value: e.Value,
		})
		if p.playbook != nil {
			p.actions(p.playbook.OnDynamics(e), now)
		}
	}
}

func (p *Pipeline) results(c *channel, res []stt.Result, now time.Duration) {
	for _, r := range res {
		if !r.Final {
			text := p.redactor.RedactPartial(c.speaker, r.Text, now)
			if text == c.partial || strings.TrimSpace(text) == "" {
				continue
			}
			c.partial = text
			p.emit(protocol.EventTranscriptPartial, now, protocol.Partial{
				Speaker: c.speaker, Start: protocol.Seconds(r.Start), End: protocol.Seconds(r.End), Text: text,
			})
			continue
		}
		c.partial = ""
		p.final(c, r, now)
	}
}

// final runs every insight over one final utterance. Redaction comes first:
// nothing after it ever sees the spoken card data.
func (p *Pipeline) final(c *channel, r stt.Result, now time.Duration) {
	text, words, _ := p.redactor.Redact(c.speaker, r.Text, r.Words, now)
	if strings.TrimSpace(text) == "" {
		return
	}
	u := insights.Utterance{Speaker: c.speaker, Start: r.Start, End: r.End, Text: text, Words: words, Confidence: r.Confidence}
	p.dynamicsEvents(p.tracker.AddUtterance(u), now)
	sent := p.scorer.Score(u, c.prosody.Measure(u))
	p.utterances = append(p.utterances, Utterance{Utterance: u, Sentiment: sent})
	p.emit(protocol.EventTranscriptFinal, now, wireUtterance(u, sent))
	p.emit(protocol.EventSentiment, now, protocol.Sentiment{
		Speaker: c.speaker, Score: protocol.Round3(sent.Score), Label: string(sent.Label),
		Rolling: protocol.Round3(p.scorer.Rolling(c.speaker)), Trend: p.scorer.Summary(now).Trend,
	})
	if p.playbook != nil {
		// Digits alone are not a card being read: the hint also needs the
		// card itself named in the last minute (insights.Redactor.CardReading).
		// Redaction does not wait for this: it is broader.
		digits := p.redactor.CardReading(c.speaker, now)
		p.actions(p.playbook.OnUtterance(u, sent, digits), now)
	}
	if p.suggester != nil {
		acts, err := p.suggester.OnUtterance(u)
		if err != nil {
			p.log.Warn("knowledge-base suggestion failed", "err", err)
		}
		p.actions(acts, now)
	}
}

func (p *Pipeline) actions(acts []agentassist.Action, now time.Duration) {
	if p.muted {
		// Fast-forwarding a resumed call: what rules find about the time
		// before its start (an absence window that ended then) was the
		// earlier pipeline's to find, and it found it with the words.
		return
	}
	for _, a := range acts {
		switch a.Kind {
		case agentassist.KindHint:
			h := protocol.Hint{ID: a.ID, Kind: protocol.HintPlaybook, Title: a.Title, Text: a.Text,
				Priority: a.Priority, KB: a.KB, TTLS: protocol.Seconds(a.TTL)}
			if a.Rule == "kb" {
				h.Kind = protocol.HintKB
			}
			if h.KB != "" && p.suggester != nil {
				p.suggester.MarkShown(h.KB)
			}
			p.hints = append(p.hints, Hint{T: now, Hint: h})
			p.emit(protocol.EventHint, now, h)
		case agentassist.KindCategory:
			if slices.Contains(p.categories, a.ID) {
				continue
			}
			p.categories = append(p.categories, a.ID)
			p.emit(protocol.EventCategory, now, protocol.Category{ID: a.ID})
		case agentassist.KindAlert:
			p.alert(now, protocol.Alert{ID: a.ID, Severity: a.Severity, Text: a.Text})
		}
	}
}

// alert raises an alert at call time now: kept for the record, and an event.
func (p *Pipeline) alert(now time.Duration, a protocol.Alert) {
	p.alerts = append(p.alerts, Alert{T: now, Alert: a})
	p.emit(protocol.EventAlert, now, a)
}

func (p *Pipeline) emit(typ string, t time.Duration, data any) {
	if p.muted {
		return
	}
	p.out = append(p.out, protocol.Event{
		Type: typ, CallID: p.cfg.CallID, AgentID: p.cfg.AgentID, T: t, TS: p.cfg.Now(), Data: data,
	})
}
