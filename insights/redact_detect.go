package insights

import (
	"strings"
	"time"
	"unicode"
)

// Spoken numbers. Each maps to the digits it stands for.
var (
	digitWords = map[string]string{
		"zero": "0", "oh": "0", "o": "0", "nought": "0", "naught": "0", "nil": "0",
		"one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
		"six": "6", "seven": "7", "eight": "8", "nine": "9",
	}
	teenWords = map[string]string{
		"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
		"fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
	}
	tensWords = map[string]string{
		"twenty": "20", "thirty": "30", "forty": "40", "fourty": "40", "fifty": "50",
		"sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
	}
	// Words a recognizer writes for a digit it misheard. They count as
	// digits only next to real ones (see prepare).
	homophones  = map[string]string{"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}
	multipliers = map[string]int{"double": 2, "triple": 3, "treble": 3}
	scaleWords  = map[string]string{"hundred": "00", "thousand": "000"}
	// Words between digit groups that do not end a run.
	joiners = setOf("uh um er erm ah hmm mm dash hyphen slash space and then")
	// Words that may come before a speaker's next group of digits.
	leadIns = setOf("uh um er erm ah hmm mm and then okay ok yes yeah so next it's its is the rest right alright")
	months  = setOf("january february march april may june july august september october november december " +
		"jan feb mar apr jun jul aug sep sept oct nov dec")
	// A short number followed by one of these is an amount or a count, not
	// card data.
	unitWords = setOf("dollars dollar pounds pound quid euros euro cents cent pence percent per percentage " +
		"bucks grand minutes minute seconds second hours hour days day weeks week months month years year times " +
		"gigabytes gigs gb megabytes mb o'clock am pm digit digits characters character letters symbols " +
		"people kids children items devices miles")
)

// Phrases that set the payment context, and those that also say which kind
// of number comes next.
var redactKeywords = func() map[string][]keyword {
	m := map[string][]keyword{}
	add := func(kind RedactionKind, phrases string) {
		for _, p := range strings.Split(phrases, ",") {
			toks := strings.Fields(p)
			m[toks[0]] = append(m[toks[0]], keyword{toks, kind})
		}
	}
	add("", "card,credit,debit,visa,mastercard,master card,amex,american express,maestro,discover card,"+
		"payment,pay,paying,long number,card number,number on the card,number on the front,account number")
	add(Expiry, "expiry,expiration,expires,expire,expiring,exp,valid until,valid through,valid thru,valid to,end date,"+
		"expiry date,expiration date")
	add(SecurityCode, "security code,security number,cvv,cvc,cv2,cvv2,c v v,c v c,see v v,three digits,three digit,"+
		"three numbers,four digit code,back of the card,on the back,verification code,card verification,csc")
	for k, v := range m {
		// Longest phrase first.
		for i := 1; i < len(v); i++ {
			for j := i; j > 0 && len(v[j].toks) > len(v[j-1].toks); j-- {
				v[j], v[j-1] = v[j-1], v[j]
			}
		}
		m[k] = v
	}
	return m
}()

type keyword struct {
	toks []string
	kind RedactionKind // "" for a payment word that names no kind
}

// Token classes for redaction.
type tokClass uint8

const (
	tkOther      tokClass = iota
	tkDigits              // stands for digits (possibly none, when merged into the token before)
	tkHomophone           // "for", "to": a digit only next to digits
	tkJoiner              // may sit inside a digit run
	tkMultiplier          // "double", "triple"
	tkScale               // "hundred", "thousand"
)

type rtoken struct {
	norm   string
	class  tokClass
	digits string
	tens   bool
	mult   int
	amount bool // a currency or percent sign is on it ("$250", "30%")
}

// normToken lower-cases a token and trims punctuation at its edges.
func normToken(t string) string {
	return strings.TrimFunc(strings.ToLower(t), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func classify(raw string) rtoken {
	lower := strings.ToLower(raw)
	tk := rtoken{norm: normToken(raw), amount: strings.ContainsAny(raw, "%$£€")}
	parts := strings.FieldsFunc(lower, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	// An apostrophe belongs inside a word ("it's"); at a part's edge it
	// would hide a digit word from the checks below ("'!four").
	words := parts[:0]
	for _, p := range parts {
		if p = strings.Trim(p, "'"); p != "" {
			words = append(words, p)
		}
	}
	parts = words
	// Any ASCII digit makes the token a number, whatever else it holds.
	if strings.ContainsFunc(lower, func(r rune) bool { return r >= '0' && r <= '9' }) {
		var d strings.Builder
		for _, p := range parts {
			if w, ok := digitWords[p]; ok {
				d.WriteString(w)
				continue
			}
			for _, r := range p {
				if r >= '0' && r <= '9' {
					d.WriteRune(r)
				}
			}
		}
		tk.class, tk.digits = tkDigits, d.String()
		return tk
	}
	if len(parts) > 1 {
		// "four-five", "twenty-seven": a number only if every part is one.
		var d strings.Builder
		for i, p := range parts {
			switch {
			case digitWords[p] != "":
				if i > 0 && tensWords[parts[i-1]] != "" && p != "oh" && p != "o" && p != "zero" {
					s := d.String()
					d.Reset()
					d.WriteString(s[:len(s)-1])
				}
				d.WriteString(digitWords[p])
			case teenWords[p] != "":
				d.WriteString(teenWords[p])
			case tensWords[p] != "":
				d.WriteString(tensWords[p])
			default:
				return tk
			}
		}
		tk.class, tk.digits = tkDigits, d.String()
		return tk
	}
	w := tk.norm
	switch {
	case digitWords[w] != "":
		tk.class, tk.digits = tkDigits, digitWords[w]
	case teenWords[w] != "":
		tk.class, tk.digits = tkDigits, teenWords[w]
	case tensWords[w] != "":
		tk.class, tk.digits, tk.tens = tkDigits, tensWords[w], true
	case homophones[w] != "":
		tk.class, tk.digits = tkHomophone, homophones[w]
	case multipliers[w] != 0:
		tk.class, tk.mult = tkMultiplier, multipliers[w]
	case scaleWords[w] != "":
		tk.class, tk.digits = tkScale, scaleWords[w]
	case joiners[w]:
		tk.class = tkJoiner
	}
	return tk
}

// prepare classifies tokens and settles the context-dependent ones:
// homophones next to digits become digits, "double four" becomes "44" on
// the first token (the second keeps no digits of its own), "twenty seven"
// becomes "27" the same way.
func prepare(toks []string) []rtoken {
	rt := make([]rtoken, len(toks))
	for i, t := range toks {
		rt[i] = classify(t)
	}
	strong := func(i int) bool { return i >= 0 && i < len(rt) && rt[i].class == tkDigits }
	var promote []int
	for i := range rt {
		if rt[i].class != tkHomophone {
			continue
		}
		if (strong(i-1) && strong(i+1)) || (strong(i-1) && strong(i-2)) || (strong(i+1) && strong(i+2)) ||
			(i > 0 && rt[i-1].class == tkMultiplier && strong(i+1)) {
			promote = append(promote, i)
		}
	}
	for _, i := range promote {
		rt[i].class = tkDigits
	}
	for i := 0; i+1 < len(rt); i++ {
		next := &rt[i+1]
		single := next.class == tkDigits && len(next.digits) == 1
		if rt[i].class == tkHomophone && rt[i+1].class == tkHomophone {
			continue
		}
		switch {
		case rt[i].class == tkMultiplier && (single || next.class == tkHomophone):
			rt[i].class, rt[i].digits = tkDigits, strings.Repeat(next.digits, rt[i].mult)
			next.class, next.digits = tkDigits, ""
			i++
		case rt[i].tens && single && next.digits != "0":
			rt[i].digits = rt[i].digits[:1] + next.digits
			next.digits = ""
			i++
		}
	}
	return rt
}

// run is a candidate digit run over tokens [from, to).
type digitRun struct {
	from, to int
	digits   string
	slash    bool
}

// nextRun finds the digit run starting at i, if one does.
func nextRun(rt []rtoken, i int) (digitRun, bool) {
	if rt[i].class != tkDigits {
		return digitRun{}, false
	}
	r := digitRun{from: i, to: i + 1}
	var d strings.Builder
	d.WriteString(rt[i].digits)
	for j := i + 1; j < len(rt); {
		switch rt[j].class {
		case tkDigits, tkScale:
			d.WriteString(rt[j].digits)
			j++
			r.to = j
			continue
		case tkJoiner:
			// Joiners belong to the run only when digits follow them.
			k := j
			slash := false
			for k < len(rt) && rt[k].class == tkJoiner {
				slash = slash || rt[k].norm == "slash"
				k++
			}
			if k < len(rt) && rt[k].class == tkDigits {
				r.slash = r.slash || slash
				j = k
				continue
			}
		}
		break
	}
	r.digits = d.String()
	return r, true
}

// yearLike reports whether a run's words read as a year ("twenty twenty
// seven", "nineteen oh five", "two thousand and nine"), which outside a
// payment context is left alone.
func yearLike(rt []rtoken, r digitRun) bool {
	var w []string
	for _, t := range rt[r.from:r.to] {
		if t.class == tkDigits && t.norm != "" {
			w = append(w, t.norm)
		}
	}
	unit := func(s string) bool { d := digitWords[s]; return d != "" && d != "0" }
	two := func(rest []string) bool {
		switch len(rest) {
		case 1:
			return tensWords[rest[0]] != "" || teenWords[rest[0]] != ""
		case 2:
			return (tensWords[rest[0]] != "" && unit(rest[1])) ||
				((rest[0] == "oh" || rest[0] == "o" || rest[0] == "zero") && unit(rest[1]))
		}
		return false
	}
	switch {
	case len(w) >= 2 && (w[0] == "nineteen" || w[0] == "twenty"):
		return two(w[1:])
	case len(w) >= 2 && w[0] == "two" && rt[r.from+1].norm == "thousand":
		rest := w[1:]
		return len(rest) == 0 || (len(rest) == 1 && (unit(rest[0]) || tensWords[rest[0]] != "" || teenWords[rest[0]] != "")) || two(rest)
	}
	return false
}

func matchKeyword(rt []rtoken, i int) (keyword, bool) {
	for _, k := range redactKeywords[rt[i].norm] {
		if i+len(k.toks) > len(rt) {
			continue
		}
		ok := true
		for j, t := range k.toks {
			if rt[i+j].norm != t {
				ok = false
				break
			}
		}
		if ok {
			return k, true
		}
	}
	return keyword{}, false
}

func validMonth(d string) bool {
	return len(d) >= 2 && (d[0] == '0' && d[1] >= '1' && d[1] <= '9' || d[0] == '1' && d[1] >= '0' && d[1] <= '2')
}

// detect finds the spans to redact in one utterance of sp at call time at,
// starting from state st, and returns them with the state after it.
func detect(st RedactorState, cfg RedactorConfig, sp Speaker, toks []string, at time.Duration) ([]span, RedactorState) {
	if len(toks) == 0 {
		return nil, st
	}
	rt := prepare(toks)
	sd := st.Speakers.Ptr(sp)
	var spans []span
	head := true // only lead-in words so far
	lastRunEnd, lastRunTotal, lastNotCard := -1, 0, false
	for i := 0; i < len(rt); {
		if k, ok := matchKeyword(rt, i); ok {
			openContext(&st, sd, cfg, k, at)
			i += len(k.toks)
			head = false
			continue
		}
		r, ok := nextRun(rt, i)
		if !ok {
			if !leadIns[rt[i].norm] {
				head = false
			}
			i++
			continue
		}
		rc := describeRun(&st, sd, cfg, rt, r, head, at)
		if !rc.ctx {
			// Outside a payment context a card read earlier no longer
			// leads on to its expiry and security code.
			sd.CardDigits, sd.ExpiryDone = 0, false
		}
		redacted := rc.redacts(rt, r, sd.CardDigits)
		if redacted {
			spans = append(spans, recordRedaction(&st, sd, cfg, rc, r, at))
		}
		lastRunEnd, lastRunTotal = r.to, rc.total
		lastNotCard = !redacted && (rc.label.any() || rc.notCardTail)
		head = false
		i = r.to
	}
	// Digits at the end of the utterance may go on in the next one, and
	// so does what their label said they were.
	sd.Tail, sd.TailAt, sd.TailNotCard = 0, at, false
	if lastRunEnd >= 0 && onlyLeadIns(rt[lastRunEnd:]) {
		sd.Tail, sd.TailNotCard = lastRunTotal, lastNotCard
	}
	return spans, st
}

// openContext opens or extends the payment context on a payment word. A
// context that had lapsed starts the speaker's card over, so digits read
// for an earlier payment do not count toward this one's expiry and code.
func openContext(st *RedactorState, sd *SpeakerDigits, cfg RedactorConfig, k keyword, at time.Duration) {
	if !st.Context || at > st.ContextUntil {
		sd.CardDigits, sd.ExpiryDone = 0, false
	}
	st.Context, st.ContextUntil = true, max(st.ContextUntil, at+cfg.ContextWindow)
	if k.kind != "" {
		st.Expect, st.ExpectAt = k.kind, at
	}
}

// runContext is what the state and the words around a digit run say about
// it. It is worked out once per run because both whether the run is
// redacted and as what depend on the same facts.
type runContext struct {
	n           int           // digits in the run
	total       int           // n plus the previous utterance's tail when the run goes on from it
	cont        bool          // the run goes on from the digits that ended the previous utterance
	notCardTail bool          // it goes on from digits a label said were not a card ("my phone number is five five five")
	ctx         bool          // a payment context is open
	month       bool          // a month name comes just before the run
	label       runLabel      // what the words around it say it is
	spelled     int           // the most digits read one by one in a row ("four five six seven", "4567")
	expect      RedactionKind // the kind the last payment question asked for, while still fresh
}

// describeRun works out the runContext of run r of the utterance at call
// time at; head is whether only lead-in words came before it.
func describeRun(st *RedactorState, sd *SpeakerDigits, cfg RedactorConfig, rt []rtoken, r digitRun, head bool, at time.Duration) runContext {
	rc := runContext{n: len(r.digits)}
	rc.cont = head && sd.Tail > 0 && at-sd.TailAt <= cfg.TailWindow
	rc.total = rc.n
	if rc.cont {
		rc.total += sd.Tail
		rc.notCardTail = sd.TailNotCard
	}
	rc.ctx = st.Context && at <= st.ContextUntil
	rc.month = r.from > 0 && months[rt[r.from-1].norm]
	rc.expect = st.Expect
	if rc.expect != "" && at-st.ExpectAt > cfg.ExpectWindow {
		rc.expect = ""
	}
	rc.label = labelRun(rt, r)
	rc.spelled = spelledDigits(rt, r)
	return rc
}

// redacts reports whether run r is card data. cardDigits is how many card
// digits the speaker has read in this context.
func (rc runContext) redacts(rt []rtoken, r digitRun, cardDigits int) bool {
	if rc.ctx {
		return rc.redactsInPayment(cardDigits)
	}
	switch {
	case rc.cont && rc.total >= 13, rc.n > 19:
		// Card-long but not all heard here (the earlier utterance's
		// digits are not kept, so Luhn cannot clear them) or longer
		// than any label below is trusted for.
		return true
	case rc.n >= 13 && holdsCard(r.digits):
		// Every digit was heard and a card-long stretch of them passes
		// Luhn: a card, whatever the words around them call it.
		return true
	case rc.notCardTail || rc.label.any():
		return false
	case rc.n >= 4:
		// A number nobody labelled may be a card's first group.
		return !(!rc.cont && yearLike(rt, r))
	}
	return rc.total >= 4
}

// redactsInPayment is redacts inside a payment context, where it fails
// closed: a misheard card reading redacts as a clean one. Only the words
// after a number (a unit, a street) or an amount from a speaker who is not
// reading a card keep it, and never a run of four digit words, which is
// how cards are read.
func (rc runContext) redactsInPayment(cardDigits int) bool {
	reading := rc.cont || cardDigits > 0
	short := rc.n < 4 || rc.label.scale
	switch {
	case rc.n >= 13 || rc.spelled >= 4:
		return true
	case rc.month && rc.n >= 2:
		return true // an expiry read as a month and a year
	case rc.cont && rc.total >= 4:
		return true // a card group going on, whatever follows it
	case (rc.label.unit || rc.label.street) && short:
		return false
	case !reading && (rc.label.scale || (rc.label.amount && rc.n <= 6)):
		return false
	case rc.total >= 4 || rc.n >= 2 || rc.cont:
		return true
	}
	// A digit alone is a card's when the speaker is reading one: a group
	// the recognizer or an engine restart cut in two ("double floors
	// evans" | "nine out to do").
	return cardDigits > 0
}

// recordRedaction names the redacted run r and counts it into the state:
// card digits build up toward the expiry and security code that follow
// them, an answered question is no longer expected, and card data keeps
// the payment context open.
func recordRedaction(st *RedactorState, sd *SpeakerDigits, cfg RedactorConfig, rc runContext, r digitRun, at time.Duration) span {
	kind, from := redactionKind(rc, r, *sd)
	switch kind {
	case CardNumber:
		sd.CardDigits += rc.n
	case Expiry:
		sd.ExpiryDone = true
		st.Expect = ""
	case SecurityCode:
		st.Expect = ""
	}
	sd.Started = true
	st.Context, st.ContextUntil = true, max(st.ContextUntil, at+cfg.ContextWindow)
	return span{from, r.to, kind}
}

// redactionKind names a redacted run and says where its span starts: a
// month name just before the digits is part of the expiry date. What the
// words say (a month, a slash, a question just asked) wins over what the
// order of a card's fields suggests.
func redactionKind(rc runContext, r digitRun, sd SpeakerDigits) (RedactionKind, int) {
	n := rc.n
	switch {
	case rc.month && rc.ctx:
		return Expiry, r.from - 1
	case r.slash && (n == 3 || n == 4 || n == 6):
		return Expiry, r.from
	case rc.expect == Expiry && (n == 3 || n == 4 || n == 6):
		return Expiry, r.from
	case rc.expect == SecurityCode && (n == 3 || n == 4):
		return SecurityCode, r.from
	case sd.CardDigits >= 13 && !sd.ExpiryDone && n == 4 && validMonth(r.digits):
		return Expiry, r.from
	case sd.CardDigits >= 13 && sd.ExpiryDone && (n == 3 || n == 4):
		return SecurityCode, r.from
	}
	return CardNumber, r.from
}

// onlyLeadIns reports whether every token is a lead-in word, so digits
// before them still end the utterance and may go on in the next one.
func onlyLeadIns(rt []rtoken) bool {
	for _, t := range rt {
		if !leadIns[t.norm] {
			return false
		}
	}
	return true
}

// strictSpans adds to the spans detect found in a partial every other
// digit run, however short, with the homophones and multipliers next to it
// ("nine to", "five double"): inside a payment context a partial shows no
// digit at all. A run followed by a unit word is an amount and stays. st
// is the state after the partial; its expected kind names the new
// placeholders.
func strictSpans(st RedactorState, cfg RedactorConfig, toks []string, spans []span, at time.Duration) []span {
	rt := prepare(toks)
	kinds := make([]RedactionKind, len(rt))
	for _, s := range spans {
		for i := s.from; i < s.to; i++ {
			kinds[i] = s.kind
		}
	}
	kind := CardNumber
	if st.Expect != "" && at-st.ExpectAt <= cfg.ExpectWindow {
		kind = st.Expect
	}
	loose := func(i int) bool {
		return i >= 0 && i < len(rt) && kinds[i] == "" && (rt[i].class == tkHomophone || rt[i].class == tkMultiplier)
	}
	for i := 0; i < len(rt); {
		r, ok := nextRun(rt, i)
		if !ok || kinds[i] != "" {
			i++
			continue
		}
		from, to := r.from, r.to
		for loose(from - 1) {
			from--
		}
		for loose(to) {
			to++
		}
		if !(to < len(rt) && unitWords[rt[to].norm]) {
			for j := from; j < to; j++ {
				if kinds[j] == "" {
					kinds[j] = kind
				}
			}
		}
		i = max(r.to, i+1)
	}
	var out []span
	for i := 0; i < len(kinds); i++ {
		if kinds[i] == "" {
			continue
		}
		j := i + 1
		for j < len(kinds) && kinds[j] == kinds[i] {
			j++
		}
		out = append(out, span{i, j, kinds[i]})
		i = j - 1
	}
	return out
}
