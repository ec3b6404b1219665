package stt

import (
	"fmt"
	"time"

	"github.com/earshot/earshot/audio"
)

// GateConfig tunes a Gate. The zero value is the Earshot default.
type GateConfig struct {
	// PreRoll is how much audio the gate keeps before a confirmed speech
	// start. It must cover the VAD's onset confirmation delay (up to about
	// 200 ms with its defaults) plus PadStart. Default 400 ms.
	PreRoll time.Duration
	// PadStart is decoded before the VAD's speech start, so the first
	// phone's onset is inside the utterance. Default 200 ms.
	PadStart time.Duration
	// PadEnd is decoded after the VAD's speech end. The VAD reports the end
	// after its hangover (300 ms by default); when the hangover is longer
	// than PadEnd the utterance already holds the pad and ends at once.
	// Default 200 ms.
	PadEnd time.Duration
	// Batch is how much utterance audio the gate collects before handing it
	// to the recognizer in one call. A decoder's search state is large, and
	// a server interleaving many of them 20 ms at a time spends much of its
	// time refetching it: eight PocketSphinx decoders fed round-robin cost
	// 0.20 CPU seconds per audio second in 20 ms pieces and 0.12 in 200 ms
	// ones (one core; see stt/API.md). A final is not delayed: the batch is
	// decoded when the utterance ends. Partials lag by up to Batch.
	// Default 200 ms; a value below one frame means one frame.
	Batch time.Duration
	// Scheduler, when set, is shared by the gates of a server: decoding
	// waits for one of its slots, and ending an utterance goes before
	// decoding more audio. Nil decodes at once.
	Scheduler *Scheduler
	// HoldMax bounds the audio of the open utterance the gate keeps, so a
	// stream stopped mid-utterance can hand it to another gate
	// (OpenUtterance, ContinueUtterance) and the utterance is decoded whole.
	// An utterance longer than this cannot be handed over. Default 30 s;
	// negative keeps nothing.
	HoldMax time.Duration
}

func (c GateConfig) withDefaults() GateConfig {
	if c.PadStart <= 0 {
		c.PadStart = 200 * time.Millisecond
	}
	if c.PadEnd <= 0 {
		c.PadEnd = 200 * time.Millisecond
	}
	if c.PreRoll <= 0 {
		c.PreRoll = 400 * time.Millisecond
	}
	c.PreRoll = max(c.PreRoll, c.PadStart+audio.FrameDuration)
	if c.Batch == 0 {
		c.Batch = 200 * time.Millisecond
	}
	c.Batch = max(c.Batch, audio.FrameDuration)
	if c.HoldMax == 0 {
		c.HoldMax = 30 * time.Second
	}
	return c
}

type gateState int

const (
	gateIdle     gateState = iota // outside speech: frames go to the pre-roll ring
	gateSpeaking                  // utterance open: frames are decoded in batches as they come
	gateTrailing                  // speech ended: decoding the end pad
)

// Gate drives a Recognizer from one channel's 20 ms frames and its VAD
// decisions: only speech (with padding) is decoded, everything else is
// skipped so result times stay stream offsets. Utterances open at the VAD's
// speech start minus PadStart, from a pre-roll ring, and end at its speech
// end plus PadEnd, when the final result is returned.
//
// A Gate is not safe for concurrent use. In the steady state it allocates
// nothing per frame (the recognizer may, when it returns results).
type Gate struct {
	rec Recognizer
	cfg GateConfig

	ring     []int16 // pre-roll, a circular buffer of whole frames
	ringHead int     // index of the oldest sample
	ringLen  int     // samples held

	state      gateState
	pos        int64 // samples pushed so far (the gate's stream clock)
	recPos     int64 // samples the recognizer has accepted or skipped
	pendingSkp int   // samples dropped from the ring but not yet skipped
	endAt      int64 // gateTrailing: stream sample where the utterance ends

	batch []int16 // utterance audio not yet handed to the recognizer

	// held is the open utterance's audio from its first sample (heldFrom),
	// while it fits in HoldMax; heldFrom is -1 when it did not.
	held     []int16
	heldFrom int64
	holdMax  int

	out []Result
}

// NewGate returns a gate feeding rec, whose stream clock must be at zero.
// The gate does not own rec: closing it is the caller's job.
func NewGate(rec Recognizer, cfg GateConfig) *Gate {
	cfg = cfg.withDefaults()
	frames := (cfg.PreRoll + audio.FrameDuration - 1) / audio.FrameDuration
	batch := (cfg.Batch + audio.FrameDuration - 1) / audio.FrameDuration
	return &Gate{
		rec:      rec,
		cfg:      cfg,
		ring:     make([]int16, int(frames)*audio.FrameSize),
		batch:    make([]int16, 0, int(batch)*audio.FrameSize),
		out:      make([]Result, 0, 4),
		heldFrom: -1,
		holdMax:  max(audio.PipelineRate.Samples(cfg.HoldMax), 0),
	}
}

