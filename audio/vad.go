package audio

import (
	"fmt"
	"math"
	"time"
)

// VADConfig tunes a VAD. The zero value gives the defaults documented on
// each field; they were tuned once on the sample calls' ground truth and
// the synthetic noise tests, and are the same for every channel.
type VADConfig struct {
	// Hangover is how long a speech segment stays open through non-speech
	// frames (default 400 ms). Pauses between words and at commas are
	// shorter, so one sentence comes out as one segment; the pause between
	// two turns of the same speaker is usually longer. On the sample calls
	// 300 ms split sentences at their commas (worst channel F1 0.90),
	// 400 ms gives 0.96 and 440 ms 0.99; 400 ms keeps the end-of-speech
	// decision, which the recognizer waits for, short.
	Hangover time.Duration
	// MinSpeech is how much speech-like audio must accumulate before a
	// segment is confirmed (default 100 ms). Clicks, coughs and line
	// crackle are shorter.
	MinSpeech time.Duration
	// MinVoiced is how much of MinSpeech must be voiced (F0 found; default
	// 40 ms). Speech starts with or soon reaches a vowel; hiss and noise
	// bursts never do.
	MinVoiced time.Duration
	// MinLevelDBFS is the level below which nothing is speech, whatever the
	// SNR (default -55 dBFS). It keeps codec residue and faint crosstalk
	// on a near-silent channel, whose noise floor can sit at -90 dBFS, from
	// reading as speech.
	MinLevelDBFS float64
	// VoicedSNRDB is the SNR at which a voiced frame counts as speech
	// (default 6 dB).
	VoicedSNRDB float64
	// SNRDB is the SNR at which an unvoiced frame counts as speech
	// (default 12 dB), provided it is not noise-like (see NoiseFlatness).
	SNRDB float64
	// NoiseFlatness is the spectral flatness at or above which an unvoiced
	// frame is taken for hiss rather than a consonant (default 0.45; white
	// noise measures about 0.55, fricatives in the telephone band less).
	NoiseFlatness float64
	// ContinueSNRDB is the SNR at which any frame keeps an open segment
	// going (default 4 dB): the weak consonants and decaying vowels at the
	// end of a phrase are often buried to a few dB above the noise, and
	// onset confirmation has already ruled out noise by then. Where the
	// background itself fluctuates (rumble, handling noise), the threshold
	// rises to four times the background's mean deviation from its floor,
	// so its blips do not hold a segment open.
	ContinueSNRDB float64
	// MinCentroidHz is the spectral centroid below which an unvoiced frame
	// is rumble (microphone thumps, handling noise, hum) rather than speech
	// (default 150 Hz; even a deep voiced vowel sits above 200 Hz).
	MinCentroidHz float64
	// Features configures the extractor DetectSpeech runs; Push takes
	// features computed by the caller's own extractor.
	Features FeatureConfig
}

func (c VADConfig) withDefaults() VADConfig {
	if c.Hangover <= 0 {
		c.Hangover = 400 * time.Millisecond
	}
	if c.MinSpeech <= 0 {
		c.MinSpeech = 100 * time.Millisecond
	}
	if c.MinVoiced <= 0 {
		c.MinVoiced = 40 * time.Millisecond
	}
	if c.MinVoiced > c.MinSpeech {
		c.MinVoiced = c.MinSpeech
	}
	if c.MinLevelDBFS == 0 {
		c.MinLevelDBFS = -55
	}
	if c.VoicedSNRDB <= 0 {
		c.VoicedSNRDB = 6
	}
	if c.SNRDB <= 0 {
		c.SNRDB = 12
	}
	if c.ContinueSNRDB <= 0 {
		c.ContinueSNRDB = 4
	}
	if c.MinCentroidHz <= 0 {
		c.MinCentroidHz = 150
	}
	if c.NoiseFlatness <= 0 {
		c.NoiseFlatness = 0.45
	}
	return c
}

// vadFrames converts a duration to a whole number of frames, at least one.
func vadFrames(d time.Duration) int {
	n := int((d + FrameDuration/2) / FrameDuration)
	if n < 1 {
		n = 1
	}
	return n
}

// VADEventKind says what a VAD decided at a frame.
type VADEventKind int

