package pocketsphinx

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <pocketsphinx.h>
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// ErrVocabulary means a Config.Vocabulary entry was refused: too many
// entries, an entry too long or with characters no word has, or a word no
// pronunciation could be found for. The error names the entry.
var ErrVocabulary = errors.New("pocketsphinx: vocabulary")

// Bounds on Config.Vocabulary. They keep start-up under a few seconds (one
// letter-to-sound run for all missing words, a phrase model of a few
// thousand n-grams) and keep a pasted document from becoming a "phrase".
const (
	MaxVocabulary       = 2000 // phrases
	MaxVocabularyWords  = 16   // words per phrase, as the playbook allows
	MaxVocabularyLength = 120  // bytes per phrase
	maxWordLength       = 40   // bytes per word
)

// DefaultPhraseWeight is the interpolation weight of the phrase model
// against the main language model: enough that a playbook phrase's words
// follow each other (P(unlimited | northwind) is about half the weight),
// little enough that the main model's probabilities drop by 5 % (0.02 in
// log10), which is below the language weight's resolution.
const DefaultPhraseWeight = 0.05

// LTSCommand is the letter-to-sound program: flite's t2p, which prints
// CMU phones for text (its CMU lexicon, then its letter-to-sound rules for
// words outside it). Debian package flite.
var LTSCommand = "t2p"

// vocabulary is Config.Vocabulary checked and split into words.
type vocabulary struct {
	phrases [][]string
	words   []string // distinct, sorted
}

// CheckPhrase reports whether Config.Vocabulary can hold phrase: an error
// wrapping ErrVocabulary that names it, or nil. The count of phrases is
// checked by NewDecoder.
func CheckPhrase(phrase string) error {
	_, err := parseVocabulary([]string{phrase})
	return err
}

// parseVocabulary checks entries against the bounds. Entries are expected
// in the form rules match (lower case, single spaces); other case and
// spacing are normalized, punctuation is refused with the entry named.
func parseVocabulary(entries []string) (vocabulary, error) {
	var v vocabulary
	if len(entries) > MaxVocabulary {
		return v, fmt.Errorf("%w: %d phrases, at most %d", ErrVocabulary, len(entries), MaxVocabulary)
	}
	seen := make(map[string]bool)
	for _, e := range entries {
		if len(e) > MaxVocabularyLength {
			return v, fmt.Errorf("%w: phrase %q is longer than %d bytes", ErrVocabulary, e, MaxVocabularyLength)
		}
		words := strings.Fields(strings.ToLower(e))
		if len(words) == 0 {
			continue
		}
		if len(words) > MaxVocabularyWords {
			return v, fmt.Errorf("%w: phrase %q has more than %d words", ErrVocabulary, e, MaxVocabularyWords)
		}
		for _, w := range words {
			if err := checkWord(w); err != nil {
				return v, fmt.Errorf("%w: phrase %q: %v", ErrVocabulary, e, err)
			}
			if !seen[w] {
				seen[w] = true
				v.words = append(v.words, w)
			}
		}
		v.phrases = append(v.phrases, words)
	}
	sort.Strings(v.words)
	return v, nil
}

func checkWord(w string) error {
	if len(w) > maxWordLength {
		return fmt.Errorf("word %q is longer than %d bytes", w, maxWordLength)
	}
	letters := 0
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z':
			letters++
		case r >= '0' && r <= '9', r == '\'':
		default:
			return fmt.Errorf("word %q has %q: words are lower-case letters, digits and apostrophes", w, r)
		}
	}
	if letters == 0 {
		return fmt.Errorf("word %q has no letter", w)
	}
	return nil
}

// modelPhones is the phone set of the Debian en-us acoustic model (its
// mdef), which is CMUdict's without stress.
var modelPhones = map[string]bool{}

func init() {
	for _, p := range strings.Fields("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH") {
		modelPhones[p] = true
	}
}