// Push takes the next frame of the channel (exactly audio.FrameSize samples
// at 16 kHz, starting where the previous one ended) and the VAD event that
// frame produced. It returns the recognizer's results: partials while an
// utterance is open and the final when it ends. The returned slice is
// reused by the next Push or Flush; the frame is not kept. A wrong frame
// length fails with ErrFrameSize; recognizer errors are returned wrapped.
func (g *Gate) Push(frame []int16, ev audio.VADEvent) ([]Result, error) {
	if len(frame) != audio.FrameSize {
		return nil, fmt.Errorf("stt: gate frame of %d samples: %w", len(frame), ErrFrameSize)
	}
	g.out = g.out[:0]
	g.pos += int64(len(frame))

	switch g.state {
	case gateIdle:
		g.remember(frame)
		if ev.Kind == audio.SpeechStart {
			if err := g.open(ev.Segment.Start); err != nil {
				return g.out, err
			}
		}
	case gateSpeaking, gateTrailing:
		if err := g.collect(frame); err != nil {
			return g.out, err
		}
		switch ev.Kind {
		case audio.SpeechStart:
			// Speech resumed inside the end pad: same utterance.
			g.state = gateSpeaking
		case audio.SpeechEnd:
			g.state = gateTrailing
			g.endAt = samplesAt(ev.Segment.End + g.cfg.PadEnd)
		}
		if g.state == gateTrailing && g.pos >= g.endAt {
			if err := g.close(); err != nil {
				return g.out, err
			}
		}
	}
	return g.out, nil
}

// Flush ends the stream: an open utterance is ended and its final returned,
// and the recognizer's clock is advanced over the pre-roll still held, so
// it equals the samples pushed. The returned slice is reused by the next
// call. The gate can go on with more frames afterwards.
func (g *Gate) Flush() ([]Result, error) {
	g.out = g.out[:0]
	if g.state != gateIdle {
		if err := g.close(); err != nil {
			return g.out, err
		}
	}
	g.pendingSkp += g.ringLen
	g.ringLen, g.ringHead = 0, 0
	return g.out, g.skip()
}

// Skip advances the stream over n samples that never arrived (a jump in
// capture time, or the part of a resumed call before its restart) without
// decoding them: an open utterance is ended first and its final returned,
// and the pre-roll is dropped. Its cost does not depend on n. The returned
// slice is reused by the next call; n < 0 is ErrNegativeSkip.
func (g *Gate) Skip(n int) ([]Result, error) {
	g.out = g.out[:0]
	if n < 0 {
		return nil, fmt.Errorf("stt: gate skip of %d samples: %w", n, ErrNegativeSkip)
	}
	if g.state != gateIdle {
		if err := g.close(); err != nil {
			return g.out, err
		}
	}
	g.pendingSkp += g.ringLen + n
	g.ringLen, g.ringHead = 0, 0
	g.pos += int64(n)
	return g.out, g.skip()
}

func samplesAt(d time.Duration) int64 { return int64(audio.PipelineRate.Samples(max(d, 0))) }

// remember appends frame to the ring, dropping (to be skipped) the oldest
// frame when it is full.
func (g *Gate) remember(frame []int16) {
	if g.ringLen == len(g.ring) {
		g.ringHead = (g.ringHead + len(frame)) % len(g.ring)
		g.ringLen -= len(frame)
		g.pendingSkp += len(frame)
	}
	tail := (g.ringHead + g.ringLen) % len(g.ring)
	copy(g.ring[tail:], frame) // frames never straddle the end: ring is whole frames
	g.ringLen += len(frame)
}

// open starts an utterance at speech start minus the pad, replaying the
// part of the ring from there on.
func (g *Gate) open(speechStart time.Duration) error {
	ringStart := g.pos - int64(g.ringLen)
	from := max(samplesAt(speechStart-g.cfg.PadStart), ringStart)
	drop := int(from - ringStart)
	g.pendingSkp += drop
	g.ringHead = (g.ringHead + drop) % len(g.ring)
	g.ringLen -= drop
	if err := g.skip(); err != nil {
		return err
	}
	g.startHolding(from)
	g.state = gateSpeaking
	for g.ringLen > 0 {
		n := min(g.ringLen, len(g.ring)-g.ringHead)
		if err := g.collect(g.ring[g.ringHead : g.ringHead+n]); err != nil {
			return err
		}
		g.ringHead = (g.ringHead + n) % len(g.ring)
		g.ringLen -= n
	}
	g.ringHead = 0
	return nil
}

func (g *Gate) accept(pcm []int16) error {
	var res []Result
	var err error
	g.run(false, func() { res, err = g.rec.Accept(pcm) })
	g.out = append(g.out, res...)
	g.recPos += int64(len(pcm))
	if err != nil {
		return fmt.Errorf("stt: gate at %v: %w", audio.PipelineRate.Duration(int(g.recPos)), err)
	}
	return nil
}

