package eval

import (
	"fmt"
	"io"
)

// Write prints reports in format "text" (WriteText, with verbose) or
// "json" (WriteJSON); another format wraps ErrFormat.
func Write(w io.Writer, format string, verbose bool, reports ...*Report) error {
	switch format {
	case "text":
		return WriteText(w, verbose, reports...)
	case "json":
		return WriteJSON(w, reports...)
	}
	return fmt.Errorf("%w: %q", ErrFormat, format)
}

// AnyFailed says whether some file of some report could not be evaluated.
func AnyFailed(reports ...*Report) bool {
	for _, r := range reports {
		if r.Total.Failed > 0 {
			return true
		}
	}
	return false
}

// Target is issue 3's acceptance test: our total WER at most Ratio times
// the baseline's.
type Target struct {
	WER, BaselineWER, Ratio float64
}

// NewTarget compares ours with baseline's total WER at ratio.
func NewTarget(ours, baseline *Report, ratio float64) Target {
	return Target{WER: ours.Total.WER, BaselineWER: baseline.Total.WER, Ratio: ratio}
}

// Met says whether the target is met.
func (t Target) Met() bool { return t.WER <= t.Ratio*t.BaselineWER }

// String is the verdict as one line, for example
// "target: WER 0.300 <= 0.80 x baseline 0.400 = 0.320: met".
func (t Target) String() string {
	verdict := "met"
	if !t.Met() {
		verdict = "MISSED"
	}
	return fmt.Sprintf("target: WER %.3f <= %.2f x baseline %.3f = %.3f: %s",
		t.WER, t.Ratio, t.BaselineWER, t.Ratio*t.BaselineWER, verdict)
}
