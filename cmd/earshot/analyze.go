package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/earshot/earshot/audio"
	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/insights"
	"github.com/earshot/earshot/protocol"
)

func init() {
	register(command{
		name:    "analyze",
		summary: "analyze stereo call recordings offline and print one JSON document per file",
		run:     runAnalyze,
	})
}

func runAnalyze(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "analyze", "FILE...",
		"Runs stereo recordings (WAV or MP3; left = agent, right = caller) through the call pipeline as fast\n"+
			"as the CPU allows and prints one JSON document per file (--format text: a readable report).")
	format := fs.String("format", "json", "output format: json or text")
	noSTT := fs.Bool("no-stt", false, "skip speech recognition (segments and dynamics only; much faster)")
	jobs := fs.Int("jobs", runtime.NumCPU(), "files analyzed at once (each uses two recognizers)")
	af := addAssistFlags(fs)
	sf := addSTTFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(env.stderr, "earshot analyze: unknown --format %q (json or text)\n", *format)
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	*jobs = max(1, min(*jobs, fs.NArg()))

	deps, closeDeps, err := loadDeps(env, af, sf, !*noSTT, 2**jobs)
	if err != nil {
		return err
	}
	defer closeDeps()

	files := fs.Args()
	run := startAnalyses(ctx, deps, files, *jobs)
	// The workers use deps: wait for them before closeDeps runs.
	defer run.wait()
	return printAnalyses(ctx, env, *format, files, run)
}

// analysisOutcome is what analyzing one file gave.
type analysisOutcome struct {
	rec  call.Record
	warn string
	err  error
	took time.Duration
}

// analyses are the files of one `earshot analyze` being analyzed at once.
// A worker writes results[i] before it closes done[i], so whoever waits on
// done[i] may read results[i].
type analyses struct {
	results []analysisOutcome
	done    []chan struct{}
	wg      sync.WaitGroup
}

