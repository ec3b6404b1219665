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

// decodeCall decodes the first limit seconds (all of it if limit is 0) of an
// embedded MP3 with go-mp3 (the decoder the audio package uses) into one
// float slice per channel. go-mp3 is known to panic on
// malformed input; a panic here is reported as an error, not a crash.
func decodeCall(c Truth, limit float64) (ch [2][]float64, rate int, err error) {
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
	// go-mp3 decodes frames as they are read, so a limited read decodes
	// only that much.
	var r io.Reader = d
	if limit > 0 {
		r = io.LimitReader(d, int64(limit*float64(d.SampleRate()))*4)
	}
	pcm, err := io.ReadAll(r)
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
//
// Under the race detector only the first 50 s of each call are checked (that
// still covers the dead air in tech_support and a talk-over in
// billing_dispute): decoding is the cost, and the delay being checked is the
// same all through a file.
func TestDecodedAudioMatchesTheTruth(t *testing.T) {
	const (
		hop      = 160  // 10 ms at 16 kHz
		margin   = 10.0 // dB above the noise floor that counts as speech
		guard    = 0.05 // s around a segment where the detector may still fire
		tolAll   = 0.25 // s, every boundary
		tolMost  = 0.05 // s, all but 10 % (at least one) of the boundaries
		tolShift = 0.02 // s, median onset error
	)
	for _, c := range mustCalls(t) {
		t.Run(c.Name, func(t *testing.T) {
			limit := 0.0
			if raceEnabled {
				limit = 50
			}
			ch, rate, err := decodeCall(c, limit)
			if err != nil {
				t.Fatalf("the MP3 does not decode: %v", err)
			}
			if rate != 16000 {
				t.Fatalf("sample rate %d, want 16000", rate)
			}
			got := float64(len(ch[0])) / float64(rate)
			switch {
			case limit > 0:
				if got != limit {
					t.Fatalf("decoded %.4f s, want the first %.0f s", got, limit)
				}
			// The truth's duration is what sox (libmad) decodes; go-mp3
			// delivers one more MPEG-2 frame (576 samples) at the end.
			case got < c.Duration-0.001 || got > c.Duration+0.037:
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
					if s.End+0.3 > got {
						continue // cut by the limit
					}
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
				far := 0
				for _, e := range errs {
					if e > tolMost {
						far++
					}
				}
				if far > max(1, len(errs)/10) {
					t.Errorf("%s: %d of %d segment boundaries are more than %.0f ms off", spk, far, len(errs), tolMost*1000)
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
