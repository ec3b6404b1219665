package eval

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/earshot/earshot/audio"
)

// System is a speech recognizer under evaluation.
type System interface {
	// Name labels the system's columns in a report.
	Name() string
	// Transcribe recognizes one channel of 16 kHz mono speech and returns
	// the whole transcript. It may block for as long as decoding takes.
	Transcribe(ctx context.Context, pcm []float32) (Transcript, error)
}

// Transcript is what a System returns for one channel.
type Transcript struct {
	Text string
	// ChildCPU is CPU time spent in child processes (the baseline runs
	// pocketsphinx_continuous); in-process CPU is measured by Run.
	ChildCPU time.Duration
	// SelfTimed says ChildCPU is all the CPU this transcription cost, so
	// Run adds no in-process time (which, being process-wide, would also
	// count whatever else the process runs meanwhile).
	SelfTimed bool
	// Setup is the part of the CPU time that is a fixed per-file cost, not
	// decoding (the baseline loads its model for every file). RTF leaves it out.
	Setup time.Duration
}

// FileResult is one entry's outcome.
type FileResult struct {
	Entry      Entry         `json:"entry"`
	Hypothesis string        `json:"hypothesis"`
	Counts     Counts        `json:"counts"`
	WER        float64       `json:"wer"`
	Audio      time.Duration `json:"-"`
	CPU        time.Duration `json:"-"`
	Setup      time.Duration `json:"-"`
	AudioSec   float64       `json:"audio_seconds"`
	CPUSec     float64       `json:"cpu_seconds"`
	SetupSec   float64       `json:"setup_cpu_seconds,omitempty"`
	RTF        float64       `json:"rtf"`
	Err        string        `json:"error,omitempty"`
}

// Report is one system's results over a manifest, in manifest order.
type Report struct {
	System string       `json:"system"`
	Files  []FileResult `json:"files"`
	Total  Total        `json:"total"`
}

// Total sums a report: WER is total errors over total reference words, RTF
// total decoding CPU over total audio.
type Total struct {
	Counts   Counts  `json:"counts"`
	WER      float64 `json:"wer"`
	AudioSec float64 `json:"audio_seconds"`
	CPUSec   float64 `json:"cpu_seconds"`
	RTF      float64 `json:"rtf"`
	Failed   int     `json:"failed"`
}

func (r *Report) sum() {
	var t Total
	var audioD, cpu, setup time.Duration
	for _, f := range r.Files {
		t.Counts = t.Counts.Add(f.Counts)
		audioD += f.Audio
		cpu += f.CPU
		setup += f.Setup
		if f.Err != "" {
			t.Failed++
		}
	}
	t.WER = t.Counts.WER()
	t.AudioSec = audioD.Seconds()
	t.CPUSec = cpu.Seconds()
	if audioD > 0 {
		t.RTF = (cpu - setup).Seconds() / audioD.Seconds()
	}
	r.Total = t
}

// LoadAudio returns an entry's channel as 16 kHz mono samples: the left or
// right channel of a stereo call, or the whole file mixed down to mono.
func LoadAudio(e Entry) ([]float32, error) {
	switch e.Channel {
	case Agent, Caller:
		agent, caller, err := audio.LoadCall(e.Audio)
		if err != nil {
			return nil, err
		}
		if e.Channel == Agent {
			return agent, nil
		}
		return caller, nil
	default:
		src, c, err := audio.Open(e.Audio)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		chans, err := audio.ReadAll(audio.Resample(src, audio.PipelineRate))
		if err != nil {
			return nil, err
		}
		if len(chans) == 0 || len(chans[0]) == 0 {
			return nil, fmt.Errorf("%s: %w", e.Audio, audio.ErrEmpty)
		}
		if len(chans) == 1 {
			return chans[0], nil
		}
		out := make([]float32, len(chans[0]))
		for _, ch := range chans {
			for i, s := range ch {
				out[i] += s / float32(len(chans))
			}
		}
		return out, nil
	}
}

// Run transcribes every entry of m with sys, one at a time (so in-process
// CPU time belongs to the entry being decoded; in-process CPU is measured
// process-wide, so a System that is not SelfTimed must not share the
// process with other decoding while Run times it), and scores it. A file that
// cannot be loaded or decoded is reported with its error and counts every
// reference word as deleted; Run itself fails only when ctx is cancelled.
func Run(ctx context.Context, m *Manifest, sys System, log *slog.Logger) (*Report, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Report{System: sys.Name()}
	for _, e := range m.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fr := FileResult{Entry: e}
		pcm, err := LoadAudio(e)
		if err == nil {
			fr.Audio = audio.PipelineRate.Duration(len(pcm))
			before := processCPU()
			var tr Transcript
			tr, err = sys.Transcribe(ctx, pcm)
			fr.CPU = tr.ChildCPU
			if !tr.SelfTimed {
				fr.CPU += processCPU() - before
			}
			fr.Setup = tr.Setup
			fr.Hypothesis = tr.Text
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fr.Err = err.Error()
			log.Warn("eval: entry failed", "system", sys.Name(), "audio", e.Audio, "channel", e.Channel, "err", err)
		}
		fr.Counts = Score(e.Reference, fr.Hypothesis)
		fr.WER = fr.Counts.WER()
		fr.AudioSec, fr.CPUSec, fr.SetupSec = fr.Audio.Seconds(), fr.CPU.Seconds(), fr.Setup.Seconds()
		if fr.Audio > 0 {
			fr.RTF = (fr.CPU - fr.Setup).Seconds() / fr.Audio.Seconds()
		}
		log.Debug("eval: entry", "system", sys.Name(), "audio", filepath.Base(e.Audio), "channel", e.Channel,
			"wer", fr.WER, "rtf", fr.RTF, "hyp", fr.Hypothesis)
		r.Files = append(r.Files, fr)
	}
	r.sum()
	return r, nil
}
