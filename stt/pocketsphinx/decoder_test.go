package pocketsphinx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/stt"
	"github.com/earshot/earshot/stt/sttest"
)

const testData = "/usr/share/pocketsphinx/test/data"

// needModel skips the test when the Debian model or test data are missing.
func needModel(t testing.TB) {
	t.Helper()
	for _, p := range []string{DefaultModel, DefaultDict, DefaultLM, testData} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("PocketSphinx model or test data missing (%v): install pocketsphinx-en-us and pocketsphinx-testdata (make setup)", err)
		}
	}
}

// readRaw reads headerless 16 kHz s16le audio.
func readRaw(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

// readWAV reads the data chunk of a 16 kHz mono s16 WAV file.
func readWAV(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("data"))
	if i < 0 || i+8 > len(b) || binary.LittleEndian.Uint32(b[24:]) != 16000 {
		t.Fatalf("%s: not a 16 kHz WAV file", path)
	}
	b = b[i+8:]
	pcm := make([]int16, len(b)/2)
	for j := range pcm {
		pcm[j] = int16(binary.LittleEndian.Uint16(b[2*j:]))
	}
	return pcm
}

// clips returns the test recordings: goforward, numbers and the librivox clips.
func clips(t testing.TB) map[string][]int16 {
	out := map[string][]int16{
		"goforward": readRaw(t, filepath.Join(testData, "goforward.raw")),
		"numbers":   readRaw(t, filepath.Join(testData, "numbers.raw")),
	}
	wavs, _ := filepath.Glob(filepath.Join(testData, "librivox", "*.wav"))
	for _, w := range wavs {
		out[strings.TrimSuffix(filepath.Base(w), ".wav")] = readWAV(t, w)
	}
	return out
}

