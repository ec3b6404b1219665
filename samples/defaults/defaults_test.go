package defaults

import "testing"

func TestAssistLoadsTheDefaults(t *testing.T) {
	pb, kb, err := Assist()
	if err != nil {
		t.Fatal(err)
	}
	if pb == nil || kb == nil {
		t.Fatalf("playbook %v, KB %v", pb, kb)
	}
}
