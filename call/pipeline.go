package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/insights"
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

// Config configures one call's pipeline. Zero values are defaults.
type Config struct {
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
	Resume [2]ChannelState
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

// LiveRecognizerWait is how long a live call waits for free recognizers
// before it goes on without a transcript (Config.RecognizerWait): long
// enough for a call ending at the same moment to hand its decoders back,
// short enough that the audio queued meanwhile is decoded in seconds.
const LiveRecognizerWait = 10 * time.Second

// tickEvery is how often (call time) the dynamics tracker and the playbook
// are ticked for dead-air timers and absence windows.
const tickEvery = 100 * time.Millisecond

// Pipeline analyzes one call: per channel features, VAD and a gated
// recognizer; then redaction, sentiment, dynamics, playbook rules and KB
// suggestions; and it turns all of it into events. It is synchronous and
// not safe for concurrent use: its owner (a live call session or `earshot
// analyze`) feeds it from one goroutine. Push blocks while the recognizer
// decodes. It makes no lifecycle events (call.started, call.ended): its
// owner knows when and why a call starts and ends.
type Pipeline struct {
	deps Deps
	cfg  Config
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

	utterances []Utterance
	hints      []Hint
	categories []string
	alerts     []Alert
	gaps       []Gap
	paused     []insights.Span // GapPaused stretches, once for both channels

	out []protocol.Event
	// opening are the events New raised (a channel left without a
	// recognizer); they come with the first Push's.
	opening []protocol.Event
	muted   bool // fast-forwarding a resumed call: emit nothing
	// silenceFrames counts the frames of silence fed for missing audio:
	// the work a jump in capture time costs, which tests bound.
	silenceFrames int64
	finished      bool
	closed        bool
}

// New starts the pipeline of one call, taking one recognizer per channel
// from deps.Recognizers (blocking until they are free, ctx ends or
// cfg.RecognizerWait passes).
func New(ctx context.Context, deps Deps, cfg Config) (*Pipeline, error) {
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
	untranscribed, err := p.takeRecognizers(ctx)
	if err != nil {
		p.Close()
		return nil, err
	}
	if cfg.Start > 0 {
		if err := p.resume(); err != nil {
			p.Close()
			return nil, err
		}
	}
	if len(untranscribed) > 0 {
		p.alert(cfg.Start, protocol.Alert{ID: AlertNoTranscript, Severity: protocol.SeverityWarning,
			Text: fmt.Sprintf("The engine is at capacity: no live transcript of the %s side of this call (dynamics and storage go on).",
				strings.Join(untranscribed, " and "))})
	}
	p.opening, p.out = slices.Clone(p.out), nil
	return p, nil
}

// takeRecognizers sets up both channels, each with a recognizer from the
// pool when there is one. A channel that gets none within RecognizerWait
// goes on without a transcript; their speakers are returned, for the
// call's alert.
func (p *Pipeline) takeRecognizers(ctx context.Context) (untranscribed []string, err error) {
	getCtx := ctx
	if p.cfg.RecognizerWait > 0 {
		var cancel context.CancelFunc
		getCtx, cancel = context.WithTimeout(ctx, p.cfg.RecognizerWait)
		defer cancel()
	}
	for _, ch := range protocol.BothChannels {
		c := newChannel(ch, p.cfg.VAD)
		p.ch[ch] = c
		if p.deps.Recognizers == nil {
			continue
		}
		rec, err := p.deps.Recognizers.Get(getCtx)
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			p.log.Warn("no recognizer free: the channel is analysed without a transcript",
				"speaker", c.speaker, "waited", p.cfg.RecognizerWait)
			untranscribed = append(untranscribed, c.speaker.String())
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("call: recognizer for the %s channel: %w", c.speaker, err)
		}
		gcfg := p.cfg.Gate
		if gcfg.Scheduler == nil {
			gcfg.Scheduler = p.deps.Scheduler
		}
		c.rec, c.gate = rec, stt.NewGate(rec, gcfg)
		if a, ok := rec.(stt.Adaptive); ok && p.cfg.Resume[ch].Adaptation != nil {
			if err := a.Adapt(p.cfg.Resume[ch].Adaptation); err != nil {
				// Only costs the first words while it learns again.
				p.log.Warn("recognizer adaptation not restored", "speaker", c.speaker, "err", err)
			}
		}
	}
	return untranscribed, nil
}

