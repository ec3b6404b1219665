package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
)

// The reader below decodes the "Trie Language Model" binary that sphinxbase
// 5prealpha writes (Debian's en-us.lm.bin). Debian's sphinx_lm_convert cannot
// turn that file back into ARPA: the header declares six more bigrams than
// the trie holds and its writer asserts on the difference
// (cmusphinx/pocketsphinx issue 502). Reading the trie directly walks only
// what is really there, so the count mismatch is harmless.
//
// Layout (little-endian, as written on x86): the 19-byte magic; the order
// (uint8); one uint32 count per order; for order > 1 a quantizer (an int32,
// then per middle order a 65536-entry float32 probability table and a
// 65536-entry backoff table, then the longest order's probability table);
// counts[0]+1 unigrams {float32 prob, float32 backoff, uint32 next}; the
// bit-packed middle and longest arrays; then an int32 byte count and the
// NUL-terminated word strings. The trie is reversed, KenLM style: below
// unigram w are the words v of bigrams "v w", below those the words u of
// trigrams "u v w". A middle entry is word | 16-bit backoff index | 16-bit
// probability index | next pointer; a longest entry is word | probability
// index. Scores are logs in the decoder's log base (1.0001).

const sphinxMagic = "Trie Language Model"

// sphinxLogBase is the log base sphinxbase stores scores in by default.
var sphinxLogBase = math.Log(1.0001)

var errSphinxBin = errors.New("not a readable sphinxbase trie LM")

func requiredBits(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	n := uint32(1)
	for max >>= 1; max != 0; max >>= 1 {
		n++
	}
	return n
}

// bitReader reads the packed fields exactly as sphinxbase's
// bitarr_read_int25 does: a little-endian uint32 at the byte holding the
// first bit, shifted by the bit's position within that byte.
type bitReader []byte

func (b bitReader) read(off uint64, bits uint32) uint32 {
	if bits == 0 {
		return 0
	}
	v := binary.LittleEndian.Uint32(b[off>>3:])
	return (v >> (off & 7)) & (1<<bits - 1)
}

// readSphinxBin loads a trigram sphinxbase trie model into a model.
func readSphinxBin(path string) (*model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(data, []byte(sphinxMagic)) {
		return nil, fmt.Errorf("%w: %s: no %q header", errSphinxBin, path, sphinxMagic)
	}
	p := len(sphinxMagic)
	need := func(n int) error {
		if p+n > len(data) {
			return fmt.Errorf("%w: %s: truncated at byte %d", errSphinxBin, path, p)
		}
		return nil
	}
	if err := need(1); err != nil {
		return nil, err
	}
	order := int(data[p])
	p++
	if order != 3 {
		return nil, fmt.Errorf("%w: %s: order %d, only trigram models are supported", errSphinxBin, path, order)
	}
	if err := need(4 * order); err != nil {
		return nil, err
	}
	counts := make([]uint32, order)
	for i := range counts {
		counts[i] = binary.LittleEndian.Uint32(data[p:])
		p += 4
	}
	const tbl = 1 << 16
	if err := need(4 + 3*tbl*4); err != nil {
		return nil, err
	}
	p += 4 // unused int32
	floats := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[p:]))
			p += 4
		}
		return out
	}
	midProb, midBow, longProb := floats(tbl), floats(tbl), floats(tbl)

	nu := int(counts[0])
	if err := need(12 * (nu + 1)); err != nil {
		return nil, err
	}
	uProb := make([]float32, nu+1)
	uBow := make([]float32, nu+1)
	uNext := make([]uint32, nu+1)
	for i := 0; i <= nu; i++ {
		uProb[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[p:]))
		uBow[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[p+4:]))
		uNext[i] = binary.LittleEndian.Uint32(data[p+8:])
		p += 12
	}
	wordBitsV := requiredBits(counts[0])
	midNextBits := requiredBits(counts[2])
	midTotal := uint64(wordBitsV + 32 + midNextBits)
	midSize := int(((1+uint64(counts[1]))*midTotal+7)/8 + 8)
	longTotal := uint64(wordBitsV + 16)
	longSize := int(((1+uint64(counts[2]))*longTotal+7)/8 + 8)
	if err := need(midSize + longSize + 4); err != nil {
		return nil, err
	}
	mid := bitReader(data[p : p+midSize])
	p += midSize
	long := bitReader(data[p : p+longSize])
	p += longSize
	k := int(int32(binary.LittleEndian.Uint32(data[p:])))
	p += 4
	if k < 0 {
		return nil, fmt.Errorf("%w: %s: negative word table size", errSphinxBin, path)
	}
	if err := need(k); err != nil {
		return nil, err
	}
	words := make([]string, 0, nu)
	for _, w := range bytes.Split(bytes.TrimSuffix(data[p:p+k], []byte{0}), []byte{0}) {
		words = append(words, string(w))
	}
	if len(words) != nu {
		return nil, fmt.Errorf("%w: %s: %d word strings for %d unigrams", errSphinxBin, path, len(words), nu)
	}

	m := newModel(words)
	conv := func(x float32) float64 { return float64(x) * sphinxLogBase }
	for i := 0; i < nu; i++ {
		m.uni[i] = conv(uProb[i])
		m.ubow[i] = conv(uBow[i])
	}
	bi := ngrams{bow: []float64{}}
	tri := ngrams{}
	midNext := func(ptr uint64) uint32 {
		return mid.read(ptr*midTotal+uint64(wordBitsV)+32, midNextBits)
	}
	for w := 0; w < nu; w++ {
		b, e := uNext[w], uNext[w+1]
		if e < b || e > counts[1] {
			return nil, fmt.Errorf("%w: %s: bad bigram range [%d,%d) under unigram %d", errSphinxBin, path, b, e, w)
		}
		for ptr := uint64(b); ptr < uint64(e); ptr++ {
			off := ptr * midTotal
			v := mid.read(off, wordBitsV)
			if v >= uint32(nu) {
				return nil, fmt.Errorf("%w: %s: word index %d out of range", errSphinxBin, path, v)
			}
			bo := midBow[mid.read(off+uint64(wordBitsV), 16)]
			pr := midProb[mid.read(off+uint64(wordBitsV)+16, 16)]
			bi.keys = append(bi.keys, key2(int32(v), int32(w)))
			bi.prob = append(bi.prob, conv(pr))
			bi.bow = append(bi.bow, conv(bo))
			tb, te := midNext(ptr), midNext(ptr+1)
			if te < tb || te > counts[2] {
				return nil, fmt.Errorf("%w: %s: bad trigram range [%d,%d)", errSphinxBin, path, tb, te)
			}
			for tp := uint64(tb); tp < uint64(te); tp++ {
				toff := tp * longTotal
				u := long.read(toff, wordBitsV)
				if u >= uint32(nu) {
					return nil, fmt.Errorf("%w: %s: word index %d out of range", errSphinxBin, path, u)
				}
				tri.keys = append(tri.keys, key3(int32(u), int32(v), int32(w)))
				tri.prob = append(tri.prob, conv(longProb[long.read(toff+uint64(wordBitsV), 16)]))
			}
		}
	}
	sort.Sort(&bi)
	sort.Sort(&tri)
	m.bi, m.tri = bi, tri
	return m, nil
}
