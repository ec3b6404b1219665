package agentassist

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// DefaultDictPath is the CMUdict pronunciation dictionary that ships with
// the PocketSphinx US-English model (Debian package pocketsphinx-en-us).
// Using the recognizer's own dictionary means every word it can output has
// a pronunciation here.
const DefaultDictPath = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"

// The ARPAbet phone set of CMUdict (without stress marks, as the
// PocketSphinx copy spells it). Phones are stored as one byte each: the
// index in this table plus one, so zero never appears in a pronunciation.
var phoneNames = [...]string{
	"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW", // vowels
	"B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH",
}

const numVowels = 15

// oovPhone stands for a word with no pronunciation. It matches nothing, so
// a phrase can never match across an unknown word.
const oovPhone = 0xFF

var phoneIndex = func() map[string]byte {
	m := make(map[string]byte, len(phoneNames))
	for i, p := range phoneNames {
		m[p] = byte(i + 1)
	}
	return m
}()

// Substitution costs are in half units: an insertion or deletion costs 2,
// replacing a phone by an unrelated one costs 2, and replacing it by a close
// one (any vowel by another vowel, a voiced consonant by its unvoiced twin,
// m by n) costs 1. Those close pairs are what an acoustic model confuses
// most on phone-band audio, and unstressed vowels in particular are
// reduced to AH or IH by speakers and recognizer alike ("can sell" for
// "cancel").
var subCost = func() (t [256][256]uint8) {
	for i := range 256 {
		for j := range 256 {
			t[i][j] = 2
		}
	}
	for i := 1; i <= len(phoneNames); i++ {
		t[i][i] = 0
	}
	for i := 1; i <= numVowels; i++ {
		for j := 1; j <= numVowels; j++ {
			if i != j {
				t[i][j] = 1
			}
		}
	}
	pairs := [][2]string{{"B", "P"}, {"D", "T"}, {"G", "K"}, {"V", "F"}, {"DH", "TH"}, {"Z", "S"}, {"ZH", "SH"}, {"JH", "CH"}, {"M", "N"}, {"N", "NG"}}
	for _, p := range pairs {
		a, b := phoneIndex[p[0]], phoneIndex[p[1]]
		t[a][b], t[b][a] = 1, 1
	}
	t[oovPhone][oovPhone] = 2
	return t
}()

// Dict is a pronunciation dictionary: words to one or more phone strings.
// A Dict is immutable after loading and safe for concurrent use; one copy
// (about 10 MB for CMUdict) serves every playbook in the process.
type Dict struct {
	prons map[string][]string // word -> pronunciations, one byte per phone
}

// LoadDict reads a CMUdict-format dictionary ("word PH ON ES" per line,
// alternatives as "word(2) ..."). It returns an error wrapping ErrDict if
// the file cannot be read or has no usable entry.
func LoadDict(path string) (*Dict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDict, err)
	}
	defer f.Close()
	d, err := ReadDict(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// ReadDict parses a CMUdict-format dictionary from r. Lines with unknown
// phones are skipped rather than refused, so a dictionary with a few exotic
// entries still loads; a dictionary with no usable entry is an error
// wrapping ErrDict.
func ReadDict(r io.Reader) (*Dict, error) {
	d := &Dict{prons: make(map[string][]string, 140000)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var pron []byte
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' || bytes.HasPrefix(line, []byte(";;;")) {
			continue
		}
		fields := bytes.Fields(line)
		if len(fields) < 2 {
			continue
		}
		word := string(bytes.ToLower(fields[0]))
		if i := strings.IndexByte(word, '('); i > 0 {
			word = word[:i]
		}
		pron = pron[:0]
		ok := true
		for _, f := range fields[1:] {
			// Strip stress digits, which other CMUdict copies carry.
			f = bytes.TrimRight(f, "012")
			p, known := phoneIndex[string(f)]
			if !known {
				ok = false
				break
			}
			pron = append(pron, p)
		}
		if !ok {
			continue
		}
		d.prons[word] = append(d.prons[word], string(pron))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDict, err)
	}
	if len(d.prons) == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrDict)
	}
	return d, nil
}

// Pronunciations returns the pronunciations of a lower-case word as phone
// names ("K AE N S AH L"), or nil if the word is unknown.
func (d *Dict) Pronunciations(word string) []string {
	var out []string
	for _, p := range d.lookup(word) {
		names := make([]string, len(p))
		for i := range len(p) {
			names[i] = phoneNames[p[i]-1]
		}
		out = append(out, strings.Join(names, " "))
	}
	return out
}

func (d *Dict) lookup(word string) []string {
	if d == nil {
		return nil
	}
	return d.prons[word]
}

var (
	defaultDictOnce sync.Once
	defaultDict     *Dict
	defaultDictErr  error
)

