package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/insights/store"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt"
)

// RecognizerPool hands out recognizers whose model is already loaded. A
// pipeline takes one per channel for the whole call, so word times stay
// offsets from the call start, and gives it back when the call ends.
type RecognizerPool interface {
	// Get blocks until a recognizer is free or ctx ends.
	Get(ctx context.Context) (stt.Recognizer, error)
	// Put returns a recognizer; the pool resets its stream clock.
	Put(stt.Recognizer)
}

// Deps are the parts every call's pipeline shares, loaded once at start.
// Any of them may be nil: no recognizer means no transcript (dynamics
// only), no playbook means no rule hints, no KB means no article hints.
type Deps struct {
	Recognizers RecognizerPool
	Playbook    *agentassist.Playbook
	KB          *agentassist.KB
	Logger      *slog.Logger
	// Scheduler, shared by the calls of a server, bounds how many
	// recognizers decode at once and lets utterance ends go first (see
	// stt.Scheduler). Nil: each call decodes as its frames come.
	Scheduler *stt.Scheduler
}

// PipelineConfig configures one call's pipeline. Zero values are defaults.
type PipelineConfig struct {
	CallID, AgentID string
	VAD             audio.VADConfig
	Gate            stt.GateConfig
	Dynamics        insights.DynamicsConfig
	Sentiment       insights.SentimentConfig
	// Start is the call time the pipeline's audio begins at: non-zero for a
	// call resumed after an engine restart, whose earlier audio was
	// analyzed by the old process. The stretch before it is fed as silence
	// to keep every clock in call time, and nothing about it is reported.
	Start time.Duration
	// PriorSegments are what the call's earlier pipeline found before
	// Start; the record's dynamics include them.
	PriorSegments []insights.SpeechSegment
	// PriorSentiment are the sentiment scores of the utterances before
	// Start, in order (insights.SentimentScorer.Continue).
	PriorSentiment []insights.TimedScore
	// Resume is where each channel (agent, caller) of the earlier pipeline
	// stood when it stopped (Record.Channels); zero for unknown. A resumed
	// channel starts from that noise floor instead of learning the
	// background afresh from whatever it hears first, which may be speech
	// (or line noise read as speech against the silence fed up to Start);
	// a channel cut off mid-speech goes on speaking without an onset; and
	// its recognizer goes on from what it had learned of the voice.
	Resume [2]store.ChannelState
	// RecognizerWait bounds how long the call waits for a free recognizer
	// per channel (the pool is sized for a number of calls). A channel
	// that gets none in time is analysed without a transcript (dynamics,
	// sentiment of the voice, storage all go on) and the call gets a
	// warning alert saying so, rather than its audio backing up until the
	// endpoint's buffer overflows. Zero waits as long as ctx allows.
	RecognizerWait time.Duration
	// SnapshotEvery is how often (call time) a dynamics snapshot event is
	// emitted for live views. Default 5 s.
	SnapshotEvery time.Duration
	// Now stamps events with engine time. Default time.Now.
	Now func() time.Time
	// Redaction is where the call's earlier pipeline's redaction stood
	// (Pipeline.RedactionState, from the call's checkpoint); nil for a new
	// call. Without it a resumed call forgets that a card is being read
	// and stores the rest of it.
	Redaction *insights.RedactorState
}

// prosodyWindow is how much per-frame history a channel keeps to measure
// an utterance's pitch and level when its final result arrives; longer
// utterances are measured over their last prosodyWindow.
const prosodyWindow = 60 * time.Second

// tickEvery is how often (call time) the dynamics tracker and the playbook
// are ticked for dead-air timers and absence windows.
const tickEvery = 100 * time.Millisecond

type frameProsody struct {
	at     time.Duration
	f0     float32
	level  float32
	speech bool
}

