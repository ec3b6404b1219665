package call

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
)

// interleave makes the stereo stream AnalyzeSource reads from two channels.
func interleave(agent, caller []float32) []float32 {
	out := make([]float32, 2*len(agent))
	for i := range agent {
		out[2*i], out[2*i+1] = agent[i], caller[i]
	}
	return out
}

func recordJSON(t *testing.T, r Record) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cutSource delivers samples and then fails with err instead of io.EOF, in
// reads of at most 1000 samples.
type cutSource struct {
	audio.Source
	err error
}

func (c *cutSource) Read(p []float32) (int, error) {
	n, err := c.Source.Read(p[:min(len(p), 1000)])
	if err == io.EOF {
		return 0, c.err
	}
	return n, err
}

func TestAnalyzeSourceGivesTheRecordOfAnalyzeChannels(t *testing.T) {
	agent, caller, err := audio.LoadCall(filepath.Join("..", "samples", "calls", "cancellation.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	// 25 s keep the test quick under -race; not a whole number of frames:
	// the last one is padded in both.
	n := audio.PipelineRate.Samples(25*time.Second) - 123
	agent, caller = agent[:n], caller[:n]
	want, err := AnalyzeChannels(context.Background(), Deps{}, Config{CallID: "c"}, agent, caller)
	if err != nil {
		t.Fatal(err)
	}
	stereo := audio.Format{Rate: audio.PipelineRate, Channels: 2}
	got, err := AnalyzeSource(context.Background(), Deps{}, Config{CallID: "c"}, audio.NewSliceSource(stereo, interleave(agent, caller)))
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Segments) == 0 || want.Duration < 20*time.Second {
		t.Fatalf("the reference analysis found nothing (%v, %d segments); the comparison shows nothing", want.Duration, len(want.Segments))
	}
	if g, w := recordJSON(t, got), recordJSON(t, want); g != w {
		t.Errorf("records differ:\nAnalyzeSource   %.400s\nAnalyzeChannels %.400s", g, w)
	}
}

// endless is a stereo source that never ends, counting what was read.
type endless struct {
	read   int // samples per channel
	cancel func()
	after  int
}

func (e *endless) Format() audio.Format { return audio.Format{Rate: audio.PipelineRate, Channels: 2} }
func (e *endless) Read(p []float32) (int, error) {
	n := len(p) / 2 * 2
	for i := 0; i < n; i += 2 {
		v := float32(0.3 * float64((e.read+i/2)%37-18) / 18) // a buzz: speech-like energy for the VAD
		p[i], p[i+1] = v, 0
	}
	e.read += n / 2
	if e.read >= e.after {
		e.cancel()
	}
	return n, nil
}

func TestAnalyzeSourceReadsAsItAnalyzes(t *testing.T) {
	// An endless recording can only be analyzed if the source is read a
	// little at a time: cancelling after 30 s of audio stops it there.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &endless{cancel: cancel, after: audio.PipelineRate.Samples(30 * time.Second)}
	_, err := AnalyzeSource(ctx, Deps{}, Config{CallID: "endless"}, src)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if read := audio.PipelineRate.Duration(src.read); read > 30*time.Second+time.Second {
		t.Errorf("read %v of audio before stopping, want at most 31 s (30 s and one read)", read)
	}
}

func TestAnalyzeSourceOnBadOrCutSources(t *testing.T) {
	stereo := audio.Format{Rate: audio.PipelineRate, Channels: 2}
	threeSeconds := make([]float32, 2*audio.PipelineRate.Samples(3*time.Second)+2*7)
	t.Run("a source cut short is analyzed up to the cut and the error says truncated", func(t *testing.T) {
		cut := fmt.Errorf("x.mp3: %w: the stream ends 10 bytes into a 104-byte frame", audio.ErrTruncated)
		rec, err := AnalyzeSource(context.Background(), Deps{}, Config{CallID: "c"}, &cutSource{audio.NewSliceSource(stereo, threeSeconds), cut})
		if !errors.Is(err, audio.ErrTruncated) {
			t.Fatalf("got %v, want the source's ErrTruncated", err)
		}
		// Like a live call, the record ends with the last 20 ms frame.
		if want := audio.PipelineRate.Duration(len(threeSeconds) / 2); rec.Duration < want || rec.Duration >= want+audio.FrameDuration {
			t.Errorf("record of %v, want %v (to the end of its frame): all of the audio before the cut", rec.Duration, want)
		}
	})
	t.Run("any other source error fails the analysis", func(t *testing.T) {
		bad := fmt.Errorf("x.mp3: %w: corrupt", audio.ErrNotAudio)
		rec, err := AnalyzeSource(context.Background(), Deps{}, Config{CallID: "c"}, &cutSource{audio.NewSliceSource(stereo, threeSeconds), bad})
		if !errors.Is(err, audio.ErrNotAudio) || rec.Duration != 0 {
			t.Errorf("got %v with a %v record, want ErrNotAudio and no record", err, rec.Duration)
		}
	})
	t.Run("a mono source is unsupported", func(t *testing.T) {
		mono := audio.NewSliceSource(audio.Format{Rate: audio.PipelineRate, Channels: 1}, make([]float32, 16000))
		if _, err := AnalyzeSource(context.Background(), Deps{}, Config{CallID: "c"}, mono); !errors.Is(err, audio.ErrUnsupported) {
			t.Errorf("got %v, want ErrUnsupported", err)
		}
	})
	t.Run("a source without samples is empty", func(t *testing.T) {
		if _, err := AnalyzeSource(context.Background(), Deps{}, Config{CallID: "c"}, audio.NewSliceSource(stereo, nil)); !errors.Is(err, audio.ErrEmpty) {
			t.Errorf("got %v, want ErrEmpty", err)
		}
	})
}
