package agentassist

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"regexp"
	"sort"
	"time"

	"github.com/earshot/earshot/insights"
)

// TriggerKind names a kind of playbook trigger.
type TriggerKind string

// Trigger kinds; docs/playbook.md describes each one's keys.
const (
	TriggerPhrase    TriggerKind = "phrase"    // a speaker said one of the phrases
	TriggerSentiment TriggerKind = "sentiment" // a speaker's sentiment held below/above a level
	TriggerDynamics  TriggerKind = "dynamics"  // a conversation-dynamics event
	TriggerAbsence   TriggerKind = "absence"   // a speaker did not say a phrase within a window
	TriggerDigits    TriggerKind = "digits"    // a speaker started reading card digits
)

// ActionKind names what a fired rule produces.
type ActionKind string

// Action kinds.
const (
	KindHint     ActionKind = "hint"     // advice shown to the agent
	KindCategory ActionKind = "category" // a label for the call, emitted once per call
	KindAlert    ActionKind = "alert"    // a notice for supervisors
)

// Action is one thing a rule (or a knowledge-base suggestion) produced.
// Fields that do not apply to the Kind are zero.
type Action struct {
	Kind     ActionKind
	ID       string        // hint, category or alert id; "kb:<article>" for a KB suggestion
	Title    string        // hint title
	Text     string        // hint or alert text
	Priority int           // hint priority: 1 high, 2 normal, 3 low
	KB       string        // knowledge-base article id, optional
	Severity string        // alert severity: info, warning or critical
	At       time.Duration // call time at which the condition became true
	Rule     string        // id of the rule that fired; "kb" for KB suggestions
	// TTL is how long a hint stays on the agent's screen after At, in call
	// time (the rule's ttl_s). Zero means the overlay's default (90 s).
	TTL time.Duration
}

// Alert severities.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// DefaultCooldown applies to a rule that does not set cooldown_s: long
// enough that a hint is not repeated on every utterance of a caller who
// keeps saying the same thing, short enough to come back in a long call.
const DefaultCooldown = 60 * time.Second

// MaxHintTTL bounds a rule's ttl_s: a hint older than an hour of the call
// is not advice any more, and the bound keeps a typo (ttl_s: 36000) from
// pinning a card for the whole call.
const MaxHintTTL = time.Hour

// Playbook is a parsed, validated set of rules. It is immutable and safe to
// share between calls; per-call state lives in a Session.
type Playbook struct {
	name    string
	rules   []rule
	phrases []phrase // every distinct phrase of every trigger, matched once per utterance
	dict    *Dict    // nil when phonetic matching is off
}

type rule struct {
	id       string
	line     int
	all      bool          // all_of instead of any_of
	within   time.Duration // all_of: every trigger satisfied within this window; 0 = any time in the call
	triggers []trigger
	actions  []Action
	cooldown time.Duration
	once     bool
}

type trigger struct {
	kind    TriggerKind
	speaker insights.Speaker // NoSpeaker means either side

	// phrase and absence
	phrases []int // indexes into Playbook.phrases
	regex   *regexp.Regexp
	within  time.Duration // phrase: only utterances starting before it; absence: the window's end

	// sentiment
	below   bool // true: score < level; false: score > level
	level   float64
	forUtts int

	// dynamics
	dynEvent insights.DynamicsEventKind
	minDur   time.Duration
}

type phrase struct {
	text  string
	stems []string
	prons []string // nil when a word is not in the dictionary
}

// Options tune how a playbook is compiled. The zero value uses the
// default CMUdict, loaded once per process on first use.
type Options struct {
	// Dict is the pronunciation dictionary for phonetic matching. Nil
	// means DefaultDict(); if that cannot be loaded, phrases are matched
	// by their stems only and a warning is logged.
	Dict *Dict
	// NoPhonetic turns phonetic matching off (stems only).
	NoPhonetic bool
	// Logger receives the warning about a missing dictionary. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// LoadPlaybook reads and parses the playbook at path with default Options.
// Errors are *PlaybookError (wrapping ErrPlaybook) for a malformed
// playbook, or the os error for an unreadable file.
func LoadPlaybook(path string) (*Playbook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("agentassist: read playbook: %w", err)
	}
	return ParsePlaybook(path, data)
}

// ParsePlaybook parses a playbook from data with default Options; name is
// used in error messages (usually the file path). A malformed playbook is
// refused as a whole with a *PlaybookError naming name, line and reason: no
// half-configured playbook is ever returned.
func ParsePlaybook(name string, data []byte) (*Playbook, error) {
	return ParsePlaybookWith(name, data, Options{})
}

// ParsePlaybookWith is ParsePlaybook with explicit Options.
func ParsePlaybookWith(name string, data []byte, opts Options) (*Playbook, error) {
	p := &parser{name: name}
	pb, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	pb.name = name
	if !opts.NoPhonetic {
		d := opts.Dict
		if d == nil {
			var derr error
			d, derr = DefaultDict()
			if derr != nil {
				log := opts.Logger
				if log == nil {
					log = slog.Default()
				}
				log.Warn("agentassist: no pronunciation dictionary, phrases matched by stems only", "err", derr)
			}
		}
		pb.dict = d
	}
	for i := range pb.phrases {
		ph := &pb.phrases[i]
		ph.prons = pb.dict.phraseProns(tokenize(ph.text))
	}
	return pb, nil
}

// Name returns the name the playbook was parsed under.
func (p *Playbook) Name() string { return p.name }

// Phonetic reports whether phrases are also matched by pronunciation.
func (p *Playbook) Phonetic() bool { return p.dict != nil }

// RuleIDs returns the rule ids in playbook order.
func (p *Playbook) RuleIDs() []string {
	ids := make([]string, len(p.rules))
	for i, r := range p.rules {
		ids[i] = r.id
	}
	return ids
}

// KBRefs returns the distinct knowledge-base article ids the playbook's
// hints refer to, sorted.
func (p *Playbook) KBRefs() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range p.rules {
		for _, a := range r.actions {
			if a.KB != "" && !seen[a.KB] {
				seen[a.KB] = true
				out = append(out, a.KB)
			}
		}
	}
	sort.Strings(out)
	return out
}

// CheckKB returns an error wrapping ErrUnknownArticle if a hint refers to
// an article k does not have, so an engine can refuse to start with a
// playbook and knowledge base that do not fit together.
func (p *Playbook) CheckKB(k *KB) error {
	for _, r := range p.rules {
		for _, a := range r.actions {
			if a.KB == "" {
				continue
			}
			if _, ok := k.Article(a.KB); !ok {
				return fmt.Errorf("%w: %s:%d: rule %q hint %q refers to %q", ErrUnknownArticle, p.name, r.line, r.id, a.ID, a.KB)
			}
		}
	}
	return nil
}

func durationFromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

func speakerName(s insights.Speaker) string {
	if s == insights.NoSpeaker {
		return "any"
	}
	return s.String()
}