type channel struct {
	speaker   insights.Speaker
	extractor *audio.FeatureExtractor
	vad       *audio.VAD
	rec       stt.Recognizer
	gate      *stt.Gate
	pcm       []int16
	pos       time.Duration // call time the channel's audio has reached
	history   []frameProsody
	histHead  int
	histLen   int
	partial   string
	segments  []audio.Segment
	// resumed is the SpeechStart of speech carried over from an earlier
	// pipeline (PipelineConfig.Resume); the recognizer gate gets it with
	// the first frame (gateEvent).
	resumed *audio.VADEvent
	// speakingAtEnd is whether the channel was in speech when Finish ran,
	// and openSpeech the utterance's audio from openFrom then, if the
	// gate had it (stt.Gate.OpenUtterance).
	speakingAtEnd bool
	openSpeech    []int16
	openFrom      time.Duration
	adaptation    []float32
	// speechFrom is where the open speech segment began (valid while the
	// VAD says the channel is speaking).
	speechFrom time.Duration
}

// Pipeline analyzes one call: per channel features, VAD and a gated
// recognizer; then redaction, sentiment, dynamics, playbook rules and KB
// suggestions; and it turns all of it into events. It is synchronous and
// not safe for concurrent use: its owner (a live call session or `earshot
// analyze`) feeds it from one goroutine. Push blocks while the recognizer
// decodes.
type Pipeline struct {
	deps Deps
	cfg  PipelineConfig
	log  *slog.Logger

	ch        [2]*channel
	tracker   *insights.DynamicsTracker
	scorer    *insights.SentimentScorer
	redactor  *insights.Redactor
	playbook  *agentassist.Session
	suggester *agentassist.Suggester

	nextTick     time.Duration
	nextSnapshot time.Duration
	end          time.Duration

	utterances []UtteranceRecord
	hints      []HintRecord
	categories []string
	alerts     []AlertRecord
	gaps       []GapRecord

	out     []protocol.Event
	pending []AlertRecord // raised before the first Push, emitted by it
	muted   bool          // fast-forwarding a resumed call: emit nothing
	// silenceFrames counts the frames of silence fed for missing audio:
	// the work a jump in capture time costs, which tests bound.
	silenceFrames int64
	finished      bool
	closed        bool
}

