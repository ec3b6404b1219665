package insights

import (
	"math"
	"testing"
	"time"

	"github.com/earshot/earshot/stt"
)

func TestProsodyHistoryMeasure(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name      string
		size      int
		frames    [][4]float64 // at ms, f0, level, speech (0/1)
		utt       Utterance
		f0, level float64
	}{
		{name: "empty", size: 10, utt: Utterance{Start: 0, End: ms(100)}},
		{name: "voiced and unvoiced speech", size: 10,
			frames: [][4]float64{{0, 100, -20, 1}, {20, 0, -30, 1}, {40, 200, -40, 1}, {60, 500, -10, 0}},
			utt:    Utterance{Start: 0, End: ms(80)}, f0: 150, level: -30},
		{name: "outside the utterance", size: 10,
			frames: [][4]float64{{0, 100, -20, 1}, {100, 300, -40, 1}},
			utt:    Utterance{Start: ms(100), End: ms(120)}, f0: 300, level: -40},
		{name: "ring keeps the newest", size: 2,
			frames: [][4]float64{{0, 100, -20, 1}, {20, 200, -30, 1}, {40, 400, -50, 1}},
			utt:    Utterance{Start: 0, End: ms(60)}, f0: 300, level: -40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewProsodyHistory(tt.size)
			for _, f := range tt.frames {
				h.Add(ms(int(f[0])), f[1], f[2], f[3] == 1)
			}
			got := h.Measure(tt.utt)
			if math.Abs(got.MeanF0Hz-tt.f0) > 1e-9 || math.Abs(got.MeanLevelDBFS-tt.level) > 1e-9 {
				t.Errorf("Measure = f0 %v level %v, want %v %v", got.MeanF0Hz, got.MeanLevelDBFS, tt.f0, tt.level)
			}
		})
	}
}

func TestProsodyHistoryWPM(t *testing.T) {
	h := NewProsodyHistory(4)
	u := Utterance{Start: 0, End: 30 * time.Second, Words: make([]stt.Word, 60)}
	if got := h.Measure(u).WPM; got != 120 {
		t.Errorf("WPM = %v, want 120", got)
	}
}

func TestProsodyHistoryAddDoesNotAllocate(t *testing.T) {
	h := NewProsodyHistory(8)
	if n := testing.AllocsPerRun(100, func() { h.Add(time.Second, 120, -20, true) }); n != 0 {
		t.Errorf("Add allocates %v times", n)
	}
}

func TestHeardUpTo(t *testing.T) {
	tests := []struct {
		now  time.Duration
		open []time.Duration
		want time.Duration
	}{
		{now: 33 * time.Second, want: 33 * time.Second},
		{now: 33 * time.Second, open: []time.Duration{28 * time.Second}, want: 28 * time.Second},
		{now: 33 * time.Second, open: []time.Duration{30 * time.Second, 29 * time.Second}, want: 29 * time.Second},
		{now: 10 * time.Second, open: []time.Duration{12 * time.Second}, want: 10 * time.Second},
	}
	for _, tt := range tests {
		if got := HeardUpTo(tt.now, tt.open...); got != tt.want {
			t.Errorf("HeardUpTo(%v, %v) = %v, want %v", tt.now, tt.open, got, tt.want)
		}
	}
}
