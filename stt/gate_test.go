package stt

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
)

// fakeRec records what a Gate asks of it. Each accepted sample carries its
// own stream index as its value, so the test can see exactly what was
// decoded.
type fakeRec struct {
	clock    int64
	decoded  []int16 // every accepted sample, in order
	accepts  []int   // length of each Accept call
	firstAt  []int64 // stream sample where each utterance's audio began
	finals   int
	inUtt    bool
	skipped  int64
	mismatch bool // an accepted sample's value disagreed with the clock
}

func (f *fakeRec) Accept(pcm []int16) ([]Result, error) {
	if !f.inUtt {
		f.inUtt = true
		f.firstAt = append(f.firstAt, f.clock)
	}
	f.accepts = append(f.accepts, len(pcm))
	for _, s := range pcm {
		if int64(s) != f.clock%30000 {
			f.mismatch = true
		}
		f.decoded = append(f.decoded, s)
		f.clock++
	}
	return nil, nil
}

func (f *fakeRec) Skip(n int) ([]Result, error) {
	res, _ := f.Flush()
	f.clock += int64(n)
	f.skipped += int64(n)
	return res, nil
}

func (f *fakeRec) Flush() ([]Result, error) {
	if !f.inUtt {
		return nil, nil
	}
	f.inUtt = false
	f.finals++
	at := audio.PipelineRate.Duration(int(f.firstAt[len(f.firstAt)-1]))
	return []Result{{Final: true, Text: "x", Start: at, End: audio.PipelineRate.Duration(int(f.clock))}}, nil
}

func (f *fakeRec) Close() error { return nil }

// frameAt fills a frame whose samples hold their stream indexes (mod 30000).
func frameAt(buf []int16, i int) []int16 {
	for j := range buf {
		buf[j] = int16((i*audio.FrameSize + j) % 30000)
	}
	return buf
}

func at(frame int) time.Duration { return time.Duration(frame) * audio.FrameDuration }

// gateCase is one row of TestGate.
type gateCase struct {
	name       string
	frames     int
	events     []gateEvent
	wantFirst  []int64 // stream samples where utterances start
	wantFrames int     // frames of audio decoded
	finalAt    []int   // frames whose Push returned a final
}

type gateEvent struct {
	frame int
	ev    audio.VADEvent
}

func TestGate(t *testing.T) {
	type event = gateEvent
	start := func(frame, from int) event {
		return event{frame, audio.VADEvent{Kind: audio.SpeechStart, Segment: audio.Segment{Start: at(from), End: at(frame + 1)}}}
	}
	end := func(frame, from, to int) event {
		return event{frame, audio.VADEvent{Kind: audio.SpeechEnd, Segment: audio.Segment{Start: at(from), End: at(to)}}}
	}
	tests := []gateCase{
		{"silence is skipped, never decoded", 100, nil, nil, 0, nil},
		{"an utterance starts 200 ms before the VAD's speech start",
			100, []event{start(40, 35), end(80, 35, 65)},
			[]int64{int64(25 * audio.FrameSize)}, 80 - 25 + 1, []int{80}},
		{"a start earlier than the pre-roll is clamped to the oldest frame kept",
			100, []event{start(40, 10), end(80, 10, 65)},
			[]int64{int64(21 * audio.FrameSize)}, 80 - 21 + 1, []int{80}},
		{"an end pad longer than the hangover keeps decoding until it is done",
			100, []event{start(40, 35), end(70, 35, 69)},
			[]int64{int64(25 * audio.FrameSize)}, 78 - 25 + 1, []int{78}},
		{"speech resuming inside the end pad continues the same utterance",
			120, []event{start(40, 35), end(70, 35, 69), start(72, 71), end(100, 71, 90)},
			[]int64{int64(25 * audio.FrameSize)}, 100 - 25 + 1, []int{100}},
		{"two utterances are decoded separately",
			200, []event{start(20, 18), end(50, 18, 35), start(120, 118), end(150, 118, 135)},
			[]int64{int64(8 * audio.FrameSize), int64(108 * audio.FrameSize)}, (50 - 8 + 1) + (150 - 108 + 1), []int{50, 150}},
		{"an utterance open at the end of the stream is flushed",
			60, []event{start(40, 35)},
			[]int64{int64(25 * audio.FrameSize)}, 60 - 25, []int{60}},
	}
	for _, tt := range tests {
		for _, sched := range []*Scheduler{nil, NewScheduler(1)} {
			name := tt.name
			if sched != nil {
				name += ", scheduled"
			}
			t.Run(name, func(t *testing.T) { testGate(t, tt, sched) })
		}
	}
}