// NewPipeline starts the pipeline of one call, taking one recognizer per
// channel from deps.Recognizers (blocking until they are free, ctx ends or
// cfg.RecognizerWait passes).
func NewPipeline(ctx context.Context, deps Deps, cfg PipelineConfig) (*Pipeline, error) {
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{
		deps:         deps,
		cfg:          cfg,
		log:          log.With("call_id", cfg.CallID),
		tracker:      insights.NewDynamicsTracker(cfg.Dynamics),
		scorer:       insights.NewSentimentScorer(cfg.Sentiment),
		redactor:     insights.NewRedactor(insights.RedactorConfig{Resume: cfg.Redaction}),
		nextSnapshot: cfg.SnapshotEvery,
	}
	p.scorer.Continue(cfg.PriorSentiment)
	if deps.Playbook != nil {
		p.playbook = deps.Playbook.NewSession(agentassist.SessionConfig{Logger: p.log})
	}
	if deps.KB != nil {
		p.suggester = deps.KB.NewSuggester(agentassist.SuggesterConfig{})
	}
	getCtx := ctx
	if cfg.RecognizerWait > 0 {
		var cancel context.CancelFunc
		getCtx, cancel = context.WithTimeout(ctx, cfg.RecognizerWait)
		defer cancel()
	}
	var untranscribed []string
	historyFrames := int(prosodyWindow / audio.FrameDuration)
	for i, sp := range []insights.Speaker{insights.Agent, insights.Caller} {
		c := &channel{
			speaker:   sp,
			extractor: audio.NewFeatureExtractor(cfg.VAD.Features),
			vad:       audio.NewVAD(cfg.VAD),
			pcm:       make([]int16, audio.FrameSize),
			history:   make([]frameProsody, historyFrames),
		}
		if deps.Recognizers != nil {
			rec, err := deps.Recognizers.Get(getCtx)
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				p.log.Warn("no recognizer free: the channel is analysed without a transcript",
					"speaker", sp, "waited", cfg.RecognizerWait)
				untranscribed = append(untranscribed, string(sp))
				p.ch[i] = c
				continue
			}
			if err != nil {
				p.Close()
				return nil, fmt.Errorf("engine: recognizer for the %s channel: %w", sp, err)
			}
			c.rec = rec
			gcfg := cfg.Gate
			if gcfg.Scheduler == nil {
				gcfg.Scheduler = deps.Scheduler
			}
			c.gate = stt.NewGate(rec, gcfg)
			if a, ok := rec.(stt.Adaptive); ok && cfg.Resume[i].Adaptation != nil {
				if err := a.Adapt(cfg.Resume[i].Adaptation); err != nil {
					// Only costs the first words while it learns again.
					p.log.Warn("recognizer adaptation not restored", "speaker", sp, "err", err)
				}
			}
		}
		p.ch[i] = c
	}
	if len(untranscribed) > 0 {
		al := AlertRecord{ID: AlertNoTranscript, T: cfg.Start, Severity: "warning",
			Text: fmt.Sprintf("The engine is at capacity: no live transcript of the %s side of this call (dynamics and storage go on).",
				strings.Join(untranscribed, " and "))}
		p.alerts = append(p.alerts, al)
		p.pending = append(p.pending, al)
	}
	if cfg.Start > 0 {
		p.muted = true
		for i, c := range p.ch {
			if err := p.fastForward(c, cfg.Start, cfg.Resume[i]); err != nil {
				p.Close()
				return nil, fmt.Errorf("engine: fast-forward to %v: %w", cfg.Start, err)
			}
		}
		p.tick(cfg.Start)
		p.muted = false
		for i, c := range p.ch {
			if r := cfg.Resume[i]; r.NoiseFloorDBFS != 0 {
				c.extractor.ContinueNoiseFloor(r.NoiseFloorDBFS)
				if r.Speaking {
					ev := c.vad.ContinueSpeech(cfg.Start)
					if err := p.vadEvent(c, ev, cfg.Start); err != nil {
						p.Close()
						return nil, err
					}
					c.resumed = &ev
				}
			}
		}
		p.out = p.out[:0]
	}
	p.emit(protocol.EventCallStarted, cfg.Start, map[string]any{"started_at": cfg.Now().UTC().Format(time.RFC3339Nano)})
	return p, nil
}

// Push analyzes the next 20 ms frame (audio.FrameSize samples at 16 kHz) of
// one channel (0 agent, 1 caller) starting at call time at. Frames of a
// channel must come in order; the two channels may interleave freely, but
// the dynamics are most timely when neither runs ahead of the other by
// more than a few hundred milliseconds. A frame that starts after where the
// channel's audio ended leaves a silent stretch (see Gap). It returns the
// events the frame produced; the slice is reused by the next call.
func (p *Pipeline) Push(channel int, frame []float32, at time.Duration) ([]protocol.Event, error) {
	p.out = p.out[:0]
	if p.finished || p.closed {
		return nil, ErrPipelineDone
	}
	if channel < 0 || channel > 1 {
		return nil, fmt.Errorf("engine: channel %d: %w", channel, ErrBadChannel)
	}
	if len(frame) != audio.FrameSize {
		return nil, fmt.Errorf("engine: frame of %d samples, want %d: %w", len(frame), audio.FrameSize, ErrBadFrame)
	}
	if !p.muted {
		for _, al := range p.pending {
			p.emit(protocol.EventAlert, al.T, al)
		}
		p.pending = nil
	}
	c := p.ch[channel]
	if at < c.pos {
		return nil, fmt.Errorf("engine: %s frame at %v is before %v already analyzed: %w", c.speaker, at, c.pos, ErrBadFrame)
	}
	if at > c.pos {
		if err := p.silence(c, at); err != nil {
			return p.out, err
		}
	}
	f, err := c.extractor.Extract(frame)
	if err != nil {
		return p.out, fmt.Errorf("engine: %s features at %v: %w", c.speaker, at, err)
	}
	ev := c.vad.Push(f, at)
	c.remember(frameProsody{at: at, f0: float32(f.F0Hz), level: float32(f.LevelDBFS), speech: ev.Kind != audio.VADNone || c.vad.Speaking()})
	c.pos = at + audio.FrameDuration
	p.end = max(p.end, c.pos)
	if err := p.vadEvent(c, ev, c.pos); err != nil {
		return p.out, err
	}
	if c.gate != nil {
		stt.ToPCM(c.pcm, frame)
		res, err := c.gate.Push(c.pcm, c.gateEvent(ev))
		p.results(c, res, c.pos)
		if err != nil {
			return p.out, fmt.Errorf("engine: %s recognizer: %w", c.speaker, err)
		}
	}
	if channel == 0 {
		p.tick(c.pos)
	}
	return p.out, nil
}

