package agentassist

import (
	"log/slog"
	"time"

	"github.com/earshot/earshot/insights"
)

// SessionConfig configures one call's Session. The zero value is usable.
type SessionConfig struct {
	// Logger receives a Debug line per fired rule. Nil discards.
	Logger *slog.Logger
}

// Session runs a Playbook over one call. Feed it every final utterance,
// every dynamics event and regular ticks, in call-time order per input; it
// returns the actions each input fired. A Session is not safe for
// concurrent use: the call session that owns it calls it from one
// goroutine. It never blocks and never reads the clock.
type Session struct {
	pb    *Playbook
	log   *slog.Logger
	rules []ruleState
	// lastEmit remembers when each hint or alert was last shown, so one
	// hint reached by two rules still honours the cooldown.
	lastEmit map[string]time.Duration
	cats     map[string]bool

	// Per-utterance scratch, reused so matching allocates little.
	phraseHit []uint8 // 0 not yet tested, 1 matched, 2 not matched
	words     []string
	stems     []string
	norm      string
	normDone  bool
	seq       phoneSeq
	seqDone   bool
	col       []int32
}

type ruleState struct {
	fired bool
	last  time.Duration
	trig  []trigState
}

type trigState struct {
	sat bool          // satisfied at least once
	at  time.Duration // when last satisfied

	streak [2]int // sentiment: consecutive utterances past the level, per speaker

	said    bool // absence: the phrase was said in time
	expired bool // absence: the window ended without it

	lastEv    dynKey // dynamics: the event that last satisfied it
	hasLastEv bool
}

type dynKey struct {
	kind    insights.DynamicsEventKind
	speaker insights.Speaker
	start   time.Duration
}

// NewSession starts the per-call state for p. It does not allocate much and
// is cheap enough to call once per call.
func (p *Playbook) NewSession(cfg SessionConfig) *Session {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		pb:        p,
		log:       log,
		rules:     make([]ruleState, len(p.rules)),
		lastEmit:  map[string]time.Duration{},
		cats:      map[string]bool{},
		phraseHit: make([]uint8, len(p.phrases)),
	}
	for i, r := range p.rules {
		s.rules[i].trig = make([]trigState, len(r.triggers))
	}
	return s
}

func speakerSlot(sp insights.Speaker) int {
	if sp == insights.Caller {
		return 1
	}
	return 0
}

func (t *trigger) speakerOK(sp insights.Speaker) bool {
	return t.speaker == insights.NoSpeaker || t.speaker == sp
}

// OnUtterance evaluates one final utterance, its sentiment, and whether the
// redactor saw card digits start in it (digitsStarted). u.Text should be
// the redacted text. Actions are stamped with u.End, the moment the
// utterance became final. The returned slice is newly allocated (nil when
// nothing fired) and belongs to the caller.
func (s *Session) OnUtterance(u insights.Utterance, sent insights.Sentiment, digitsStarted bool) []Action {
	s.prepare(u.Text)
	slot := speakerSlot(u.Speaker)
	known := u.Speaker == insights.Caller || u.Speaker == insights.Agent
	var out []Action
	for ri := range s.pb.rules {
		r := &s.pb.rules[ri]
		rs := &s.rules[ri]
		hit := false
		for ti := range r.triggers {
			t := &r.triggers[ti]
			ts := &rs.trig[ti]
			ok := false
			switch t.kind {
			case TriggerPhrase:
				ok = t.speakerOK(u.Speaker) && (t.within == 0 || u.Start < t.within) && s.matches(t)
			case TriggerAbsence:
				// Said in time if the utterance began inside the window;
				// whether the window ran out is Tick's business.
				if !ts.said && !ts.expired && t.speakerOK(u.Speaker) && u.Start < t.within && s.matches(t) {
					ts.said = true
				}
			case TriggerSentiment:
				if !known || !t.speakerOK(u.Speaker) {
					break
				}
				if (t.below && sent.Score < t.level) || (!t.below && sent.Score > t.level) {
					ts.streak[slot]++
				} else {
					ts.streak[slot] = 0
				}
				ok = ts.streak[slot] >= t.forUtts
			case TriggerDigits:
				ok = digitsStarted && t.speakerOK(u.Speaker)
			}
			if ok {
				ts.sat, ts.at, hit = true, u.End, true
			}
		}
		if hit {
			out = s.fire(ri, u.End, out)
		}
	}
	return out
}

// OnDynamics evaluates one conversation-dynamics event. An event reported
// twice (once Ongoing as it passes its threshold, once when it ends)
// satisfies a trigger at most once. Actions are stamped with ev.End.
func (s *Session) OnDynamics(ev insights.DynamicsEvent) []Action {
	key := dynKey{ev.Kind, ev.Speaker, ev.Start}
	var out []Action
	for ri := range s.pb.rules {
		r := &s.pb.rules[ri]
		rs := &s.rules[ri]
		hit := false
		for ti := range r.triggers {
			t := &r.triggers[ti]
			ts := &rs.trig[ti]
			if t.kind != TriggerDynamics || t.dynEvent != ev.Kind || !t.speakerOK(ev.Speaker) {
				continue
			}
			if ev.End-ev.Start < t.minDur || (ts.hasLastEv && ts.lastEv == key) {
				continue
			}
			ts.lastEv, ts.hasLastEv = key, true
			ts.sat, ts.at, hit = true, ev.End, true
		}
		if hit {
			out = s.fire(ri, ev.End, out)
		}
	}
	return out
}

