package stt

import "time"

// Word is one recognized word. Start and End are offsets from the start of
// the stream the recognizer was fed, not from the utterance.
type Word struct {
	Text       string        `json:"text"`
	Start      time.Duration `json:"-"`
	End        time.Duration `json:"-"`
	Confidence float64       `json:"confidence"` // 0..1
}

// Result is a partial or final hypothesis for one utterance.
// A partial may change with the next audio; a final never does.
type Result struct {
	Final      bool
	Text       string
	Words      []Word // set on final results
	Start, End time.Duration
	Confidence float64 // 0..1, mean of the word confidences on final results
}
