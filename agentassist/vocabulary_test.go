package agentassist

import (
	"reflect"
	"testing"
	"testing/fstest"
)

func TestVocabularyListsPlaybookPhrasesThenKBTitlesAndKeywords(t *testing.T) {
	pb, err := ParsePlaybookWith("test.yaml", []byte(`
version: 1
rules:
  - id: upsell
    any_of:
      - phrase: {speaker: caller, any_of: ["Northwind Unlimited", "upgrade to  Northwind   unlimited!"]}
      - phrase: {speaker: agent, regex: "plan \\d+"}
    actions:
      - hint: {id: h, title: T, text: X}
  - id: again
    any_of:
      - phrase: {speaker: any, any_of: ["northwind unlimited"]}
    actions:
      - category: {id: c}
`), Options{NoPhonetic: true})
	if err != nil {
		t.Fatal(err)
	}
	kb, err := OpenKB(fstest.MapFS{
		"plans.md": {Data: []byte("---\ntitle: Plans, upgrades\nkeywords: [Contoso Max, upgrade to northwind unlimited]\n---\nBody words are not listed.\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := Vocabulary(pb, kb)
	want := []string{"northwind unlimited", "upgrade to northwind unlimited", "plans upgrades", "contoso max"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Vocabulary = %q, want %q", got, want)
	}
	if got := Vocabulary(nil, nil); len(got) != 0 {
		t.Errorf("Vocabulary(nil, nil) = %q, want nothing", got)
	}
}
