package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/stt/pocketsphinx"
)

func init() {
	register(command{
		name:    "transcribe",
		summary: "print the utterances of stereo call recordings (left = agent, right = caller)",
		run:     runTranscribe,
	})
}

// sttFlags are the recognizer flags shared by commands that decode speech.
type sttFlags struct {
	model, dict, lm *string
	fast            *bool
}

func addSTTFlags(fs interface {
	String(name, value, usage string) *string
	Bool(name string, value bool, usage string) *bool
}) sttFlags {
	return sttFlags{
		model: fs.String("model", "", "acoustic model directory (default: Debian en-us; env "+pocketsphinx.EnvModel+")"),
		dict:  fs.String("dict", "", "pronunciation dictionary (default: "+pocketsphinx.ProjectDict+" with the contact-center model, Debian's with --lm generic; env "+pocketsphinx.EnvDict+")"),
		lm: fs.String("lm", "", "n-gram language model (default: the contact-center model "+pocketsphinx.ProjectLM+", built by make lm;\n"+
			"'generic' for Debian's general-English model, which misses most contact-center words; env "+pocketsphinx.EnvLM+")"),
		fast: fs.Bool("stt-fast", false, "fast search (no flat-lexicon pass, acoustic scoring every 2nd frame): about half the CPU per call,\n"+
			"so twice the live calls per core, at a higher word error rate (sample calls 0.42 vs 0.30)"),
	}
}

// genericLM names Debian's general-English language model for --lm.
const genericLM = "generic"

// errNoProjectLM refuses to run without the contact-center language model:
// the generic one loses most of a call's product and payment words, and a
// copied binary falling back to it with one log line gave transcripts
// nobody could trust.
var errNoProjectLM = errors.New("the contact-center language model " + pocketsphinx.ProjectLM + " was not found under the working directory or beside the executable: " +
	"run make lm in the source tree (make setup does), or name a model with --lm FILE (and its dictionary with --dict), or --lm " + genericLM + " for Debian's general-English model")

// config is the project's recognizer configuration with the flags that
// were set on top; errNoProjectLM when no language model is to be had
// and none was asked for.
func (f sttFlags) config(env *environment) (pocketsphinx.Config, error) {
	c := pocketsphinx.ProjectConfig()
	if *f.model != "" {
		c.Model = *f.model
	}
	if *f.dict != "" {
		c.Dict = *f.dict
	}
	if *f.lm != "" {
		c.LM = *f.lm
	}
	if *f.fast {
		c.Fwdflat, c.DS = false, 2
	}
	switch c.LM {
	case "":
		return c, errNoProjectLM
	case genericLM:
		c.LM = "" // the decoder's default
		env.log.Warn("using Debian's general-English language model (--lm " + genericLM + "): contact-center words are often missed")
	}
	c.Logger = env.log
	return c, nil
}

func runTranscribe(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "transcribe", "FILE...",
		"Transcribes both channels of each stereo recording (WAV or MP3) and prints the utterances sorted by start.")
	format := fs.String("format", "text", "output format: text or json")
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(env.stderr, "earshot transcribe: unknown --format %q (text or json)\n", *format)
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	// One decoder per channel, loaded once for all files.
	cfg, err := sf.config(env)
	if err != nil {
		return err
	}
	pool, err := pocketsphinx.NewPool(cfg, 2)
	if err != nil {
		return err
	}
	defer pool.Close()

	var all []utteranceOut
	failed := false
	for _, path := range fs.Args() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		utts, warn, err := transcribeCall(ctx, pool, path)
		if err != nil {
			fmt.Fprintf(env.stderr, "earshot transcribe: %s: %v\n", path, err)
			failed = true
			continue
		}
		if warn != "" {
			fmt.Fprintf(env.stderr, "earshot transcribe: warning: %s\n", warn)
		}
		file := ""
		if fs.NArg() > 1 {
			file = path
		}
		for _, u := range utts {
			all = append(all, newUtteranceOut(file, u))
		}
	}
	if err := printUtterances(env.stdout, *format, all); err != nil {
		return err
	}
	if failed {
		return errReported
	}
	return nil
}

// transcribeCall runs one recording through the call pipeline with
// recognition only (no playbook, no KB), so the utterances are exactly those
// `analyze` and a live call produce, card data redacted, sorted by start.
// It streams the file as analyzeFile does; for a file cut short it returns
// the utterances before the cut and a warning.
func transcribeCall(ctx context.Context, pool *pocketsphinx.Pool, path string) ([]insights.Utterance, string, error) {
	rec, err := analyzeFile(ctx, call.Deps{Recognizers: pool.Recognizers()}, path)
	warn, err := truncationWarning(rec, err)
	if err != nil {
		return nil, "", err
	}
	utts := make([]insights.Utterance, len(rec.Utterances))
	for i, u := range rec.Utterances {
		utts[i] = u.Utterance
	}
	return utts, warn, nil
}

// utteranceOut is the JSON form of an utterance, shared with `analyze`:
// times in seconds from the call start.
type utteranceOut struct {
	File       string    `json:"file,omitempty"`
	Speaker    string    `json:"speaker"`
	Start      float64   `json:"start"`
	End        float64   `json:"end"`
	Text       string    `json:"text"`
	Words      []wordOut `json:"words"`
	Confidence float64   `json:"confidence"`
}

type wordOut struct {
	Text       string  `json:"text"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float64 `json:"confidence"`
}

func newUtteranceOut(file string, u insights.Utterance) utteranceOut {
	o := utteranceOut{File: file, Speaker: u.Speaker.String(), Start: protocol.Seconds(u.Start), End: protocol.Seconds(u.End),
		Text: u.Text, Words: make([]wordOut, 0, len(u.Words)), Confidence: u.Confidence}
	for _, w := range u.Words {
		o.Words = append(o.Words, wordOut{Text: w.Text, Start: protocol.Seconds(w.Start), End: protocol.Seconds(w.End), Confidence: w.Confidence})
	}
	return o
}

// seconds renders d in seconds rounded to the millisecond, so JSON shows
// 1.64 rather than 1.6400000000000001.

func printUtterances(w io.Writer, format string, utts []utteranceOut) error {
	if format == "json" {
		if utts == nil {
			utts = []utteranceOut{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(utts)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	multi := len(utts) > 0 && utts[0].File != ""
	if multi {
		fmt.Fprintln(tw, "file\tspeaker\tstart\tend\ttext")
	} else {
		fmt.Fprintln(tw, "speaker\tstart\tend\ttext")
	}
	for _, u := range utts {
		if multi {
			fmt.Fprintf(tw, "%s\t", u.File)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\n", u.Speaker, u.Start, u.End, strings.TrimSpace(u.Text))
	}
	return tw.Flush()
}
