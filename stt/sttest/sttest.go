// Package sttest is the contract every stt.Recognizer implementation runs
// from its own tests: word times monotonic and inside the stream, a final
// result with the expected words, partials at least every 300 ms, exact
// time shifts after Skip, nothing from an empty stream, and ErrClosed after
// an idempotent Close.
package sttest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/stt"
)

// TestRecognizer runs the contract. newRec returns a fresh recognizer (the
// suite closes it); speech is 16 kHz mono speech whose transcript is
// wantWords, short enough to decode a few times (a few seconds).
func TestRecognizer(t *testing.T, newRec func(t *testing.T) stt.Recognizer, speech []int16, wantWords []string) {
	t.Helper()
	c := contract{newRec: newRec, speech: speech, wantWords: wantWords, dur: audio.PipelineRate.Duration(len(speech))}
	t.Run("the final result has the expected words in order", c.finalHasTheWords)
	t.Run("word times are monotonic and inside the stream", c.wordTimesAreMonotonic)
	t.Run("partials arrive at least every 300 ms of audio", c.partialsArriveOften)
	t.Run("skipped audio shifts word times exactly", c.skipShiftsWordTimes)
	t.Run("skipping inside an utterance ends it with its final", c.skipEndsTheUtterance)
	t.Run("an empty stream flushes to nothing", c.emptyStreamFlushesToNothing)
	t.Run("Close is idempotent and later use fails with ErrClosed", c.closeIsIdempotent)
}

// contract is what every check of one TestRecognizer run shares. Each check
// is a method so that it can be a subtest of its own, which gets a fresh
// recognizer and fails on its own.
type contract struct {
	newRec    func(t *testing.T) stt.Recognizer
	speech    []int16
	wantWords []string
	dur       time.Duration // of speech
}

// decode feeds the speech to r a frame at a time, after skipping skip
// samples, and returns the partials Accept gave and the one final Flush
// gave. Feeding frames rather than the whole slice is what makes the
// partials' spacing testable.
func (c contract) decode(t *testing.T, r stt.Recognizer, skip int) (partials []stt.Result, final stt.Result) {
	t.Helper()
	if skip > 0 {
		if res, err := r.Skip(skip); err != nil || len(res) != 0 {
			t.Fatalf("Skip(%d) before any speech = %v, %v; want nothing", skip, res, err)
		}
	}
	for i := 0; i < len(c.speech); i += audio.FrameSize {
		res, err := r.Accept(c.speech[i:min(i+audio.FrameSize, len(c.speech))])
		if err != nil {
			t.Fatalf("Accept at sample %d: %v", i, err)
		}
		partials = append(partials, res...)
	}
	res, err := r.Flush()
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("Flush returned %d results, want one final: %+v", len(res), res)
	}
	return partials, res[0]
}

func (c contract) finalHasTheWords(t *testing.T) {
	r := c.newRec(t)
	defer r.Close()
	_, final := c.decode(t, r, 0)
	if !final.Final {
		t.Errorf("flushed result is not marked Final: %+v", final)
	}
	var got []string
	for _, w := range final.Words {
		got = append(got, w.Text)
	}
	if !slices.Equal(got, c.wantWords) {
		t.Errorf("words = %q, want %q", got, c.wantWords)
	}
	if final.Text != strings.Join(got, " ") {
		t.Errorf("Text %q does not match its words %q", final.Text, got)
	}
	if final.Confidence < 0 || final.Confidence > 1 {
		t.Errorf("confidence %v outside 0..1", final.Confidence)
	}
}

func (c contract) wordTimesAreMonotonic(t *testing.T) {
	r := c.newRec(t)
	defer r.Close()
	_, final := c.decode(t, r, 0)
	var prev time.Duration
	for i, w := range final.Words {
		if w.Start < prev || w.End < w.Start || w.End > c.dur {
			t.Errorf("word %d %q spans %v..%v after %v (stream %v)", i, w.Text, w.Start, w.End, prev, c.dur)
		}
		if w.Confidence < 0 || w.Confidence > 1 {
			t.Errorf("word %q confidence %v outside 0..1", w.Text, w.Confidence)
		}
		prev = w.End
	}
	if len(final.Words) > 0 && (final.Start != final.Words[0].Start || final.End != final.Words[len(final.Words)-1].End) {
		t.Errorf("final spans %v..%v, its words %v..%v", final.Start, final.End, final.Words[0].Start, final.Words[len(final.Words)-1].End)
	}
}

