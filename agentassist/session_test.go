package agentassist

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/insights"
)

func mustParse(t testing.TB, yml string) *Playbook {
	t.Helper()
	pb, err := ParsePlaybookWith("test.yaml", []byte(yml), Options{NoPhonetic: true})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return pb
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func utt(sp insights.Speaker, startMS, endMS int, text string) insights.Utterance {
	return insights.Utterance{Speaker: sp, Start: ms(startMS), End: ms(endMS), Text: text}
}

var neutral = insights.Sentiment{Label: insights.Neutral}

func senti(score float64) insights.Sentiment { return insights.Sentiment{Score: score} }

// ids renders actions as "kind:id@ms" for compact comparisons.
func ids(as []Action) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = string(a.Kind) + ":" + a.ID + "@" + strconv.Itoa(int(a.At/time.Millisecond))
	}
	return strings.Join(parts, " ")
}

const hintYAML = `
      - hint: {id: h, title: T, text: X}`

func TestPhraseTriggerTiming(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: r
    any_of:
      - phrase: {speaker: caller, any_of: [cancel my account]}
    actions:`+hintYAML+`
      - category: {id: churn}
`)
	tests := []struct {
		name string
		u    insights.Utterance
		want string
	}{
		{"a caller phrase fires at the utterance end", utt(insights.Caller, 1000, 4200, "I want to cancel my account, please."), "hint:h@4200 category:churn@4200"},
		{"an inflected form still matches by stem", utt(insights.Caller, 1000, 3000, "i'm cancelling my accounts"), "hint:h@3000 category:churn@3000"},
		{"the agent saying it does not fire a caller rule", utt(insights.Agent, 1000, 3000, "do you want to cancel my account"), ""},
		{"the words out of order do not match", utt(insights.Caller, 1000, 3000, "my account cancel"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pb.NewSession(SessionConfig{})
			if got := ids(s.OnUtterance(tc.u, neutral, false)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPhraseWithinWindowOnlyCountsEarlyUtterances(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: greet
    any_of:
      - phrase: {speaker: agent, any_of: [how can i help], within_s: 10}
    cooldown_s: 0
    actions:`+hintYAML)
	s := pb.NewSession(SessionConfig{})
	if got := ids(s.OnUtterance(utt(insights.Agent, 9999, 12000, "how can I help"), neutral, false)); got != "hint:h@12000" {
		t.Errorf("utterance starting at 9.999 s: got %q, want a hint at 12 s", got)
	}
	if got := ids(s.OnUtterance(utt(insights.Agent, 10000, 12000, "how can I help"), neutral, false)); got != "" {
		t.Errorf("utterance starting at 10 s: got %q, want nothing", got)
	}
}

