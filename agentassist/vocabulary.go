package agentassist

// Vocabulary returns the phrases a recognizer should know for pb and kb, in
// the normalized form rules match (lower case, words separated by single
// spaces): every phrase of every playbook trigger, then each KB article's
// title and keywords. Duplicates are dropped; the order is stable (playbook
// order, then articles by id). Either argument may be nil. Regular
// expressions are not listed: they name patterns, not words.
//
// The recognizer adds these words to its dictionary and language model when
// it starts, so a product or plan name written into the playbook or the KB
// is recognizable after a restart without rebuilding the language model.
func Vocabulary(pb *Playbook, kb *KB) []string {
	var out []string
	seen := make(map[string]bool)
	add := func(s string) {
		s = normalize(s)
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
	}
	if pb != nil {
		for _, p := range pb.phrases {
			add(p.text)
		}
	}
	if kb != nil {
		for _, id := range kb.ids {
			a := kb.articles[id]
			add(a.Title)
			for _, k := range a.Keywords {
				add(k)
			}
		}
	}
	return out
}
