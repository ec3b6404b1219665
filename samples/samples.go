package samples

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// files holds the generated calls. The playbook (playbook.yaml) and the
// knowledge base (kb/*.md) are added to this pattern once they exist: an
// embed pattern that matches nothing does not compile.
//
//go:embed calls/*.mp3 calls/*.json calls/manifest.tsv
var files embed.FS

// Speaker names used in the ground truth.
const (
	Agent  = "agent"
	Caller = "caller"
)

// Truth is the ground truth of one sample call, as written by generate.sh
// next to its MP3. All times are seconds from the start of the decoded audio.
type Truth struct {
	Name        string  `json:"name"`
	Audio       string  `json:"audio"` // file name of the MP3, relative to calls/
	Description string  `json:"description"`
	Duration    float64 `json:"duration_s"`
	Voices      Voices  `json:"voices"`
	// CallerPhoneBand is true when the caller's channel went through a
	// telephone line simulation (8 kHz, 300-3400 Hz, line noise, mu-law).
	CallerPhoneBand bool      `json:"caller_phone_band"`
	Noise           Noise     `json:"noise_dbfs"`
	Segments        []Segment `json:"segments"`
	Expected        Expected  `json:"expected"`
}

// Voices names the flite voice of each side.
type Voices struct {
	Agent  string `json:"agent"`
	Caller string `json:"caller"`
}

// Noise is the RMS level in dBFS of the noise floor mixed into each channel
// for the whole call.
type Noise struct {
	Agent  float64 `json:"agent"`
	Caller float64 `json:"caller"`
}