// The kinds of VADEvent.
const (
	// VADNone: nothing changed at this frame.
	VADNone VADEventKind = iota
	// SpeechStart: a segment was confirmed. It may have begun before the
	// frame that confirmed it.
	SpeechStart
	// SpeechEnd: the open segment closed after the hangover ran out.
	SpeechEnd
)

// String returns the kind's name.
func (k VADEventKind) String() string {
	switch k {
	case VADNone:
		return "none"
	case SpeechStart:
		return "speech-start"
	case SpeechEnd:
		return "speech-end"
	}
	return fmt.Sprintf("VADEventKind(%d)", int(k))
}

// VADEvent is what VAD.Push and VAD.Flush return for one frame.
//
// For SpeechStart, Segment.Start is when the speech really began (earlier
// than the confirming frame by up to MinSpeech plus short dropouts) and
// Segment.End is the end of the newest speech frame so far. For SpeechEnd,
// Segment is the whole segment, and End is the end of its last speech frame,
// before the hangover that confirmed it; the event arrives Hangover later.
// For VADNone, Segment is zero.
type VADEvent struct {
	Kind    VADEventKind
	Segment Segment
}

type vadState int

const (
	vadSilent  vadState = iota
	vadPending          // speech-like frames seen, not yet confirmed
	vadSpeaking
)

// onsetGapFrames is how many non-speech frames an unconfirmed onset
// tolerates: a stop closure or a dip between syllables is one or two frames.
const onsetGapFrames = 2

// VAD is a streaming voice activity detector for one channel. Push it the
// Features of every frame in order; it returns a SpeechStart when a segment
// is confirmed and a SpeechEnd when it closes. Frame-level decisions come
// from the SNR against the extractor's running noise floor, voicing (F0)
// and spectral flatness, so steady line noise (absorbed by the noise floor)
// and hiss (flat, unvoiced) are not speech. A VAD is not safe for concurrent
// use and never blocks or allocates.
type VAD struct {
	cfg        VADConfig
	hangFrames int
	minFrames  int
	minVoiced  int

	// noiseDev tracks the background's mean absolute deviation from the
	// noise floor in dB, over frames outside speech.
	noiseDev float64

	state       vadState
	start       time.Duration // start of the pending or open segment
	lastSpeech  time.Duration // end of the newest speech-like frame
	count       int           // speech-like frames in the pending onset
	voiced      int           // voiced frames among them
	quietFrames int           // non-speech frames since lastSpeech
}

// NewVAD returns a VAD in the silent state.
func NewVAD(cfg VADConfig) *VAD {
	cfg = cfg.withDefaults()
	return &VAD{
		cfg:        cfg,
		hangFrames: vadFrames(cfg.Hangover),
		minFrames:  vadFrames(cfg.MinSpeech),
		minVoiced:  vadFrames(cfg.MinVoiced),
		noiseDev:   1,
	}
}

// noiseDevSmoothing weighs the previous deviation estimate: a 0.4 s time
// constant, so half a second of background before the first word is
// enough to learn how restless it is.
const noiseDevSmoothing = 0.95

// noiseDevFactor scales the background's mean deviation into the
// continuation threshold: white noise deviates about 0.5 dB from its floor,
// so only restless backgrounds raise the threshold above ContinueSNRDB.
const noiseDevFactor = 4

// IsSpeech reports whether one frame's features look like speech on their
// own, before onset confirmation and hangover.
func (v *VAD) IsSpeech(f Features) bool {
	if f.LevelDBFS < v.cfg.MinLevelDBFS {
		return false
	}
	if f.F0Hz > 0 {
		return f.SNRDB >= v.cfg.VoicedSNRDB
	}
	return f.SNRDB >= v.cfg.SNRDB && f.Flatness < v.cfg.NoiseFlatness && f.CentroidHz >= v.cfg.MinCentroidHz
}

// continues reports whether a frame keeps an open segment going: a looser
// test than IsSpeech, since the segment has already proved to be speech.
func (v *VAD) continues(f Features) bool {
	if f.LevelDBFS < v.cfg.MinLevelDBFS || f.SNRDB < max(v.cfg.ContinueSNRDB, noiseDevFactor*v.noiseDev) {
		return false
	}
	return f.F0Hz > 0 || f.CentroidHz >= v.cfg.MinCentroidHz
}

