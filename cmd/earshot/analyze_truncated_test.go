package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeWarnsAboutAFileCutShort: a recording cut off (a copy that
// stopped, a full disk) is still analyzed up to the cut, and the user is
// told which file and that its end is missing.
func TestAnalyzeWarnsAboutAFileCutShort(t *testing.T) {
	dir := t.TempDir()
	mp3, err := os.ReadFile(filepath.Join("..", "..", "samples", "calls", "cancellation.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	cutMP3 := filepath.Join(dir, "cut.mp3")
	// 40 kbit/s MPEG-2 at 16 kHz: 180-byte frames, so 100 kB is 20 s and
	// ends 100 bytes into frame 556.
	os.WriteFile(cutMP3, mp3[:100_000], 0o600)
	good := filepath.Join(dir, "good.wav")
	writeWAV(t, good, 2, 4)
	wav, _ := os.ReadFile(good)
	cutWAV := filepath.Join(dir, "cut.wav")
	os.WriteFile(cutWAV, wav[:len(wav)/2+1], 0o600)

	for _, tc := range []struct {
		file       string
		minSeconds float64
	}{{cutMP3, 15}, {cutWAV, 1.9}} {
		t.Run(filepath.Base(tc.file)+" is analyzed up to the cut with a warning naming it", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run([]string{"analyze", "--no-stt", tc.file}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
			}
			warn := stderr.String()
			if !strings.Contains(warn, "warning: "+tc.file) || !strings.Contains(warn, "truncated") || !strings.Contains(warn, "before the cut were analyzed") {
				t.Errorf("stderr does not warn that %s is truncated:\n%s", tc.file, warn)
			}
			var doc struct {
				File      string  `json:"file"`
				DurationS float64 `json:"duration_s"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatalf("output: %v\n%s", err, stdout.String())
			}
			if doc.File != tc.file || doc.DurationS < tc.minSeconds {
				t.Errorf("analysis of %q covers %.1f s, want at least %.1f s", doc.File, doc.DurationS, tc.minSeconds)
			}
		})
	}
	t.Run("a whole file gets no warning", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"analyze", "--no-stt", good}, &stdout, &stderr); code != 0 || strings.Contains(stderr.String(), "warning") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
		}
	})
}
