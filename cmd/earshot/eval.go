package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

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

// evalSTTFlags are `eval stt`'s flags.
type evalSTTFlags struct {
	manifest, lm, dict, format, psArgs *string
	baseline, baselineOnly, verbose    *bool
	noBestpath, fwdflat                *bool
	maxHMMPF, ds, plWindow             *int
	ratio                              *float64
}

func addEvalSTTFlags(fs *flag.FlagSet) evalSTTFlags {
	return evalSTTFlags{
		manifest:     fs.String("manifest", "", "manifest `file` (required)"),
		lm:           fs.String("lm", "", "language model (default: $EARSHOT_STT_LM, else "+projectLM+" if built, else the Debian en-us model)"),
		dict:         fs.String("dict", "", "pronunciation dictionary (default: $EARSHOT_STT_DICT, else "+projectDict+" if built, else cmudict)"),
		baseline:     fs.Bool("baseline", false, "also run plain pocketsphinx_continuous with the default Debian model and print it side by side"),
		baselineOnly: fs.Bool("baseline-only", false, "run only the pocketsphinx_continuous baseline"),
		format:       fs.String("format", "text", "output format: text or json"),
		verbose:      fs.Bool("verbose", false, "print references and hypotheses under each row (text format)"),
		noBestpath:   fs.Bool("no-bestpath", false, "skip PocketSphinx's best-path lattice pass (faster; word confidences become 0)"),
		psArgs:       fs.String("ps-args", "", "extra PocketSphinx `flags` for our decoder as one string of name value pairs, e.g. \"-lw 8 -wip 0.5\""),
		maxHMMPF:     fs.Int("maxhmmpf", 0, "PocketSphinx -maxhmmpf for our decoder (0 = the binding's default)"),
		ds:           fs.Int("ds", 0, "PocketSphinx -ds frame downsampling for our decoder (0 = the binding's default)"),
		plWindow:     fs.Int("pl-window", 0, "PocketSphinx -pl_window for our decoder (0 = the binding's default)"),
		fwdflat:      fs.Bool("fwdflat", false, "run PocketSphinx's flat-lexicon second pass in our decoder"),
		ratio:        fs.Float64("max-ratio", 0, "with --baseline: fail unless our total WER <= `R` x the baseline's (0 = just report)"),
	}
}

// decoderConfig is the project's recognizer configuration with the flags
// on top; the project LM and dictionary are used when built and not
// overridden. ok is false when --ps-args is not name value pairs.
func (f evalSTTFlags) decoderConfig(env *environment) (cfg pocketsphinx.Config, ok bool) {
	cfg = pocketsphinx.ProjectConfig()
	cfg.Logger = env.log
	if *f.lm != "" {
		cfg.LM = *f.lm
	} else if cfg.LM == "" && fileExists(projectLM) {
		cfg.LM = projectLM
	}
	if *f.dict != "" {
		cfg.Dict = *f.dict
	} else if cfg.Dict == "" && fileExists(projectDict) {
		cfg.Dict = projectDict
	}
	cfg.NoBestpath = cfg.NoBestpath || *f.noBestpath
	cfg.Fwdflat = cfg.Fwdflat || *f.fwdflat
	if *f.maxHMMPF > 0 {
		cfg.MaxHMMPF = *f.maxHMMPF
	}
	if *f.ds > 0 {
		cfg.DS = *f.ds
	}
	if *f.plWindow > 0 {
		cfg.PLWindow = *f.plWindow
	}
	if p := strings.Fields(*f.psArgs); len(p) > 0 {
		if len(p)%2 != 0 {
			return cfg, false
		}
		cfg.Args = append(cfg.Args, p...)
	}
	return cfg, true
}

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
	f := addEvalSTTFlags(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *f.manifest == "" || fs.NArg() != 0 || (*f.format != "text" && *f.format != "json") || *f.ratio < 0 {
		fs.Usage()
		return errUsage
	}
	m, err := eval.LoadManifest(*f.manifest)
	if err != nil {
		return err
	}
	cfg, ok := f.decoderConfig(env)
	if !ok {
		fmt.Fprintln(env.stderr, "earshot eval: --ps-args must be name value pairs")
		return errUsage
	}
	if cfg.LM == "" {
		env.log.Warn("eval: project language model not built (run make lm); using the generic Debian model")
	}
	if *f.baselineOnly {
		b, err := eval.Run(ctx, m, &eval.Baseline{}, env.log)
		if err != nil {
			return err
		}
		return eval.Write(env.stdout, *f.format, *f.verbose, b)
	}
	return evalOurs(ctx, env, f, m, cfg)
}

// evalOurs runs our pipeline, and the baseline with --baseline, over m and
// prints the reports and the --max-ratio verdict.
func evalOurs(ctx context.Context, env *environment, f evalSTTFlags, m *eval.Manifest, cfg pocketsphinx.Config) error {
	// The decoder is loaded once, before timing starts, as the engine's
	// pool does before calls arrive.
	dec, err := pocketsphinx.NewDecoder(cfg)
	if err != nil {
		return err
	}
	defer dec.Close()
	ours := &eval.Pipeline{Recognizer: dec}
	if cfg.LM != "" {
		ours.Label = "earshot (" + shortPath(cfg.LM) + ")"
	}
	systems := []eval.System{ours}
	if *f.baseline {
		systems = append(systems, &eval.Baseline{})
	}
	var reports []*eval.Report
	for _, sys := range systems {
		r, err := eval.Run(ctx, m, sys, env.log)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	if err := eval.Write(env.stdout, *f.format, *f.verbose, reports...); err != nil {
		return err
	}
	if eval.AnyFailed(reports...) {
		return errReported
	}
	if *f.baseline && *f.ratio > 0 {
		t := eval.NewTarget(reports[0], reports[1], *f.ratio)
		fmt.Fprintln(env.stdout, t)
		if !t.Met() {
			return errReported
		}
	}
	return nil
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