// DefaultDict loads DefaultDictPath the first time it is called and
// returns the same Dict (or the same error) ever after. Loading takes a
// few hundred milliseconds, which is why it happens lazily: a process that
// never loads a playbook never pays for it.
func DefaultDict() (*Dict, error) {
	defaultDictOnce.Do(func() {
		defaultDict, defaultDictErr = LoadDict(DefaultDictPath)
	})
	return defaultDict, defaultDictErr
}

// maxPhraseVariants bounds how many pronunciation combinations of one
// phrase are precomputed ("record" has two stresses, "the" two vowels...).
const maxPhraseVariants = 8

// phraseProns returns the pronunciations of a phrase (its words' phones
// concatenated), every combination of word variants up to
// maxPhraseVariants, or nil if any word is unknown: a phrase with an
// unknown word is matched by its stems only.
func (d *Dict) phraseProns(words []string) []string {
	if d == nil || len(words) == 0 {
		return nil
	}
	out := []string{""}
	for _, w := range words {
		alts := d.lookup(w)
		if len(alts) == 0 {
			return nil
		}
		var next []string
		for _, prefix := range out {
			for _, a := range alts {
				if len(next) < maxPhraseVariants {
					next = append(next, prefix+a)
				}
			}
		}
		out = next
	}
	return out
}

// phoneSeq is an utterance as one phone string with word boundaries: a
// phrase may only match from the start of a word to the end of a word.
type phoneSeq struct {
	phones []byte
	bound  []bool // bound[j]: a word boundary lies just before phone j (len(phones)+1 entries)
}

// utterancePhones builds the phone sequence of words using each word's
// first pronunciation; a word the dictionary does not know becomes a single
// phone that matches nothing.
func (d *Dict) utterancePhones(words []string, seq *phoneSeq) {
	seq.phones = seq.phones[:0]
	seq.bound = append(seq.bound[:0], true)
	for _, w := range words {
		p := oovPron
		if alts := d.lookup(w); len(alts) > 0 {
			p = alts[0]
		}
		for i := range len(p) {
			seq.phones = append(seq.phones, p[i])
			seq.bound = append(seq.bound, i == len(p)-1)
		}
	}
}

// oovPron is the one-phone pronunciation of an unknown word.
var oovPron = string([]byte{oovPhone})

// allowance is the edit cost (in half units) a phrase of n phones may be
// off by and still match. Phrases under five phones must match exactly
// (after the dictionary has mapped homophones together): a short word one
// phone away from another is usually a different word ("quit", "quite").
// Longer phrases may be off by one unrelated phone per five, at most three.
func allowance(n int) int {
	if n < 5 {
		return 0
	}
	a := 2 * (n / 5)
	if a > 6 {
		a = 6
	}
	return a
}

// phoneticMatch reports whether pron occurs in seq within its allowance,
// starting at a word start and ending at a word end. col is scratch space
// reused across calls to avoid allocating per utterance.
//
// This is approximate substring matching (Sellers' algorithm): a dynamic
// programme over the phrase (rows) and the utterance (columns) in which a
// match may begin at any word start for free. Only values up to the
// allowance matter, so each column is computed only down to the last row
// that can still be within it (Ukkonen's cut-off): rows below hold stale
// values that are known to exceed the allowance. With the allowance at most
// three phones this touches a few rows per column instead of all of them,
// which keeps a long utterance against a hundred phrases well inside the
// per-utterance budget.
func phoneticMatch(pron string, seq *phoneSeq, col []int32) ([]int32, bool) {
	m := len(pron)
	n := len(seq.phones)
	if m == 0 || n == 0 {
		return col, false
	}
	limit := int32(allowance(m))
	big := limit + 1 // any value above the allowance; saturating keeps sums small
	if cap(col) < m+1 {
		col = make([]int32, m+1)
	}
	col = col[:m+1]
	// Column 0: before any utterance phone, which is a word start.
	// last is the deepest row whose value is within the allowance.
	last := 0
	col[0] = 0
	for i := 1; i <= m; i++ {
		col[i] = min(col[i-1]+2, big)
		if col[i] <= limit {
			last = i
		}
	}
	for j := 1; j <= n; j++ {
		u := seq.phones[j-1]
		diag := col[0]
		newLast := -1
		if seq.bound[j] {
			col[0] = 0
			newLast = 0
		} else {
			col[0] = big
		}
		for i := 1; i <= m; i++ {
			if i > last+1 && col[i-1] > limit {
				// Neither the diagonal, the left nor the upper
				// neighbour is within the allowance: nor is anything
				// below, so stop (stale rows are all above it).
				break
			}
			up := col[i] // D[i][j-1]
			v := diag + int32(subCost[pron[i-1]][u])
			if x := up + 2; x < v {
				v = x
			}
			if x := col[i-1] + 2; x < v {
				v = x
			}
			diag = up
			v = min(v, big)
			col[i] = v
			if v <= limit {
				newLast = i
			}
		}
		last = newLast
		if seq.bound[j] && last == m {
			return col, true
		}
	}
	return col, false
}
