package samples

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"testing"

	mp3 "github.com/hajimehoshi/go-mp3"
)

// decodeCall decodes an embedded MP3 with go-mp3 (the decoder the audio
// package uses) into one float slice per channel. go-mp3 is known to panic on
// malformed input; a panic here is reported as an error, not a crash.
func decodeCall(c Truth) (ch [2][]float64, rate int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-mp3 panicked: %v", r)
		}
	}()
	f, err := Open(c.AudioPath())
	if err != nil {
		return ch, 0, err
	}
	defer f.Close()
	d, err := mp3.NewDecoder(f)
	if err != nil {
		return ch, 0, err
	}
	pcm, err := io.ReadAll(d)
	if err != nil {
		return ch, 0, err
	}
	n := len(pcm) / 4 // go-mp3 always yields 16-bit little-endian stereo
	for i := range ch {
		ch[i] = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		ch[0][i] = float64(int16(binary.LittleEndian.Uint16(pcm[4*i:]))) / 32768
		ch[1][i] = float64(int16(binary.LittleEndian.Uint16(pcm[4*i+2:]))) / 32768
	}
	return ch, d.SampleRate(), nil
}

// levels returns the RMS level in dBFS of consecutive hop-sample frames.
func levels(x []float64, hop int) []float64 {
	out := make([]float64, len(x)/hop)
	for i := range out {
		var e float64
		for _, v := range x[i*hop : (i+1)*hop] {
			e += v * v
		}
		out[i] = 10 * math.Log10(e/float64(hop)+1e-12)
	}
	return out
}

// TestDecodedAudioMatchesTheTruth checks the generator's central promise: the
// decoded audio has speech exactly where the truth says, on the right
// channel, and nothing loud anywhere else. A simple energy detector with a
// threshold 10 dB above the channel's noise floor finds each segment's onset
// and offset. Flite lines start and end softly, so a boundary may be found a
// few tens of milliseconds inside the segment; a systematic shift (the MP3
// encoder delay not compensated is 69 ms) or a segment on the wrong channel
// fails.
func TestDecodedAudioMatchesTheTruth(t *testing.T) {
	const (
		hop      = 160  // 10 ms at 16 kHz
		margin   = 10.0 // dB above the noise floor that counts as speech
		guard    = 0.05 // s around a segment where the detector may still fire
		tolAll   = 0.25 // s, every boundary
		tolMost  = 0.05 // s, 90 % of boundaries
		tolShift = 0.02 // s, median onset error
	)
	for _, c := range mustCalls(t) {
		t.Run(c.Name, func(t *testing.T) {
			ch, rate, err := decodeCall(c)
			if err != nil {
				t.Fatalf("the MP3 does not decode: %v", err)
			}
			if rate != 16000 {
				t.Fatalf("sample rate %d, want 16000", rate)
			}
			// The truth's duration is what sox (libmad) decodes; go-mp3
			// delivers one more MPEG-2 frame (576 samples) at the end.
			if got := float64(len(ch[0])) / float64(rate); got < c.Duration-0.001 || got > c.Duration+0.037 {
				t.Errorf("decoded %.4f s, truth says %.4f s", got, c.Duration)
			}
			fps := float64(rate) / hop
			for i, spk := range []string{Agent, Caller} {
				peak := 0.0
				for _, v := range ch[i] {
					peak = math.Max(peak, math.Abs(v))
				}
				if db := 20 * math.Log10(peak); db > -0.5 {
					t.Errorf("%s channel peaks at %.2f dBFS: clipping", spk, db)
				}
				lv := levels(ch[i], hop)
				sorted := append([]float64(nil), lv...)
				sort.Float64s(sorted)
				floor := sorted[len(sorted)/10]
				thr := floor + margin
				if want := map[string]float64{Agent: c.Noise.Agent, Caller: c.Noise.Caller}[spk]; math.Abs(floor-want) > 4 {
					t.Errorf("%s noise floor %.1f dBFS, truth says %.1f", spk, floor, want)
				}

				var errs, onsets []float64
				segs := c.SpeakerSegments(spk)
				for _, s := range segs {
					a, b := int((s.Start-0.3)*fps), int((s.End+0.3)*fps)
					a, b = max(a, 0), min(b, len(lv))
					on, off := -1, -1
					for k := a; k < b; k++ {
						if lv[k] > thr {
							if on < 0 {
								on = k
							}
							off = k + 1
						}
					}
					if on < 0 {
						t.Errorf("%s segment at %.2f s: no speech found on the %s channel", spk, s.Start, spk)
						continue
					}
					e1, e2 := float64(on)/fps-s.Start, float64(off)/fps-s.End
					errs = append(errs, math.Abs(e1), math.Abs(e2))
					onsets = append(onsets, e1)
				}
				if len(errs) == 0 {
					continue
				}
				sort.Float64s(errs)
				sort.Float64s(onsets)
				if worst := errs[len(errs)-1]; worst > tolAll {
					t.Errorf("%s: a segment boundary is %.3f s off", spk, worst)
				}
				if p90 := errs[len(errs)*9/10]; p90 > tolMost {
					t.Errorf("%s: 90th percentile boundary error %.3f s", spk, p90)
				}
				if med := onsets[len(onsets)/2]; math.Abs(med) > tolShift {
					t.Errorf("%s: onsets shifted by %.3f s (median)", spk, med)
				}

				loud, total := 0, 0
				for k, v := range lv {
					tt := float64(k) / fps
					inside := false
					for _, s := range segs {
						if tt >= s.Start-guard && tt <= s.End+guard {
							inside = true
							break
						}
					}
					if !inside {
						total++
						if v > thr {
							loud++
						}
					}
				}
				if total > 0 && float64(loud)/float64(total) > 0.005 {
					t.Errorf("%s: %d of %d frames outside any %s segment sound like speech", spk, loud, total, spk)
				}
			}
		})
	}
}
