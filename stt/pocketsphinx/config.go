package pocketsphinx

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/stt"
)

// Debian locations of the US English model (package pocketsphinx-en-us).
const (
	DefaultModel = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultDict  = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	DefaultLM    = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvModel = "EARSHOT_STT_MODEL"
	EnvDict  = "EARSHOT_STT_DICT"
	EnvLM    = "EARSHOT_STT_LM"
)

// WeightedLM is one member of an interpolated language-model set.
type WeightedLM struct {
	// Path is an ARPA (.lm, .arpa) or binary (.lm.bin, .dmp) n-gram model.
	Path string
	// Weight is the interpolation weight; the weights of a set are
	// normalised to sum to one, so only their ratios matter. Zero means 1.
	Weight float64

	temporary bool // the vocabulary's phrase model, removed once read
}

// Config describes a decoder. The zero value decodes US English with the
// Debian model and the fast search settings measured for Earshot.
type Config struct {
	// Model is the acoustic model directory (with mdef, means, feat.params).
	Model string
	// Dict is the pronunciation dictionary. Words the LM knows but the
	// dictionary does not are never recognized.
	Dict string
	// LM is the n-gram language model. Ignored when LMs is set.
	LM string
	// LMs, when set, replaces LM by a linear interpolation of these models
	// (ngram_model_set_interp). All members must use the same n-gram
	// format family the library can read; words missing from one model get
	// that model's unknown-word probability.
	LMs []WeightedLM

	// Vocabulary lists phrases (product and plan names, a playbook's
	// phrases) the decoder must be able to recognize, in lower case with
	// single spaces. At start, each word missing from Dict is added with a
	// pronunciation from LTSCommand (flite's letter-to-sound), and a bigram
	// model of the phrases is interpolated with the language model(s) at
	// PhraseWeight. Words already in Dict keep their pronunciations. At most
	// MaxVocabulary phrases; a bad entry fails NewDecoder with an error
	// wrapping ErrVocabulary that names it.
	Vocabulary []string
	// PhraseWeight is the phrase model's share of the interpolation, in
	// (0, 0.5]. Zero means DefaultPhraseWeight.
	PhraseWeight float64

	// SampleRate declares the rate of the audio that will be accepted. Zero
	// means audio.PipelineRate; any other value fails with stt.ErrSampleRate
	// because the model is trained on 16 kHz speech and the decoder never
	// resamples.
	SampleRate audio.SampleRate

	// Search settings (PocketSphinx flags). Zero means the Earshot default.
	MaxHMMPF int // -maxhmmpf, active HMMs per frame; default 3000
	MaxWPF   int // -maxwpf, words exiting per frame; default 5
	PLWindow int // -pl_window, phone lookahead frames; default 10
	DS       int // -ds, acoustic scoring every DS frames; default 2
	// Fwdflat enables the second, flat-lexicon search pass: slower, and on
	// the librivox clips it bought no accuracy (see the package tests).
	Fwdflat bool
	// The flat pass runs when an utterance ends, over all of it, so its cost
	// is what a final result waits for. It searches the words the first
	// pass ended within FlatWindow frames (-fwdflatsfwin; default 25) that
	// lasted at least FlatMinEnds end frames (-fwdflatefwid; default 4).
	FlatWindow, FlatMinEnds int
	// NoBestpath disables the lattice best-path pass. Best path is on by
	// default because word confidences come from its lattice posteriors;
	// without it every word's confidence is reported as 0.
	NoBestpath bool
	// Args are extra PocketSphinx flags as name, value pairs
	// ("-lw", "7.5"), applied last; for experiments.
	Args []string

	// PartialEvery is how much accepted audio lies between two partial
	// results. Default and maximum 300 ms.
	PartialEvery time.Duration

	// Logger receives the library's messages at Debug. Nil means
	// slog.Default(). The library's log sink is process-wide, so the most
	// recently created decoder's logger receives every decoder's messages.
	Logger *slog.Logger
}

