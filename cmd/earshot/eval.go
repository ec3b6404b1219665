package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/earshot/earshot/stt"
	"github.com/earshot/earshot/stt/eval"
	"github.com/earshot/earshot/stt/pocketsphinx"
)

func init() {
	register(command{
		name:    "eval",
		summary: "measure recognition (eval stt: WER, real-time factor) and hints (eval hints: precision, recall)",
		run:     runEval,
	})
}

// projectLM and projectDict are what `make lm` builds; eval uses them when
// they exist and nothing else was asked for.
const (
	projectLM   = "lm/build/earshot.lm.bin"
	projectDict = "lm/build/earshot.dict"
)

func runEval(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 && args[0] == "hints" {
		return runEvalHints(ctx, env, args[1:])
	}
	if len(args) == 0 || args[0] != "stt" {
		fmt.Fprintln(env.stderr, "Usage: earshot eval stt --manifest FILE [--lm PATH --dict PATH] [--baseline] [--format text|json]")
		fmt.Fprintln(env.stderr, "       earshot eval hints   (playbook hints on the sample calls vs their ground truth)")
		return errUsage
	}
	fs := newFlagSet(env, "eval stt", "",
		"Transcribes every (audio, channel, reference) entry of a manifest with Earshot's pipeline\n"+
			"(decode, VAD gate, PocketSphinx) and prints WER and RTF per file and in total. The manifest\n"+
			"is TSV: audio<TAB>agent|caller|mono<TAB>reference text, paths relative to the manifest.")
	manifest := fs.String("manifest", "", "manifest `file` (required)")
	lm := fs.String("lm", "", "language model (default: $EARSHOT_STT_LM, else "+projectLM+" if built, else the Debian en-us model)")
	dict := fs.String("dict", "", "pronunciation dictionary (default: $EARSHOT_STT_DICT, else "+projectDict+" if built, else cmudict)")
	baseline := fs.Bool("baseline", false, "also run plain pocketsphinx_continuous with the default Debian model and print it side by side")
	baselineOnly := fs.Bool("baseline-only", false, "run only the pocketsphinx_continuous baseline")
	format := fs.String("format", "text", "output format: text or json")
	verbose := fs.Bool("verbose", false, "print references and hypotheses under each row (text format)")
	noBestpath := fs.Bool("no-bestpath", false, "skip PocketSphinx's best-path lattice pass (faster; word confidences become 0)")
	psArgs := fs.String("ps-args", "", "extra PocketSphinx `flags` for our decoder as one string of name value pairs, e.g. \"-lw 8 -wip 0.5\"")
	maxHMMPF := fs.Int("maxhmmpf", 0, "PocketSphinx -maxhmmpf for our decoder (0 = the binding's default)")
	ds := fs.Int("ds", 0, "PocketSphinx -ds frame downsampling for our decoder (0 = the binding's default)")
	plWindow := fs.Int("pl-window", 0, "PocketSphinx -pl_window for our decoder (0 = the binding's default)")
	fwdflat := fs.Bool("fwdflat", false, "run PocketSphinx's flat-lexicon second pass in our decoder")
	ratio := fs.Float64("max-ratio", 0, "with --baseline: fail unless our total WER <= `R` x the baseline's (0 = just report)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *manifest == "" || fs.NArg() != 0 || (*format != "text" && *format != "json") || *ratio < 0 {
		fs.Usage()
		return errUsage
	}
	m, err := eval.LoadManifest(*manifest)
	if err != nil {
		return err
	}

	cfg := pocketsphinx.ProjectConfig()
	cfg.Logger = env.log
	if *lm != "" {
		cfg.LM = *lm
	} else if cfg.LM == "" && fileExists(projectLM) {
		cfg.LM = projectLM
	}
	if *dict != "" {
		cfg.Dict = *dict
	} else if cfg.Dict == "" && fileExists(projectDict) {
		cfg.Dict = projectDict
	}
	cfg.NoBestpath = cfg.NoBestpath || *noBestpath
	cfg.Fwdflat = cfg.Fwdflat || *fwdflat
	if *maxHMMPF > 0 {
		cfg.MaxHMMPF = *maxHMMPF
	}
	if *ds > 0 {
		cfg.DS = *ds
	}
	if *plWindow > 0 {
		cfg.PLWindow = *plWindow
	}
	if f := strings.Fields(*psArgs); len(f) > 0 {
		if len(f)%2 != 0 {
			fmt.Fprintln(env.stderr, "earshot eval: --ps-args must be name value pairs")
			return errUsage
		}
		cfg.Args = append(cfg.Args, f...)
	}
	if cfg.LM == "" {
		env.log.Warn("eval: project language model not built (run make lm); using the generic Debian model")
	}
	reports := []*eval.Report{}
	if *baselineOnly {
		b, err := eval.Run(ctx, m, &eval.Baseline{}, env.log)
		if err != nil {
			return err
		}
		return writeReports(env, *format, *verbose, b)
	}
	// The decoder is loaded once, before timing starts, as the engine's
	// pool does before calls arrive.
	dec, err := pocketsphinx.NewDecoder(cfg)
	if err != nil {
		return err
	}
	defer dec.Close()
	ours := &pipeline{dec: dec, name: "earshot"}
	if cfg.LM != "" {
		ours.name = "earshot (" + shortPath(cfg.LM) + ")"
	}

	r, err := eval.Run(ctx, m, ours, env.log)
	if err != nil {
		return err
	}
	reports = append(reports, r)
	if *baseline {
		b, err := eval.Run(ctx, m, &eval.Baseline{}, env.log)
		if err != nil {
			return err
		}
		reports = append(reports, b)
	}
	if err := writeReports(env, *format, *verbose, reports...); err != nil {
		return err
	}
	for _, r := range reports {
		if r.Total.Failed > 0 {
			return errReported
		}
	}
	if *baseline && *ratio > 0 {
		ourWER, baseWER := reports[0].Total.WER, reports[1].Total.WER
		verdict := "met"
		if ourWER > *ratio*baseWER {
			verdict = "MISSED"
		}
		fmt.Fprintf(env.stdout, "target: WER %.3f <= %.2f x baseline %.3f = %.3f: %s\n",
			ourWER, *ratio, baseWER, *ratio*baseWER, verdict)
		if verdict != "met" {
			return errReported
		}
	}
	return nil
}

func writeReports(env *environment, format string, verbose bool, reports ...*eval.Report) error {
	if format == "json" {
		return eval.WriteJSON(env.stdout, reports...)
	}
	return eval.WriteText(env.stdout, verbose, reports...)
}

// pipeline is Earshot's own recognizer as the engine runs it: VAD-gated
// PocketSphinx over one channel.
type pipeline struct {
	dec  *pocketsphinx.Decoder
	name string
}

func (p *pipeline) Name() string { return p.name }

func (p *pipeline) Transcribe(ctx context.Context, pcm []float32) (eval.Transcript, error) {
	if err := ctx.Err(); err != nil {
		return eval.Transcript{}, err
	}
	// Each file is a new stream, as a new call is.
	if err := p.dec.Reset(); err != nil {
		return eval.Transcript{}, err
	}
	results, err := stt.Transcribe(p.dec, pcm, stt.TranscribeConfig{})
	if err != nil {
		return eval.Transcript{}, err
	}
	var words []string
	for _, r := range results {
		if r.Final && r.Text != "" {
			words = append(words, r.Text)
		}
	}
	return eval.Transcript{Text: strings.Join(words, " ")}, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func shortPath(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
