package protocol

import "strings"

// MaxIDLen is the longest call, agent, hint or rule id.
const MaxIDLen = 64

// ValidID reports whether s can be a call, agent, hint or rule id: 1–64
// characters of [A-Za-z0-9._:-]. Ids become store keys and file names, so
// the rule is the same everywhere.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idChar(rune(s[i])) {
			return false
		}
	}
	return true
}

// idChar reports whether r may appear in an id.
func idChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == ':' || r == '-'
}

// IDPart makes s usable inside an id: every character the id rule does not
// allow becomes '_'. It does not bound the length: the caller, who knows
// which end of its id matters, cuts it to MaxIDLen.
func IDPart(s string) string {
	return strings.Map(func(r rune) rune {
		if idChar(r) {
			return r
		}
		return '_'
	}, s)
}

// IDRule describes ValidID for error messages.
const IDRule = "1-64 characters of [A-Za-z0-9._:-]"

// SubjectToken makes an id one token of a NATS subject: ids may hold '.',
// which separates tokens, and nothing else a subject forbids. '.' becomes
// '~', which no id holds, so the mapping is one to one.
func SubjectToken(id string) string { return strings.ReplaceAll(id, ".", "~") }