// testGate runs one case, through a scheduler when sched is set: the
// scheduler changes when the recognizer works, never what it gets.
func testGate(t *testing.T, tt gateCase, sched *Scheduler) {
	rec := &fakeRec{}
	g := NewGate(rec, GateConfig{PadStart: 200 * time.Millisecond, PadEnd: 200 * time.Millisecond, PreRoll: 400 * time.Millisecond, Scheduler: sched})
	evs := map[int]audio.VADEvent{}
	for _, e := range tt.events {
		evs[e.frame] = e.ev
	}
	buf := make([]int16, audio.FrameSize)
	var finalAt []int
	for i := range tt.frames {
		res, err := g.Push(frameAt(buf, i), evs[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Final {
				finalAt = append(finalAt, i)
			}
		}
	}
	res, err := g.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) > 0 {
		finalAt = append(finalAt, tt.frames)
	}
	if rec.mismatch {
		t.Error("the recognizer's clock and the audio it decoded disagree")
	}
	if rec.clock != int64(tt.frames*audio.FrameSize) {
		t.Errorf("recognizer clock %d after the stream, want %d", rec.clock, tt.frames*audio.FrameSize)
	}
	if got := len(rec.decoded); got != tt.wantFrames*audio.FrameSize {
		t.Errorf("decoded %d samples (%.1f frames), want %d frames", got, float64(got)/float64(audio.FrameSize), tt.wantFrames)
	}
	if len(rec.firstAt) != len(tt.wantFirst) {
		t.Fatalf("utterances start at %v, want %v", rec.firstAt, tt.wantFirst)
	}
	for i := range tt.wantFirst {
		if rec.firstAt[i] != tt.wantFirst[i] {
			t.Errorf("utterance %d starts at sample %d, want %d", i, rec.firstAt[i], tt.wantFirst[i])
		}
	}
	if len(finalAt) != len(tt.finalAt) {
		t.Fatalf("finals at frames %v, want %v", finalAt, tt.finalAt)
	}
	for i := range finalAt {
		if finalAt[i] != tt.finalAt[i] {
			t.Errorf("final %d at frame %d, want %d", i, finalAt[i], tt.finalAt[i])
		}
	}
}

