package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/stt"
	"github.com/earshot/earshot/stt/pocketsphinx"
)

// TestVocabularyPlaybookWordAbsentFromCMUdictFiresItsRuleAfterARestart is
// the IT person's path: a product name the dictionary lacks is written into
// a playbook, the engine's dependencies are loaded as `earshot serve` loads
// them, and a voice other than flite's (which supplies the letter-to-sound
// pronunciation) says it.
func TestVocabularyPlaybookWordAbsentFromCMUdictFiresItsRuleAfterARestart(t *testing.T) {
	if pocketsphinx.ProjectConfig().LM == "" {
		t.Skip("the contact-center language model is not built (make lm)")
	}
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing: install the Debian packages espeak-ng and sox (make setup)", tool)
		}
	}
	for _, dict := range []string{pocketsphinx.ProjectConfig().Dict, pocketsphinx.DefaultDict} {
		b, err := os.ReadFile(dict)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("\nnorthwind ")) {
			t.Fatalf("%s already has northwind: the test needs a word it lacks", dict)
		}
	}
	dir := t.TempDir()
	playbook := filepath.Join(dir, "playbook.yaml")
	if err := os.WriteFile(playbook, []byte(`
version: 1
rules:
  - id: northwind_upsell
    any_of:
      - phrase: {speaker: caller, any_of: ["Northwind Unlimited"]}
    actions:
      - hint: {id: northwind_upsell, title: Northwind Unlimited, text: Unlimited data for 30 a month.}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := fs.Parse([]string{"--playbook", playbook}); err != nil {
		t.Fatal(err)
	}
	env := &environment{stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	deps, closeDeps, err := loadDeps(env, af, sf, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDeps()
	rec, err := deps.Recognizers.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer deps.Recognizers.Put(rec)
	d := rec.(*pocketsphinx.Decoder)
	pron, ok := d.Pronunciation("northwind")
	if !ok {
		t.Fatal("northwind is not in the decoder's dictionary after loading the playbook")
	}
	t.Logf("northwind /%s/", pron)

	mono := espeakMono(t, "en-us+f2", "I would like to upgrade to northwind unlimited please")
	res, err := stt.Transcribe(rec, mono, stt.TranscribeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s := deps.Playbook.NewSession(agentassist.SessionConfig{})
	var heard []string
	fired := false
	for _, r := range res {
		heard = append(heard, r.Text)
		for _, a := range s.OnUtterance(insights.Utterance{Speaker: insights.Caller, Start: r.Start, End: r.End, Text: r.Text}, insights.Sentiment{}, false) {
			if a.ID == "northwind_upsell" {
				fired = true
			}
		}
	}
	if !fired {
		t.Errorf("heard %q: the northwind_upsell rule did not fire", strings.Join(heard, " | "))
	}
}

// espeakMono synthesizes text with espeak-ng at 16 kHz, with half a second
// of silence either side.
func espeakMono(t *testing.T, voice, text string) []float32 {
	t.Helper()
	dir := t.TempDir()
	raw, wav := filepath.Join(dir, "say.wav"), filepath.Join(dir, "say.raw")
	if out, err := exec.Command("espeak-ng", "-v", voice, "-s", "150", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	if out, err := exec.Command("sox", raw, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", wav, "pad", "0.5", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	b, err := os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	mono := make([]float32, len(b)/2)
	for i := range mono {
		mono[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
	}
	return mono
}

// BenchmarkVocabularyStart measures what loading one recognizer costs with
// the shipped playbook and KB plus 200 phrases of words no dictionary has
// (each run pronounces them afresh), against loading it without any
// vocabulary: go test -run '^$' -bench VocabularyStart ./cmd/earshot/
func BenchmarkVocabularyStart(b *testing.B) {
	base := pocketsphinx.ProjectConfig()
	if base.LM == "" {
		b.Skip("the contact-center language model is not built (make lm)")
	}
	env := &environment{stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	af := addAssistFlags(fs)
	pb, kb, err := loadAssist(af)
	if err != nil {
		b.Fatal(err)
	}
	shipped := recognizerVocabulary(env, pb, kb)
	for _, tc := range []struct {
		name  string
		vocab func(run int) []string
	}{
		{"none", func(int) []string { return nil }},
		{"shipped+200new", func(run int) []string {
			v := append([]string(nil), shipped...)
			for i := range 200 {
				v = append(v, "zorv"+letters(run)+letters(i)+" plan")
			}
			return v
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				cfg := base
				cfg.Vocabulary = tc.vocab(i)
				d, err := pocketsphinx.NewDecoder(cfg)
				if err != nil {
					b.Fatal(err)
				}
				d.Close()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/start")
		})
	}
}

// letters spells n in base 26, so every run adds words never pronounced before.
func letters(n int) string {
	s := ""
	for {
		s = string(rune('a'+n%26)) + s
		n /= 26
		if n == 0 {
			return s
		}
	}
}
