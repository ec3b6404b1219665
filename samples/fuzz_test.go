package samples

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"testing"
)

// FuzzLoadTruth feeds LoadTruth arbitrary bytes: it must never panic, must
// classify every refusal as ErrBadTruth, and whatever it accepts must survive
// a round trip through encoding/json unchanged. Seeds: every embedded truth
// plus testdata/fuzz/FuzzLoadTruth.
func FuzzLoadTruth(f *testing.F) {
	paths, err := fs.Glob(Files(), "calls/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		tr, err := LoadTruth(bytes.NewReader(doc))
		if err != nil {
			if !errors.Is(err, ErrBadTruth) {
				t.Fatalf("refusal does not wrap ErrBadTruth: %v", err)
			}
			return
		}
		again, err := json.Marshal(tr)
		if err != nil {
			t.Fatalf("an accepted truth does not marshal: %v", err)
		}
		back, err := LoadTruth(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("an accepted truth is refused after a round trip: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(tr, back) {
			t.Fatalf("round trip changed the truth:\n%+v\n%+v", tr, back)
		}
	})
}