func TestRegexMatchesNormalizedText(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: r
    any_of:
      - phrase: {speaker: any, regex: '\bref(und|unds)\b.*\btoday\b'}
    actions:`+hintYAML)
	s := pb.NewSession(SessionConfig{})
	if got := ids(s.OnUtterance(utt(insights.Caller, 0, 2500, "I want a REFUND, today!"), neutral, false)); got != "hint:h@2500" {
		t.Errorf("got %q", got)
	}
}

func TestSentimentHeldForNUtterances(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: upset
    any_of:
      - sentiment: {speaker: caller, below: -0.4, for_utterances: 2}
    cooldown_s: 0
    actions:`+hintYAML)
	type step struct {
		u     insights.Utterance
		score float64
		want  string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"two negative caller turns in a row fire at the second's end", []step{
			{utt(insights.Caller, 0, 2000, "a"), -0.5, ""},
			{utt(insights.Caller, 3000, 5000, "b"), -0.6, "hint:h@5000"},
		}},
		{"a neutral turn in between resets the count", []step{
			{utt(insights.Caller, 0, 2000, "a"), -0.5, ""},
			{utt(insights.Caller, 3000, 5000, "b"), 0.1, ""},
			{utt(insights.Caller, 6000, 7000, "c"), -0.5, ""},
			{utt(insights.Caller, 8000, 9000, "d"), -0.5, "hint:h@9000"},
		}},
		{"agent turns do not break the caller's streak", []step{
			{utt(insights.Caller, 0, 2000, "a"), -0.5, ""},
			{utt(insights.Agent, 2100, 2900, "b"), 0.9, ""},
			{utt(insights.Caller, 3000, 4000, "c"), -0.5, "hint:h@4000"},
		}},
		{"exactly the threshold is not below it", []step{
			{utt(insights.Caller, 0, 2000, "a"), -0.4, ""},
			{utt(insights.Caller, 3000, 4000, "b"), -0.4, ""},
		}},
		{"the streak keeps firing while held when there is no cooldown", []step{
			{utt(insights.Caller, 0, 1000, "a"), -0.9, ""},
			{utt(insights.Caller, 2000, 3000, "b"), -0.9, "hint:h@3000"},
			{utt(insights.Caller, 4000, 5000, "c"), -0.9, "hint:h@5000"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pb.NewSession(SessionConfig{})
			for i, st := range tc.steps {
				if got := ids(s.OnUtterance(st.u, senti(st.score), false)); got != st.want {
					t.Errorf("step %d: got %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

func TestSentimentAbove(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: happy
    any_of:
      - sentiment: {speaker: any, above: 0.5}
    actions:`+hintYAML)
	s := pb.NewSession(SessionConfig{})
	if got := ids(s.OnUtterance(utt(insights.Agent, 0, 1500, "x"), senti(0.6), false)); got != "hint:h@1500" {
		t.Errorf("got %q", got)
	}
}

func TestDynamicsTrigger(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: talkover
    any_of:
      - dynamics: {event: overtalk, speaker: agent, min_duration_s: 0.5}
    cooldown_s: 0
    actions:
      - hint: {id: overtalk, title: T, text: X}
  - id: silence
    any_of:
      - dynamics: {event: dead_air}
    cooldown_s: 0
    actions:
      - hint: {id: dead_air, title: T, text: X}
`)
	ev := func(kind insights.DynamicsEventKind, sp insights.Speaker, start, end int, ongoing bool) insights.DynamicsEvent {
		return insights.DynamicsEvent{Kind: kind, Speaker: sp, Start: ms(start), End: ms(end), Ongoing: ongoing}
	}
	type step struct {
		ev   insights.DynamicsEvent
		want string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"agent overtalk of 0.5 s fires at its end", []step{{ev(insights.Overtalk, insights.Agent, 10000, 10500, true), "hint:overtalk@10500"}}},
		{"agent overtalk of 0.499 s does not fire", []step{{ev(insights.Overtalk, insights.Agent, 10000, 10499, false), ""}}},
		{"caller overtalk does not fire the agent rule", []step{{ev(insights.Overtalk, insights.Caller, 10000, 12000, false), ""}}},
		{"an ongoing report and its final report fire once", []step{
			{ev(insights.Overtalk, insights.Agent, 10000, 10500, true), "hint:overtalk@10500"},
			{ev(insights.Overtalk, insights.Agent, 10000, 11800, false), ""},
		}},
		{"a short ongoing report and a long enough final report fire at the final end", []step{
			{ev(insights.Overtalk, insights.Agent, 10000, 10200, true), ""},
			{ev(insights.Overtalk, insights.Agent, 10000, 11000, false), "hint:overtalk@11000"},
		}},
		{"a second overtalk fires again", []step{
			{ev(insights.Overtalk, insights.Agent, 10000, 10500, true), "hint:overtalk@10500"},
			{ev(insights.Overtalk, insights.Agent, 20000, 20600, true), "hint:overtalk@20600"},
		}},
		{"dead air fires for either side", []step{{ev(insights.DeadAir, insights.NoSpeaker, 30000, 35000, true), "hint:dead_air@35000"}}},
		{"a monologue fires nothing here", []step{{ev(insights.Monologue, insights.Agent, 0, 60000, true), ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pb.NewSession(SessionConfig{})
			for i, st := range tc.steps {
				if got := ids(s.OnDynamics(st.ev)); got != st.want {
					t.Errorf("step %d: got %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

// disclosureYAML is a 30 s absence rule like the shipped playbook's.
const disclosureYAML = `
rules:
  - id: disclosure
    any_of:
      - absence: {speaker: agent, within_s: 30, any_of: [this call may be recorded]}
    once: true
    actions:
      - hint: {id: recording_disclosure, title: T, text: X}
      - category: {id: compliance_miss}
`

func TestAbsenceWindow(t *testing.T) {
	pb := mustParse(t, disclosureYAML)
	type step struct {
		tick int // ms; -1 means deliver u
		u    insights.Utterance
		want string
	}
	tick := func(at int, want string) step { return step{tick: at, want: want} }
	say := func(u insights.Utterance) step { return step{tick: -1, u: u} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"not said: nothing before 30 s, then it fires stamped 30 s", []step{
			tick(29999, ""), tick(30000, "hint:recording_disclosure@30000 category:compliance_miss@30000"), tick(60000, ""),
		}},
		{"a late tick still stamps the window's end", []step{tick(42000, "hint:recording_disclosure@30000 category:compliance_miss@30000")}},
		{"said in time: never fires", []step{
			say(utt(insights.Agent, 2000, 6000, "Thank you for calling, this call may be recorded.")), tick(30000, ""), tick(90000, ""),
		}},
		{"said by the caller: still fires", []step{
			say(utt(insights.Caller, 2000, 6000, "this call may be recorded")), tick(30000, "hint:recording_disclosure@30000 category:compliance_miss@30000"),
		}},
		{"begun at 28 s and final at 33 s: counts, because the watermark held the window", []step{
			tick(28000, ""), say(utt(insights.Agent, 28000, 33000, "this call may be recorded")), tick(33000, ""),
		}},
		{"begun at 30 s: too late", []step{
			say(utt(insights.Agent, 30000, 33000, "this call may be recorded")), tick(33000, "hint:recording_disclosure@30000 category:compliance_miss@30000"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pb.NewSession(SessionConfig{})
			for i, st := range tc.steps {
				var got []Action
				if st.tick >= 0 {
					got = s.Tick(ms(st.tick))
				} else {
					got = s.OnUtterance(st.u, neutral, false)
				}
				if ids(got) != st.want {
					t.Errorf("step %d: got %q, want %q", i, ids(got), st.want)
				}
			}
		})
	}
}

func TestAbsenceJudgedAtCallEnd(t *testing.T) {
	pb := mustParse(t, disclosureYAML)
	const miss30 = "hint:recording_disclosure@30000 category:compliance_miss@30000"
	agentSaid := utt(insights.Agent, 2000, 6000, "this call may be recorded")
	callerSaid := utt(insights.Caller, 2000, 6000, "this call may be recorded")
	tests := []struct {
		name    string
		said    *insights.Utterance
		ticks   []int // ms, before the end
		end     int   // ms
		atTicks string
		atEnd   string
	}{
		{name: "a 29 s call without the disclosure misses it at its end", ticks: []int{10000, 29000}, end: 29000,
			atEnd: "hint:recording_disclosure@29000 category:compliance_miss@29000"},
		{name: "a 29 s call with the disclosure said in time does not", said: &agentSaid, ticks: []int{29000}, end: 29000},
		{name: "the caller saying it does not count for the agent", said: &callerSaid, end: 12000,
			atEnd: "hint:recording_disclosure@12000 category:compliance_miss@12000"},
		{name: "a call past the window missed it at the window's end, and its end adds nothing",
			ticks: []int{30000, 45000}, end: 45000, atTicks: miss30},
		{name: "a call ending past the window with no tick since is stamped at the window's end", ticks: []int{20000}, end: 45000, atEnd: miss30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pb.NewSession(SessionConfig{})
			if tc.said != nil {
				if got := ids(s.OnUtterance(*tc.said, neutral, false)); got != "" {
					t.Fatalf("saying it fired %q", got)
				}
			}
			var ticked []Action
			for _, at := range tc.ticks {
				ticked = append(ticked, s.Tick(ms(at))...)
			}
			if got := ids(ticked); got != tc.atTicks {
				t.Errorf("ticks: got %q, want %q", got, tc.atTicks)
			}
			if got := ids(s.End(ms(tc.end))); got != tc.atEnd {
				t.Errorf("end: got %q, want %q", got, tc.atEnd)
			}
			if got := ids(s.End(ms(tc.end + 1000))); got != "" {
				t.Errorf("a second end fired %q", got)
			}
		})
	}
}

func TestDigitsTrigger(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: pay
    any_of:
      - digits: {speaker: caller}
    actions:
      - hint: {id: payment_secure, title: T, text: X, priority: 1}
      - category: {id: payment}
`)
	s := pb.NewSession(SessionConfig{})
	if got := ids(s.OnUtterance(utt(insights.Caller, 1000, 2000, "okay"), neutral, false)); got != "" {
		t.Errorf("no digits: got %q", got)
	}
	if got := ids(s.OnUtterance(utt(insights.Agent, 2000, 3000, "[card number]"), neutral, true)); got != "" {
		t.Errorf("agent digits: got %q", got)
	}
	got := s.OnUtterance(utt(insights.Caller, 3000, 5500, "it is [card number]"), neutral, true)
	if ids(got) != "hint:payment_secure@5500 category:payment@5500" {
		t.Fatalf("caller digits: got %q", ids(got))
	}
	if got[0].Priority != 1 || got[0].Rule != "pay" {
		t.Errorf("hint fields: %+v", got[0])
	}
}

func TestCooldownOnceAndCategories(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: ten
    any_of:
      - phrase: {speaker: any, any_of: [manager]}
    cooldown_s: 10
    actions:
      - hint: {id: esc, title: T, text: X}
      - category: {id: escalation}
      - alert: {id: esc_alert, severity: critical, text: Y}
  - id: one
    any_of:
      - phrase: {speaker: any, any_of: [refund]}
    once: true
    cooldown_s: 0
    actions:
      - hint: {id: refund, title: T, text: X}
  - id: default
    any_of:
      - phrase: {speaker: any, any_of: [router]}
    actions:
      - hint: {id: router, title: T, text: X}
  - id: also_escalation
    any_of:
      - phrase: {speaker: any, any_of: [supervisor]}
    cooldown_s: 0
    actions:
      - hint: {id: esc, title: T, text: X}
      - category: {id: escalation}
`)
	type step struct {
		at   int
		text string
		want string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a hint is not repeated within its cooldown and comes back exactly at it", []step{
			{5000, "manager", "hint:esc@5000 category:escalation@5000 alert:esc_alert@5000"},
			{14999, "manager", ""},
			{15000, "manager", "hint:esc@15000 alert:esc_alert@15000"},
		}},
		{"once fires a rule only once per call", []step{
			{1000, "refund", "hint:refund@1000"},
			{2000, "refund", ""},
			{500000, "refund", ""},
		}},
		{"a rule without cooldown_s waits the default 60 s", []step{
			{1000, "router", "hint:router@1000"},
			{60999, "router", ""},
			{61000, "router", "hint:router@61000"},
		}},
		{"the same hint reached by another rule honours that rule's cooldown, and a category is emitted once per call", []step{
			{1000, "manager", "hint:esc@1000 category:escalation@1000 alert:esc_alert@1000"},
			{2000, "supervisor", "hint:esc@2000"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pb.NewSession(SessionConfig{})
			for i, st := range tc.steps {
				u := utt(insights.Caller, st.at-500, st.at, st.text)
				if got := ids(s.OnUtterance(u, neutral, false)); got != st.want {
					t.Errorf("step %d: got %q, want %q", i, got, st.want)
				}
			}
		})
	}
}

func TestAllOfNeedsEveryTriggerWithinTheWindow(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: angry_leaver
    all_of:
      - phrase: {speaker: caller, any_of: [cancel]}
      - sentiment: {speaker: caller, below: -0.5}
    within_s: 20
    actions:`+hintYAML)
	tests := []struct {
		name   string
		first  insights.Utterance
		fs     float64
		second insights.Utterance
		ss     float64
		want1  string
		want2  string
	}{
		{"both in one utterance fire at once", utt(insights.Caller, 0, 2000, "cancel it"), -0.8, utt(insights.Caller, 3000, 4000, "ok"), 0, "hint:h@2000", ""},
		{"the second within 20 s completes the rule", utt(insights.Caller, 0, 2000, "cancel it"), 0, utt(insights.Caller, 10000, 22000, "this is awful"), -0.8, "", "hint:h@22000"},
		{"the second after 20 s does not", utt(insights.Caller, 0, 2000, "cancel it"), 0, utt(insights.Caller, 10000, 22001, "this is awful"), -0.8, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := pb.NewSession(SessionConfig{})
			if got := ids(s.OnUtterance(tc.first, senti(tc.fs), false)); got != tc.want1 {
				t.Errorf("first: got %q, want %q", got, tc.want1)
			}
			if got := ids(s.OnUtterance(tc.second, senti(tc.ss), false)); got != tc.want2 {
				t.Errorf("second: got %q, want %q", got, tc.want2)
			}
		})
	}
}

func TestSessionsAreIndependent(t *testing.T) {
	pb := mustParse(t, `
rules:
  - id: r
    any_of:
      - phrase: {speaker: any, any_of: [manager]}
    once: true
    actions:`+hintYAML)
	a, b := pb.NewSession(SessionConfig{}), pb.NewSession(SessionConfig{})
	u := utt(insights.Caller, 0, 1000, "manager")
	if ids(a.OnUtterance(u, neutral, false)) == "" || ids(b.OnUtterance(u, neutral, false)) == "" {
		t.Error("a once-rule fired in one call must still fire in another")
	}
}
