package insights

import "fmt"

// ParseSpeaker returns the Speaker named s ("agent" or "caller"). Any other
// name gives an error wrapping ErrUnknownSpeaker.
func ParseSpeaker(s string) (Speaker, error) {
	switch Speaker(s) {
	case Agent, Caller:
		return Speaker(s), nil
	}
	return "", fmt.Errorf("insights: speaker %q: %w", s, ErrUnknownSpeaker)
}

// valid reports whether sp is one of the two sides of a call.
func (s Speaker) valid() bool { return s == Agent || s == Caller }

// BySpeaker holds one value per side of the call.
type BySpeaker[T any] struct {
	Agent, Caller T
}

// Of returns the value for sp; any speaker other than Agent reads Caller.
func (b BySpeaker[T]) Of(sp Speaker) T {
	if sp == Agent {
		return b.Agent
	}
	return b.Caller
}

// Ptr returns a pointer to the value for sp, for updating in place; any
// speaker other than Agent gets Caller's.
func (b *BySpeaker[T]) Ptr(sp Speaker) *T {
	if sp == Agent {
		return &b.Agent
	}
	return &b.Caller
}
