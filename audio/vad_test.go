package audio

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// frameLabels marks frame i as speech when its centre lies inside one of
// segs; n is the number of frames.
func frameLabels(segs []Segment, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		c := time.Duration(i)*FrameDuration + FrameDuration/2
		for _, s := range segs {
			if c >= s.Start && c < s.End {
				out[i] = true
				break
			}
		}
	}
	return out
}

// frameF1 is the frame-level F1 of got against truth, with precision and
// recall.
func frameF1(got, truth []Segment, n int) (f1, precision, recall float64) {
	g, w := frameLabels(got, n), frameLabels(truth, n)
	var tp, fp, fn float64
	for i := range g {
		switch {
		case g[i] && w[i]:
			tp++
		case g[i]:
			fp++
		case w[i]:
			fn++
		}
	}
	if tp == 0 {
		if fp == 0 && fn == 0 {
			return 1, 1, 1
		}
		return 0, 0, 0
	}
	precision, recall = tp/(tp+fp), tp/(tp+fn)
	return 2 * tp / (2*tp + fp + fn), precision, recall
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// goForwardTruth is where "go forward ten meters" is spoken in goforward.raw,
// read off its spectrogram: the low-frequency thumps after "meters" are the
// microphone, not speech.
var goForwardTruth = Segment{Start: secs(0.50), End: secs(2.12)}

// placed puts x into silence of total length n at offset at (samples).
func placed(x []float32, at, n int) []float32 {
	out := make([]float32, n)
	copy(out[at:], x)
	return out
}

// bandNoise is white noise band-passed to the telephone band (300–3400 Hz)
// plus 50 Hz mains hum with its odd harmonics: the steady line noise of an
// analogue phone line.
func bandNoise(levelDB float64, n int, seed uint64) []float32 {
	w := whiteNoise(0, n+64, seed)
	lp := lowPassTaps(63, 3400/float64(PipelineRate))
	hp := lowPassTaps(63, 300/float64(PipelineRate))
	out := make([]float32, n)
	for i := range out {
		var a, b float64
		for k := range lp {
			a += lp[k] * float64(w[i+k])
			b += hp[k] * float64(w[i+k])
		}
		hum := 0.0
		for h := 1; h <= 7; h += 2 {
			hum += 0.3 / float64(h) * math.Sin(2*math.Pi*50*float64(h)*float64(i)/float64(PipelineRate))
		}
		out[i] = float32(a - b + 0.05*hum)
	}
	return mixNoise(out, out, math.Pow(10, (levelDB-rmsDB(out))/20)-1)
}

func TestDetectSpeechOnSyntheticSignals(t *testing.T) {
	sec := int(PipelineRate)
	gf := readRaw16(t, goForward)
	// goforward.raw placed at 1 s in 5 s of silence: truth shifts by 1 s.
	gfAt := placed(gf, sec, 5*sec)
	gfTruth := []Segment{{goForwardTruth.Start + time.Second, goForwardTruth.End + time.Second}}
	vowel := harmonic(200, 0.2, 1, 15, sec)

	tests := []struct {
		name  string
		x     []float32
		truth []Segment
		minF1 float64 // 0: no speech at all is expected
	}{
		{name: "digital silence holds no speech", x: make([]float32, 5*sec)},
		{name: "white noise at -60 dBFS holds no speech", x: whiteNoise(-60, 5*sec, 21)},
		{name: "white noise at -40 dBFS holds no speech", x: whiteNoise(-40, 5*sec, 22)},
		{name: "white noise at -20 dBFS holds no speech", x: whiteNoise(-20, 5*sec, 23)},
		{
			name: "hiss switched on mid-stream is not speech",
			x:    append(whiteNoise(-70, 2*sec, 24), whiteNoise(-30, 4*sec, 25)...),
		},
		{name: "telephone line noise with mains hum holds no speech", x: bandNoise(-35, 5*sec, 26)},
		{
			name:  "a one-second 200 Hz vowel is one segment",
			x:     placed(vowel, sec, 3*sec),
			truth: []Segment{{time.Second, 2 * time.Second}},
			minF1: 0.95,
		},
		{
			// As recorded, with its own background and the microphone
			// thumps after "meters", which are not speech.
			name:  "clean speech is found and the thumps after it are not",
			x:     gf,
			truth: []Segment{goForwardTruth},
			minF1: 0.90,
		},
		{
			name:  "speech in white noise at 10 dB SNR is found",
			x:     mixNoise(gfAt, whiteNoise(-30, 5*sec, 27), gainFor(gf, whiteNoise(-30, 5*sec, 27), 10)),
			truth: gfTruth,
			minF1: 0.90,
		},
		{
			name:  "speech over telephone line noise at 10 dB SNR is found",
			x:     mixNoise(gfAt, bandNoise(-30, 5*sec, 28), gainFor(gf, bandNoise(-30, 5*sec, 28), 10)),
			truth: gfTruth,
			minF1: 0.90,
		},
		{
			name: "a 200 ms pause between words is bridged",
			x: func() []float32 {
				x := placed(vowel[:sec/2], sec/2, 3*sec)
				copy(x[sec+sec/5:], vowel[:sec/2])
				return x
			}(),
			truth: []Segment{{500 * time.Millisecond, 1700 * time.Millisecond}},
			minF1: 0.95,
		},
		{
			name: "a 700 ms pause splits two segments",
			x: func() []float32 {
				x := placed(vowel[:sec/2], sec/2, 3*sec)
				copy(x[sec+7*sec/10:], vowel[:sec/2])
				return x
			}(),
			truth: []Segment{{500 * time.Millisecond, time.Second}, {1700 * time.Millisecond, 2200 * time.Millisecond}},
			minF1: 0.95,
		},
		{
			name:  "a 60 ms click is too short to be speech",
			x:     placed(vowel[:sec*6/100], sec, 3*sec),
			truth: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DetectSpeech(tc.x, VADConfig{})
			n := len(tc.x) / FrameSize
			if tc.minF1 == 0 {
				if len(got) > 0 {
					t.Errorf("found speech %v in a signal without any", got)
				}
				return
			}
			if len(got) != len(tc.truth) {
				t.Errorf("found %d segments %v, want %d %v", len(got), got, len(tc.truth), tc.truth)
			}
			f1, p, r := frameF1(got, tc.truth, n)
			t.Logf("segments %v: F1 %.3f (precision %.3f, recall %.3f)", got, f1, p, r)
			if f1 < tc.minF1 {
				t.Errorf("frame F1 %.3f, want ≥ %.2f", f1, tc.minF1)
			}
		})
	}
}

