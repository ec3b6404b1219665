package protocol

import (
	"errors"
	"fmt"
	"testing"
)

func TestFinalCloseCodesAreTheOnesAResumeCannotFix(t *testing.T) {
	tests := []struct {
		code  int
		final bool
	}{
		{CloseNormal, false}, {CloseGoingAway, false}, {CloseInternalError, false}, {CloseIdle, false}, {CloseTooSlow, false}, {CloseTryElsewhere, false},
		{CloseUnsupportedData, true}, {ClosePolicyViolation, true}, {CloseMessageTooBig, true},
		{CloseUnauthorized, true}, {CloseForbidden, true}, {CloseCallActive, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			if got := Final(tt.code); got != tt.final {
				t.Errorf("Final(%d) = %v, want %v", tt.code, got, tt.final)
			}
		})
	}
}

func TestARejectionSaysWhetherTheTokenWasRefused(t *testing.T) {
	tests := []struct {
		name string
		r    RejectedError
		bad  bool
	}{
		{"HTTP 401 is a bad token", RejectedError{Status: 401}, true},
		{"HTTP 403 is a bad token", RejectedError{Status: 403}, true},
		{"close 4401 is a bad token", RejectedError{Code: CloseUnauthorized, Reason: "unauthorized"}, true},
		{"close 4403 is a bad token", RejectedError{Code: CloseForbidden, Reason: "forbidden"}, true},
		{"a policy violation is not", RejectedError{Code: ClosePolicyViolation, Reason: "second start"}, false},
		{"a call active elsewhere is not", RejectedError{Code: CloseCallActive}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error = fmt.Errorf("wrapped: %w", &tt.r)
			var r *RejectedError
			if !errors.As(err, &r) {
				t.Fatal("errors.As does not find the rejection")
			}
			if r.BadToken() != tt.bad {
				t.Errorf("BadToken() = %v for %s", r.BadToken(), r.Error())
			}
		})
	}
}

func TestValidIDIsTheOneIDRule(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"c-20261123-0001", true}, {"A17", true}, {"a.b_c:d-e", true}, {string(make([]byte, 64)), false},
		{"", false}, {"has space", false}, {"slash/no", false}, {"ünïcode", false},
		{"x123456789012345678901234567890123456789012345678901234567890123", true},
		{"x1234567890123456789012345678901234567890123456789012345678901234", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.ok {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
}

func TestIDPartKeepsOnlyWhatTheRuleAllows(t *testing.T) {
	tests := []struct{ in, want string }{
		{"A17", "A17"},
		{"a.b_c:d-e", "a.b_c:d-e"},
		{"Dana Smith", "Dana_Smith"},
		{"ünï/code", "_n__code"},
		{"billing dispute (2).mp3", "billing_dispute__2_.mp3"},
		{"", ""},
	}
	for _, tt := range tests {
		got := IDPart(tt.in)
		if got != tt.want {
			t.Errorf("IDPart(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got != "" && !ValidID(got) {
			t.Errorf("IDPart(%q) = %q is not a valid id", tt.in, got)
		}
	}
}
