package pocketsphinx

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// librivox returns the five librivox clips in file order with their
// reference transcripts.
func librivox(t testing.TB) (pcm [][]int16, refs [][]string) {
	f, err := os.Open(filepath.Join(testData, "librivox", "transcription"))
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^<s> (.*) </s> \((.*)\)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		pcm = append(pcm, readWAV(t, filepath.Join(testData, "librivox", m[2]+".wav")))
		refs = append(refs, strings.Fields(m[1]))
	}
	return pcm, refs
}

// editDistance is the word-level Levenshtein distance.
func editDistance(ref, hyp []string) int {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)]
}

// TestLibrivoxAccuracy measures word error rate on the librivox clips, one
// clip per utterance, with the CMN estimate reset for every clip (a new
// speaker each time) and carried from clip to clip (one speaker, as on a
// call channel). The bound is plain pocketsphinx_continuous's 0.37 from
// FACTS.md.
func TestLibrivoxAccuracy(t *testing.T) {
	needModel(t)
	pcm, refs := librivox(t)
	var nref int
	for _, r := range refs {
		nref += len(r)
	}
	for _, tt := range []struct {
		name  string
		cfg   Config
		reset bool
	}{
		{"fast search, CMN carried across utterances", Config{}, false},
		{"fast search, CMN reset for every utterance", Config{}, true},
		{"with the flat second pass, CMN carried", Config{Fwdflat: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Fwdflat && testing.Short() {
				t.Skip("the flat-pass comparison is informational; skipped with -short")
			}
			d, err := NewDecoder(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			errs := 0
			for i := range pcm {
				hyp := strings.Fields(decodeAll(t, d, pcm[i]).Text)
				errs += editDistance(refs[i], hyp)
				if tt.reset {
					d.Reset()
				}
				if testing.Verbose() && !slices.Equal(hyp, refs[i]) {
					t.Logf("hyp %q", strings.Join(hyp, " "))
				}
			}
			wer := float64(errs) / float64(nref)
			t.Logf("WER %.3f (%d errors / %d words)", wer, errs, nref)
			if wer > 0.37 {
				t.Errorf("WER %.3f worse than plain pocketsphinx_continuous (0.35–0.37)", wer)
			}
		})
	}
}
