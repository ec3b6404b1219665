package insights

import "time"

// ProsodyHistory keeps the last stretch of one channel's per-frame pitch
// and level, so an utterance can be measured when its final transcript
// arrives, after its audio has gone by. It is a fixed ring: Add never
// allocates, and an utterance longer than the ring is measured over the
// part the ring still holds.
type ProsodyHistory struct {
	frames []prosodyFrame
	head   int
	n      int
}

type prosodyFrame struct {
	at     time.Duration
	f0     float32
	level  float32
	speech bool
}

// NewProsodyHistory keeps the last frames frames (at least one).
func NewProsodyHistory(frames int) *ProsodyHistory {
	return &ProsodyHistory{frames: make([]prosodyFrame, max(frames, 1))}
}

// Add remembers the frame starting at call time at: its F0 (0 when
// unvoiced), its level, and whether the VAD counted it as speech.
func (h *ProsodyHistory) Add(at time.Duration, f0Hz, levelDBFS float64, speech bool) {
	i := (h.head + h.n) % len(h.frames)
	h.frames[i] = prosodyFrame{at: at, f0: float32(f0Hz), level: float32(levelDBFS), speech: speech}
	if h.n < len(h.frames) {
		h.n++
	} else {
		h.head = (h.head + 1) % len(h.frames)
	}
}

// Measure says how an utterance sounded from the frames it spans: mean F0
// over its voiced speech frames, mean level over its speech frames, and its
// speaking rate from its words.
func (h *ProsodyHistory) Measure(u Utterance) Prosody {
	var f0Sum, levelSum float64
	var voiced, speech int
	for k := range h.n {
		f := h.frames[(h.head+k)%len(h.frames)]
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
	var pr Prosody
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