// pushAll streams x through an extractor and a VAD and returns every event
// with the offset of the frame that produced it.
type timedEvent struct {
	at time.Duration
	ev VADEvent
}

func pushAll(t *testing.T, x []float32, cfg VADConfig) (events []timedEvent, speaking []bool) {
	t.Helper()
	ex := NewFeatureExtractor(cfg.Features)
	v := NewVAD(cfg)
	for i := 0; i+FrameSize <= len(x); i += FrameSize {
		f, err := ex.Extract(x[i : i+FrameSize])
		if err != nil {
			t.Fatal(err)
		}
		at := PipelineRate.Duration(i)
		if ev := v.Push(f, at); ev.Kind != VADNone {
			events = append(events, timedEvent{at, ev})
		}
		speaking = append(speaking, v.Speaking())
	}
	end := PipelineRate.Duration(len(x))
	if ev := v.Flush(end); ev.Kind != VADNone {
		events = append(events, timedEvent{end, ev})
	}
	return events, speaking
}

func TestVADStreamingEvents(t *testing.T) {
	sec := int(PipelineRate)
	vowel := harmonic(150, 0.2, 1, 20, sec)
	cfg := VADConfig{}
	def := cfg.withDefaults()

	t.Run("a segment starts before the frame that confirms it and ends a hangover after its last speech", func(t *testing.T) {
		x := placed(vowel, sec, 3*sec) // speech from 1 s to 2 s
		events, _ := pushAll(t, x, cfg)
		if len(events) != 2 || events[0].ev.Kind != SpeechStart || events[1].ev.Kind != SpeechEnd {
			t.Fatalf("events %v, want one SpeechStart then one SpeechEnd", events)
		}
		start, end := events[0], events[1]
		if d := start.ev.Segment.Start - time.Second; d < -FrameDuration || d > FrameDuration {
			t.Errorf("SpeechStart.Segment.Start %v, want 1s ± one frame", start.ev.Segment.Start)
		}
		if start.at < start.ev.Segment.Start+def.MinSpeech-2*FrameDuration {
			t.Errorf("SpeechStart reported at %v, before MinSpeech (%v) of speech after %v", start.at, def.MinSpeech, start.ev.Segment.Start)
		}
		if end.ev.Segment.Start != start.ev.Segment.Start {
			t.Errorf("SpeechEnd segment starts at %v, SpeechStart said %v", end.ev.Segment.Start, start.ev.Segment.Start)
		}
		if d := end.ev.Segment.End - 2*time.Second; d < -FrameDuration || d > FrameDuration {
			t.Errorf("SpeechEnd.Segment.End %v, want 2s ± one frame (before the hangover)", end.ev.Segment.End)
		}
		if lag := end.at + FrameDuration - end.ev.Segment.End; lag < def.Hangover-FrameDuration || lag > def.Hangover+FrameDuration {
			t.Errorf("SpeechEnd came %v after the speech ended, want the hangover %v", lag, def.Hangover)
		}
	})

	t.Run("speaking is true exactly between SpeechStart and SpeechEnd", func(t *testing.T) {
		x := placed(vowel, sec, 3*sec)
		events, speaking := pushAll(t, x, cfg)
		if len(events) != 2 {
			t.Fatalf("events %v, want two", events)
		}
		from, to := int(events[0].at/FrameDuration), int(events[1].at/FrameDuration)
		for i, s := range speaking {
			if want := i >= from && i < to; s != want {
				t.Fatalf("frame %d: Speaking() = %v, want %v (segment open from frame %d to %d)", i, s, want, from, to)
			}
		}
	})

	t.Run("flush closes a segment still open at the end of the stream", func(t *testing.T) {
		x := placed(vowel, 2*sec, 3*sec) // speech runs to the very end
		events, _ := pushAll(t, x, cfg)
		if len(events) != 2 || events[1].ev.Kind != SpeechEnd {
			t.Fatalf("events %v, want SpeechStart then SpeechEnd from Flush", events)
		}
		if events[1].at != 3*time.Second || events[1].ev.Segment.End > 3*time.Second || events[1].ev.Segment.End < 3*time.Second-FrameDuration {
			t.Errorf("flushed segment %v at %v, want it to end at the 3 s end of stream", events[1].ev.Segment, events[1].at)
		}
	})

	t.Run("continued speech is open at once and closes a hangover after it ends", func(t *testing.T) {
		// A stream resumed at 1 s in the middle of speech that lasts to
		// 1.5 s, then silence; the background was digital silence.
		x := placed(vowel[:sec/2], 0, sec)
		v := NewVAD(cfg)
		ex := NewFeatureExtractor(cfg.Features)
		ex.ContinueNoiseFloor(-90)
		ev := v.ContinueSpeech(time.Second)
		if ev.Kind != SpeechStart || ev.Segment.Start != time.Second || !v.Speaking() {
			t.Fatalf("ContinueSpeech returned %v (speaking %v), want SpeechStart at 1s and an open segment", ev, v.Speaking())
		}
		var end VADEvent
		for i := 0; i+FrameSize <= len(x); i += FrameSize {
			f, err := ex.Extract(x[i : i+FrameSize])
			if err != nil {
				t.Fatal(err)
			}
			if e := v.Push(f, time.Second+time.Duration(i/FrameSize)*FrameDuration); e.Kind != VADNone {
				end = e
			}
		}
		if end.Kind != SpeechEnd || end.Segment.Start != time.Second {
			t.Fatalf("got %v, want the continued segment closed by a SpeechEnd", end)
		}
		if d := end.Segment.End - 1500*time.Millisecond; d < -2*FrameDuration || d > FrameDuration {
			t.Errorf("continued segment ends at %v, want 1.5s", end.Segment.End)
		}
	})

	t.Run("flush without an open segment reports nothing and the VAD starts afresh", func(t *testing.T) {
		v := NewVAD(cfg)
		if ev := v.Flush(time.Second); ev.Kind != VADNone {
			t.Errorf("Flush on a silent VAD returned %v", ev)
		}
		if v.Speaking() {
			t.Error("Speaking() after Flush")
		}
	})
}

