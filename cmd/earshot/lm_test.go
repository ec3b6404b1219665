package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/stt/pocketsphinx"
)

// TestNoContactCenterModelIsARefusalNotAFallback: a binary run where the
// contact-center language model cannot be found (copied to another
// machine, say) refuses to transcribe and says what to do, instead of
// going on with the generic model; --lm generic is the explicit way to
// ask for that one.
func TestNoContactCenterModelIsARefusalNotAFallback(t *testing.T) {
	if pocketsphinx.ProjectConfig().LM == "" {
		t.Skip("the contact-center model is not built (make lm): nothing to compare with")
	}
	wav := filepath.Join(t.TempDir(), "call.wav")
	writeWAV(t, wav, 2, 2)
	t.Setenv(pocketsphinx.EnvLM, "")
	t.Chdir(t.TempDir()) // neither here nor beside the test binary

	var out, errb bytes.Buffer
	code := run([]string{"transcribe", wav}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), pocketsphinx.ProjectLM) || !strings.Contains(errb.String(), "make lm") ||
		!strings.Contains(errb.String(), "--lm generic") {
		t.Errorf("without the model: exit %d, stderr:\n%s\nwant a refusal naming the model, make lm and --lm generic", code, errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"transcribe", "--lm", "generic", wav}, &out, &errb); code != 0 {
		t.Errorf("--lm generic: exit %d, stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "general-English") {
		t.Errorf("--lm generic gave no warning:\n%s", errb.String())
	}
}
