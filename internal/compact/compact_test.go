package compact

import (
	"encoding/json"
	"slices"
	"testing"
)

// A list the JSON decoder grew has room to spare; Clip drops it and keeps the elements.
func TestClip(t *testing.T) {
	var decoded []string
	if err := json.Unmarshal([]byte(`["a","b","c","d","e"]`), &decoded); err != nil {
		t.Fatal(err)
	}
	if cap(decoded) == len(decoded) {
		t.Fatalf("the decoder left no room (%d of %d): the test proves nothing", len(decoded), cap(decoded))
	}
	got := Clip(decoded)
	if cap(got) != len(got) || !slices.Equal(got, decoded) {
		t.Errorf("Clip = %q (room for %d), want %q without room", got, cap(got), decoded)
	}
	exact := []string{"a"}
	if got := Clip(exact); &got[0] != &exact[0] {
		t.Error("a list without room was copied")
	}
	if got := Clip([]string(nil)); got != nil {
		t.Error("a nil list")
	}
}
