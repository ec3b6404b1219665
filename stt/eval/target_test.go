package eval

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/earshot/earshot/stt"
)

func TestTargetVerdict(t *testing.T) {
	report := func(wer float64) *Report { return &Report{Total: Total{WER: wer}} }
	tests := []struct {
		name       string
		ours, base float64
		ratio      float64
		want       string
	}{
		{"a WER under the ratio of the baseline's is met", 0.3, 0.4, 0.8, "target: WER 0.300 <= 0.80 x baseline 0.400 = 0.320: met"},
		{"a WER equal to the bound is met", 0.32, 0.4, 0.8, ": met"},
		{"a WER over the bound is missed", 0.33, 0.4, 0.8, ": MISSED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := NewTarget(report(tt.ours), report(tt.base), tt.ratio)
			if got := tg.String(); !strings.Contains(got, tt.want) {
				t.Errorf("%q, want it to contain %q", got, tt.want)
			}
			if tg.Met() != !strings.Contains(tt.want, "MISSED") {
				t.Errorf("Met() = %v", tg.Met())
			}
		})
	}
}

func TestWriteRefusesAnUnknownFormat(t *testing.T) {
	if err := Write(&strings.Builder{}, "xml", false); !errors.Is(err, ErrFormat) {
		t.Errorf("err = %v, want ErrFormat", err)
	}
}

// scripted is a recognizer that returns one final per utterance it is
// flushed for and counts resets.
type scripted struct {
	resets int
	text   string
}

func (s *scripted) Accept(pcm []int16) ([]stt.Result, error) { return nil, nil }
func (s *scripted) Flush() ([]stt.Result, error) {
	return []stt.Result{{Text: s.text, Final: true}}, nil
}
func (s *scripted) Skip(n int) ([]stt.Result, error) { return nil, nil }
func (s *scripted) Close() error                     { return nil }
func (s *scripted) Reset() error                     { s.resets++; return nil }

func TestPipelineResetsPerFileAndJoinsFinals(t *testing.T) {
	rec := &scripted{text: "hello"}
	p := &Pipeline{Recognizer: rec}
	// A second of quiet noise, two seconds of a voiced, syllable-paced
	// buzz, two of quiet noise: one utterance to the VAD.
	pcm := make([]float32, 5*16000)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range pcm {
		pcm[i] = float32(0.001 * rnd.NormFloat64())
		if i >= 16000 && i < 3*16000 {
			t := float64(i) / 16000
			var v float64
			for h := 1; h <= 20; h++ {
				v += math.Sin(2*math.Pi*120*float64(h)*t) / float64(h)
			}
			pcm[i] += float32(0.2 * v * (0.6 + 0.4*math.Sin(2*math.Pi*4*t)))
		}
	}
	for range 2 {
		tr, err := p.Transcribe(context.Background(), pcm)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Text != "hello" {
			t.Errorf("text %q", tr.Text)
		}
	}
	if rec.resets != 2 || p.Name() != "earshot" {
		t.Errorf("%d resets, name %q", rec.resets, p.Name())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Transcribe(ctx, pcm); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
