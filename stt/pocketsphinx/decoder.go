package pocketsphinx

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <string.h>
#include <pocketsphinx.h>
#include <sphinxbase/cmd_ln.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/ngram_model.h>

// earshot_config parses argv (name, value pairs) against PocketSphinx's own
// argument table. cmd_ln_init is variadic, which cgo cannot call.
static cmd_ln_t *earshot_config(int argc, char **argv) {
	return cmd_ln_parse_r(NULL, ps_args(), argc, argv, FALSE);
}

// earshot_cmn returns the live cepstral-mean estimator, or NULL when the
// model uses no CMN.
static cmn_t *earshot_cmn(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL)
		return NULL;
	return f->cmn_struct;
}

static int earshot_cmn_len(cmn_t *c) { return c->veclen; }

// earshot_lm_set builds an interpolated set from n models read from paths
// and installs it as the decoder's active search. It returns 0 or a
// negative step number saying what failed.
static int earshot_lm_set(ps_decoder_t *ps, int n, char **paths, char **names, float *weights) {
	cmd_ln_t *cfg = ps_get_config(ps);
	logmath_t *lmath = ps_get_logmath(ps);
	ngram_model_t **models = calloc(n, sizeof(*models));
	ngram_model_t *set;
	int i, rv;

	if (models == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		models[i] = ngram_model_read(cfg, paths[i], NGRAM_AUTO, lmath);
		if (models[i] == NULL) {
			while (--i >= 0)
				ngram_model_free(models[i]);
			free(models);
			return -2;
		}
	}
	// The set adopts the models: freeing the set frees them.
	set = ngram_model_set_init(cfg, models, names, weights, n);
	if (set == NULL) {
		for (i = 0; i < n; i++)
			ngram_model_free(models[i]);
		free(models);
		return -3;
	}
	free(models);
	// ps_set_lm retains the set; drop our reference either way.
	rv = ps_set_lm(ps, "earshot", set);
	ngram_model_free(set);
	if (rv < 0)
		return -4;
	if (ps_set_search(ps, "earshot") < 0)
		return -5;
	return 0;
}
*/
import "C"

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/stt"
)

// framesPerSecond is PocketSphinx's feature frame rate (-frate default).
const framesPerSecond = 100

// Decoder is one PocketSphinx decoder: a stt.Recognizer for one stream at
// a time. It is not safe for concurrent use except for Close. A Decoder
// costs about one CPU second to create (the model is read from disk) and
// holds its own copy of the language model.
type Decoder struct {
	mu    sync.Mutex // serialises Close against use; C is never re-entered
	ps    *C.ps_decoder_t
	lmath *C.logmath_t // owned by ps
	cmn   *C.cmn_t     // owned by ps; nil without CMN
	cmn0  []C.mfcc_t   // the model's initial CMN estimate, for Reset

	log          *slog.Logger
	partialEvery int  // samples of accepted audio between partials
	posteriors   bool // the best-path pass runs, so ps_seg_prob is meaningful

	pos          int64 // stream clock, samples since the stream start
	inUtt        bool
	uttStart     int64 // stream sample where the open utterance began
	sincePartial int   // samples accepted since the last partial
	closed       bool
}

var _ stt.Recognizer = (*Decoder)(nil)

