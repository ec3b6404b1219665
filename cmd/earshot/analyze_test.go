package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/audio"
)

// writeWAV writes a 16-bit WAV of the given channels of silence-plus-tone.
func writeWAV(t *testing.T, path string, channels int, seconds float64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := int(seconds*16000) * channels
	s := make([]float32, n)
	if err := audio.EncodeWAV(f, audio.Format{Rate: 16000, Channels: channels}, s); err != nil {
		t.Fatal(err)
	}
}

// TestAnalyzeBadInput is issue 2's bad-input promise: each bad file gets a
// clear error naming it and the reason, the exit code is non-zero, and the
// good files are still analyzed.
func TestAnalyzeBadInput(t *testing.T) {
	dir := t.TempDir()
	notAudio := filepath.Join(dir, "notes.txt")
	os.WriteFile(notAudio, []byte("this is not audio at all, just words\n"), 0o644)
	empty := filepath.Join(dir, "empty.wav")
	os.WriteFile(empty, nil, 0o644)
	mono := filepath.Join(dir, "mono.wav")
	writeWAV(t, mono, 1, 1)
	good := filepath.Join(dir, "good.wav")
	writeWAV(t, good, 2, 2)
	truncated := filepath.Join(dir, "truncated.wav")
	b, _ := os.ReadFile(good)
	os.WriteFile(truncated, b[:30], 0o644)
	missing := filepath.Join(dir, "missing.mp3")
	sample := filepath.Join("..", "..", "samples", "calls", "tech_support.mp3")

	var stdout, stderr bytes.Buffer
	code := run([]string{"analyze", "--no-stt", notAudio, empty, mono, truncated, missing, good, sample}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	errs := stderr.String()
	for _, c := range []struct{ file, reason string }{
		{notAudio, "not a supported audio file"},
		{empty, ""},
		{mono, "stereo"},
		{truncated, "truncated"},
		{missing, "no such file"},
	} {
		t.Run("the error for "+filepath.Base(c.file)+" names the file and the reason", func(t *testing.T) {
			for _, line := range strings.Split(errs, "\n") {
				if strings.Contains(line, c.file) && strings.Contains(line, c.reason) {
					return
				}
			}
			t.Errorf("no error line names %s with %q:\n%s", c.file, c.reason, errs)
		})
	}
	t.Run("the good files are still analyzed, one JSON document each", func(t *testing.T) {
		dec := json.NewDecoder(&stdout)
		var files []string
		for dec.More() {
			var doc struct {
				File      string  `json:"file"`
				DurationS float64 `json:"duration_s"`
				Dynamics  struct {
					DeadAir []struct{ Start, End float64 } `json:"dead_air"`
				} `json:"dynamics"`
			}
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			files = append(files, doc.File)
			if doc.File == sample && len(doc.Dynamics.DeadAir) != 1 {
				t.Errorf("tech_support dead air %v, want one stretch", doc.Dynamics.DeadAir)
			}
		}
		if strings.Join(files, ",") != good+","+sample {
			t.Errorf("analyzed %v, want %s and %s", files, good, sample)
		}
	})
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"no command prints usage and exits 2", nil, 2},
		{"an unknown command exits 2", []string{"frobnicate"}, 2},
		{"analyze without files exits 2", []string{"analyze"}, 2},
		{"an unknown format exits 2", []string{"analyze", "--format", "xml", "x.wav"}, 2},
		{"help exits 0", []string{"--help"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := run(c.args, &out, &errb); got != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", got, c.code, errb.String())
			}
		})
	}
}