func TestVADEventKindNames(t *testing.T) {
	for k, want := range map[VADEventKind]string{VADNone: "none", SpeechStart: "speech-start", SpeechEnd: "speech-end", 9: "VADEventKind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}

// callTruth is the ground truth the sample generator writes next to each
// call.
type callTruth struct {
	Segments []struct {
		Speaker string  `json:"speaker"`
		Start   float64 `json:"start"`
		End     float64 `json:"end"`
		Text    string  `json:"text"`
	} `json:"segments"`
	DurationS       float64 `json:"duration_s"`
	CallerPhoneBand bool    `json:"caller_phone_band"`
}

// sampleChannel is one speaker channel of a sample call with its truth.
type sampleChannel struct {
	name      string // e.g. "cancellation/agent"
	x         []float32
	truth     []Segment
	phoneBand bool
}

// samplesDir is a variable so a tuning run can point it at a snapshot.
var samplesDir = "../samples/calls"

// sampleCache keeps the decoded sample calls for the whole test binary: the
// VAD and pitch tests both need them and decoding dominates their cost.
var sampleCache struct {
	sync.Mutex
	dir      string
	channels []sampleChannel
}

// sampleCallChannels decodes every sample call with LoadCall and pairs each
// channel with its ground-truth segments. It returns nothing when the
// samples have not been generated.
func sampleCallChannels(t *testing.T) []sampleChannel {
	t.Helper()
	sampleCache.Lock()
	defer sampleCache.Unlock()
	if sampleCache.dir == samplesDir && sampleCache.channels != nil {
		return sampleCache.channels
	}
	chs := loadSampleCalls(t)
	sampleCache.dir, sampleCache.channels = samplesDir, chs
	return chs
}

func loadSampleCalls(t *testing.T) []sampleChannel {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	type call struct {
		name          string
		truth         callTruth
		agent, caller []float32
		err           error
	}
	var calls []*call
	for _, js := range files {
		mp3 := strings.TrimSuffix(js, ".json") + ".mp3"
		if _, err := os.Stat(mp3); err != nil {
			continue
		}
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		c := &call{name: strings.TrimSuffix(filepath.Base(js), ".json")}
		if err := json.Unmarshal(b, &c.truth); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		calls = append(calls, c)
	}
	// MP3 decoding dominates these tests (seconds per call under -race), so
	// the calls are decoded two at a time; the test waits for every decoder
	// before it reads a result.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c.agent, c.caller, c.err = LoadCall(filepath.Join(samplesDir, c.name+".mp3"))
		}()
	}
	wg.Wait()
	var out []sampleChannel
	for _, c := range calls {
		if c.err != nil {
			t.Fatalf("%s: %v", c.name, c.err)
		}
		for _, ch := range []struct {
			speaker string
			x       []float32
		}{{"agent", c.agent}, {"caller", c.caller}} {
			var segs []Segment
			for _, s := range c.truth.Segments {
				if s.Speaker == ch.speaker {
					segs = append(segs, Segment{secs(s.Start), secs(s.End)})
				}
			}
			out = append(out, sampleChannel{
				name:      c.name + "/" + ch.speaker,
				x:         ch.x,
				truth:     segs,
				phoneBand: ch.speaker == "caller" && c.truth.CallerPhoneBand,
			})
		}
	}
	if out == nil {
		out = []sampleChannel{} // cached as "looked, found none"
	}
	return out
}

func TestVADMatchesSampleCallTruth(t *testing.T) {
	channels := sampleCallChannels(t)
	if len(channels) == 0 {
		t.Skipf("no sample calls in %s (make samples generates them)", samplesDir)
	}
	var summary []string
	for _, ch := range channels {
		t.Run(ch.name+" has frame F1 of at least 0.90", func(t *testing.T) {
			got := DetectSpeech(ch.x, VADConfig{})
			n := (len(ch.x) + FrameSize - 1) / FrameSize
			f1, p, r := frameF1(got, ch.truth, n)
			t.Logf("%s: F1 %.3f (precision %.3f, recall %.3f), %d segments found, %d in truth", ch.name, f1, p, r, len(got), len(ch.truth))
			summary = append(summary, fmt.Sprintf("%-32s F1 %.3f  P %.3f  R %.3f", ch.name, f1, p, r))
			if f1 < 0.90 {
				t.Errorf("frame F1 %.3f, want ≥ 0.90", f1)
			}
		})
	}
	t.Logf("VAD frame F1 per sample channel:\n%s", strings.Join(summary, "\n"))
}