// gateEvent is the VAD event the recognizer gate gets with the next frame:
// speech carried over from an earlier pipeline opens the gate's utterance
// with the first frame, unless the VAD already reports a change then.
func (c *channel) gateEvent(ev audio.VADEvent) audio.VADEvent {
	if c.resumed == nil {
		return ev
	}
	if ev.Kind == audio.VADNone {
		ev = *c.resumed
	}
	c.resumed = nil
	return ev
}

// fastForward brings a resumed call's channel to call time start. The
// audio before it was analysed by the earlier pipeline: every clock gets
// silence, except that the recognizer gets the utterance the earlier
// pipeline was in the middle of (its open speech), which then stays open
// for the frames to come, so it is decoded whole.
func (p *Pipeline) fastForward(c *channel, start time.Duration, r store.ChannelState) error {
	open := openSpeechPCM(r)
	if c.gate == nil || !r.Speaking || len(open) == 0 {
		return p.silence(c, start)
	}
	frames := int(start / audio.FrameDuration)
	n := min(frames, len(open)/audio.FrameSize)
	if err := p.silence(c, time.Duration(frames-n)*audio.FrameDuration); err != nil {
		return err
	}
	gate := c.gate
	c.gate = nil // the gate gets the open speech instead of this silence
	err := p.silence(c, start)
	c.gate = gate
	if err != nil {
		return err
	}
	if err := gate.ContinueUtterance(open[len(open)-n*audio.FrameSize:]); err != nil {
		// Only the words before the restart are lost from the utterance.
		p.log.Warn("open speech not carried over", "speaker", c.speaker, "err", err)
		return nil
	}
	p.log.Debug("open speech carried over", "speaker", c.speaker, "from", start-audio.PipelineRate.Duration(n*audio.FrameSize))
	return nil
}

// openSpeechPCM decodes ChannelState.OpenSpeech.
func openSpeechPCM(r store.ChannelState) []int16 {
	pcm := make([]int16, len(r.OpenSpeech)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(r.OpenSpeech[2*i:]))
	}
	return pcm
}

// Missing audio longer than skipAfter is skipped rather than fed as
// silence frame by frame: a jump of hours in capture time (or the part of a
// resumed call before its restart) would otherwise cost a core for minutes.
// The first settleSilence of it is still fed, so open speech ends as it
// would (the VAD's hangover, the gate's end pad).
const (
	skipAfter     = 2 * time.Second
	settleSilence = time.Second
)

// silence brings a channel to call time at over audio that never arrived,
// so its clocks (VAD, recognizer stream, dynamics) stay in call time: short
// stretches as digital silence, long ones skipped at a cost that does not
// depend on their length.
func (p *Pipeline) silence(c *channel, at time.Duration) error {
	if at-c.pos <= skipAfter {
		return p.feedSilence(c, at)
	}
	if err := p.feedSilence(c, c.pos+settleSilence); err != nil {
		return err
	}
	if err := p.vadEvent(c, c.vad.Flush(c.pos), c.pos); err != nil {
		return err
	}
	if c.gate != nil {
		frames := int((at - c.pos) / audio.FrameDuration)
		res, err := c.gate.Skip(frames * audio.FrameSize)
		p.results(c, res, c.pos)
		if err != nil {
			return err
		}
		c.resumed = nil
	}
	c.pos = at
	return nil
}

