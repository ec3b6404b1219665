package eval

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/earshot/earshot/audio"
)

// Debian's default model files, what plain pocketsphinx_continuous uses.
const (
	DefaultModel = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultLM    = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
	DefaultDict  = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
)

// Baseline is plain `pocketsphinx_continuous -infile` with the default
// Debian model: the reference point Earshot's recognizer is measured
// against. Each Transcribe writes the channel to a temporary 16-bit WAV
// file, runs the program on it and reads its hypothesis lines from stdout.
// Its CPU time is the child's rusage; every run loads the model again, so
// the first call also measures that load once (on a quarter second of
// silence) and reports it as Setup, which RTF leaves out. A Baseline is not
// safe for concurrent use.
type Baseline struct {
	Binary string   // zero = "pocketsphinx_continuous" from PATH
	Model  string   // zero = DefaultModel
	LM     string   // zero = DefaultLM
	Dict   string   // zero = DefaultDict
	Args   []string // extra flags, name/value pairs
	TmpDir string   // zero = os.TempDir()

	setup    time.Duration
	measured bool
}

// Name implements System.
func (b *Baseline) Name() string { return "pocketsphinx_continuous" }

func (b *Baseline) args(wav string) (string, []string) {
	bin := b.Binary
	if bin == "" {
		bin = "pocketsphinx_continuous"
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	a := []string{"-infile", wav, "-hmm", or(b.Model, DefaultModel), "-lm", or(b.LM, DefaultLM),
		"-dict", or(b.Dict, DefaultDict), "-logfn", os.DevNull}
	return bin, append(a, b.Args...)
}

// Transcribe implements System. Errors wrap ErrBaseline and carry the end
// of the program's output.
func (b *Baseline) Transcribe(ctx context.Context, pcm []float32) (Transcript, error) {
	if !b.measured {
		_, cpu, err := b.decode(ctx, make([]float32, audio.PipelineRate/4))
		if err != nil {
			return Transcript{}, err
		}
		b.setup, b.measured = cpu, true
	}
	text, cpu, err := b.decode(ctx, pcm)
	return Transcript{Text: text, ChildCPU: cpu, SelfTimed: true, Setup: min(b.setup, cpu)}, err
}

func (b *Baseline) decode(ctx context.Context, pcm []float32) (string, time.Duration, error) {
	f, err := os.CreateTemp(b.TmpDir, "earshot-eval-*.wav")
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBaseline, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(encodeWAV(pcm)); err != nil {
		f.Close()
		return "", 0, fmt.Errorf("%w: %v", ErrBaseline, err)
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBaseline, err)
	}
	bin, args := b.args(f.Name())
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return "", cpu, fmt.Errorf("%w: %s: %v: %s", ErrBaseline, bin, err, lastLine(errb.String()))
	}
	// One line per utterance; lines that look like log output are not
	// hypotheses (-logfn sends the log elsewhere, this is belt and braces).
	var words []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "INFO:") || strings.HasPrefix(l, "WARN") || strings.HasPrefix(l, "ERROR") {
			continue
		}
		words = append(words, strings.Fields(l)...)
	}
	return strings.Join(words, " "), cpu, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// encodeWAV returns a 16 kHz mono 16-bit PCM WAV file holding pcm.
func encodeWAV(pcm []float32) []byte {
	n := len(pcm)
	b := make([]byte, 44+2*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(audio.PipelineRate))
	binary.LittleEndian.PutUint32(b[28:], uint32(audio.PipelineRate)*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	s := make([]int16, n)
	audio.FloatToPCM16(s, pcm)
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}
