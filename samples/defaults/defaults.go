// Package defaults loads the default playbook and knowledge base that ship
// in package samples into the agentassist types the engine runs calls with.
// It is apart from samples so that packages agentassist depends on can
// still test against the sample calls.
package defaults

import (
	"fmt"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/samples"
)

// Assist parses the default playbook and opens the default knowledge base,
// checked against each other.
func Assist() (*agentassist.Playbook, *agentassist.KB, error) {
	pb, err := agentassist.ParsePlaybook(samples.PlaybookName, samples.Playbook())
	if err != nil {
		return nil, nil, err
	}
	kb, err := agentassist.OpenKB(samples.KB())
	if err != nil {
		return nil, nil, fmt.Errorf("default knowledge base: %w", err)
	}
	if err := pb.CheckKB(kb); err != nil {
		return nil, nil, err
	}
	return pb, kb, nil
}