// ConfigFromEnv returns the zero Config with Model, Dict and LM taken from
// EARSHOT_STT_MODEL, EARSHOT_STT_DICT and EARSHOT_STT_LM when they are set.
func ConfigFromEnv() Config {
	var c Config
	c.Model = os.Getenv(EnvModel)
	c.Dict = os.Getenv(EnvDict)
	c.LM = os.Getenv(EnvLM)
	return c
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Dict == "" {
		c.Dict = DefaultDict
	}
	if c.LM == "" && len(c.LMs) == 0 {
		c.LM = DefaultLM
	}
	if c.SampleRate == 0 {
		c.SampleRate = audio.PipelineRate
	}
	if c.MaxHMMPF == 0 {
		c.MaxHMMPF = 3000
	}
	if c.MaxWPF == 0 {
		c.MaxWPF = 5
	}
	if c.PLWindow == 0 {
		c.PLWindow = 10
	}
	if c.DS == 0 {
		c.DS = 2
	}
	if c.FlatWindow == 0 {
		c.FlatWindow = 25
	}
	if c.FlatMinEnds == 0 {
		c.FlatMinEnds = 4
	}
	if c.PhraseWeight == 0 {
		c.PhraseWeight = DefaultPhraseWeight
	}
	if c.PartialEvery <= 0 || c.PartialEvery > 300*time.Millisecond {
		c.PartialEvery = 300 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate checks what the C library would otherwise handle by exiting the
// process (PocketSphinx calls exit() on some missing files).
func (c Config) validate() error {
	if c.SampleRate != audio.PipelineRate {
		return fmt.Errorf("pocketsphinx: config declares %d Hz: %w", c.SampleRate, stt.ErrSampleRate)
	}
	if len(c.Args)%2 != 0 {
		return fmt.Errorf("pocketsphinx: Args must be name, value pairs, got %d strings", len(c.Args))
	}
	need := []string{c.Dict, filepath.Join(c.Model, "mdef"), filepath.Join(c.Model, "means"),
		filepath.Join(c.Model, "variances"), filepath.Join(c.Model, "transition_matrices")}
	if len(c.LMs) == 0 {
		need = append(need, c.LM)
	}
	for _, m := range c.LMs {
		need = append(need, m.Path)
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w: %s: %v (install the Debian package pocketsphinx-en-us, or point %s/%s/%s elsewhere)",
				stt.ErrModel, p, err, EnvModel, EnvDict, EnvLM)
		}
	}
	if c.PhraseWeight < 0 || c.PhraseWeight > 0.5 {
		return fmt.Errorf("pocketsphinx: phrase weight %v outside (0, 0.5]", c.PhraseWeight)
	}
	for _, m := range c.LMs {
		if m.Weight < 0 {
			return fmt.Errorf("pocketsphinx: negative weight %v for %s", m.Weight, m.Path)
		}
	}
	return nil
}

// args renders the PocketSphinx command line for c (defaults applied).
func (c Config) args() []string {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	a := []string{
		"-hmm", c.Model,
		"-dict", c.Dict,
		"-samprate", strconv.Itoa(int(c.SampleRate)),
		"-maxhmmpf", strconv.Itoa(c.MaxHMMPF),
		"-maxwpf", strconv.Itoa(c.MaxWPF),
		"-pl_window", strconv.Itoa(c.PLWindow),
		"-ds", strconv.Itoa(c.DS),
		"-fwdflat", yn(c.Fwdflat),
		"-fwdflatsfwin", strconv.Itoa(c.FlatWindow),
		"-fwdflatefwid", strconv.Itoa(c.FlatMinEnds),
		"-bestpath", yn(!c.NoBestpath),
		"-mmap", "yes",
	}
	if len(c.LMs) == 0 {
		a = append(a, "-lm", c.LM)
	}
	return append(a, c.Args...)
}