// Tick closes absence windows that ended at or before at. at is a
// watermark: the caller promises that every utterance starting before at
// has already been given to OnUtterance (so a disclosure the agent began at
// 28 s but which is still being recognized holds the 30 s window open).
// An engine passes the start of the earliest speech still being recognized,
// or the current call time when nobody is speaking. An absence fires with
// At set to the window's end, not to at. A call that ends inside a window
// is judged by End.
func (s *Session) Tick(at time.Duration) []Action { return s.closeAbsences(at, false) }

// End judges the call, which ended at at: absence windows that ended by
// then fire as from Tick, stamped at their end, and those the call ended
// inside of fire stamped at, for a phrase not said in a call shorter than
// its window was not said in time. Only the call's real end is an end: a
// pipeline stopped for a restart or a dropped endpoint, whose call goes on
// elsewhere, must not call it. Every utterance of the call must have been
// given to OnUtterance first. Later calls return nothing more for absences.
func (s *Session) End(at time.Duration) []Action { return s.closeAbsences(at, true) }

// closeAbsences closes the open absence windows that ended by at (all of
// them when ended: the call is over) and fires their rules, stamped at the
// window's end or, for a call that ended inside it, at at.
func (s *Session) closeAbsences(at time.Duration, ended bool) []Action {
	var out []Action
	for ri := range s.pb.rules {
		r := &s.pb.rules[ri]
		rs := &s.rules[ri]
		hit := false
		var when time.Duration
		for ti := range r.triggers {
			t := &r.triggers[ti]
			ts := &rs.trig[ti]
			if t.kind != TriggerAbsence || ts.said || ts.expired || (at < t.within && !ended) {
				continue
			}
			end := min(t.within, at)
			ts.expired = true
			ts.sat, ts.at, hit = true, end, true
			when = max(when, end)
		}
		if hit {
			out = s.fire(ri, when, out)
		}
	}
	return out
}

// fire checks the rule's combination, once and cooldown, and appends its
// actions that are not suppressed.
func (s *Session) fire(ri int, at time.Duration, out []Action) []Action {
	r := &s.pb.rules[ri]
	rs := &s.rules[ri]
	if r.all {
		for _, ts := range rs.trig {
			if !ts.sat || (r.within > 0 && at-ts.at > r.within) {
				return out
			}
		}
	}
	if rs.fired && (r.once || at-rs.last < r.cooldown) {
		return out
	}
	rs.fired, rs.last = true, at
	n := len(out)
	for _, a := range r.actions {
		switch a.Kind {
		case KindCategory:
			if s.cats[a.ID] {
				continue
			}
			s.cats[a.ID] = true
		default:
			key := string(a.Kind) + ":" + a.ID
			if last, ok := s.lastEmit[key]; ok && at-last < r.cooldown {
				continue
			}
			s.lastEmit[key] = at
		}
		a.At = at
		out = append(out, a)
	}
	if len(out) > n {
		s.log.Debug("agentassist: rule fired", "rule", r.id, "t", at, "actions", len(out)-n)
	}
	return out
}

// prepare resets the per-utterance scratch for text.
func (s *Session) prepare(text string) {
	clear(s.phraseHit)
	s.words = tokenize(text)
	s.stems = s.stems[:0]
	for _, w := range s.words {
		s.stems = append(s.stems, stem(w))
	}
	s.normDone, s.seqDone = false, false
}

// matches reports whether the prepared utterance contains one of t's
// phrases (by stems, else by pronunciation) or matches its regex.
func (s *Session) matches(t *trigger) bool {
	for _, pi := range t.phrases {
		if s.phraseMatch(pi) {
			return true
		}
	}
	if t.regex != nil {
		if !s.normDone {
			s.norm = joinWords(s.words)
			s.normDone = true
		}
		return t.regex.MatchString(s.norm)
	}
	return false
}

func (s *Session) phraseMatch(pi int) bool {
	switch s.phraseHit[pi] {
	case 1:
		return true
	case 2:
		return false
	}
	ph := &s.pb.phrases[pi]
	ok := containsSeq(s.stems, ph.stems)
	if !ok && len(ph.prons) > 0 {
		if !s.seqDone {
			s.pb.dict.utterancePhones(s.words, &s.seq)
			s.seqDone = true
		}
		for _, pron := range ph.prons {
			var hit bool
			s.col, hit = phoneticMatch(pron, &s.seq, s.col)
			if hit {
				ok = true
				break
			}
		}
	}
	if ok {
		s.phraseHit[pi] = 1
	} else {
		s.phraseHit[pi] = 2
	}
	return ok
}

func joinWords(words []string) string {
	n := 0
	for _, w := range words {
		n += len(w) + 1
	}
	b := make([]byte, 0, n)
	for i, w := range words {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, w...)
	}
	return string(b)
}
