package call

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/protocol"
)

// AnalyzeChannels runs a whole recorded call (two 16 kHz channels) through
// a Pipeline as fast as the CPU allows, the channels interleaved frame by
// frame as a live call arrives, and returns the call's record. It is what
// the golden tests run: the same code as a live call. For a recording on
// disk, AnalyzeSource does the same without holding the audio in memory.
func AnalyzeChannels(ctx context.Context, deps Deps, cfg Config, agent, caller []float32) (Record, error) {
	p, err := New(ctx, deps, cfg)
	if err != nil {
		return Record{}, err
	}
	defer p.Close()
	n := max(len(agent), len(caller))
	frame := make([]float32, audio.FrameSize)
	for i := 0; i < n; i += audio.FrameSize {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		at := audio.PipelineRate.Duration(i)
		for ch, pcm := range [2][]float32{agent, caller} {
			m := 0
			if i < len(pcm) {
				m = copy(frame, pcm[i:])
			}
			clear(frame[m:])
			if _, err := p.Push(protocol.Channel(ch), frame, at); err != nil {
				return Record{}, fmt.Errorf("at %.2f s: %w", at.Seconds(), err)
			}
		}
	}
	_, rec, err := p.End(audio.PipelineRate.Duration(n))
	return rec, err
}

// offlineRead is how many 20 ms frames AnalyzeSource asks its source for at
// a time: one second, 128 KB of samples, whatever the recording's length.
const offlineRead = 50

// AnalyzeSource is AnalyzeChannels for a stereo stream (left agent, right
// caller) at audio.PipelineRate, typically audio.OpenCall's: it pulls one
// second at a time, pushes it frame by frame and keeps no audio, so the
// memory it needs does not grow with the recording (a one-hour file needed
// over a gigabyte as two whole channels). The record is the one
// AnalyzeChannels gives for the same samples.
//
// A source in another format is an error wrapping audio.ErrUnsupported,
// and one without samples audio.ErrEmpty. If src ends with an error
// wrapping audio.ErrTruncated (a file cut short), the audio before the cut
// is analyzed and AnalyzeSource returns its record together with that
// error, for the caller to report as a warning; any other error from src
// or the pipeline returns an empty Record.
func AnalyzeSource(ctx context.Context, deps Deps, cfg Config, src audio.Source) (Record, error) {
	if f := src.Format(); f.Rate != audio.PipelineRate || f.Channels != 2 {
		return Record{}, fmt.Errorf("call: offline analysis needs stereo at %d Hz, not %d channel(s) at %d Hz: %w",
			audio.PipelineRate, f.Channels, f.Rate, audio.ErrUnsupported)
	}
	p, err := New(ctx, deps, cfg)
	if err != nil {
		return Record{}, err
	}
	defer p.Close()
	const frame = 2 * audio.FrameSize // interleaved samples per 20 ms
	buf := make([]float32, frame*offlineRead)
	chans := [][]float32{make([]float32, audio.FrameSize), make([]float32, audio.FrameSize)}
	push := func(at int, samples []float32) error {
		n := audio.Deinterleave(chans, samples)
		for ch, pcm := range chans {
			clear(pcm[n:]) // the last frame is padded with silence, as in AnalyzeChannels
			if _, err := p.Push(protocol.Channel(ch), pcm, audio.PipelineRate.Duration(at)); err != nil {
				return fmt.Errorf("at %.2f s: %w", audio.PipelineRate.Duration(at).Seconds(), err)
			}
		}
		return nil
	}
	var (
		fill   int   // samples in buf, less than a frame between reads
		pos    int   // samples per channel pushed
		srcErr error // what ended src
		stalls int
	)
	for srcErr == nil {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		n, err := src.Read(buf[fill:])
		fill += n
		switch {
		case err != nil:
			srcErr = err
		case n == 0:
			if stalls++; stalls > 100 {
				srcErr = io.ErrNoProgress
			}
		default:
			stalls = 0
		}
		whole := fill / frame * frame
		for i := 0; i < whole; i += frame {
			if err := push(pos, buf[i:i+frame]); err != nil {
				return Record{}, err
			}
			pos += audio.FrameSize
		}
		fill = copy(buf, buf[whole:fill])
	}
	truncated := errors.Is(srcErr, audio.ErrTruncated)
	if srcErr != io.EOF && !truncated {
		return Record{}, srcErr
	}
	if last := fill / 2; last > 0 {
		if err := push(pos, buf[:2*last]); err != nil {
			return Record{}, err
		}
		pos += last
	}
	if pos == 0 {
		if truncated {
			return Record{}, srcErr
		}
		return Record{}, fmt.Errorf("call: %w", audio.ErrEmpty)
	}
	_, rec, err := p.End(audio.PipelineRate.Duration(pos))
	if err != nil {
		return rec, err
	}
	if truncated {
		return rec, srcErr
	}
	return rec, nil
}