// TestGateBatchesUtteranceAudio checks that the recognizer gets an open
// utterance's audio in Batch-sized pieces (pre-roll and live frames alike;
// the rest when the utterance ends) and that the final still comes on the
// frame that ends the utterance.
func TestGateBatchesUtteranceAudio(t *testing.T) {
	tests := []struct {
		batch time.Duration
		want  []int // frames per Accept call
	}{
		// Speech from frame 35, confirmed at 40: frames 25-40 (16) come from
		// the ring, 41-80 follow (56 frames in all); the end at 80 flushes.
		{0, []int{10, 10, 10, 10, 10, 6}},
		{100 * time.Millisecond, append(repeat(5, 11), 1)},
		{time.Millisecond, repeat(1, 56)},
		{300 * time.Millisecond, []int{15, 15, 15, 11}},
	}
	for _, tt := range tests {
		t.Run(tt.batch.String(), func(t *testing.T) {
			rec := &fakeRec{}
			g := NewGate(rec, GateConfig{Batch: tt.batch})
			buf := make([]int16, audio.FrameSize)
			var finalAt []int
			for i := range 100 {
				var ev audio.VADEvent
				switch i {
				case 40:
					ev = audio.VADEvent{Kind: audio.SpeechStart, Segment: audio.Segment{Start: at(35), End: at(41)}}
				case 80:
					ev = audio.VADEvent{Kind: audio.SpeechEnd, Segment: audio.Segment{Start: at(35), End: at(65)}}
				}
				res, err := g.Push(frameAt(buf, i), ev)
				if err != nil {
					t.Fatal(err)
				}
				if len(res) > 0 && res[len(res)-1].Final {
					finalAt = append(finalAt, i)
				}
			}
			if rec.mismatch {
				t.Error("the recognizer's clock and the audio it decoded disagree")
			}
			var got []int
			for _, n := range rec.accepts {
				got = append(got, n/audio.FrameSize)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Accept calls of %v frames, want %v", got, tt.want)
			}
			if fmt.Sprint(finalAt) != "[80]" {
				t.Errorf("finals at frames %v, want [80]", finalAt)
			}
		})
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestGateRefusesWrongFrames(t *testing.T) {
	g := NewGate(&fakeRec{}, GateConfig{})
	if _, err := g.Push(make([]int16, 160), audio.VADEvent{}); !errors.Is(err, ErrFrameSize) {
		t.Errorf("half frame: %v, want ErrFrameSize", err)
	}
}

func TestGateDoesNotAllocateOutsideSpeech(t *testing.T) {
	g := NewGate(&fakeRec{}, GateConfig{})
	buf := make([]int16, audio.FrameSize)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := g.Push(buf, audio.VADEvent{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per silent frame, want 0", allocs)
	}
}

func TestTranscribeRefusesOtherRates(t *testing.T) {
	if _, err := Transcribe(&fakeRec{}, make([]float32, 8000), TranscribeConfig{Rate: 8000}); !errors.Is(err, ErrSampleRate) {
		t.Errorf("8 kHz: %v, want ErrSampleRate", err)
	}
}

func BenchmarkGateSilentFrame(b *testing.B) {
	g := NewGate(&fakeRec{}, GateConfig{})
	buf := make([]int16, audio.FrameSize)
	for b.Loop() {
		g.Push(buf, audio.VADEvent{})
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/frame")
}

// TestGateHandsAnOpenUtteranceOver cuts a stream in the middle of an
// utterance, as an engine restart does, and continues it on a new gate
// and recognizer: the second recognizer decodes the whole utterance, from
// the same first sample, at the right stream clock, with one final.
func TestGateHandsAnOpenUtteranceOver(t *testing.T) {
	// Speech from frame 35, confirmed at 40, ended by the VAD at 80 (its
	// end pad is already inside the hangover), as in TestGate.
	event := func(i int) audio.VADEvent {
		switch i {
		case 40:
			return audio.VADEvent{Kind: audio.SpeechStart, Segment: audio.Segment{Start: at(35), End: at(41)}}
		case 80:
			return audio.VADEvent{Kind: audio.SpeechEnd, Segment: audio.Segment{Start: at(35), End: at(65)}}
		}
		return audio.VADEvent{}
	}
	buf := make([]int16, audio.FrameSize)
	for _, cut := range []int{41, 50, 64, 79} {
		t.Run(fmt.Sprintf("cut at frame %d", cut), func(t *testing.T) {
			first := NewGate(&fakeRec{}, GateConfig{})
			for i := range cut {
				if _, err := first.Push(frameAt(buf, i), event(i)); err != nil {
					t.Fatal(err)
				}
			}
			from, held, ok := first.OpenUtterance()
			if !ok {
				t.Fatal("no open utterance to hand over")
			}
			if from != at(25) || len(held) != (cut-25)*audio.FrameSize {
				t.Fatalf("open utterance from %v, %d frames; want from %v, %d frames", from, len(held)/audio.FrameSize, at(25), cut-25)
			}
			held = append([]int16(nil), held...)

			rec := &fakeRec{}
			second := NewGate(rec, GateConfig{})
			for i := range 25 {
				if _, err := second.Push(frameAt(buf, i), audio.VADEvent{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := second.ContinueUtterance(held); err != nil {
				t.Fatal(err)
			}
			var finals []Result
			for i := cut; i < 100; i++ {
				res, err := second.Push(frameAt(buf, i), event(i))
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res {
					if r.Final {
						finals = append(finals, r)
					}
				}
			}
			if rec.mismatch {
				t.Error("the recognizer's clock and the audio it decoded disagree")
			}
			if fmt.Sprint(rec.firstAt) != fmt.Sprint([]int64{int64(25 * audio.FrameSize)}) || len(rec.decoded) != 56*audio.FrameSize {
				t.Errorf("decoded %d frames from samples %v; want 56 frames from %d", len(rec.decoded)/audio.FrameSize, rec.firstAt, 25*audio.FrameSize)
			}
			if len(finals) != 1 || finals[0].Start != at(25) || finals[0].End != at(81) {
				t.Errorf("finals %+v, want one from %v to %v", finals, at(25), at(81))
			}
		})
	}

	t.Run("nothing to hand over in the end pad", func(t *testing.T) {
		g := NewGate(&fakeRec{}, GateConfig{PadEnd: 400 * time.Millisecond})
		for i := range 41 {
			if _, err := g.Push(frameAt(buf, i), event(i)); err != nil {
				t.Fatal(err)
			}
		}
		end := audio.VADEvent{Kind: audio.SpeechEnd, Segment: audio.Segment{Start: at(35), End: at(41)}}
		if _, err := g.Push(frameAt(buf, 41), end); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := g.OpenUtterance(); ok {
			t.Error("an utterance the VAD has ended was handed over")
		}
		// It has no final yet, though: its audio is all there is of it.
		if from, ok := g.Unfinished(); !ok || from != at(25) {
			t.Errorf("unfinished utterance: %v from %v, want from %v", ok, from, at(25))
		}
	})

	t.Run("nothing to hand over outside speech or past HoldMax", func(t *testing.T) {
		g := NewGate(&fakeRec{}, GateConfig{HoldMax: 500 * time.Millisecond})
		for i := range 100 {
			if _, err := g.Push(frameAt(buf, i), event(i)); err != nil {
				t.Fatal(err)
			}
			_, _, ok := g.OpenUtterance()
			// Open from frame 25 at 40; 500 ms are frames 25-49.
			if want := i >= 40 && i < 50; ok != want {
				t.Fatalf("frame %d: open utterance %v, want %v", i, ok, want)
			}
		}
	})

	t.Run("refused while an utterance is open or with part of a frame", func(t *testing.T) {
		g := NewGate(&fakeRec{}, GateConfig{})
		if err := g.ContinueUtterance(make([]int16, 100)); !errors.Is(err, ErrFrameSize) {
			t.Errorf("100 samples: %v, want ErrFrameSize", err)
		}
		if err := g.ContinueUtterance(make([]int16, audio.FrameSize)); err != nil {
			t.Fatal(err)
		}
		if err := g.ContinueUtterance(make([]int16, audio.FrameSize)); !errors.Is(err, ErrUtteranceOpen) {
			t.Errorf("second continue: %v, want ErrUtteranceOpen", err)
		}
	})
}

func TestGateSkipEndsTheUtteranceAndJumpsTheClockAtOnce(t *testing.T) {
	rec := &fakeRec{}
	g := NewGate(rec, GateConfig{PadStart: 200 * time.Millisecond, PadEnd: 200 * time.Millisecond, PreRoll: 400 * time.Millisecond})
	buf := make([]int16, audio.FrameSize)
	for i := range 50 {
		ev := audio.VADEvent{}
		if i == 40 {
			ev = audio.VADEvent{Kind: audio.SpeechStart, Segment: audio.Segment{Start: at(38), End: at(41)}}
		}
		if _, err := g.Push(frameAt(buf, i), ev); err != nil {
			t.Fatal(err)
		}
	}
	twoHours := audio.PipelineRate.Samples(2 * time.Hour)
	res, err := g.Skip(twoHours)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !res[0].Final {
		t.Fatalf("Skip inside an utterance returned %+v, want its final", res)
	}
	if rec.finals != 1 || len(rec.accepts) == 0 {
		t.Fatalf("recognizer saw %d finals and %d accepts", rec.finals, len(rec.accepts))
	}
	// The recognizer's clock is where the gate's is: 50 frames plus the skip.
	if want := int64(50*audio.FrameSize + twoHours); rec.clock != want {
		t.Fatalf("recognizer clock %d after the skip, want %d", rec.clock, want)
	}
	decoded := len(rec.decoded)
	if _, err := g.Skip(-1); !errors.Is(err, ErrNegativeSkip) {
		t.Fatalf("Skip(-1) = %v, want ErrNegativeSkip", err)
	}
	if len(rec.decoded) != decoded {
		t.Fatal("a skip decoded audio")
	}
}
