package ingestclient

import (
	"context"
	"fmt"
	"time"

	"github.com/earshot/earshot/audio"

	"github.com/earshot/earshot/protocol"
)

// StreamConfig paces Stream.
type StreamConfig struct {
	// Speed is the playback rate: 1 is real time, 2 twice as fast; 0
	// means 1. Negative means as fast as the client takes frames.
	Speed float64
	// OnFrame, if set, is called after each 20 ms slot (both channels) is
	// handed to the client, with the slot's end in call time and the wall
	// time it was sent. Latency measurements map call time to wall time
	// with it.
	OnFrame func(end time.Duration, sent time.Time)
}

// Stream sends a two-channel recording (agent and caller at 16 kHz, equal
// length or padded with silence) through c as an endpoint would: every
// 20 ms one frame per channel, paced by a ticker, encoded as c's format
// (pcm_s16le or μ-law at 16 kHz). It returns when everything is handed to
// the client (not yet acknowledged: call End for that) or ctx ends.
func Stream(ctx context.Context, c *Client, agent, caller []float32, cfg StreamConfig) error {
	if c.cfg.SampleRate != int(audio.PipelineRate) {
		return fmt.Errorf("ingestclient: Stream sends 16 kHz audio; the client is set to %d Hz", c.cfg.SampleRate)
	}
	speed := cfg.Speed
	if speed == 0 {
		speed = 1
	}
	n := max(len(agent), len(caller))
	frames := (n + audio.FrameSize - 1) / audio.FrameSize
	chans := [2][]float32{agent, caller}
	buf := make([]float32, audio.FrameSize)
	pcm := make([]int16, audio.FrameSize)
	payload := make([]byte, c.PayloadBytes())
	// Frame k is due at start + k·interval. A ticker wakes the loop, and
	// every frame already due is sent, so a late wake-up (a busy CPU, a GC
	// pause) is caught up instead of slowing the whole call down as a
	// ticker's dropped ticks would.
	var tick *time.Ticker
	interval := time.Duration(float64(audio.FrameDuration) / max(speed, 1e-9))
	start := time.Now()
	if speed > 0 {
		tick = time.NewTicker(interval)
		defer tick.Stop()
	}
	for k := 0; k < frames; k++ {
		if tick != nil {
			for time.Since(start) < time.Duration(k)*interval {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-tick.C:
				}
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		at := time.Duration(k) * audio.FrameDuration
		for ch, s := range chans {
			clear(buf)
			if lo := k * audio.FrameSize; lo < len(s) {
				copy(buf, s[lo:min(lo+audio.FrameSize, len(s))])
			}
			if c.cfg.Encoding == protocol.EncodingMulaw {
				audio.MulawEncode(payload, buf)
			} else {
				audio.FloatToPCM16(pcm, buf)
				for i, v := range pcm {
					payload[2*i], payload[2*i+1] = byte(v), byte(uint16(v)>>8)
				}
			}
			if _, err := c.Send(protocol.Channel(ch), at, payload); err != nil {
				return err
			}
		}
		if cfg.OnFrame != nil {
			cfg.OnFrame(at+audio.FrameDuration, time.Now())
		}
	}
	return nil
}