// flitePhone maps one of flite's phones (lower-case CMU with stress digits,
// "ax" for schwa, "pau" for silence) to the model's; "" drops it.
func flitePhone(p string) (string, bool) {
	p = strings.TrimRight(p, "012")
	switch p {
	case "pau", "":
		return "", true
	case "ax":
		return "AH", true
	case "axr":
		return "ER", true
	}
	p = strings.ToUpper(p)
	return p, modelPhones[p]
}

var (
	ltsMu    sync.Mutex
	ltsCache = map[string]string{} // word -> model phones; shared by a pool's decoders
)

// pronounce returns model phones for each word, from the cache or from one
// run of LTSCommand over all the others (each word a sentence of its own,
// so flite puts a pause between them). It fails naming the first word it
// has no pronunciation for.
func pronounce(ctx context.Context, words []string) (map[string]string, error) {
	ltsMu.Lock()
	defer ltsMu.Unlock()
	out := make(map[string]string, len(words))
	var todo []string
	for _, w := range words {
		if p, ok := ltsCache[w]; ok {
			out[w] = p
		} else {
			todo = append(todo, w)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	prons, err := runLTS(ctx, todo)
	if err != nil && len(todo) > 1 {
		// A word that splits into two sentences (or none) shifts every
		// later one: ask word by word instead.
		prons = make([]string, len(todo))
		for i, w := range todo {
			p, err := runLTS(ctx, []string{w})
			if err != nil {
				return nil, err
			}
			prons[i] = p[0]
		}
	} else if err != nil {
		return nil, err
	}
	for i, w := range todo {
		ltsCache[w] = prons[i]
		out[w] = prons[i]
	}
	return out, nil
}

func runLTS(ctx context.Context, words []string) ([]string, error) {
	if _, err := exec.LookPath(LTSCommand); err != nil {
		return nil, fmt.Errorf("%w: %q is not in the dictionary and the letter-to-sound program %s is missing (Debian package flite): %v",
			ErrVocabulary, words[0], LTSCommand, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	text := strings.Join(words, ". ") + "."
	cmd := exec.CommandContext(ctx, LTSCommand, text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q: %v: %s", ErrVocabulary, LTSCommand, shortText(text), err, strings.TrimSpace(stderr.String()))
	}
	var prons []string
	var cur []string
	for _, f := range append(strings.Fields(string(raw)), "pau") {
		if strings.TrimRight(f, "012") == "pau" {
			if len(cur) > 0 {
				prons = append(prons, strings.Join(cur, " "))
				cur = nil
			}
			continue
		}
		p, ok := flitePhone(f)
		if !ok {
			return nil, fmt.Errorf("%w: %s gave phone %q, which the acoustic model lacks, in %q", ErrVocabulary, LTSCommand, f, shortText(text))
		}
		cur = append(cur, p)
	}
	if len(prons) != len(words) {
		return nil, fmt.Errorf("%w: %s gave %d pronunciations for %d words in %q", ErrVocabulary, LTSCommand, len(prons), len(words), shortText(text))
	}
	return prons, nil
}

func shortText(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// writePhraseLM writes a bigram ARPA model of the phrases (each a sentence)
// to a new file in dir and returns its path. Bigrams are discounted by a
// constant 0.5 and back off to unigrams with weights that make every
// history's distribution sum to one.
func writePhraseLM(dir string, phrases [][]string) (string, error) {
	const discount = 0.5
	uni := map[string]float64{}
	bi := map[string]map[string]float64{}
	hist := map[string]float64{}
	var total float64
	for _, p := range phrases {
		seq := append(append([]string{"<s>"}, p...), "</s>")
		for i, w := range seq {
			if i > 0 {
				uni[w]++
				total++
				u := seq[i-1]
				if bi[u] == nil {
					bi[u] = map[string]float64{}
				}
				bi[u][w]++
				hist[u]++
			}
		}
	}
	uni["<s>"] = 0
	puni := func(w string) float64 { return uni[w] / total }
	words := make([]string, 0, len(uni))
	for w := range uni {
		words = append(words, w)
	}
	sort.Strings(words)

	var b strings.Builder
	nbi := 0
	for _, m := range bi {
		nbi += len(m)
	}
	fmt.Fprintf(&b, "\\data\\\nngram 1=%d\nngram 2=%d\n\n\\1-grams:\n", len(words), nbi)
	for _, w := range words {
		lp := -99.0
		if w != "<s>" {
			lp = math.Log10(puni(w))
		}
		bo := ""
		if m := bi[w]; m != nil {
			// Mass left by discounting, spread over unigrams not seen after w.
			left := discount * float64(len(m)) / hist[w]
			seen := 0.0
			for v := range m {
				seen += puni(v)
			}
			bo = fmt.Sprintf("\t%.4f", math.Log10(left/math.Max(1-seen, 1e-6)))
		}
		fmt.Fprintf(&b, "%.4f\t%s%s\n", lp, w, bo)
	}
	b.WriteString("\n\\2-grams:\n")
	for _, u := range words {
		m := bi[u]
		next := make([]string, 0, len(m))
		for v := range m {
			next = append(next, v)
		}
		sort.Strings(next)
		for _, v := range next {
			fmt.Fprintf(&b, "%.4f\t%s %s\n", math.Log10((m[v]-discount)/hist[u]), u, v)
		}
	}
	b.WriteString("\n\\end\\\n")
	f, err := os.CreateTemp(dir, "earshot-phrases-*.lm")
	if err != nil {
		return "", fmt.Errorf("%w: writing the phrase model: %v", ErrVocabulary, err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("%w: writing the phrase model: %v", ErrVocabulary, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("%w: writing the phrase model: %v", ErrVocabulary, err)
	}
	return f.Name(), nil
}

// addVocabulary adds voc's words missing from the dictionary, with
// letter-to-sound pronunciations, and returns cfg's language models with
// the phrase model appended at cfg.PhraseWeight of the whole. No search
// exists yet (the models are read after this), so ps_add_word only touches
// the dictionary: the set read next picks the words up from the phrase
// model.
func (d *Decoder) addVocabulary(voc vocabulary, cfg Config) ([]WeightedLM, error) {
	start := time.Now()
	var missing []string
	for _, w := range voc.words {
		if _, ok := d.lookup(w); !ok {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		prons, err := pronounce(context.Background(), missing)
		if err != nil {
			return nil, err
		}
		for _, w := range missing {
			cw, cp := C.CString(w), C.CString(prons[w])
			rv := C.ps_add_word(d.ps, cw, cp, 0)
			C.free(unsafe.Pointer(cw))
			C.free(unsafe.Pointer(cp))
			if rv < 0 {
				return nil, fmt.Errorf("%w: adding %q /%s/ to the dictionary failed", ErrVocabulary, w, prons[w])
			}
		}
	}
	path, err := writePhraseLM("", voc.phrases)
	if err != nil {
		return nil, err
	}
	var total float64
	for _, m := range cfg.LMs {
		if m.Weight == 0 {
			m.Weight = 1
		}
		total += m.Weight
	}
	lms := append(append([]WeightedLM(nil), cfg.LMs...), WeightedLM{
		Path:      path,
		Weight:    total * cfg.PhraseWeight / (1 - cfg.PhraseWeight),
		temporary: true,
	})
	d.log.Debug("pocketsphinx: vocabulary added", "phrases", len(voc.phrases), "words", len(voc.words),
		"new_words", len(missing), "took", time.Since(start))
	return lms, nil
}

// removePhraseLMs deletes the temporary phrase model files among lms.
func removePhraseLMs(lms []WeightedLM) {
	for _, m := range lms {
		if m.temporary {
			os.Remove(m.Path)
		}
	}
}

// Pronunciation returns the decoder's pronunciation of word (phones
// separated by spaces) and whether the dictionary has the word at all,
// including words Config.Vocabulary added. It is for diagnostics and tests.
func (d *Decoder) Pronunciation(word string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return "", false
	}
	return d.lookup(word)
}

func (d *Decoder) lookup(word string) (string, bool) {
	cw := C.CString(word)
	defer C.free(unsafe.Pointer(cw))
	p := C.ps_lookup_word(d.ps, cw)
	if p == nil {
		return "", false
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p), true
}
