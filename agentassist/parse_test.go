package agentassist

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

const validPlaybook = `version: 1
name: test
rules:
  - id: r1
    description: a rule
    any_of:
      - phrase: {speaker: caller, any_of: [cancel], regex: 'close\b', within_s: 60}
      - sentiment: {speaker: caller, below: -0.5, for_utterances: 2}
      - dynamics: {event: overtalk, speaker: agent, min_duration_s: 0.5}
      - absence: {speaker: agent, within_s: 30, any_of: [this call may be recorded]}
      - digits:
    actions:
      - hint: {id: h1, title: T, text: X, priority: 1, kb: cancellation}
      - category: {id: c1}
      - alert: {id: a1, severity: critical, text: Y}
    cooldown_s: 12.5
    once: false
    ttl_s: 20
  - id: r2
    all_of:
      - digits: {speaker: caller}
      - dynamics: {event: dead_air}
    within_s: 10
    actions:
      - category: {id: c2}
`

func TestParseValidPlaybook(t *testing.T) {
	pb, err := ParsePlaybookWith("ok.yaml", []byte(validPlaybook), Options{NoPhonetic: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pb.RuleIDs(), ","); got != "r1,r2" {
		t.Errorf("rules = %s", got)
	}
	r := pb.rules[0]
	if r.cooldown != 12500*time.Millisecond || len(r.triggers) != 5 || len(r.actions) != 3 {
		t.Errorf("rule r1 = %+v", r)
	}
	if got := pb.rules[1].cooldown; got != DefaultCooldown {
		t.Errorf("default cooldown = %v", got)
	}
	if !pb.rules[1].all || pb.rules[1].within != 10*time.Second {
		t.Errorf("rule r2 all_of/within not parsed: %+v", pb.rules[1])
	}
	if got := r.actions[0]; got.Priority != 1 || got.KB != "cancellation" || got.Rule != "r1" {
		t.Errorf("hint = %+v", got)
	}
	if got := r.actions[0].TTL; got != 20*time.Second {
		t.Errorf("hint TTL = %v, want the rule's ttl_s 20 s", got)
	}
	if got := r.actions[2].TTL; got != 0 {
		t.Errorf("alert TTL = %v, want none: ttl_s is for hints", got)
	}
	if got := r.actions[2].Severity; got != SeverityCritical {
		t.Errorf("severity = %q", got)
	}
	if got := strings.Join(pb.KBRefs(), ","); got != "cancellation" {
		t.Errorf("KBRefs = %s", got)
	}
}

func TestMalformedPlaybooksAreRefusedWithFileLineAndReason(t *testing.T) {
	rule := func(body string) string {
		return "rules:\n  - id: r\n" + body
	}
	const trig = "    any_of:\n      - phrase: {speaker: caller, any_of: [cancel]}\n"
	const act = "    actions:\n      - category: {id: c}\n"
	const hint = "    actions:\n      - hint: {id: h, title: T, text: X}\n"
	tests := []struct {
		name string
		yml  string
		line int
		want string
	}{
		{"an empty file is refused", "", 0, "empty playbook"},
		{"broken YAML names its line", "rules:\n  - id: r\n    a: b: c\n", 3, "YAML syntax: mapping values are not allowed"},
		{"an unknown top-level key is refused", "rulez: []\n", 1, `unknown key "rulez"`},
		{"a missing rules list is refused", "version: 1\n", 1, `missing "rules"`},
		{"an unsupported version is refused", "version: 2\nrules: []\n", 1, "unsupported version 2"},
		{"an empty rule list is refused", "rules: []\n", 1, "the list is empty"},
		{"rules as a mapping is a wrong type", "rules: {a: b}\n", 1, "expected a list of rules"},
		{"a rule without id is refused", "rules:\n  - any_of: []\n" + act, 2, `missing "id"`},
		{"a duplicate rule id is refused", rule(trig+act) + "  - id: r\n" + trig + act, 7, `duplicate rule id "r" (first defined on line 2)`},
		{"an unknown trigger is refused", rule("    any_of:\n      - keyword: {speaker: caller}\n" + act), 4, `unknown trigger "keyword"`},
		{"an unknown key in a trigger is refused", rule("    any_of:\n      - phrase: {speaker: caller, any_of: [x], colour: red}\n" + act), 4, `unknown key "colour"`},
		{"an unknown key in a rule is refused", rule(trig + act + "    cooldown: 5\n"), 7, `unknown key "cooldown"`},
		{"a bad regex is refused", rule("    any_of:\n      - phrase: {speaker: caller, regex: 'a(b'}\n" + act), 4, "bad regex: missing closing )"},
		{"a regex matching empty text is refused", rule("    any_of:\n      - phrase: {speaker: caller, regex: 'x*'}\n" + act), 4, "matches empty text"},
		{"an unknown speaker is refused", rule("    any_of:\n      - phrase: {speaker: customer, any_of: [x]}\n" + act), 4, `unknown speaker "customer"`},
		{"a missing speaker is refused", rule("    any_of:\n      - phrase: {any_of: [x]}\n" + act), 4, `missing "speaker"`},
		{"a string priority is a wrong type", rule(trig + "    actions:\n      - hint: {id: h, title: T, text: X, priority: high}\n"), 6, `priority: expected a whole number, got "high"`},
		{"priority 4 is out of range", rule(trig + "    actions:\n      - hint: {id: h, title: T, text: X, priority: 4}\n"), 6, "priority 4 is not 1"},
		{"a string cooldown is a wrong type", rule(trig + act + "    cooldown_s: soon\n"), 7, `cooldown_s: expected a number, got "soon"`},
		{"a negative cooldown is refused", rule(trig + act + "    cooldown_s: -1\n"), 7, "out of range"},
		{"once must be a boolean", rule(trig + act + "    once: 1\n"), 7, "expected true or false"},
		{"a zero hint ttl is refused", rule(trig + hint + "    ttl_s: 0\n"), 7, "ttl_s: 0 seconds is out of range (above 0 to 3600)"},
		{"a negative hint ttl is refused", rule(trig + hint + "    ttl_s: -5\n"), 7, "out of range"},
		{"a hint ttl over an hour is refused", rule(trig + hint + "    ttl_s: 3601\n"), 7, "3601 seconds is out of range"},
		{"a string hint ttl is a wrong type", rule(trig + hint + "    ttl_s: long\n"), 7, `ttl_s: expected a number, got "long"`},
		{"a ttl on a rule without a hint is refused", rule(trig + act + "    ttl_s: 30\n"), 7, "ttl_s only applies to a rule with a hint action"},
		{"a phrase list given as a string is a wrong type", rule("    any_of:\n      - phrase: {speaker: caller, any_of: cancel}\n" + act), 4, "expected a list of phrases"},
		{"a numeric phrase must be quoted", rule("    any_of:\n      - phrase: {speaker: caller, any_of: [911]}\n" + act), 4, "quote it"},
		{"a phrase without words is refused", rule("    any_of:\n      - phrase: {speaker: caller, any_of: ['...']}\n" + act), 4, "has no words"},
		{"a rule without triggers is refused", rule(act), 2, "missing triggers"},
		{"any_of and all_of together are refused", rule(trig + "    all_of:\n      - digits:\n" + act), 5, "not both"},
		{"within_s on any_of is refused", rule(trig + "    within_s: 5\n" + act), 5, "only applies to all_of"},
		{"a rule without actions is refused", rule(trig), 2, `missing "actions"`},
		{"an unknown action is refused", rule(trig + "    actions:\n      - email: {id: x}\n"), 6, `unknown action "email"`},
		{"an action with two kinds is refused", rule(trig + "    actions:\n      - {hint: {id: h, title: T, text: X}, category: {id: c}}\n"), 6, "exactly one of"},
		{"a hint without text is refused", rule(trig + "    actions:\n      - hint: {id: h, title: T}\n"), 6, `missing "text"`},
		{"an unknown severity is refused", rule(trig + "    actions:\n      - alert: {id: a, text: X, severity: loud}\n"), 6, `unknown severity "loud"`},
		{"the same action twice in a rule is refused", rule(trig + "    actions:\n      - category: {id: c}\n      - category: {id: c}\n"), 7, "listed twice"},
		{"an id with spaces is refused", "rules:\n  - id: my rule\n" + trig + act, 2, "not a valid id"},
		{"a sentiment level outside -1..1 is refused", rule("    any_of:\n      - sentiment: {speaker: caller, below: -2}\n" + act), 4, "outside the sentiment range"},
		{"sentiment needs below or above", rule("    any_of:\n      - sentiment: {speaker: caller}\n" + act), 4, "missing below or above"},
		{"for_utterances 0 is refused", rule("    any_of:\n      - sentiment: {speaker: caller, below: 0, for_utterances: 0}\n" + act), 4, "for_utterances must be"},
		{"an unknown dynamics event is refused", rule("    any_of:\n      - dynamics: {event: shouting}\n" + act), 4, `unknown event "shouting"`},
		{"dead air with a speaker is refused", rule("    any_of:\n      - dynamics: {event: dead_air, speaker: agent}\n" + act), 4, "dead air belongs to nobody"},
		{"an absence without a window is refused", rule("    any_of:\n      - absence: {speaker: agent, any_of: [x]}\n" + act), 4, `missing "within_s"`},
		{"a zero absence window is refused", rule("    any_of:\n      - absence: {speaker: agent, any_of: [x], within_s: 0}\n" + act), 4, "out of range"},
		{"a duplicate key is refused", rule(trig + act + "    once: true\n    once: false\n"), 8, `key "once" given twice`},
		{"YAML aliases are refused", "rules:\n  - &a {id: r}\n  - *a\n", 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePlaybookWith("bad.yaml", []byte(tc.yml), Options{NoPhonetic: true})
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrPlaybook) {
				t.Errorf("error %v does not wrap ErrPlaybook", err)
			}
			var pe *PlaybookError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PlaybookError", err)
			}
			if pe.File != "bad.yaml" || pe.Line != tc.line {
				t.Errorf("at %s:%d, want bad.yaml:%d (%v)", pe.File, pe.Line, tc.line, err)
			}
			prefix := "bad.yaml:"
			if tc.line > 0 && !strings.HasPrefix(err.Error(), prefix+strconv.Itoa(tc.line)+": ") {
				t.Errorf("message %q does not start with file:line:", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadPlaybookReportsMissingFile(t *testing.T) {
	if _, err := LoadPlaybook("/nonexistent/playbook.yaml"); err == nil || errors.Is(err, ErrPlaybook) {
		t.Errorf("err = %v, want a read error that is not ErrPlaybook", err)
	}
}

func TestDefaultPlaybookLoadsAndHasTheRequiredIDs(t *testing.T) {
	pb, err := LoadPlaybook("../samples/playbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hints, cats, alerts := map[string]bool{}, map[string]bool{}, 0
	for _, r := range pb.rules {
		for _, a := range r.actions {
			switch a.Kind {
			case KindHint:
				hints[a.ID] = true
			case KindCategory:
				cats[a.ID] = true
			case KindAlert:
				alerts++
			}
		}
	}
	for _, id := range []string{"retention_offer", "escalation_request", "empathy", "dead_air", "overtalk", "recording_disclosure", "payment_secure"} {
		if !hints[id] {
			t.Errorf("hint %s missing", id)
		}
	}
	for _, id := range []string{"churn_risk", "escalation", "frustrated_customer", "compliance_miss", "payment"} {
		if !cats[id] {
			t.Errorf("category %s missing", id)
		}
	}
	if alerts < 2 {
		t.Errorf("%d alerts, want escalation and negative-call alerts", alerts)
	}
}
