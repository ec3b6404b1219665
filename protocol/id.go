package protocol

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
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// IDRule describes ValidID for error messages.
const IDRule = "1-64 characters of [A-Za-z0-9._:-]"