// feedSilence feeds digital silence frames up to at.
func (p *Pipeline) feedSilence(c *channel, at time.Duration) error {
	zero := make([]float32, audio.FrameSize)
	for c.pos+audio.FrameDuration <= at {
		f, err := c.extractor.Extract(zero)
		if err != nil {
			return err
		}
		ev := c.vad.Push(f, c.pos)
		c.pos += audio.FrameDuration
		p.silenceFrames++
		if err := p.vadEvent(c, ev, c.pos); err != nil {
			return err
		}
		if c.gate != nil {
			clear(c.pcm)
			res, err := c.gate.Push(c.pcm, c.gateEvent(ev))
			p.results(c, res, c.pos)
			if err != nil {
				return err
			}
		}
	}
	c.pos = at
	return nil
}

// Gap records that a channel's audio from..to never arrived (reason:
// "buffer_overflow", "paused", "missing"). The audio is treated as silence.
func (p *Pipeline) Gap(channel int, from, to time.Duration, reason string) {
	p.gaps = append(p.gaps, GapRecord{Channel: channel, Start: from, End: to, Reason: reason})
}

// Tick advances timers (dead air, absence windows) to call time at when no
// audio arrives, and returns the events that produced.
func (p *Pipeline) Tick(at time.Duration) []protocol.Event {
	p.out = p.out[:0]
	if p.finished || p.closed {
		return nil
	}
	p.tick(at)
	return p.out
}

func (p *Pipeline) tick(at time.Duration) {
	if at < p.nextTick {
		return
	}
	p.nextTick = at + tickEvery
	p.dynamicsEvents(p.tracker.Tick(at), at)
	if p.playbook != nil {
		p.actions(p.playbook.Tick(p.heardUpTo(at)), at)
	}
	if at >= p.nextSnapshot {
		p.nextSnapshot = at + p.cfg.SnapshotEvery
		p.emit(protocol.EventDynamics, at, map[string]any{"event": "snapshot", "dynamics": p.tracker.Snapshot()})
	}
}

// heardUpTo is the call time up to which every utterance has reached the
// playbook: now, or the start of speech still being recognized. Absence
// windows close at this watermark, so a recording disclosure begun at 28 s
// and recognized at 33 s still counts as said within 30 s.
func (p *Pipeline) heardUpTo(now time.Duration) time.Duration {
	for _, c := range p.ch {
		if c.vad.Speaking() {
			now = min(now, c.speechFrom)
		}
	}
	return now
}

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
		return fmt.Errorf("engine: dynamics: %w", err)
	}
	p.dynamicsEvents(evs, now)
	return nil
}

