package pocketsphinx

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/stt"
)

// TestTranscribeGatesSpeechInSilence puts goforward.raw between stretches
// of quiet noise twice and checks that the VAD-gated pipeline finds both
// utterances, with word times within 50 ms of decoding the clip alone
// shifted by where it was placed.
func TestTranscribeGatesSpeechInSilence(t *testing.T) {
	needModel(t)
	clip := readRaw(t, filepath.Join(testData, "goforward.raw"))
	alone := decodeAll(t, newDecoder(t), clip)

	gap := audio.PipelineRate.Samples(1500 * time.Millisecond)
	var mono []float32
	var offsets []time.Duration
	noise := uint32(1)
	quiet := func(n int) {
		for range n {
			noise = noise*1664525 + 1013904223
			mono = append(mono, (float32(noise>>16)/65536-0.5)*0.002)
		}
	}
	for range 2 {
		quiet(gap)
		offsets = append(offsets, audio.PipelineRate.Duration(len(mono)))
		for _, s := range clip {
			mono = append(mono, float32(s)/32768)
		}
	}
	quiet(gap)

	res, err := stt.Transcribe(newDecoder(t), mono, stt.TranscribeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d finals, want 2: %+v", len(res), res)
	}
	for i, r := range res {
		if !strings.Contains(r.Text, "forward ten meters") {
			t.Errorf("utterance %d: %q", i, r.Text)
		}
		for _, w := range r.Words {
			for _, a := range alone.Words {
				if a.Text != w.Text {
					continue
				}
				if d := w.Start - (a.Start + offsets[i]); d < -50*time.Millisecond || d > 50*time.Millisecond {
					t.Errorf("utterance %d word %q starts %v, alone %v + %v", i, w.Text, w.Start, a.Start, offsets[i])
				}
			}
		}
	}
}