// NewDecoder loads the model described by cfg and returns a decoder ready
// for a stream. It blocks for about a second of CPU. Missing files fail with
// an error wrapping stt.ErrModel that names the path; a declared rate other
// than 16 kHz fails with stt.ErrSampleRate.
func NewDecoder(cfg Config) (*Decoder, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	voc, err := parseVocabulary(cfg.Vocabulary)
	if err != nil {
		return nil, err
	}
	if len(voc.phrases) > 0 && len(cfg.LMs) == 0 {
		// The phrase model joins an interpolated set, read after the
		// vocabulary's words are in the dictionary.
		cfg.LMs = []WeightedLM{{Path: cfg.LM, Weight: 1}}
	}
	routeLibraryLog(cfg.Logger)

	args := cfg.args()
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	// argv lives in Go memory but holds only C pointers, which cgo allows.
	config := C.earshot_config(C.int(len(argv)), &argv[0])
	if config == nil {
		return nil, fmt.Errorf("%w: pocketsphinx rejected the arguments %q", stt.ErrModel, args)
	}
	ps := C.ps_init(config)
	// ps_init retains config; release ours whatever happened.
	C.cmd_ln_free_r(config)
	if ps == nil {
		return nil, fmt.Errorf("%w: pocketsphinx could not load model %s, dictionary %s, LM %s (set EARSHOT_DEBUG=1 for its log)",
			stt.ErrModel, cfg.Model, cfg.Dict, cfg.LM)
	}
	d := &Decoder{
		ps:           ps,
		lmath:        C.ps_get_logmath(ps),
		cmn:          C.earshot_cmn(ps),
		log:          cfg.Logger,
		partialEvery: audio.PipelineRate.Samples(cfg.PartialEvery),
		posteriors:   !cfg.NoBestpath,
	}
	if d.lmath == nil {
		C.ps_free(ps)
		return nil, fmt.Errorf("%w: decoder has no log-math table", stt.ErrModel)
	}
	if len(voc.phrases) > 0 {
		lms, err := d.addVocabulary(voc, cfg)
		if err != nil {
			C.ps_free(ps)
			return nil, err
		}
		cfg.LMs = lms
	}
	if len(cfg.LMs) > 0 {
		err := d.setLMs(cfg.LMs)
		removePhraseLMs(cfg.LMs)
		if err != nil {
			C.ps_free(ps)
			return nil, err
		}
	}
	if d.cmn != nil {
		// A fresh estimator holds the model's -cmninit mean with no frame
		// count behind it, so the first utterance's own frames replace it
		// wholesale while that utterance is decoded; on clips that start
		// straight into speech this lost every word (librivox 0930).
		// cmn_live_set gives the prior the weight of a 5 s window instead,
		// the state every later utterance (and Reset) starts from.
		d.cmn0 = make([]C.mfcc_t, int(C.earshot_cmn_len(d.cmn)))
		C.cmn_live_get(d.cmn, &d.cmn0[0])
		C.cmn_live_set(d.cmn, &d.cmn0[0])
	}
	return d, nil
}

func (d *Decoder) setLMs(lms []WeightedLM) error {
	n := len(lms)
	paths := make([]*C.char, n)
	names := make([]*C.char, n)
	weights := make([]C.float, n)
	defer func() {
		for i := range n {
			C.free(unsafe.Pointer(paths[i]))
			C.free(unsafe.Pointer(names[i]))
		}
	}()
	var total float64
	for _, m := range lms {
		w := m.Weight
		if w == 0 {
			w = 1
		}
		total += w
	}
	for i, m := range lms {
		w := m.Weight
		if w == 0 {
			w = 1
		}
		paths[i] = C.CString(m.Path)
		names[i] = C.CString(fmt.Sprintf("lm%d", i))
		weights[i] = C.float(w / total)
	}
	if rv := C.earshot_lm_set(d.ps, C.int(n), &paths[0], &names[0], &weights[0]); rv < 0 {
		steps := map[C.int]string{-1: "out of memory", -2: "reading a model failed",
			-3: "models use different log-math parameters", -4: "installing the set failed", -5: "activating the set failed"}
		var ps []string
		for _, m := range lms {
			ps = append(ps, m.Path)
		}
		return fmt.Errorf("%w: interpolated LM %s: %s", stt.ErrModel, strings.Join(ps, ", "), steps[rv])
	}
	return nil
}

