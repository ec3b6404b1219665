package pocketsphinx

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// espeak synthesizes text with espeak-ng (a formant voice, not flite's, so
// the letter-to-sound pronunciation is not tested against its own voice)
// and returns 16 kHz s16 samples. The test is skipped when espeak-ng is
// missing (make setup installs it).
func espeak(t testing.TB, voice, text string) []int16 {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng missing: install the Debian package espeak-ng (make setup) to synthesize the test sentence")
	}
	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox missing: install the Debian package sox (make setup)")
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "say.wav")
	if out, err := exec.Command("espeak-ng", "-v", voice, "-s", "150", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	wav := filepath.Join(dir, "say16k.wav")
	// Half a second of silence either side, as an utterance has.
	if out, err := exec.Command("sox", raw, "-r", "16000", "-c", "1", "-b", "16", wav, "pad", "0.5", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	return readWAV(t, wav)
}

// vocabConfig is the project's decoding configuration with phrases added.
func vocabConfig(t testing.TB, phrases ...string) Config {
	t.Helper()
	needModel(t)
	c := ProjectConfig()
	c.Vocabulary = phrases
	return c
}

func TestVocabularyWordAbsentFromTheDictionaryIsAddedAndRecognized(t *testing.T) {
	c := vocabConfig(t, "northwind unlimited", "upgrade to northwind unlimited")
	plain, err := NewDecoder(ProjectConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if p, ok := plain.Pronunciation("northwind"); ok {
		t.Fatalf("northwind is already in the dictionary (/%s/): the test needs a word that is not", p)
	}
	d, err := NewDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, ok := d.Pronunciation("northwind")
	if !ok {
		t.Fatal("northwind is not in the decoder's dictionary after start")
	}
	t.Logf("northwind /%s/", p)
	// A word the dictionary had keeps its pronunciation.
	if a, b := plainPron(t, plain, "unlimited"), plainPron(t, d, "unlimited"); a != b {
		t.Errorf("unlimited was /%s/, now /%s/", a, b)
	}

	// Two espeak-ng voices: the female one is heard with the whole phrase;
	// with the male one "unlimited" is misheard ("on the dude": acoustics,
	// the phrase model's weight from 0.05 to 0.2 changed nothing), but the
	// new word itself is still recognized.
	for _, tc := range []struct{ voice, want string }{
		{"en-us+f2", "upgrade to northwind unlimited"},
		{"en-us+m3", "northwind"},
	} {
		pcm := espeak(t, tc.voice, "I would like to upgrade to northwind unlimited please")
		got := decodeAll(t, d, pcm).Text
		if !strings.Contains(got, tc.want) {
			t.Errorf("espeak-ng %s: %q, want it to contain %q", tc.voice, got, tc.want)
		}
		if base := decodeAll(t, plain, pcm).Text; strings.Contains(base, "northwind") {
			t.Errorf("espeak-ng %s: the decoder without the vocabulary heard %q", tc.voice, base)
		}
	}
}

func plainPron(t testing.TB, d *Decoder, w string) string {
	t.Helper()
	p, ok := d.Pronunciation(w)
	if !ok {
		t.Fatalf("%q not in the dictionary", w)
	}
	return p
}

func TestVocabularyRefusesBadEntriesNamingThem(t *testing.T) {
	long := strings.Repeat("word ", MaxVocabularyWords+1)
	many := make([]string, MaxVocabulary+1)
	for i := range many {
		many[i] = "plan"
	}
	for _, tc := range []struct {
		name  string
		vocab []string
		want  string
	}{
		{"a phrase with punctuation is refused", []string{"fine", "north-wind"}, `"north-wind"`},
		{"a phrase of too many words is refused", []string{long}, "more than 16 words"},
		{"a word of digits only is refused", []string{"plan 42"}, `"42" has no letter`},
		{"more than the maximum of phrases is refused", many, "2001 phrases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseVocabulary(tc.vocab)
			if !errors.Is(err, ErrVocabulary) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrVocabulary naming %s", err, tc.want)
			}
		})
	}
}

func TestLetterToSoundGivesModelPhonesPerWord(t *testing.T) {
	if _, err := exec.LookPath(LTSCommand); err != nil {
		t.Skipf("%s missing: install the Debian package flite (make setup)", LTSCommand)
	}
	prons, err := runLTS(t.Context(), []string{"northwind", "contoso", "fabrikam", "i'm", "5g"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"N AO R TH W IH N D", "K AH N T OW S OW", "F AE B R AH K AH M", "AY M", "F AY V JH IY"}
	for i := range want {
		if prons[i] != want[i] {
			t.Errorf("word %d: /%s/, want /%s/", i, prons[i], want[i])
		}
	}
}

func TestPhraseModelIsReadByTheLibrary(t *testing.T) {
	needModel(t)
	path, err := writePhraseLM(t.TempDir(), [][]string{{"go", "forward"}, {"go", "back"}, {"forward"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	d, err := NewDecoder(Config{LMs: []WeightedLM{{Path: DefaultLM, Weight: 0.9}, {Path: path, Weight: 0.1}}})
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	d.Close()
}