func newDecoder(t testing.TB) *Decoder {
	t.Helper()
	d, err := NewDecoder(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// decodeAll feeds pcm in 20 ms frames and returns the final result.
func decodeAll(t testing.TB, r stt.Recognizer, pcm []int16) stt.Result {
	t.Helper()
	for i := 0; i < len(pcm); i += audio.FrameSize {
		if _, err := r.Accept(pcm[i:min(i+audio.FrameSize, len(pcm))]); err != nil {
			t.Fatal(err)
		}
	}
	res, err := r.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 {
		return stt.Result{Final: true}
	}
	return res[0]
}

func TestGoForwardIsTranscribedWithMonotonicTimes(t *testing.T) {
	needModel(t)
	pcm := readRaw(t, filepath.Join(testData, "goforward.raw"))
	d := newDecoder(t)
	got := decodeAll(t, d, pcm)
	if got.Text != "go forward ten meters" {
		t.Fatalf("transcript %q, want %q", got.Text, "go forward ten meters")
	}
	dur := audio.PipelineRate.Duration(len(pcm))
	var prev time.Duration
	for _, w := range got.Words {
		if w.Start < prev || w.End <= w.Start || w.End > dur {
			t.Errorf("%q spans %v..%v after %v in %v of audio", w.Text, w.Start, w.End, prev, dur)
		}
		if w.Confidence <= 0 || w.Confidence > 1 {
			t.Errorf("%q confidence %v, want in (0, 1]", w.Text, w.Confidence)
		}
		prev = w.End
	}
	t.Logf("%+v", got.Words)
}

func TestDecoderPassesTheRecognizerContract(t *testing.T) {
	needModel(t)
	pcm := readRaw(t, filepath.Join(testData, "goforward.raw"))
	sttest.TestRecognizer(t, func(t *testing.T) stt.Recognizer { return newDecoder(t) },
		pcm, []string{"go", "forward", "ten", "meters"})
}

func TestConcurrentStreamsGiveTheSameWordsAsSerial(t *testing.T) {
	needModel(t)
	all := clips(t)
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	const streams = 8
	// One decoder, one clip after another, Reset between streams as the
	// pool does.
	serial := map[string]string{}
	d := newDecoder(t)
	for _, n := range names {
		serial[n] = decodeAll(t, d, all[n]).Text
		if err := d.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	pool, err := NewPool(Config{}, streams)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	got := make([]string, streams)
	var wg sync.WaitGroup
	for i := range streams {
		dec, err := pool.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer pool.Put(dec)
			got[i] = decodeAll(t, dec, all[names[i%len(names)]]).Text
		})
	}
	wg.Wait()
	for i, g := range got {
		n := names[i%len(names)]
		if g != serial[n] {
			t.Errorf("stream %d (%s): concurrent %q, serial %q", i, n, g, serial[n])
		}
	}
}

func TestBadInputGivesClearErrors(t *testing.T) {
	needModel(t)
	tests := []struct {
		name     string
		cfg      Config
		want     error
		mentions []string
	}{
		{"a declared 8 kHz rate is refused", Config{SampleRate: 8000}, stt.ErrSampleRate, []string{"8000"}},
		{"a missing model names the path and the package",
			Config{Model: "/nonexistent/en-us"}, stt.ErrModel, []string{"/nonexistent/en-us/mdef", "pocketsphinx-en-us"}},
		{"a missing LM names the path", Config{LM: "/nonexistent/x.lm.bin"}, stt.ErrModel, []string{"/nonexistent/x.lm.bin"}},
		{"a missing member of an LM set names the path",
			Config{LMs: []WeightedLM{{Path: DefaultLM}, {Path: "/nonexistent/cc.arpa"}}}, stt.ErrModel, []string{"/nonexistent/cc.arpa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDecoder(tt.cfg)
			if err == nil {
				d.Close()
				t.Fatal("NewDecoder succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	t.Run("a closed decoder refuses audio", func(t *testing.T) {
		d := newDecoder(t)
		d.Close()
		if _, err := d.Accept(make([]int16, 320)); !errors.Is(err, stt.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if err := d.Reset(); !errors.Is(err, stt.ErrClosed) {
			t.Errorf("Reset after Close: %v", err)
		}
	})
	t.Run("silence alone gives no final", func(t *testing.T) {
		d := newDecoder(t)
		if r := decodeAll(t, d, make([]int16, 16000)); len(r.Words) != 0 {
			t.Errorf("digital silence decoded as %q", r.Text)
		}
	})
}

func TestInterpolatedLMSetDecodes(t *testing.T) {
	needModel(t)
	turtle := filepath.Join(testData, "turtle.lm.bin")
	d, err := NewDecoder(Config{LMs: []WeightedLM{{Path: DefaultLM, Weight: 0.7}, {Path: turtle, Weight: 0.3}}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := decodeAll(t, d, readRaw(t, filepath.Join(testData, "goforward.raw"))).Text; got != "go forward ten meters" {
		t.Errorf("with an interpolated set: %q", got)
	}
}

func TestAdaptationCarriesToAnotherDecoder(t *testing.T) {
	needModel(t)
	pcm := readRaw(t, filepath.Join(testData, "goforward.raw"))
	var _ stt.Adaptive = (*Decoder)(nil)
	learned := newDecoder(t)
	decodeAll(t, learned, pcm)
	state := learned.Adaptation()
	fresh := newDecoder(t)
	prior := fresh.Adaptation()
	if len(state) == 0 || slices.Equal(state, prior) {
		t.Fatalf("adaptation after an utterance %v, the model's prior %v: want a learned estimate", state, prior)
	}
	tests := []struct {
		name    string
		state   []float32
		wantErr error
		want    []float32
	}{
		{"a learned state is restored", state, nil, state},
		{"another model's length is refused", state[:len(state)-1], stt.ErrBadAdaptation, prior},
		{"NaN is refused", append([]float32{float32(math.NaN())}, state[1:]...), stt.ErrBadAdaptation, prior},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder(t)
			if err := d.Adapt(tc.state); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Adapt: %v, want %v", err, tc.wantErr)
			}
			got := d.Adaptation()
			for i := range got {
				if math.Abs(float64(got[i]-tc.want[i])) > 1e-4 {
					t.Fatalf("adaptation %v after Adapt, want %v", got, tc.want)
				}
			}
			if tc.wantErr == nil && decodeAll(t, d, pcm).Text != "go forward ten meters" {
				t.Error("a restored decoder no longer recognises the clip")
			}
		})
	}
	fresh.Close()
	if err := fresh.Adapt(state); !errors.Is(err, stt.ErrClosed) {
		t.Errorf("Adapt after Close: %v, want ErrClosed", err)
	}
}

func TestPoolHandsOutFreshStreams(t *testing.T) {
	needModel(t)
	p, err := NewPool(Config{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pcm := readRaw(t, filepath.Join(testData, "goforward.raw"))
	first := decodeAll(t, d, pcm)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get from an empty pool: %v, want the context's error", err)
	}
	p.Put(d)
	d, err = p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again := decodeAll(t, d, pcm); again.Start != first.Start || again.Text != first.Text {
		t.Errorf("second stream on a pooled decoder: %q from %v, first %q from %v", again.Text, again.Start, first.Text, first.Start)
	}
	p.Put(d)
	p.Close()
	p.Close()
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Get after Close: %v", err)
	}
}

// rssMB reads the process's resident set size.
func rssMB(t testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.Fields(rest)[0])
			return float64(kb) / 1024
		}
	}
	t.Skip("VmRSS not found")
	return 0
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkDecode decodes the librivox clips and goforward on one decoder
// (model loaded once) and reports CPU seconds per audio second (rtf, one
// core) and the resident memory each extra loaded-and-used decoder adds:
// what each concurrent call channel costs (issue 3's target: 40 MB).
func BenchmarkDecode(b *testing.B) {
	// What Earshot ships (the pruned contact-center LM, flat pass, every
	// frame), then the Debian generic model with the binding's defaults.
	b.Run("project", func(b *testing.B) { benchmarkDecode(b, ProjectConfig()) })
	b.Run("default", func(b *testing.B) { benchmarkDecode(b, Config{}) })
	b.Run("no-bestpath", func(b *testing.B) { benchmarkDecode(b, Config{NoBestpath: true}) })
}

func benchmarkDecode(b *testing.B, cfg Config) {
	needModel(b)
	all := clips(b)
	var audioSec float64
	for _, pcm := range all {
		audioSec += audio.PipelineRate.Duration(len(pcm)).Seconds()
	}
	d, err := NewDecoder(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for b.Loop() {
		for _, pcm := range all {
			decodeAll(b, d, pcm)
			d.Reset()
		}
	}
	cpu := cpuSeconds() - cpu0
	b.ReportMetric(cpu/(audioSec*float64(b.N)), "rtf")
	b.StopTimer()

	const extra = 2
	before := rssMB(b)
	pcm := all["goforward"]
	for range extra {
		e, err := NewDecoder(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		decodeAll(b, e, pcm)
	}
	b.ReportMetric((rssMB(b)-before)/extra, "MB_per_stream")
}
