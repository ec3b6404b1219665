package agentassist

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/earshot/earshot/insights"
)

// PlaybookError is a malformed playbook: the file, the line and why. It
// wraps ErrPlaybook.
type PlaybookError struct {
	File   string
	Line   int // 1-based; 0 when the problem has no line (an empty file)
	Reason string
}

// Error formats the error as "file:line: reason", the form editors and
// terminals turn into a link.
func (e *PlaybookError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// Unwrap returns ErrPlaybook.
func (e *PlaybookError) Unwrap() error { return ErrPlaybook }

// parser walks the yaml.Node tree rather than unmarshalling into structs:
// yaml.v3's nodes carry line numbers, which struct decoding loses, and a
// hand walk lets every unknown key, wrong type and missing field be
// reported where it is.
type parser struct {
	name      string
	phraseIdx map[string]int
	pb        *Playbook
	keyOf     map[*yaml.Node]*yaml.Node // value node -> its key, for errors about the key
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &PlaybookError{File: p.name, Line: line, Reason: fmt.Sprintf(format, args...)}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(data []byte) (*Playbook, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 reports syntax errors as "yaml: line N: reason".
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &PlaybookError{File: p.name, Line: line, Reason: "YAML syntax: " + m[2]}
		}
		return nil, &PlaybookError{File: p.name, Reason: strings.TrimPrefix(msg, "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, p.errf(nil, "empty playbook")
	}
	p.pb = &Playbook{}
	p.phraseIdx = map[string]int{}
	p.keyOf = map[*yaml.Node]*yaml.Node{}
	root := doc.Content[0]
	fields, err := p.mapping(root, "playbook", []string{"version", "name", "rules"}, []string{"rules"})
	if err != nil {
		return nil, err
	}
	if n := fields["version"]; n != nil {
		v, err := p.intValue(n, "version")
		if err != nil {
			return nil, err
		}
		if v != 1 {
			return nil, p.errf(n, "unsupported version %d (this engine reads version 1)", v)
		}
	}
	if n := fields["name"]; n != nil {
		if _, err := p.str(n, "name"); err != nil {
			return nil, err
		}
	}
	rules := fields["rules"]
	if err := p.kind(rules, yaml.SequenceNode, "rules", "a list of rules"); err != nil {
		return nil, err
	}
	if len(rules.Content) == 0 {
		return nil, p.errf(rules, "rules: the list is empty")
	}
	seen := map[string]int{}
	for _, rn := range rules.Content {
		r, err := p.rule(rn)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[r.id]; dup {
			return nil, p.errf(rn, "duplicate rule id %q (first defined on line %d)", r.id, prev)
		}
		seen[r.id] = r.line
		p.pb.rules = append(p.pb.rules, r)
	}
	return p.pb, nil
}

// mapping checks that n is a mapping with only allowed keys, no duplicate
// keys and every required key, and returns the values by key.
func (p *parser) mapping(n *yaml.Node, what string, allowed, required []string) (map[string]*yaml.Node, error) {
	if err := p.kind(n, yaml.MappingNode, what, "a mapping of keys to values"); err != nil {
		return nil, err
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, p.errf(k, "%s: keys must be plain names", what)
		}
		ok := false
		for _, a := range allowed {
			if k.Value == a {
				ok = true
				break
			}
		}
		if !ok {
			return nil, p.errf(k, "%s: unknown key %q (allowed: %s)", what, k.Value, strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errf(k, "%s: key %q given twice", what, k.Value)
		}
		out[k.Value] = v
		p.keyOf[v] = k
	}
	for _, r := range required {
		if out[r] == nil {
			return nil, p.errf(n, "%s: missing %q", what, r)
		}
	}
	return out, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func (p *parser) kind(n *yaml.Node, k yaml.Kind, what, want string) error {
	if n.Kind == yaml.AliasNode {
		// Aliases are refused rather than followed: a playbook is small
		// enough to write out, and refusing them rules out alias bombs.
		return p.errf(n, "%s: YAML aliases are not supported", what)
	}
	if n.Kind != k {
		return p.errf(n, "%s: expected %s, got %s", what, want, kindName(n.Kind))
	}
	return nil
}

func (p *parser) str(n *yaml.Node, what string) (string, error) {
	if err := p.kind(n, yaml.ScalarNode, what, "a string"); err != nil {
		return "", err
	}
	if n.Tag != "!!str" {
		return "", p.errf(n, "%s: expected a string, got %s %q (quote it if it is meant as text)", what, strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return n.Value, nil
}

func (p *parser) number(n *yaml.Node, what string) (float64, error) {
	if err := p.kind(n, yaml.ScalarNode, what, "a number"); err != nil {
		return 0, err
	}
	if n.Tag != "!!int" && n.Tag != "!!float" {
		return 0, p.errf(n, "%s: expected a number, got %q", what, n.Value)
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, p.errf(n, "%s: expected a finite number, got %q", what, n.Value)
	}
	return v, nil
}

func (p *parser) intValue(n *yaml.Node, what string) (int, error) {
	if err := p.kind(n, yaml.ScalarNode, what, "a whole number"); err != nil {
		return 0, err
	}
	var v int
	if n.Tag != "!!int" || n.Decode(&v) != nil {
		return 0, p.errf(n, "%s: expected a whole number, got %q", what, n.Value)
	}
	return v, nil
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, error) {
	if err := p.kind(n, yaml.ScalarNode, what, "true or false"); err != nil {
		return false, err
	}
	var v bool
	if n.Tag != "!!bool" || n.Decode(&v) != nil {
		return false, p.errf(n, "%s: expected true or false, got %q", what, n.Value)
	}
	return v, nil
}

// seconds reads a non-negative number of seconds (positive if positive is
// set), at most a day: nothing in one call lasts longer.
func (p *parser) seconds(n *yaml.Node, what string, positive bool) (time.Duration, error) {
	v, err := p.number(n, what)
	if err != nil {
		return 0, err
	}
	if v < 0 || (positive && v == 0) || v > 86400 {
		bound := "0"
		if positive {
			bound = "above 0"
		}
		return 0, p.errf(n, "%s: %v seconds is out of range (%s to 86400)", what, v, bound)
	}
	return durationFromSeconds(v), nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (p *parser) id(n *yaml.Node, what string) (string, error) {
	s, err := p.str(n, what)
	if err != nil {
		return "", err
	}
	if !idPattern.MatchString(s) || len(s) > 64 {
		return "", p.errf(n, "%s: %q is not a valid id (letters, digits, '_', '.', '-'; at most 64)", what, s)
	}
	return s, nil
}

func (p *parser) speaker(n *yaml.Node, what string) (insights.Speaker, error) {
	s, err := p.str(n, what)
	if err != nil {
		return insights.NoSpeaker, err
	}
	switch s {
	case "caller":
		return insights.Caller, nil
	case "agent":
		return insights.Agent, nil
	case "any":
		return insights.NoSpeaker, nil
	}
	return insights.NoSpeaker, p.errf(n, "%s: unknown speaker %q (caller, agent or any)", what, s)
}

func (p *parser) rule(n *yaml.Node) (rule, error) {
	f, err := p.mapping(n, "rule", []string{"id", "description", "any_of", "all_of", "within_s", "actions", "cooldown_s", "once", "ttl_s"}, []string{"id", "actions"})
	if err != nil {
		return rule{}, err
	}
	r := rule{line: n.Line, cooldown: DefaultCooldown}
	if r.id, err = p.id(f["id"], "rule id"); err != nil {
		return r, err
	}
	what := fmt.Sprintf("rule %q", r.id)
	if d := f["description"]; d != nil {
		if _, err := p.str(d, what+" description"); err != nil {
			return r, err
		}
	}
	if err := p.ruleTriggers(n, f, what, &r); err != nil {
		return r, err
	}
	if c := f["cooldown_s"]; c != nil {
		if r.cooldown, err = p.seconds(c, what+" cooldown_s", false); err != nil {
			return r, err
		}
	}
	if o := f["once"]; o != nil {
		if r.once, err = p.boolean(o, what+" once"); err != nil {
			return r, err
		}
	}
	ttl, err := p.hintTTL(f["ttl_s"], what)
	if err != nil {
		return r, err
	}
	if err := p.ruleActions(f["actions"], what, ttl, &r); err != nil {
		return r, err
	}
	// Checked last because only the actions say whether the rule has a
	// hint; a ttl_s on a rule without one would silently do nothing.
	if tn := f["ttl_s"]; tn != nil && !slices.ContainsFunc(r.actions, func(a Action) bool { return a.Kind == KindHint }) {
		return r, p.errf(p.keyOf[tn], "%s: ttl_s only applies to a rule with a hint action", what)
	}
	return r, nil
}

// ruleTriggers reads a rule's any_of or all_of list, and within_s with it:
// the window only means something when every trigger must fire, so it is
// checked against the list kind before the list itself.
func (p *parser) ruleTriggers(n *yaml.Node, f map[string]*yaml.Node, what string, r *rule) error {
	trig, all, err := p.either(n, f, "any_of", "all_of", what, "missing triggers (any_of or all_of)")
	if err != nil {
		return err
	}
	r.all = all
	if w := f["within_s"]; w != nil {
		if !r.all {
			return p.errf(w, "%s: within_s only applies to all_of", what)
		}
		if r.within, err = p.seconds(w, what+" within_s", true); err != nil {
			return err
		}
	}
	if err := p.kind(trig, yaml.SequenceNode, what+" triggers", "a list of triggers"); err != nil {
		return err
	}
	if len(trig.Content) == 0 {
		return p.errf(trig, "%s: the trigger list is empty", what)
	}
	for _, tn := range trig.Content {
		t, err := p.trigger(tn, what)
		if err != nil {
			return err
		}
		r.triggers = append(r.triggers, t)
	}
	return nil
}

// hintTTL reads a rule's ttl_s, 0 (the overlay's default) when it has
// none. It is bounded by MaxHintTTL rather than the day p.seconds allows,
// for the reasons given there.
func (p *parser) hintTTL(tn *yaml.Node, what string) (time.Duration, error) {
	if tn == nil {
		return 0, nil
	}
	v, err := p.number(tn, what+" ttl_s")
	if err != nil {
		return 0, err
	}
	if v <= 0 || v > MaxHintTTL.Seconds() {
		return 0, p.errf(tn, "%s ttl_s: %v seconds is out of range (above 0 to %v)", what, v, MaxHintTTL.Seconds())
	}
	return durationFromSeconds(v), nil
}

// ruleActions reads a rule's action list into r. Each action is stamped
// with the rule's id, and a hint with the rule's ttl, so that an Action
// handed out later needs no way back to its rule. The same action listed
// twice is a slip in the file and is reported at the second one.
func (p *parser) ruleActions(an *yaml.Node, what string, ttl time.Duration, r *rule) error {
	if err := p.kind(an, yaml.SequenceNode, what+" actions", "a list of actions"); err != nil {
		return err
	}
	if len(an.Content) == 0 {
		return p.errf(an, "%s: the action list is empty", what)
	}
	seen := map[string]bool{}
	for _, a := range an.Content {
		act, err := p.action(a, what)
		if err != nil {
			return err
		}
		key := string(act.Kind) + ":" + act.ID
		if seen[key] {
			return p.errf(a, "%s: %s %q listed twice", what, act.Kind, act.ID)
		}
		seen[key] = true
		act.Rule = r.id
		if act.Kind == KindHint {
			act.TTL = ttl
		}
		r.actions = append(r.actions, act)
	}
	return nil
}

// either returns the value of whichever of the keys a and b the mapping f
// holds, and whether it was b. Some settings are a pair of keys, one for
// each way (any_of or all_of, below or above), so that the key itself says
// which way; both at once is refused at b's key, neither at n with the
// reason missing.
func (p *parser) either(n *yaml.Node, f map[string]*yaml.Node, a, b, what, missing string) (*yaml.Node, bool, error) {
	switch {
	case f[a] != nil && f[b] != nil:
		return nil, false, p.errf(p.keyOf[f[b]], "%s: give %s or %s, not both", what, a, b)
	case f[b] != nil:
		return f[b], true, nil
	case f[a] == nil:
		return nil, false, p.errf(n, "%s: %s", what, missing)
	}
	return f[a], false, nil
}

// single returns the one key and value of a mapping like {phrase: {...}}.
func (p *parser) single(n *yaml.Node, what string, kinds []string) (string, *yaml.Node, error) {
	if err := p.kind(n, yaml.MappingNode, what, "a mapping with one key ("+strings.Join(kinds, ", ")+")"); err != nil {
		return "", nil, err
	}
	if len(n.Content) != 2 {
		return "", nil, p.errf(n, "%s: expected exactly one of %s", what, strings.Join(kinds, ", "))
	}
	k := n.Content[0]
	for _, kind := range kinds {
		if k.Kind == yaml.ScalarNode && k.Value == kind {
			return kind, n.Content[1], nil
		}
	}
	return "", nil, p.errf(k, "%s: unknown %s %q (allowed: %s)", what, strings.TrimSuffix(what[strings.LastIndexByte(what, ' ')+1:], "s"), k.Value, strings.Join(kinds, ", "))
}

var triggerKinds = []string{string(TriggerPhrase), string(TriggerSentiment), string(TriggerDynamics), string(TriggerAbsence), string(TriggerDigits)}

func (p *parser) trigger(n *yaml.Node, rwhat string) (trigger, error) {
	kind, body, err := p.single(n, rwhat+" trigger", triggerKinds)
	if err != nil {
		return trigger{}, err
	}
	t := trigger{kind: TriggerKind(kind), speaker: insights.NoSpeaker}
	what := fmt.Sprintf("%s %s trigger", rwhat, kind)
	// Each kind has keys of its own, so each gets its own reader; single
	// has already refused any other kind.
	switch t.kind {
	case TriggerPhrase, TriggerAbsence:
		err = p.phraseTrigger(body, what, &t)
	case TriggerSentiment:
		err = p.sentimentTrigger(body, what, &t)
	case TriggerDynamics:
		err = p.dynamicsTrigger(body, what, &t)
	case TriggerDigits:
		err = p.digitsTrigger(body, what, &t)
	}
	return t, err
}

// phraseTrigger reads the body of a phrase or an absence trigger: the same
// keys, except that an absence needs within_s, the end of the window in
// which the phrase was not said.
func (p *parser) phraseTrigger(body *yaml.Node, what string, t *trigger) error {
	req := []string{"speaker"}
	if t.kind == TriggerAbsence {
		req = append(req, "within_s")
	}
	f, err := p.mapping(body, what, []string{"speaker", "any_of", "regex", "within_s"}, req)
	if err != nil {
		return err
	}
	if t.speaker, err = p.speaker(f["speaker"], what+" speaker"); err != nil {
		return err
	}
	if f["any_of"] == nil && f["regex"] == nil {
		return p.errf(body, "%s: give any_of (phrases) or regex", what)
	}
	if l := f["any_of"]; l != nil {
		if err := p.phrases(l, what, t); err != nil {
			return err
		}
	}
	if rn := f["regex"]; rn != nil {
		if t.regex, err = p.triggerRegex(rn, what); err != nil {
			return err
		}
	}
	if w := f["within_s"]; w != nil {
		if t.within, err = p.seconds(w, what+" within_s", true); err != nil {
			return err
		}
	}
	return nil
}

// triggerRegex compiles a trigger's regex, refusing one that matches empty
// text: it would fire on every utterance.
func (p *parser) triggerRegex(rn *yaml.Node, what string) (*regexp.Regexp, error) {
	src, err := p.str(rn, what+" regex")
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, p.errf(rn, "%s: bad regex: %s", what, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	if re.MatchString("") {
		return nil, p.errf(rn, "%s: regex %q matches empty text, so it would fire on every utterance", what, src)
	}
	return re, nil
}

// sentimentTrigger reads the body of a sentiment trigger. A trigger holds
// one level in one direction, so exactly one of below and above is allowed.
func (p *parser) sentimentTrigger(body *yaml.Node, what string, t *trigger) error {
	f, err := p.mapping(body, what, []string{"speaker", "below", "above", "for_utterances"}, []string{"speaker"})
	if err != nil {
		return err
	}
	if t.speaker, err = p.speaker(f["speaker"], what+" speaker"); err != nil {
		return err
	}
	lv, above, err := p.either(body, f, "below", "above", what, "missing below or above")
	if err != nil {
		return err
	}
	t.below = !above
	if t.level, err = p.number(lv, what+" level"); err != nil {
		return err
	}
	if t.level < -1 || t.level > 1 {
		return p.errf(lv, "%s: level %v is outside the sentiment range -1..1", what, t.level)
	}
	t.forUtts = 1
	if c := f["for_utterances"]; c != nil {
		if t.forUtts, err = p.intValue(c, what+" for_utterances"); err != nil {
			return err
		}
		if t.forUtts < 1 || t.forUtts > 1000 {
			return p.errf(c, "%s: for_utterances must be 1..1000", what)
		}
	}
	return nil
}

// dynamicsTrigger reads the body of a dynamics trigger. Dead air is
// silence on both sides, so naming a speaker for it is refused rather
// than left never to match.
func (p *parser) dynamicsTrigger(body *yaml.Node, what string, t *trigger) error {
	f, err := p.mapping(body, what, []string{"event", "speaker", "min_duration_s"}, []string{"event"})
	if err != nil {
		return err
	}
	ev, err := p.str(f["event"], what+" event")
	if err != nil {
		return err
	}
	switch insights.DynamicsEventKind(ev) {
	case insights.DeadAir, insights.Overtalk, insights.Monologue, insights.FastSpeech:
		t.dynEvent = insights.DynamicsEventKind(ev)
	default:
		return p.errf(f["event"], "%s: unknown event %q (dead_air, overtalk, monologue, fast_speech)", what, ev)
	}
	if s := f["speaker"]; s != nil {
		if t.speaker, err = p.speaker(s, what+" speaker"); err != nil {
			return err
		}
		if t.dynEvent == insights.DeadAir && t.speaker != insights.NoSpeaker {
			return p.errf(s, "%s: dead air belongs to nobody; drop speaker or use any", what)
		}
	}
	if d := f["min_duration_s"]; d != nil {
		if t.minDur, err = p.seconds(d, what+" min_duration_s", false); err != nil {
			return err
		}
	}
	return nil
}

// digitsTrigger reads the body of a digits trigger. It defaults to the
// caller, who is the one reading a card, and may have no body at all.
func (p *parser) digitsTrigger(body *yaml.Node, what string, t *trigger) error {
	t.speaker = insights.Caller
	if body.Kind == yaml.ScalarNode && body.Tag == "!!null" {
		return nil // "digits:" alone means the caller
	}
	f, err := p.mapping(body, what, []string{"speaker"}, nil)
	if err != nil {
		return err
	}
	if s := f["speaker"]; s != nil {
		if t.speaker, err = p.speaker(s, what+" speaker"); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) phrases(l *yaml.Node, what string, t *trigger) error {
	if err := p.kind(l, yaml.SequenceNode, what+" any_of", "a list of phrases"); err != nil {
		return err
	}
	if len(l.Content) == 0 {
		return p.errf(l, "%s: the phrase list is empty", what)
	}
	for _, pn := range l.Content {
		s, err := p.str(pn, what+" phrase")
		if err != nil {
			return err
		}
		words := tokenize(s)
		if len(words) == 0 {
			return p.errf(pn, "%s: phrase %q has no words", what, s)
		}
		if len(words) > 16 {
			return p.errf(pn, "%s: phrase %q is longer than 16 words", what, s)
		}
		key := strings.Join(words, " ")
		idx, ok := p.phraseIdx[key]
		if !ok {
			idx = len(p.pb.phrases)
			p.phraseIdx[key] = idx
			p.pb.phrases = append(p.pb.phrases, phrase{text: key, stems: stems(words)})
		}
		t.phrases = append(t.phrases, idx)
	}
	return nil
}

var actionKinds = []string{string(KindHint), string(KindCategory), string(KindAlert)}

func (p *parser) action(n *yaml.Node, rwhat string) (Action, error) {
	kind, body, err := p.single(n, rwhat+" actions", actionKinds)
	if err != nil {
		return Action{}, err
	}
	a := Action{Kind: ActionKind(kind)}
	what := fmt.Sprintf("%s %s", rwhat, kind)
	switch a.Kind {
	case KindHint:
		f, err := p.mapping(body, what, []string{"id", "title", "text", "priority", "kb"}, []string{"id", "title", "text"})
		if err != nil {
			return a, err
		}
		if a.ID, err = p.id(f["id"], what+" id"); err != nil {
			return a, err
		}
		if a.Title, err = p.str(f["title"], what+" title"); err != nil {
			return a, err
		}
		if a.Text, err = p.str(f["text"], what+" text"); err != nil {
			return a, err
		}
		a.Priority = 2
		if pr := f["priority"]; pr != nil {
			if a.Priority, err = p.intValue(pr, what+" priority"); err != nil {
				return a, err
			}
			if a.Priority < 1 || a.Priority > 3 {
				return a, p.errf(pr, "%s: priority %d is not 1 (high), 2 or 3 (low)", what, a.Priority)
			}
		}
		if k := f["kb"]; k != nil {
			if a.KB, err = p.id(k, what+" kb"); err != nil {
				return a, err
			}
		}
	case KindCategory:
		f, err := p.mapping(body, what, []string{"id"}, []string{"id"})
		if err != nil {
			return a, err
		}
		if a.ID, err = p.id(f["id"], what+" id"); err != nil {
			return a, err
		}
	case KindAlert:
		f, err := p.mapping(body, what, []string{"id", "severity", "text"}, []string{"id", "text"})
		if err != nil {
			return a, err
		}
		if a.ID, err = p.id(f["id"], what+" id"); err != nil {
			return a, err
		}
		if a.Text, err = p.str(f["text"], what+" text"); err != nil {
			return a, err
		}
		a.Severity = SeverityWarning
		if s := f["severity"]; s != nil {
			if a.Severity, err = p.str(s, what+" severity"); err != nil {
				return a, err
			}
			switch a.Severity {
			case SeverityInfo, SeverityWarning, SeverityCritical:
			default:
				return a, p.errf(s, "%s: unknown severity %q (info, warning, critical)", what, a.Severity)
			}
		}
	}
	return a, nil
}