func (p *Pipeline) dynamicsEvents(evs []insights.DynamicsEvent, now time.Duration) {
	for _, e := range evs {
		if e.Kind == insights.DeadAir && e.Start < p.cfg.Start {
			continue // silence a resumed call knows nothing about
		}
		p.emit(protocol.EventDynamics, now, map[string]any{
			"event":   string(e.Kind),
			"speaker": string(e.Speaker),
			"start":   insights.Seconds(e.Start),
			"end":     insights.Seconds(e.End),
			"ongoing": e.Ongoing,
			"value":   e.Value,
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
			p.emit(protocol.EventTranscriptPartial, now, map[string]any{
				"speaker": string(c.speaker), "start": insights.Seconds(r.Start), "end": insights.Seconds(r.End), "text": text,
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
	sent := p.scorer.Score(u, c.prosody(u))
	p.utterances = append(p.utterances, UtteranceRecord{Utterance: u, Sentiment: sent})
	p.emit(protocol.EventTranscriptFinal, now, utteranceJSON(u, &sent))
	p.emit(protocol.EventSentiment, now, sentimentOut{
		Speaker: string(c.speaker), Score: roundMilli(sent.Score), Label: string(sent.Label),
		Rolling: roundMilli(p.scorer.Rolling(c.speaker)), Trend: p.scorer.Summary(now).Trend,
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
	for _, a := range acts {
		switch a.Kind {
		case agentassist.KindHint:
			h := HintRecord{ID: a.ID, Kind: "playbook", T: now, Title: a.Title, Text: a.Text, Priority: a.Priority, KB: a.KB, TTL: a.TTL}
			if a.Rule == "kb" {
				h.Kind = "kb"
			}
			if h.KB != "" && p.suggester != nil {
				p.suggester.MarkShown(h.KB)
			}
			p.hints = append(p.hints, h)
			p.emit(protocol.EventHint, now, h)
		case agentassist.KindCategory:
			if slices.Contains(p.categories, a.ID) {
				continue
			}
			p.categories = append(p.categories, a.ID)
			p.emit(protocol.EventCategory, now, categoryOut{ID: a.ID})
		case agentassist.KindAlert:
			al := AlertRecord{ID: a.ID, T: now, Severity: a.Severity, Text: a.Text}
			p.alerts = append(p.alerts, al)
			p.emit(protocol.EventAlert, now, al)
		}
	}
}

func (p *Pipeline) emit(typ string, t time.Duration, data any) {
	if p.muted {
		return
	}
	p.out = append(p.out, protocol.Event{
		Type: typ, CallID: p.cfg.CallID, AgentID: p.cfg.AgentID, T: t, TS: p.cfg.Now(), Data: data,
	})
}

// Finish ends the call at call time at (raised to the audio received):
// open speech is closed, recognizers are flushed, and the final events and
// the call's record are returned. The recognizers go back to the pool.
func (p *Pipeline) Finish(at time.Duration) ([]protocol.Event, Record, error) {
	p.out = p.out[:0]
	if p.finished || p.closed {
		return nil, Record{}, ErrPipelineDone
	}
	at = max(at, p.end)
	var errs []error
	for _, c := range p.ch {
		c.speakingAtEnd = c.vad.Speaking()
		ev := c.vad.Flush(c.pos)
		if err := p.vadEvent(c, ev, at); err != nil {
			errs = append(errs, err)
		}
		if c.gate != nil {
			// Audio is kept for a resume, never while card data may be
			// being read: then the utterance is decoded in two parts.
			payment := p.redactor.CardNamed(at) || p.redactor.DigitsStarted(c.speaker)
			if from, pcm, ok := c.gate.OpenUtterance(); ok && c.speakingAtEnd && !payment {
				c.openSpeech, c.openFrom = slices.Clone(pcm), from
				// The adaptation as the utterance began: ending its first
				// part would update it with audio the next recognizer
				// decodes again.
				if a, ok := c.rec.(stt.Adaptive); ok {
					c.adaptation = a.Adaptation()
				}
			}
			res, err := c.gate.Flush()
			p.results(c, res, at)
			if err != nil {
				errs = append(errs, fmt.Errorf("engine: %s recognizer flush: %w", c.speaker, err))
			}
		}
	}
	p.tick(at)
	p.dynamicsEvents(p.tracker.Finish(at), at)
	if p.playbook != nil {
		p.actions(p.playbook.Tick(at), at)
	}
	p.finished = true
	rec := p.record(at)
	p.emit(protocol.EventCallEnded, at, map[string]any{"reason": "end", "duration_s": insights.Seconds(at)})
	p.release()
	return p.out, rec, errors.Join(errs...)
}

func (p *Pipeline) record(at time.Duration) Record {
	segs := slices.Clone(p.cfg.PriorSegments)
	for _, c := range p.ch {
		for _, s := range c.segments {
			segs = append(segs, insights.SpeechSegment{Speaker: c.speaker, Start: s.Start, End: s.End})
		}
	}
	sortSegments(segs)
	dyn := insights.AnalyzeDynamics(segs, at, p.cfg.Dynamics)
	if p.cfg.PriorSegments == nil {
		// A resumed call that knows nothing of its past reports no silence there.
		dyn.DeadAir = slices.DeleteFunc(dyn.DeadAir, func(s insights.Span) bool { return s.Start < p.cfg.Start })
	}
	utts := make([]insights.Utterance, len(p.utterances))
	for i, u := range p.utterances {
		utts[i] = u.Utterance
	}
	dyn.AddWPM(utts)
	var chans [2]store.ChannelState
	for i, c := range p.ch {
		chans[i] = store.ChannelState{NoiseFloorDBFS: c.extractor.NoiseFloorDBFS(), Speaking: c.speakingAtEnd}
		if len(c.openSpeech) > 0 {
			b := make([]byte, 2*len(c.openSpeech))
			for j, v := range c.openSpeech {
				binary.LittleEndian.PutUint16(b[2*j:], uint16(v))
			}
			chans[i].OpenSpeech, chans[i].OpenSpeechFrom = b, insights.Seconds(c.openFrom)
		}
		if c.adaptation != nil {
			chans[i].Adaptation = c.adaptation
		} else if a, ok := c.rec.(stt.Adaptive); ok {
			chans[i].Adaptation = a.Adaptation()
		}
	}
	return Record{
		Channels:   chans,
		CallID:     p.cfg.CallID,
		AgentID:    p.cfg.AgentID,
		Duration:   at,
		Segments:   segs,
		Utterances: sortUtterances(p.utterances),
		Dynamics:   dyn,
		Sentiment:  p.scorer.Summary(at),
		Hints:      p.hints,
		Categories: p.categories,
		Alerts:     p.alerts,
		Gaps:       p.gaps,
	}
}

// Close releases the recognizers without finishing (a failed call). It is
// idempotent and safe after Finish.
func (p *Pipeline) Close() error {
	p.closed = true
	p.release()
	return nil
}

func (p *Pipeline) release() {
	for _, c := range p.ch {
		if c == nil || c.rec == nil {
			continue
		}
		p.deps.Recognizers.Put(c.rec)
		c.rec, c.gate = nil, nil
	}
}

func (c *channel) remember(f frameProsody) {
	i := (c.histHead + c.histLen) % len(c.history)
	c.history[i] = f
	if c.histLen < len(c.history) {
		c.histLen++
	} else {
		c.histHead = (c.histHead + 1) % len(c.history)
	}
}

// prosody measures how an utterance sounded from the frames it spans:
// mean F0 over voiced frames and mean level over speech frames.
func (c *channel) prosody(u insights.Utterance) insights.Prosody {
	var f0Sum, levelSum float64
	var voiced, speech int
	for k := 0; k < c.histLen; k++ {
		f := c.history[(c.histHead+k)%len(c.history)]
		if f.at < u.Start || f.at >= u.End || !f.speech {
			continue
		}
		speech++
		levelSum += float64(f.level)
		if f.f0 > 0 {
			voiced++
			f0Sum += float64(f.f0)
		}
	}
	var pr insights.Prosody
	if voiced > 0 {
		pr.MeanF0Hz = f0Sum / float64(voiced)
	}
	if speech > 0 {
		pr.MeanLevelDBFS = levelSum / float64(speech)
	}
	if d := u.End - u.Start; d > 0 {
		pr.WPM = float64(len(u.Words)) / d.Minutes()
	}
	return pr
}

// RedactionState is where the call's redaction stands: the payment
// context and the digits each side has read so far, to save with the
// call's checkpoint and give to the resumed pipeline
// (PipelineConfig.Redaction), so a card read across an engine restart is
// redacted as in the uncut call. Call it between Push calls, from the
// pipeline's goroutine.
func (p *Pipeline) RedactionState() insights.RedactorState { return p.redactor.State() }