// collect adds utterance audio to the batch, handing the batch to the
// recognizer each time it fills, and keeps it while it fits in HoldMax.
func (g *Gate) collect(pcm []int16) error {
	if g.heldFrom >= 0 {
		if len(g.held)+len(pcm) <= g.holdMax {
			g.held = append(g.held, pcm...)
		} else {
			g.heldFrom, g.held = -1, g.held[:0]
		}
	}
	for len(pcm) > 0 {
		n := min(len(pcm), cap(g.batch)-len(g.batch))
		g.batch = append(g.batch, pcm[:n]...)
		pcm = pcm[n:]
		if len(g.batch) == cap(g.batch) {
			if err := g.acceptBatch(); err != nil {
				return err
			}
		}
	}
	return nil
}

// acceptBatch hands the collected utterance audio to the recognizer.
func (g *Gate) acceptBatch() error {
	if len(g.batch) == 0 {
		return nil
	}
	err := g.accept(g.batch)
	g.batch = g.batch[:0]
	return err
}

// run calls fn through the scheduler, if there is one.
func (g *Gate) run(urgent bool, fn func()) {
	if g.cfg.Scheduler == nil {
		fn()
		return
	}
	g.cfg.Scheduler.Do(urgent, fn)
}

func (g *Gate) skip() error {
	if g.pendingSkp == 0 {
		return nil
	}
	n := g.pendingSkp
	g.pendingSkp = 0
	res, err := g.rec.Skip(n)
	g.out = append(g.out, res...)
	g.recPos += int64(n)
	if err != nil {
		return fmt.Errorf("stt: gate skipping at %v: %w", audio.PipelineRate.Duration(int(g.recPos)), err)
	}
	return nil
}

// startHolding starts keeping the audio of an utterance opening at sample
// from.
func (g *Gate) startHolding(from int64) {
	g.held, g.heldFrom = g.held[:0], from
	if g.holdMax == 0 {
		g.heldFrom = -1
	}
}

// OpenUtterance returns the audio of the utterance open now, from its first
// decoded sample (call time from) up to the last frame pushed, when the
// VAD has not yet ended it and it fits in HoldMax. A server stopping in the
// middle of speech keeps it so that the gate of the restarted stream can
// decode the utterance whole (ContinueUtterance). The slice is the gate's:
// copy it before the next Push or Flush.
func (g *Gate) OpenUtterance() (from time.Duration, pcm []int16, ok bool) {
	if g.state != gateSpeaking || g.heldFrom < 0 {
		return 0, nil, false
	}
	return audio.PipelineRate.Duration(int(g.heldFrom)), g.held, true
}

// Unfinished is where the utterance that has no final yet began (its
// first decoded sample, call time): while the VAD has not ended it, and
// while its end pad is still coming in. False outside an utterance and
// past HoldMax. Until its final, the utterance's audio is all the
// transcript there is of it.
func (g *Gate) Unfinished() (from time.Duration, ok bool) {
	if g.state == gateIdle || g.heldFrom < 0 {
		return 0, false
	}
	return audio.PipelineRate.Duration(int(g.heldFrom)), true
}

// ContinueUtterance takes the place of pushing len(pcm) samples (whole
// frames) on an idle gate: pcm is the start of an utterance, as another
// gate's OpenUtterance returned it, and the utterance stays open for the
// frames pushed next, so the recognizer decodes it whole and its final
// covers both parts. The pcm stands for the last len(pcm) samples of the
// stream up to the next Push; the audio held in the pre-roll is dropped.
func (g *Gate) ContinueUtterance(pcm []int16) error {
	if len(pcm)%audio.FrameSize != 0 {
		return fmt.Errorf("stt: gate: %d samples to continue is not whole frames: %w", len(pcm), ErrFrameSize)
	}
	if g.state != gateIdle {
		return fmt.Errorf("stt: gate: an utterance is already open: %w", ErrUtteranceOpen)
	}
	g.out = g.out[:0]
	g.pendingSkp += g.ringLen
	g.ringLen, g.ringHead = 0, 0
	if err := g.skip(); err != nil {
		return err
	}
	g.startHolding(g.pos)
	g.state = gateSpeaking
	g.pos += int64(len(pcm))
	return g.collect(pcm)
}

// close ends the utterance and collects its final.
func (g *Gate) close() error {
	g.state = gateIdle
	g.heldFrom, g.held = -1, g.held[:0]
	g.ringLen, g.ringHead = 0, 0
	var res []Result
	var err error
	g.run(true, func() {
		// The rest of the utterance and its end in one turn: the final
		// waits for both.
		if len(g.batch) > 0 {
			res, err = g.rec.Accept(g.batch)
			g.recPos += int64(len(g.batch))
			g.batch = g.batch[:0]
			if err != nil {
				return
			}
		}
		var fin []Result
		fin, err = g.rec.Flush()
		res = append(res, fin...)
	})
	g.out = append(g.out, res...)
	if err != nil {
		return fmt.Errorf("stt: gate ending utterance at %v: %w", audio.PipelineRate.Duration(int(g.recPos)), err)
	}
	return nil
}
