package bench

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/earshot/earshot/call"
	"github.com/earshot/earshot/protocol"
	"github.com/earshot/earshot/samples"
)

// HintWindow is how long after the utterance that calls for it (or its due
// time, for hints no utterance triggers) a hint may fire and still count.
const HintWindow = 5 * time.Second

// hintLead is how long before the end of the utterance that calls for it a
// hint may fire: a trigger phrase can match on a partial-length utterance
// split by the VAD, or digits as soon as they start.
const hintLead = 1 * time.Second

// HintScore compares the playbook hints and categories of one analyzed call
// with its ground truth. Knowledge-base suggestions are listed apart: the
// truth does not say which articles a call should bring up.
type HintScore struct {
	Call                 string
	Expected             int      // expected playbook hints
	Found                int      // expected hints that fired in their window
	Fired                int      // playbook hints that fired
	Correct              int      // fired hints inside an expected hint's window
	Missed               []string // "id@due"
	Unexpected           []string // "id@t"
	KB                   []string // "article@t"
	MissingCategories    []string
	UnexpectedCategories []string
}

// ScoreHints matches rec's hints against tr's expected hints. An expected
// hint is found when a hint with its id fired between hintLead before the
// triggering utterance's start (or its due time) and HintWindow after its
// end; a fired hint is correct when it lies in such a window.
func ScoreHints(tr samples.Truth, rec call.Record) HintScore {
	s := HintScore{Call: tr.Name, Expected: len(tr.Expected.Hints)}
	type window struct {
		id       string
		from, to time.Duration
		due      float64
	}
	var wins []window
	for _, h := range tr.Expected.Hints {
		due := tr.Due(h)
		from := protocol.FromSeconds(due) - hintLead
		if h.Segment >= 0 {
			from = protocol.FromSeconds(tr.Segments[h.Segment].Start) - hintLead
		}
		wins = append(wins, window{h.ID, from, protocol.FromSeconds(due) + HintWindow, due})
	}
	in := func(w window, id string, t time.Duration) bool { return w.id == id && t >= w.from && t <= w.to }
	for _, w := range wins {
		if slices.ContainsFunc(rec.Hints, func(h call.Hint) bool { return h.Kind != protocol.HintKB && in(w, h.ID, h.T) }) {
			s.Found++
		} else {
			s.Missed = append(s.Missed, fmt.Sprintf("%s@%.1fs", w.id, w.due))
		}
	}
	for _, h := range rec.Hints {
		if h.Kind == protocol.HintKB {
			s.KB = append(s.KB, fmt.Sprintf("%s@%.1fs", h.KB, h.T.Seconds()))
			continue
		}
		s.Fired++
		if slices.ContainsFunc(wins, func(w window) bool { return in(w, h.ID, h.T) }) {
			s.Correct++
		} else {
			s.Unexpected = append(s.Unexpected, fmt.Sprintf("%s@%.1fs", h.ID, h.T.Seconds()))
		}
	}
	for _, c := range tr.Expected.Categories {
		if !slices.Contains(rec.Categories, c) {
			s.MissingCategories = append(s.MissingCategories, c)
		}
	}
	for _, c := range rec.Categories {
		if !slices.Contains(tr.Expected.Categories, c) {
			s.UnexpectedCategories = append(s.UnexpectedCategories, c)
		}
	}
	return s
}

// PrecisionRecall sums scores over calls: precision is correct fired hints
// over all fired, recall found expected hints over all expected (1 when
// there is nothing to count).
func PrecisionRecall(scores []HintScore) (precision, recall float64) {
	var fired, correct, expected, found int
	for _, s := range scores {
		fired += s.Fired
		correct += s.Correct
		expected += s.Expected
		found += s.Found
	}
	precision, recall = 1, 1
	if fired > 0 {
		precision = float64(correct) / float64(fired)
	}
	if expected > 0 {
		recall = float64(found) / float64(expected)
	}
	return precision, recall
}

// PrintHintScores writes a per-call table and the totals.
func PrintHintScores(w io.Writer, scores []HintScore) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "call\texpected\tfound\tfired\tcorrect\tmissed\tunexpected\tcategories missing/unexpected\tkb suggestions")
	for _, s := range scores {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%v\t%v\t%v/%v\t%v\n", s.Call, s.Expected, s.Found, s.Fired, s.Correct,
			s.Missed, s.Unexpected, s.MissingCategories, s.UnexpectedCategories, s.KB)
	}
	p, r := PrecisionRecall(scores)
	fmt.Fprintf(tw, "TOTAL\t\t\t\t\tprecision %.2f\trecall %.2f\t\t\n", p, r)
	return tw.Flush()
}