// startAnalyses starts jobs workers and a feeder that hands them the files
// in order until ctx ends. The caller owns the workers and must call wait
// before it returns; the feeder stops with them, as it closes the work
// channel the workers range over.
func startAnalyses(ctx context.Context, deps call.Deps, files []string, jobs int) *analyses {
	a := &analyses{results: make([]analysisOutcome, len(files)), done: make([]chan struct{}, len(files))}
	for i := range a.done {
		a.done[i] = make(chan struct{})
	}
	work := make(chan int)
	for range jobs {
		a.wg.Go(func() {
			for i := range work {
				start := time.Now()
				rec, err := analyzeFile(ctx, deps, files[i])
				warn, err := truncationWarning(rec, err)
				a.results[i] = analysisOutcome{rec, warn, err, time.Since(start)}
				close(a.done[i])
			}
		})
	}
	go func() {
		defer close(work)
		for i := range files {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return a
}

// wait returns once every worker has.
func (a *analyses) wait() { a.wg.Wait() }

// printAnalyses prints the outcome of each file in input order as soon as
// it is ready, so a long first file holds up the output but not the work.
// A file that failed is reported on stderr and the others still print;
// errReported then says that one did.
func printAnalyses(ctx context.Context, env *environment, format string, files []string, a *analyses) error {
	failed := false
	for i, path := range files {
		select {
		case <-a.done[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		r := a.results[i]
		if r.err != nil {
			fmt.Fprintf(env.stderr, "earshot analyze: %s: %v\n", path, r.err)
			failed = true
			continue
		}
		if r.warn != "" {
			fmt.Fprintf(env.stderr, "earshot analyze: warning: %s\n", r.warn)
		}
		env.log.Debug("analyzed", "file", path, "audio_s", r.rec.Duration.Seconds(),
			"took_s", r.took.Seconds(), "x_realtime", r.rec.Duration.Seconds()/max(r.took.Seconds(), 1e-9))
		if err := printAnalysis(env.stdout, format, path, r.rec); err != nil {
			return err
		}
	}
	if failed {
		return errReported
	}
	return nil
}

// analyzeFile feeds one recording through the call pipeline, the two
// channels interleaved frame by frame as a live call would arrive. It
// streams the file: an hour of call needs no more memory than a minute.
// A file cut short returns the record of what was there and an error
// wrapping audio.ErrTruncated.
func analyzeFile(ctx context.Context, deps call.Deps, path string) (call.Record, error) {
	src, c, err := audio.OpenCall(path)
	if err != nil {
		return call.Record{}, err
	}
	defer c.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	rec, err := call.AnalyzeSource(ctx, deps, call.Config{CallID: name}, src)
	if errors.Is(err, audio.ErrEmpty) {
		// The source's own errors name the file already; this one is the engine's.
		err = fmt.Errorf("%s: %w", path, err)
	}
	return rec, err
}

// truncationWarning separates a recording cut short, whose audio before the
// cut was analyzed, from a failure: it returns the warning to print (the
// error names the file) and a nil error, or the error unchanged.
func truncationWarning(rec call.Record, err error) (string, error) {
	if err != nil && errors.Is(err, audio.ErrTruncated) && rec.Duration > 0 {
		return fmt.Sprintf("%v; the %.1f s before the cut were analyzed", err, rec.Duration.Seconds()), nil
	}
	return "", err
}

// analysisJSON is the document `earshot analyze` prints per file.
type analysisJSON struct {
	File       string                    `json:"file"`
	DurationS  float64                   `json:"duration_s"`
	Segments   []protocol.Segment        `json:"segments"`
	Dynamics   insights.Dynamics         `json:"dynamics"`
	Utterances []protocol.Utterance      `json:"utterances"`
	Sentiment  insights.SentimentSummary `json:"sentiment"`
	Hints      []call.Hint               `json:"hints"`
	Categories []string                  `json:"categories"`
	Alerts     []call.Alert              `json:"alerts"`
}

func printAnalysis(w io.Writer, format, path string, r call.Record) error {
	if format == "json" {
		doc := analysisJSON{
			File:       path,
			DurationS:  protocol.Seconds(r.Duration),
			Segments:   call.SegmentsWire(r.Segments),
			Dynamics:   r.Dynamics,
			Utterances: call.UtterancesWire(r.Utterances),
			Sentiment:  r.Sentiment,
			Hints:      nonNil(r.Hints),
			Categories: nonNil(r.Categories),
			Alerts:     nonNil(r.Alerts),
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return printAnalysisText(w, path, r)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func printAnalysisText(w io.Writer, path string, r call.Record) error {
	d := r.Dynamics
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "== %s (%.1f s)\n", path, r.Duration.Seconds())
	fmt.Fprintf(tw, "talk time\tagent %.1f s\tcaller %.1f s\tagent share %.0f %%\n", d.Talk.Agent.Seconds(), d.Talk.Caller.Seconds(), 100*d.TalkRatio)
	fmt.Fprintf(tw, "interruptions\tagent %d\tcaller %d\tturns %d\n", d.Interruptions.Agent, d.Interruptions.Caller, d.Turns)
	fmt.Fprintf(tw, "longest monologue\tagent %.1f s\tcaller %.1f s\n", d.LongestMonologue.Agent.Seconds(), d.LongestMonologue.Caller.Seconds())
	fmt.Fprintf(tw, "speaking rate\tagent %.0f wpm\tcaller %.0f wpm\n", d.WPM.Agent, d.WPM.Caller)
	fmt.Fprintf(tw, "response gap\tmean %.2f s\tmax %.2f s\n", d.MeanResponseGap.Seconds(), d.MaxResponseGap.Seconds())
	for _, s := range d.DeadAir {
		fmt.Fprintf(tw, "dead air\t%.1f–%.1f s\t(%.1f s)\n", s.Start.Seconds(), s.End.Seconds(), s.Len().Seconds())
	}
	for _, s := range d.Overtalk {
		fmt.Fprintf(tw, "overtalk\t%.1f–%.1f s\tby %s\n", s.Start.Seconds(), s.End.Seconds(), s.By)
	}
	fmt.Fprintf(tw, "sentiment\tcaller %+.2f\tagent %+.2f\ttrend %+.2f\n", r.Sentiment.Caller, r.Sentiment.Agent, r.Sentiment.Trend)
	if len(r.Categories) > 0 {
		fmt.Fprintf(tw, "categories\t%s\n", strings.Join(r.Categories, ", "))
	}
	for _, h := range r.Hints {
		fmt.Fprintf(tw, "hint\t%.1f s\t%s\t%s\n", h.T.Seconds(), h.ID, h.Title)
	}
	for _, a := range r.Alerts {
		fmt.Fprintf(tw, "alert\t%.1f s\t%s\t%s\n", a.T.Seconds(), a.ID, a.Severity)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, u := range r.Utterances {
		fmt.Fprintf(w, "  %6.1f %6.1f  %-6s %-8s %s\n", u.Start.Seconds(), u.End.Seconds(), u.Speaker, u.Sentiment.Label, u.Text)
	}
	_, err := fmt.Fprintln(w)
	return err
}