// resume brings a call resumed after a restart to Config.Start without
// reporting anything about the audio before it, then restores where each
// channel stood: its noise floor, and speech it was in the middle of. What
// restoring them raised (a speech start) is not news either: it is dropped.
func (p *Pipeline) resume() error {
	start := p.cfg.Start
	p.muted = true
	for ch, c := range p.ch {
		r := p.cfg.Resume[ch]
		if err := p.fastForward(c, r.from(start), r); err != nil {
			return fmt.Errorf("call: fast-forward to %v: %w", r.from(start), err)
		}
	}
	p.tick(start)
	p.muted = false
	for ch, c := range p.ch {
		r := p.cfg.Resume[ch]
		if r.NoiseFloorDBFS == 0 {
			continue
		}
		c.extractor.ContinueNoiseFloor(r.NoiseFloorDBFS)
		if r.Speaking {
			ev := c.vad.ContinueSpeech(r.from(start))
			if err := p.vadEvent(c, ev, r.from(start)); err != nil {
				return err
			}
			c.resumed = &ev
		}
	}
	p.out = p.out[:0]
	return nil
}

// Push analyzes the next 20 ms frame (audio.FrameSize samples at 16 kHz) of
// one channel starting at call time at. Frames of a channel must come in
// order; the two channels may interleave freely, but the dynamics are most
// timely when neither runs ahead of the other by more than a few hundred
// milliseconds. A frame that starts after where the channel's audio ended
// leaves a silent stretch (see Gap). It returns the events the frame
// produced (the first Push also those New raised); the slice is reused by
// the next call.
func (p *Pipeline) Push(ch protocol.Channel, frame []float32, at time.Duration) ([]protocol.Event, error) {
	p.out = append(p.out[:0], p.opening...)
	p.opening = nil
	if p.finished || p.closed {
		return nil, ErrPipelineDone
	}
	if !ch.Valid() {
		return nil, fmt.Errorf("call: %v: %w", ch, ErrBadChannel)
	}
	if len(frame) != audio.FrameSize {
		return nil, fmt.Errorf("call: frame of %d samples, want %d: %w", len(frame), audio.FrameSize, ErrBadFrame)
	}
	c := p.ch[ch]
	if at < c.pos {
		return nil, fmt.Errorf("call: %s frame at %v is before %v already analyzed: %w", c.speaker, at, c.pos, ErrBadFrame)
	}
	if at > c.pos {
		if err := p.silence(c, at); err != nil {
			return p.out, err
		}
	}
	f, err := c.extractor.Extract(frame)
	if err != nil {
		return p.out, fmt.Errorf("call: %s features at %v: %w", c.speaker, at, err)
	}
	ev := c.vad.Push(f, at)
	c.prosody.Add(at, f.F0Hz, f.LevelDBFS, ev.Kind != audio.VADNone || c.vad.Speaking())
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
			return p.out, fmt.Errorf("call: %s recognizer: %w", c.speaker, err)
		}
	}
	if ch == protocol.ChannelAgent {
		p.tick(c.pos)
	}
	return p.out, nil
}

// GapPaused is the Gap reason of a stretch the endpoint paused (the agent
// stopped capture while a card is read).
const GapPaused = "paused"

// Gap records that a channel's audio from..to never arrived (reason:
// "buffer_overflow", GapPaused, "missing"). The audio is treated as
// silence for the channel's clocks. A paused stretch is not silence for
// the call, though: nobody knows whether anyone spoke, so it is not dead
// air, and no dead-air event or hint comes of it (insights.DynamicsTracker.Paused);
// a silence without a pause message, a hold, still is. Report a pause
// before the audio after it is pushed (an engine does, on the endpoint's
// resume, before its next frame); reported later, it only covers call time
// the dynamics have not yet settled.
func (p *Pipeline) Gap(ch protocol.Channel, from, to time.Duration, reason string) {
	p.gaps = append(p.gaps, Gap{Channel: ch, Start: from, End: to, Reason: reason})
	if reason != GapPaused || p.finished || p.closed || to <= from {
		return
	}
	span := insights.Span{Start: from, End: to}
	if slices.Contains(p.paused, span) {
		return // the same pause for the other channel
	}
	p.paused = append(p.paused, span)
	p.tracker.Paused(from, to)
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
		p.emit(protocol.EventDynamics, at, protocol.DynamicsSnapshot{Event: "snapshot", Dynamics: p.tracker.Snapshot()})
	}
}

// heardUpTo is the call time up to which every utterance has reached the
// playbook (insights.HeardUpTo over the channels still speaking).
func (p *Pipeline) heardUpTo(now time.Duration) time.Duration {
	var open []time.Duration
	for _, c := range p.ch {
		if c.vad.Speaking() {
			open = append(open, c.speechFrom)
		}
	}
	return insights.HeardUpTo(now, open...)
}

