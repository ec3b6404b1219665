package agentassist

import (
	"errors"
	"os"
	"testing"

	"github.com/earshot/earshot/insights"
)

// FuzzParsePlaybook checks that no input makes the parser panic, that every
// refusal is a *PlaybookError, and that whatever it accepts runs.
// Seeds: testdata/fuzz/FuzzParsePlaybook plus the default playbook.
func FuzzParsePlaybook(f *testing.F) {
	if data, err := os.ReadFile("../samples/playbook.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(validPlaybook))
	f.Fuzz(func(t *testing.T, data []byte) {
		pb, err := ParsePlaybookWith("fuzz.yaml", data, Options{NoPhonetic: true})
		if err != nil {
			var pe *PlaybookError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPlaybook) {
				t.Fatalf("error %v (%T) is not a *PlaybookError", err, err)
			}
			return
		}
		if len(pb.RuleIDs()) == 0 {
			t.Fatal("accepted a playbook without rules")
		}
		s := pb.NewSession(SessionConfig{})
		s.OnUtterance(insights.Utterance{Speaker: insights.Caller, End: ms(1000), Text: "cancel my account"}, insights.Sentiment{Score: -1}, true)
		s.OnDynamics(insights.DynamicsEvent{Kind: insights.DeadAir, Start: 0, End: ms(6000)})
		s.Tick(ms(90000))
	})
}
