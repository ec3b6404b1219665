package call

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt"
)

// prosodyWindow is how much per-frame history a channel keeps to measure
// an utterance's pitch and level when its final result arrives; longer
// utterances are measured over their last prosodyWindow.
const prosodyWindow = 60 * time.Second

// Missing audio longer than SkipAfter is skipped rather than fed as
// silence frame by frame: a jump of hours in capture time (or the part of a
// resumed call before its restart) would otherwise cost a core for minutes.
// The first settleSilence of it is still fed, so open speech ends as it
// would (the VAD's hangover, the gate's end pad).
const (
	SkipAfter     = 2 * time.Second
	settleSilence = time.Second
)

// channel is one side of the call as the pipeline analyzes it.
type channel struct {
	speaker   insights.Speaker
	extractor *audio.FeatureExtractor
	vad       *audio.VAD
	rec       stt.Recognizer // nil: no transcript of this side
	gate      *stt.Gate
	pcm       []int16
	pos       time.Duration // call time the channel's audio has reached
	prosody   *insights.ProsodyHistory
	partial   string
	segments  []audio.Segment
	// resumed is the SpeechStart of speech carried over from an earlier
	// pipeline (Config.Resume); the recognizer gate gets it with the
	// first frame (gateEvent).
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

func newChannel(ch protocol.Channel, vad audio.VADConfig) *channel {
	return &channel{
		speaker:   ch,
		extractor: audio.NewFeatureExtractor(vad.Features),
		vad:       audio.NewVAD(vad),
		pcm:       make([]int16, audio.FrameSize),
		prosody:   insights.NewProsodyHistory(int(prosodyWindow / audio.FrameDuration)),
	}
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

// state is where the channel stands for a pipeline that continues the
// call: its noise floor, whether it is speaking, the open utterance's audio
// Finish kept, and its recognizer's adaptation.
func (c *channel) state() ChannelState {
	st := ChannelState{NoiseFloorDBFS: c.extractor.NoiseFloorDBFS(), Speaking: c.speakingAtEnd,
		OpenSpeech: c.openSpeech, OpenSpeechFrom: c.openFrom}
	if len(c.openSpeech) == 0 {
		st.OpenSpeechFrom = 0
	}
	if c.adaptation != nil {
		st.Adaptation = c.adaptation
	} else if a, ok := c.rec.(stt.Adaptive); ok {
		st.Adaptation = a.Adaptation()
	}
	return st
}

// fastForward brings a resumed call's channel to call time start. The
// audio before it was analysed by the earlier pipeline: every clock gets
// silence, except that the recognizer gets the utterance the earlier
// pipeline was in the middle of (its open speech), which then stays open
// for the frames to come, so it is decoded whole.
func (p *Pipeline) fastForward(c *channel, start time.Duration, r ChannelState) error {
	open := r.OpenSpeech
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

// silence brings a channel to call time at over audio that never arrived,
// so its clocks (VAD, recognizer stream, dynamics) stay in call time: short
// stretches as digital silence, long ones skipped at a cost that does not
// depend on their length.
func (p *Pipeline) silence(c *channel, at time.Duration) error {
	if at-c.pos <= SkipAfter {
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

// finishChannel closes the channel's open speech at call time at and
// flushes its recognizer, keeping the open utterance's audio (and the
// adaptation as it began) for a pipeline that continues the call.
func (p *Pipeline) finishChannel(c *channel, at time.Duration) error {
	c.speakingAtEnd = c.vad.Speaking()
	err := p.vadEvent(c, c.vad.Flush(c.pos), at)
	if c.gate == nil {
		return err
	}
	// Audio is kept for a resume, never while card data may be being read:
	// then the utterance is decoded in two parts.
	payment := p.redactor.CardNamed(at) || p.redactor.DigitsStarted(c.speaker)
	if from, pcm, ok := c.gate.OpenUtterance(); ok && c.speakingAtEnd && !payment {
		c.openSpeech, c.openFrom = slices.Clone(pcm), from
		// The adaptation as the utterance began: ending its first part
		// would update it with audio the next recognizer decodes again.
		if a, ok := c.rec.(stt.Adaptive); ok {
			c.adaptation = a.Adaptation()
		}
	}
	res, ferr := c.gate.Flush()
	p.results(c, res, at)
	if ferr != nil {
		ferr = fmt.Errorf("call: %s recognizer flush: %w", c.speaker, ferr)
	}
	return errors.Join(err, ferr)
}
