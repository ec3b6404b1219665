package insights

import "fmt"

// ParseSpeaker returns the Speaker named s ("agent" or "caller"). Any other
// name gives an error wrapping ErrUnknownSpeaker.
func ParseSpeaker(s string) (Speaker, error) {
	switch s {
	case "agent":
		return Agent, nil
	case "caller":
		return Caller, nil
	}
	return NoSpeaker, fmt.Errorf("insights: speaker %q: %w", s, ErrUnknownSpeaker)
}

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