// Segment is one spoken line: who, when (trimmed to where speech is), and the
// exact words in lower case without punctuation, numbers written as spoken.
type Segment struct {
	Speaker string  `json:"speaker"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Text    string  `json:"text"`
}

// Span is a stretch of time, used for dead air.
type Span struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// Overtalk is a stretch where both sides talk; By is the speaker who started
// while the other was already talking.
type Overtalk struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	By    string  `json:"by"`
}

// Counts holds one number per speaker.
type Counts struct {
	Agent  int `json:"agent"`
	Caller int `json:"caller"`
}

// Hint is an agent-assist hint the call must raise. Segment indexes the
// utterance that calls for it; it is -1 for a hint that no utterance
// triggers (a missing recording disclosure, dead air), which is due at T.
type Hint struct {
	ID      string  `json:"id"`
	Segment int     `json:"segment"`
	T       float64 `json:"t,omitempty"`
}

// Expected lists what an analysis of the call must find.
type Expected struct {
	DeadAir       []Span     `json:"dead_air"`
	Overtalk      []Overtalk `json:"overtalk"`
	Interruptions Counts     `json:"interruptions"`
	Hints         []Hint     `json:"hints"`
	Categories    []string   `json:"categories"`
}

// AudioPath returns the path of the call's MP3 inside Files.
func (t Truth) AudioPath() string { return path.Join("calls", t.Audio) }

// Due returns the time in seconds at which hint h becomes due in call t: the
// end of the utterance that calls for it, or its T when it has none. It
// panics if h.Segment is out of range, which LoadTruth rules out.
func (t Truth) Due(h Hint) float64 {
	if h.Segment < 0 {
		return h.T
	}
	return t.Segments[h.Segment].End
}

// SpeakerSegments returns the segments of one speaker, in time order, in a
// new slice.
func (t Truth) SpeakerSegments(speaker string) []Segment {
	var out []Segment
	for _, s := range t.Segments {
		if s.Speaker == speaker {
			out = append(out, s)
		}
	}
	return out
}

// Reference returns everything one speaker says, as one space-separated
// string: the reference transcript of that channel.
func (t Truth) Reference(speaker string) string {
	var words []string
	for _, s := range t.SpeakerSegments(speaker) {
		words = append(words, s.Text)
	}
	return strings.Join(words, " ")
}

// LoadTruth reads one ground-truth JSON document from r and checks it: known
// fields only, speakers agent or caller, every segment inside the call with a
// start before its end, and hints pointing at existing segments. Any failure
// wraps ErrBadTruth; a read error is returned wrapped as it is.
func LoadTruth(r io.Reader) (Truth, error) {
	// Read first so that a failing reader is told apart from bad JSON.
	b, err := io.ReadAll(r)
	if err != nil {
		return Truth{}, fmt.Errorf("samples: read truth: %w", err)
	}
	var t Truth
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Truth{}, fmt.Errorf("%w: %v", ErrBadTruth, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Truth{}, fmt.Errorf("%w: data after the JSON document", ErrBadTruth)
	}
	if err := t.check(); err != nil {
		return Truth{}, err
	}
	return t, nil
}

// check enforces the schema rules LoadTruth documents.
func (t Truth) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadTruth, t.Name, fmt.Sprintf(format, args...))
	}
	if t.Name == "" || t.Audio == "" {
		return fmt.Errorf("%w: name and audio are required", ErrBadTruth)
	}
	if !(t.Duration > 0) {
		return bad("duration_s %v is not positive", t.Duration)
	}
	for i, s := range t.Segments {
		if s.Speaker != Agent && s.Speaker != Caller {
			return bad("segment %d: unknown speaker %q", i, s.Speaker)
		}
		if !(s.Start >= 0 && s.Start < s.End && s.End <= t.Duration) {
			return bad("segment %d: [%v, %v] is not a span inside the call (0-%v s)", i, s.Start, s.End, t.Duration)
		}
	}
	for i, o := range t.Expected.Overtalk {
		if o.By != Agent && o.By != Caller {
			return bad("overtalk %d: unknown speaker %q", i, o.By)
		}
		if !(o.Start < o.End) {
			return bad("overtalk %d ends before it starts", i)
		}
	}
	for i, d := range t.Expected.DeadAir {
		if !(d.Start < d.End) {
			return bad("dead air %d ends before it starts", i)
		}
	}
	for i, h := range t.Expected.Hints {
		if h.ID == "" {
			return bad("hint %d has no id", i)
		}
		switch {
		case h.Segment == -1:
			if !(h.T > 0 && h.T <= t.Duration) {
				return bad("hint %d (%s) has segment -1 and no time t inside the call", i, h.ID)
			}
		case h.Segment < -1 || h.Segment >= len(t.Segments):
			return bad("hint %d (%s) points at segment %d of %d", i, h.ID, h.Segment, len(t.Segments))
		}
	}
	return nil
}

// Files returns the embedded sample files, read-only. Paths are relative to
// the samples directory: calls/NAME.mp3, calls/NAME.json, calls/manifest.tsv.
func Files() fs.FS { return files }

// Open opens one embedded file by its path in Files, for example
// "calls/billing_dispute.mp3" (Truth.AudioPath gives it). The caller closes
// the file. A missing file gives an error wrapping fs.ErrNotExist.
func Open(name string) (fs.File, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, fmt.Errorf("samples: open %s: %w", name, err)
	}
	return f, nil
}

// Call returns the ground truth of the embedded call with the given name,
// such as "tech_support". An unknown name wraps ErrNoCall.
func Call(name string) (Truth, error) {
	b, err := files.ReadFile(path.Join("calls", name+".json"))
	if err != nil {
		return Truth{}, fmt.Errorf("%w: %q", ErrNoCall, name)
	}
	t, err := LoadTruth(bytes.NewReader(b))
	if err != nil {
		return Truth{}, fmt.Errorf("samples: calls/%s.json: %w", name, err)
	}
	return t, nil
}

// Calls returns the ground truth of every embedded call, sorted by name. An
// error means an embedded truth is invalid, which the package tests rule
// out.
func Calls() ([]Truth, error) {
	paths, err := fs.Glob(files, "calls/*.json")
	if err != nil {
		return nil, fmt.Errorf("samples: list calls: %w", err)
	}
	out := make([]Truth, 0, len(paths))
	for _, p := range paths {
		t, err := Call(strings.TrimSuffix(path.Base(p), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
