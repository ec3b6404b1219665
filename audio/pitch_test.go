package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPitchOfSyntheticVoices(t *testing.T) {
	sec := int(PipelineRate)
	type signal struct {
		name string
		make func(f0 float64) []float32
	}
	signals := []signal{
		{"a pure tone", func(f0 float64) []float32 { return synthSine(f0, 0.3, sec) }},
		{"a harmonic vowel", func(f0 float64) []float32 { return harmonic(f0, 0.3, 1, int(3800/f0), sec) }},
		{"a phone-band vowel missing its fundamental", func(f0 float64) []float32 {
			return harmonic(f0, 0.3, int(math.Ceil(300/f0)), int(3400/f0), sec)
		}},
		{"a harmonic vowel in white noise at 15 dB SNR", func(f0 float64) []float32 {
			v := harmonic(f0, 0.3, 1, int(3800/f0), sec)
			n := whiteNoise(-30, sec, uint64(f0))
			return mixNoise(v, n, math.Pow(10, (rmsDB(v)-15-rmsDB(n))/20))
		}},
	}
	for _, f0 := range []float64{100, 150, 220, 300} {
		for _, s := range signals {
			t.Run(fmt.Sprintf("%s at %.0f Hz is measured within 2 %%", s.name, f0), func(t *testing.T) {
				fs := extractAll(t, FeatureConfig{}, s.make(f0))
				var voiced []float64
				for _, f := range fs[3:] {
					if f.F0Hz > 0 {
						voiced = append(voiced, f.F0Hz)
					}
				}
				frac := float64(len(voiced)) / float64(len(fs)-3)
				got := medianF(voiced)
				t.Logf("median F0 %.2f Hz over %.0f %% voiced frames", got, 100*frac)
				if frac < 0.9 {
					t.Errorf("only %.0f %% of frames voiced, want ≥ 90 %%", 100*frac)
				}
				if math.Abs(got-f0)/f0 > 0.02 {
					t.Errorf("median F0 %.2f Hz, want %.0f ± 2 %%", got, f0)
				}
			})
		}
	}
}

func TestPitchIsZeroWithoutAPeriod(t *testing.T) {
	tests := []struct {
		name string
		x    []float32
	}{
		{"digital silence", make([]float32, 16000)},
		{"white noise at -20 dBFS", whiteNoise(-20, 16000, 11)},
		{"white noise below the pitch gate at -70 dBFS", whiteNoise(-70, 16000, 12)},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is unvoiced", func(t *testing.T) {
			fs := extractAll(t, FeatureConfig{}, tc.x)
			n := 0
			for _, f := range fs {
				if f.F0Hz > 0 {
					n++
				}
			}
			if frac := float64(n) / float64(len(fs)); frac > 0.02 {
				t.Errorf("%.1f %% of frames voiced, want ≤ 2 %%", 100*frac)
			}
		})
	}
}

// readWAV16 reads a 16-bit PCM mono WAV (the librivox test clips) without
// depending on the package's decoder, so a decoder bug cannot mask a pitch
// bug.
func readWAV16(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("test speech not installed (Debian package pocketsphinx-testdata): %v", err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		p += 8
		if id == "fmt " {
			if ch, bits := binary.LittleEndian.Uint16(b[p+2:]), binary.LittleEndian.Uint16(b[p+14:]); ch != 1 || bits != 16 {
				t.Fatalf("%s: %d channels of %d bits, want mono 16-bit", path, ch, bits)
			}
			if rate := binary.LittleEndian.Uint32(b[p+4:]); rate != uint32(PipelineRate) {
				t.Fatalf("%s: %d Hz, want %d", path, rate, PipelineRate)
			}
		}
		if id == "data" {
			size = min(size, len(b)-p)
			out := make([]float32, size/2)
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(b[p+2*i:]))) / 32768
			}
			return out
		}
		p += size + size%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}

// writeWAV16 writes mono 16-bit PCM at PipelineRate for Praat to read.
func writeWAV16(t testing.TB, path string, x []float32) {
	t.Helper()
	var buf bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&buf, le, v) }
	buf.WriteString("RIFF")
	w(uint32(36 + 2*len(x)))
	buf.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(1))
	w(uint32(PipelineRate))
	w(uint32(2 * PipelineRate))
	w(uint16(2))
	w(uint16(16))
	buf.WriteString("data")
	w(uint32(2 * len(x)))
	for _, v := range x {
		w(int16(math.Round(math.Max(-1, math.Min(1, float64(v))) * 32767)))
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// praatMedianF0 runs testdata/pitch_median.praat on a WAV file.
func praatMedianF0(t *testing.T, wav string) float64 {
	t.Helper()
	script, err := filepath.Abs("testdata/pitch_median.praat")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("praat", "--run", script, wav).CombinedOutput()
	if err != nil {
		t.Fatalf("praat on %s: %v: %s", wav, err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		t.Fatalf("praat on %s printed nothing", wav)
	}
	hz, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		t.Fatalf("praat on %s: no median pitch in %q", wav, out)
	}
	return hz
}

// ourMedianF0 is the median F0 over the frames the extractor calls voiced.
func ourMedianF0(t *testing.T, x []float32) (hz float64, voiced int) {
	var v []float64
	for _, f := range extractAll(t, FeatureConfig{}, x) {
		if f.F0Hz > 0 {
			v = append(v, f.F0Hz)
		}
	}
	return medianF(v), len(v)
}

// pitchClips are the voiced recordings compared with Praat; sample call
// channels are added by the samples test helper when the calls exist.
var pitchClips = []string{
	"/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
	"/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
	"/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
}

func TestMedianPitchAgreesWithPraat(t *testing.T) {
	if _, err := exec.LookPath("praat"); err != nil {
		t.Skip("praat is not on PATH (Debian package praat, installed by make setup): skipping the Praat comparison")
	}
	type clip struct {
		name string
		x    []float32
	}
	var clips []clip
	for _, p := range pitchClips {
		clips = append(clips, clip{filepath.Base(p), readWAV16(t, p)})
	}
	// Every phone-band channel (the hard case: no fundamental) and the
	// first two wideband ones; all twelve would double the test's time
	// under -race without covering another kind of voice.
	wide := 0
	for _, c := range sampleCallChannels(t) {
		if c.phoneBand || wide < 2 {
			clips = append(clips, clip{c.name, c.x})
		}
		if !c.phoneBand {
			wide++
		}
	}
	dir := t.TempDir()
	for _, c := range clips {
		t.Run(c.name+" has the median F0 Praat measures within 5 %", func(t *testing.T) {
			// Praat reads the same 16-bit samples the extractor sees.
			wav := filepath.Join(dir, strings.ReplaceAll(c.name, "/", "_")+".wav")
			writeWAV16(t, wav, c.x)
			want := praatMedianF0(t, wav)
			got, n := ourMedianF0(t, c.x)
			dev := (got - want) / want
			t.Logf("%s: Earshot %.1f Hz (%d voiced frames), Praat %.1f Hz, %+.1f %%", c.name, got, n, want, 100*dev)
			if math.Abs(dev) > 0.05 {
				t.Errorf("median F0 %.1f Hz vs Praat %.1f Hz: %+.1f %%, want within 5 %%", got, want, 100*dev)
			}
		})
	}
}