// Accept implements stt.Recognizer.
func (d *Decoder) Accept(pcm []int16) ([]stt.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, stt.ErrClosed
	}
	if len(pcm) == 0 {
		return nil, nil
	}
	if !d.inUtt {
		// Segment frames count from the start of the library's stream, but
		// our stream clock also advances over skipped audio the library never
		// sees: restart its stream at every utterance and add our offset.
		// This resets only the front end's frame counter, not the CMN estimate.
		if rv := C.ps_start_stream(d.ps); rv < 0 {
			return nil, fmt.Errorf("%w: ps_start_stream returned %d", stt.ErrDecode, int(rv))
		}
		if rv := C.ps_start_utt(d.ps); rv < 0 {
			return nil, fmt.Errorf("%w: ps_start_utt returned %d", stt.ErrDecode, int(rv))
		}
		d.inUtt = true
		d.uttStart = d.pos
		d.sincePartial = 0
	}
	var out []stt.Result
	for len(pcm) > 0 {
		n := min(len(pcm), d.partialEvery-d.sincePartial)
		// The samples are plain int16 in Go memory, which cgo may pass for
		// the duration of the call; the library copies what it keeps.
		rv := C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(n), 0, 0)
		if rv < 0 {
			d.abandon()
			return out, fmt.Errorf("%w: ps_process_raw returned %d at %v", stt.ErrDecode, int(rv), d.clock(d.pos))
		}
		pcm = pcm[n:]
		d.pos += int64(n)
		d.sincePartial += n
		if d.sincePartial >= d.partialEvery {
			d.sincePartial = 0
			out = append(out, stt.Result{
				Text:  d.hyp(),
				Start: d.clock(d.uttStart),
				End:   d.clock(d.pos),
			})
		}
	}
	return out, nil
}

// Skip implements stt.Recognizer.
func (d *Decoder) Skip(n int) ([]stt.Result, error) {
	if n < 0 {
		return nil, fmt.Errorf("pocketsphinx: skip %d samples: %w", n, stt.ErrNegativeSkip)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, stt.ErrClosed
	}
	out, err := d.flush()
	d.pos += int64(n)
	return out, err
}

// Flush implements stt.Recognizer.
func (d *Decoder) Flush() ([]stt.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, stt.ErrClosed
	}
	return d.flush()
}

// Reset ends any open utterance without a result, sets the stream clock
// back to zero and restores the model's initial cepstral-mean estimate, so
// the next stream (another speaker) starts as a fresh decoder would. Within
// a stream the estimate is deliberately carried from one utterance to the
// next: PocketSphinx's live CMN otherwise starts each utterance from the
// model's generic prior and misrecognises its first words.
func (d *Decoder) Reset() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return stt.ErrClosed
	}
	d.abandon()
	d.pos = 0
	if d.cmn != nil && len(d.cmn0) > 0 {
		C.cmn_live_set(d.cmn, &d.cmn0[0])
	}
	return nil
}

// Adaptation implements stt.Adaptive: the current cepstral-mean estimate,
// what the decoder has learned of the speaker's voice and line.
func (d *Decoder) Adaptation() []float32 { return d.CMN() }

// Adapt implements stt.Adaptive: it restores a cepstral-mean estimate that
// Adaptation returned, with the weight of a 5 s window like the model's
// prior. An estimate of the wrong length (another model) or holding NaN or
// infinities is refused with an error wrapping stt.ErrBadAdaptation.
func (d *Decoder) Adapt(v []float32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return stt.ErrClosed
	}
	if d.cmn == nil {
		return nil
	}
	if len(v) != len(d.cmn0) {
		return fmt.Errorf("pocketsphinx: cepstral mean of %d values, the model has %d: %w", len(v), len(d.cmn0), stt.ErrBadAdaptation)
	}
	c := make([]C.mfcc_t, len(v))
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("pocketsphinx: cepstral mean value %d is %v: %w", i, x, stt.ErrBadAdaptation)
		}
		c[i] = C.mfcc_t(x)
	}
	C.cmn_live_set(d.cmn, &c[0])
	return nil
}

// CMN returns the decoder's current cepstral-mean estimate (nil when the
// model uses none). It is exposed for tests and diagnostics.
func (d *Decoder) CMN() []float32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.cmn == nil {
		return nil
	}
	v := make([]C.mfcc_t, len(d.cmn0))
	C.cmn_live_get(d.cmn, &v[0])
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// Close implements stt.Recognizer. It frees the decoder's C memory.
func (d *Decoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	C.ps_free(d.ps)
	d.ps, d.lmath, d.cmn = nil, nil, nil
	return nil
}