// Push takes the features of the frame starting at offset at and returns
// what changed. Frames must come in order, one per FrameDuration.
func (v *VAD) Push(f Features, at time.Duration) VADEvent {
	speech := v.IsSpeech(f)
	end := at + FrameDuration
	switch v.state {
	case vadSilent:
		if !speech && f.LevelDBFS > MinDBFS {
			dev := math.Abs(f.LevelDBFS - f.NoiseFloorDBFS)
			v.noiseDev = noiseDevSmoothing*v.noiseDev + (1-noiseDevSmoothing)*dev
		}
		if speech {
			v.state = vadPending
			v.start = at
			v.lastSpeech = end
			v.count = 1
			v.voiced = 0
			if f.F0Hz > 0 {
				v.voiced = 1
			}
			v.quietFrames = 0
			return v.confirm()
		}
	case vadPending:
		if !speech {
			v.quietFrames++
			if v.quietFrames > onsetGapFrames {
				v.state = vadSilent
			}
			return VADEvent{}
		}
		v.quietFrames = 0
		v.lastSpeech = end
		v.count++
		if f.F0Hz > 0 {
			v.voiced++
		}
		return v.confirm()
	case vadSpeaking:
		if speech || v.continues(f) {
			v.lastSpeech = end
			v.quietFrames = 0
			return VADEvent{}
		}
		v.quietFrames++
		if v.quietFrames >= v.hangFrames {
			v.state = vadSilent
			return VADEvent{Kind: SpeechEnd, Segment: Segment{Start: v.start, End: v.lastSpeech}}
		}
	}
	return VADEvent{}
}

// confirm opens the segment once the pending onset has enough speech.
func (v *VAD) confirm() VADEvent {
	if v.count >= v.minFrames && v.voiced >= v.minVoiced {
		v.state = vadSpeaking
		return VADEvent{Kind: SpeechStart, Segment: Segment{Start: v.start, End: v.lastSpeech}}
	}
	return VADEvent{}
}

// Flush ends the stream at offset at: an open segment is closed with a
// SpeechEnd (its End no later than at), an unconfirmed onset is dropped, and
// the VAD is ready for a new stream.
func (v *VAD) Flush(at time.Duration) VADEvent {
	ev := VADEvent{}
	if v.state == vadSpeaking {
		end := min(v.lastSpeech, at)
		ev = VADEvent{Kind: SpeechEnd, Segment: Segment{Start: v.start, End: end}}
	}
	v.state = vadSilent
	v.quietFrames = 0
	return ev
}

// Speaking reports whether a segment is open: between a SpeechStart and its
// SpeechEnd, hangover included.
func (v *VAD) Speaking() bool { return v.state == vadSpeaking }

// ContinueSpeech opens a segment at offset at without an onset, for a
// stream that continues one cut off in the middle of speech (Speaking was
// true when the earlier VAD stopped): the words go on, and waiting for a
// fresh onset would drop them. It returns the SpeechStart to report; the
// segment closes as usual, after the hangover if the speech has ended.
func (v *VAD) ContinueSpeech(at time.Duration) VADEvent {
	v.state = vadSpeaking
	v.start, v.lastSpeech = at, at
	v.quietFrames = 0
	return VADEvent{Kind: SpeechStart, Segment: Segment{Start: at, End: at}}
}

// DetectSpeech finds the speech segments of one mono channel at
// PipelineRate by running a FeatureExtractor (cfg.Features) and a VAD over
// its 20 ms frames; a final partial frame is zero-padded. It is meant for
// offline analysis of whole recordings and returns segments in order.
func DetectSpeech(samples []float32, cfg VADConfig) []Segment {
	ex := NewFeatureExtractor(cfg.Features)
	v := NewVAD(cfg)
	var segs []Segment
	var open bool
	record := func(ev VADEvent) {
		switch ev.Kind {
		case SpeechStart:
			open = true
		case SpeechEnd:
			if open {
				segs = append(segs, ev.Segment)
			}
			open = false
		}
	}
	frame := make([]float32, FrameSize)
	for i := 0; i < len(samples); i += FrameSize {
		n := copy(frame, samples[i:min(i+FrameSize, len(samples))])
		clear(frame[n:])
		f, err := ex.Extract(frame)
		if err != nil {
			// Unreachable: frame is always FrameSize long.
			panic(err)
		}
		record(v.Push(f, PipelineRate.Duration(i)))
	}
	record(v.Flush(PipelineRate.Duration(len(samples))))
	return segs
}
