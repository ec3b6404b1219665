package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// WriteText prints reports side by side, one row per manifest entry and a
// total row: for each system errors as sub/del/ins, WER and RTF. All
// reports must come from the same manifest (same entries, same order).
// With verbose set, each system's hypothesis follows its row.
func WriteText(w io.Writer, verbose bool, reports ...*Report) error {
	if len(reports) == 0 {
		return nil
	}
	for _, r := range reports[1:] {
		if len(r.Files) != len(reports[0].Files) {
			return fmt.Errorf("eval: reports cover different manifests (%d and %d entries)", len(reports[0].Files), len(r.Files))
		}
	}
	name := func(e Entry) string {
		return fmt.Sprintf("%s:%s", filepath.Base(e.Audio), e.Channel)
	}
	width := len("TOTAL")
	for _, f := range reports[0].Files {
		width = max(width, len(name(f.Entry)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %6s %7s", width, "file", "words", "audio_s")
	for _, r := range reports {
		fmt.Fprintf(&b, " | %-24s", trunc(r.System, 24))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-*s %6s %7s", width, "", "", "")
	for range reports {
		fmt.Fprintf(&b, " | %-10s %6s %6s", "sub/del/ins", "WER", "RTF")
	}
	b.WriteString("\n")
	cell := func(c Counts, wer, rtf float64, failed bool) string {
		s := fmt.Sprintf(" | %-10s %6.3f %6.3f", fmt.Sprintf("%d/%d/%d", c.Sub, c.Del, c.Ins), wer, rtf)
		if failed {
			s += "!"
		}
		return s
	}
	for i, f := range reports[0].Files {
		fmt.Fprintf(&b, "%-*s %6d %7.1f", width, name(f.Entry), f.Counts.Ref, f.AudioSec)
		for _, r := range reports {
			g := r.Files[i]
			b.WriteString(cell(g.Counts, g.WER, g.RTF, g.Err != ""))
		}
		b.WriteString("\n")
		if verbose {
			fmt.Fprintf(&b, "%*s ref: %s\n", width, "", f.Entry.Reference)
			for _, r := range reports {
				g := r.Files[i]
				h := g.Hypothesis
				if g.Err != "" {
					h = "ERROR " + g.Err
				}
				fmt.Fprintf(&b, "%*s %s: %s\n", width, "", r.System, h)
			}
		}
	}
	t0 := reports[0].Total
	fmt.Fprintf(&b, "%-*s %6d %7.1f", width, "TOTAL", t0.Counts.Ref, t0.AudioSec)
	for _, r := range reports {
		b.WriteString(cell(r.Total.Counts, r.Total.WER, r.Total.RTF, r.Total.Failed > 0))
	}
	b.WriteString("\n")
	for _, r := range reports {
		fmt.Fprintf(&b, "%s: WER %.3f (%d errors / %d words), CPU %.1f s for %.1f s of audio",
			r.System, r.Total.WER, r.Total.Counts.Errors(), r.Total.Counts.Ref, r.Total.CPUSec, r.Total.AudioSec)
		var setup float64
		for _, f := range r.Files {
			setup += f.SetupSec
		}
		if setup > 0 {
			fmt.Fprintf(&b, " (of which %.1f s model loading, left out of RTF)", setup)
		}
		if r.Total.Failed > 0 {
			fmt.Fprintf(&b, ", %d entries failed (!)", r.Total.Failed)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// WriteJSON writes the reports as one JSON array.
func WriteJSON(w io.Writer, reports ...*Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reports)
}