// Finish stops the pipeline at call time at (raised to the audio
// received) without ending the call: open speech is closed, recognizers
// are flushed, and the final events and the record of the call so far are
// returned. The recognizers go back to the pool. It is what an engine
// calls when the call may go on in another pipeline (an engine shutdown, a
// dropped endpoint): rules that wait for the call's end are not judged, so
// a call cut 20 s in does not miss a disclosure due within 30 s. A call
// that is over ends with End instead.
func (p *Pipeline) Finish(at time.Duration) ([]protocol.Event, Record, error) {
	return p.finish(at, false)
}

// End is Finish for a call that is over (the endpoint ended it, or it
// never came back): besides, the rules that wait for the call's end are
// judged at at, so a playbook absence window the call ended inside of
// fires (agentassist.Session.End).
func (p *Pipeline) End(at time.Duration) ([]protocol.Event, Record, error) {
	return p.finish(at, true)
}

func (p *Pipeline) finish(at time.Duration, ended bool) ([]protocol.Event, Record, error) {
	p.out = p.out[:0]
	if p.finished || p.closed {
		return nil, Record{}, ErrPipelineDone
	}
	at = max(at, p.end)
	var errs []error
	for _, c := range p.ch {
		if err := p.finishChannel(c, at); err != nil {
			errs = append(errs, err)
		}
	}
	p.tick(at)
	p.dynamicsEvents(p.tracker.Finish(at), at)
	switch {
	case p.playbook == nil:
	case ended:
		p.actions(p.playbook.End(at), at)
	default:
		p.actions(p.playbook.Tick(at), at)
	}
	p.finished = true
	rec := p.record(at)
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
	dyn := insights.AnalyzeDynamicsPaused(segs, p.paused, at, p.cfg.Dynamics)
	if p.cfg.PriorSegments == nil {
		// A resumed call that knows nothing of its past reports no silence there.
		dyn.DeadAir = slices.DeleteFunc(dyn.DeadAir, func(s insights.Span) bool { return s.Start < p.cfg.Start })
	}
	utts := make([]insights.Utterance, len(p.utterances))
	for i, u := range p.utterances {
		utts[i] = u.Utterance
	}
	dyn.AddWPM(utts)
	var chans [2]ChannelState
	for i, c := range p.ch {
		chans[i] = c.state()
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

// OpenSince is where the utterance a channel is in the middle of began
// (with its pre-roll), until its final (stt.Gate.Unfinished); false when
// the channel is not in an utterance, it is longer than the gate holds,
// or the channel has no recognizer. Audio from there on is not yet a transcript: an
// engine keeps it unacknowledged, so that a pipeline continuing the call
// elsewhere hears the utterance whole.
func (p *Pipeline) OpenSince(ch protocol.Channel) (time.Duration, bool) {
	if !ch.Valid() || p.finished || p.closed {
		return 0, false
	}
	g := p.ch[ch].gate
	if g == nil {
		return 0, false
	}
	return g.Unfinished()
}

// LiveState is where channel ch stands now, for a checkpoint of a running
// call: its noise floor, whether it is speaking, and what its recognizer
// has learned of the voice. A pipeline continuing the call from the
// checkpoint starts from it (Config.Resume), as from a Finish's record.
func (p *Pipeline) LiveState(ch protocol.Channel) ChannelState {
	if !ch.Valid() || p.finished || p.closed {
		return ChannelState{}
	}
	c := p.ch[ch]
	st := ChannelState{NoiseFloorDBFS: c.extractor.NoiseFloorDBFS(), Speaking: c.vad.Speaking()}
	if a, ok := c.rec.(stt.Adaptive); ok {
		st.Adaptation = a.Adaptation()
	}
	return st
}

// RedactionState is where the call's redaction stands: the payment
// context and the digits each side has read so far, to save with the
// call's checkpoint and give to the resumed pipeline (Config.Redaction),
// so a card read across an engine restart is redacted as in the uncut
// call. Call it between Push calls, from the pipeline's goroutine.
func (p *Pipeline) RedactionState() insights.RedactorState { return p.redactor.State() }

// SilenceFrames is how many 20 ms frames of silence the pipeline has fed
// for audio that never arrived: the work gaps and jumps in capture time
// cost, which tests bound.
func (p *Pipeline) SilenceFrames() int64 { return p.silenceFrames }