// abandon ends an open utterance and throws its result away.
func (d *Decoder) abandon() {
	if d.inUtt {
		d.inUtt = false
		if rv := C.ps_end_utt(d.ps); rv < 0 {
			d.log.Debug("pocketsphinx: ending an abandoned utterance failed", "rv", int(rv))
		}
	}
}

func (d *Decoder) clock(samples int64) time.Duration {
	return audio.PipelineRate.Duration(int(samples))
}

// hyp returns the current best hypothesis ("" when there is none yet).
func (d *Decoder) hyp() string {
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

// flush ends the open utterance and returns its final result.
func (d *Decoder) flush() ([]stt.Result, error) {
	if !d.inUtt {
		return nil, nil
	}
	d.inUtt = false
	// The first pass's best path, read before the second passes run: when
	// the best-path lattice search fails ("Failed to find DAG node
	// corresponding to </s>") the library returns no hypothesis at all, and
	// an utterance must never be lost to a second pass.
	forward := d.words()
	if rv := C.ps_end_utt(d.ps); rv < 0 {
		return nil, fmt.Errorf("%w: ps_end_utt returned %d", stt.ErrDecode, int(rv))
	}
	// Only the segments are read: ps_get_hyp would run the best-path search
	// over the lattice a second time.
	words := d.words()
	if len(words) == 0 && len(forward) > 0 {
		d.log.Debug("pocketsphinx: second pass lost the utterance, keeping the first pass", "words", len(forward))
		for i := range forward {
			forward[i].Confidence = 0 // no lattice, no posterior
		}
		words = forward
	}
	if len(words) == 0 {
		if text := d.hyp(); text != "" {
			d.log.Debug("pocketsphinx: hypothesis without segments", "text", text)
		}
		return nil, nil
	}
	texts := make([]string, len(words))
	var conf float64
	for i, w := range words {
		texts[i] = w.Text
		conf += w.Confidence
	}
	return []stt.Result{{
		Final:      true,
		Text:       strings.Join(texts, " "),
		Words:      words,
		Start:      words[0].Start,
		End:        words[len(words)-1].End,
		Confidence: conf / float64(len(words)),
	}}, nil
}

// words walks the final segmentation. Segment frames count from the
// utterance start at 100 per second; the stream offset of the utterance
// makes them stream times. Fillers (<s>, </s>, <sil>, [NOISE], ++GARBAGE++)
// are dropped and alternate pronunciations ("read(2)") keep the base word.
//
// Confidence is the word's lattice posterior probability: ps_seg_prob
// returns log P(word | utterance) from the forward-backward pass over the
// best-path lattice, in the decoder's log base, and logmath_exp turns it
// into 0..1. Without the best-path pass the library reports no posterior,
// so the confidence is 0.
func (d *Decoder) words() []stt.Word {
	var out []stt.Word
	end := d.clock(d.pos)
	for seg := C.ps_seg_iter(d.ps); seg != nil; seg = C.ps_seg_next(seg) {
		// ps_seg_next frees the iterator when it returns NULL, so a loop
		// that runs to the end must not call ps_seg_free.
		w := C.GoString(C.ps_seg_word(seg))
		if isFiller(w) {
			continue
		}
		if i := strings.IndexByte(w, '('); i > 0 {
			w = w[:i]
		}
		var sf, ef C.int
		C.ps_seg_frames(seg, &sf, &ef)
		var ascr, lscr, lback C.int32
		prob := C.ps_seg_prob(seg, &ascr, &lscr, &lback)
		conf := 0.0
		if d.posteriors {
			conf = float64(C.logmath_exp(d.lmath, prob))
		}
		start := d.clock(d.uttStart) + time.Duration(sf)*time.Second/framesPerSecond
		stop := d.clock(d.uttStart) + time.Duration(ef+1)*time.Second/framesPerSecond
		stop = min(stop, end)
		start = min(start, stop)
		out = append(out, stt.Word{Text: w, Start: start, End: stop, Confidence: min(max(conf, 0), 1)})
	}
	return out
}

func isFiller(w string) bool {
	return w == "" || w[0] == '<' || w[0] == '[' || strings.HasPrefix(w, "++")
}