// partialsArriveOften allows a frame on top of the 300 ms: a partial can
// only come at the end of the Accept call whose frame crossed the mark.
func (c contract) partialsArriveOften(t *testing.T) {
	r := c.newRec(t)
	defer r.Close()
	partials, _ := c.decode(t, r, 0)
	if want := int(c.dur / (300 * time.Millisecond)); len(partials) < want {
		t.Errorf("%d partials for %v of audio, want at least %d", len(partials), c.dur, want)
	}
	var prev time.Duration
	for _, p := range partials {
		if p.Final {
			t.Errorf("Accept returned a final result: %+v", p)
		}
		if p.End-prev > 300*time.Millisecond+audio.FrameDuration || p.End > c.dur {
			t.Errorf("partial ending %v comes %v after the previous one (stream %v)", p.End, p.End-prev, c.dur)
		}
		prev = p.End
	}
}

// skipShiftsWordTimes compares against a second recognizer that decodes
// the same speech unskipped, so the check needs no known word times.
func (c contract) skipShiftsWordTimes(t *testing.T) {
	const skip = 12345 // not a multiple of any frame size
	shift := audio.PipelineRate.Duration(skip)
	base := c.newRec(t)
	defer base.Close()
	_, want := c.decode(t, base, 0)
	shifted := c.newRec(t)
	defer shifted.Close()
	_, got := c.decode(t, shifted, skip)
	if len(got.Words) != len(want.Words) {
		t.Fatalf("after a skip the words are %q, without %q", got.Text, want.Text)
	}
	for i := range got.Words {
		g, w := got.Words[i], want.Words[i]
		if g.Text != w.Text || g.Start != w.Start+shift || g.End != w.End+shift {
			t.Errorf("word %d after skipping %v: %q %v..%v, want %q %v..%v", i, shift, g.Text, g.Start, g.End, w.Text, w.Start+shift, w.End+shift)
		}
	}
}

func (c contract) skipEndsTheUtterance(t *testing.T) {
	r := c.newRec(t)
	defer r.Close()
	if _, err := r.Accept(c.speech); err != nil {
		t.Fatal(err)
	}
	res, err := r.Skip(audio.FrameSize)
	if err != nil || len(res) != 1 || !res[0].Final {
		t.Fatalf("Skip inside an utterance = %+v, %v; want its final", res, err)
	}
	if res, err := r.Flush(); err != nil || len(res) != 0 {
		t.Errorf("Flush after the skip = %+v, %v; want nothing", res, err)
	}
	if _, err := r.Skip(-1); !errors.Is(err, stt.ErrNegativeSkip) {
		t.Errorf("Skip(-1) error = %v, want ErrNegativeSkip", err)
	}
}

func (c contract) emptyStreamFlushesToNothing(t *testing.T) {
	r := c.newRec(t)
	defer r.Close()
	for _, step := range []func() ([]stt.Result, error){
		r.Flush,
		func() ([]stt.Result, error) { return r.Accept(nil) },
		r.Flush,
		func() ([]stt.Result, error) { return r.Skip(0) },
		r.Flush,
	} {
		if res, err := step(); err != nil || len(res) != 0 {
			t.Errorf("empty stream gave %+v, %v; want nothing", res, err)
		}
	}
}

// closeIsIdempotent feeds some audio first, so Close has decoder state to
// free, and does not defer a Close: closing is what it checks.
func (c contract) closeIsIdempotent(t *testing.T) {
	r := c.newRec(t)
	if _, err := r.Accept(c.speech[:min(len(c.speech), 4*audio.FrameSize)]); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Accept(c.speech[:audio.FrameSize]); !errors.Is(err, stt.ErrClosed) {
		t.Errorf("Accept after Close: %v, want ErrClosed", err)
	}
	if _, err := r.Skip(1); !errors.Is(err, stt.ErrClosed) {
		t.Errorf("Skip after Close: %v, want ErrClosed", err)
	}
	if _, err := r.Flush(); !errors.Is(err, stt.ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
}
