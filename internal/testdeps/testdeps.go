// Package testdeps loads, for tests, what the real call pipeline needs:
// the PocketSphinx recognizer on the project's model, the default playbook
// and KB, and the sample calls. It is imported by tests only.
package testdeps

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/agentassist"
	"github.com/earshot/earshot/internal/replay"
	"github.com/earshot/earshot/samples"
	"github.com/earshot/earshot/samples/defaults"
	"github.com/earshot/earshot/stt/pocketsphinx"
)

// Deps are the parts of a call.Deps that Real loads (this package cannot
// name call.Deps: the call package's own tests use it).
type Deps struct {
	Recognizers pocketsphinx.RecognizerSource
	Playbook    *agentassist.Playbook
	KB          *agentassist.KB
}

// Real loads the real recognizer (a pool of decoders), the default
// playbook and KB, as `earshot serve` does; the pool is closed when the
// test ends. Without the Debian model the test is skipped.
func Real(tb testing.TB, decoders int) Deps {
	tb.Helper()
	if _, err := os.Stat(pocketsphinx.DefaultModel); err != nil {
		tb.Skipf("PocketSphinx model missing (%v): run make setup", err)
	}
	pool, err := pocketsphinx.NewPool(pocketsphinx.ProjectConfig(), decoders)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pool.Close() })
	pb, kb, err := defaults.Assist()
	if err != nil {
		tb.Fatal(err)
	}
	return Deps{Recognizers: pool.Recognizers(), Playbook: pb, KB: kb}
}

// Sample decodes a sample call to its two 16 kHz channels.
func Sample(tb testing.TB, tr samples.Truth) (agent, caller []float32) {
	tb.Helper()
	agent, caller, err := replay.DecodeSample(tr)
	if err != nil {
		tb.Fatalf("sample %s: %v", tr.Name, err)
	}
	return agent, caller
}

// CPUTime is the process's CPU time so far (user and system), for tests
// that log what a bounded operation cost.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
