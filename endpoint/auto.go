package endpoint

import (
	"time"

	"github.com/earshot/earshot/audio"
)

// channelVAD runs the project's feature extractor and VAD over one
// channel's frames for --auto. Only that channel's reader goroutine uses it.
type channelVAD struct {
	ex  *audio.FeatureExtractor
	vad *audio.VAD
}

func newChannelVAD() *channelVAD {
	return &channelVAD{ex: audio.NewFeatureExtractor(audio.FeatureConfig{}), vad: audio.NewVAD(audio.VADConfig{})}
}

// vadNews is what one frame told the VAD.
type vadNews struct {
	start    bool          // a speech segment was confirmed
	segStart time.Duration // when that segment began
	speaking bool          // a segment is open (hangover included)
}

func (v *channelVAD) push(frame []float32, at time.Duration) vadNews {
	f, err := v.ex.Extract(frame)
	if err != nil {
		return vadNews{}
	}
	ev := v.vad.Push(f, at)
	n := vadNews{speaking: v.vad.Speaking()}
	if ev.Kind == audio.SpeechStart {
		n.start, n.segStart = true, ev.Segment.Start
	}
	return n
}

type autoAction int

const (
	autoNone autoAction = iota
	autoStart
	autoEnd
)

// autoDetector decides when --auto starts and ends calls: a call starts
// once both channels have had speech within the silence window of each
// other (a dialogue, not the agent talking to a colleague or music on the
// speakers), and ends when neither channel has had speech for the window.
// It is deterministic: time is the frames' capture time.
type autoDetector struct {
	window     time.Duration
	heard      [2]time.Duration // capture time of the last confirmed speech onset; <0: none
	segStart   [2]time.Duration
	lastSpeech [2]time.Duration
}

func newAutoDetector(window time.Duration) *autoDetector {
	return &autoDetector{window: window, heard: [2]time.Duration{-1, -1}}
}

func (a *autoDetector) update(ch int, at time.Duration, n vadNews, active bool) autoAction {
	if n.start {
		a.heard[ch], a.segStart[ch] = at, n.segStart
	}
	if n.speaking || n.start {
		a.lastSpeech[ch] = at + audio.FrameDuration
	}
	if !active {
		if a.heard[0] >= 0 && a.heard[1] >= 0 && at-a.heard[0] <= a.window && at-a.heard[1] <= a.window {
			return autoStart
		}
		return autoNone
	}
	if at-max(a.lastSpeech[0], a.lastSpeech[1]) >= a.window {
		a.heard = [2]time.Duration{-1, -1}
		return autoEnd
	}
	return autoNone
}

// firstSpeech is when the earlier of the two onsets that started a call began.
func (a *autoDetector) firstSpeech() time.Duration {
	return min(a.segStart[0], a.segStart[1])
}

// preRoll keeps the last frames of one channel as PCM so an auto call
// starts at its first word, not at the moment both sides were heard.
type preRoll struct {
	pcm   [][]byte
	at    []time.Duration
	head  int
	count int
}

func newPreRoll(n int) *preRoll {
	p := &preRoll{pcm: make([][]byte, n), at: make([]time.Duration, n)}
	for i := range p.pcm {
		p.pcm[i] = make([]byte, 2*audio.FrameSize)
	}
	return p
}

func (p *preRoll) put(at time.Duration, pcm []byte) {
	n := len(p.at)
	if p.count == n {
		p.head = (p.head + 1) % n
		p.count--
	}
	i := (p.head + p.count) % n
	copy(p.pcm[i], pcm)
	p.at[i] = at
	p.count++
}

// oldest is the capture time of the oldest frame kept (0 if none).
func (p *preRoll) oldest() time.Duration {
	if p.count == 0 {
		return 0
	}
	return p.at[p.head]
}

// each calls fn for the kept frames at or after from, oldest first.
func (p *preRoll) each(from time.Duration, fn func(at time.Duration, pcm []byte)) {
	for k := range p.count {
		i := (p.head + k) % len(p.at)
		if p.at[i] >= from {
			fn(p.at[i], p.pcm[i])
		}
	}
}
