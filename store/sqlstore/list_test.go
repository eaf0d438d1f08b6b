package sqlstore

import (
	"slices"
	"testing"
)

func TestDecodeListRoundTrip(t *testing.T) {
	for _, in := range [][]string{
		{}, {""}, {"a"}, {"a", "b"}, {"", ""}, {`a"b`}, {`a\b`}, {"a,b", "c"}, {`","`}, {"<string>"}, {"é", "\u2028"},
		{"5fd4371e940df5a34a3888b2", "5fd4371e940df5a34a3888b3"},
	} {
		got, err := decodeList(JSONList(in))
		if err != nil || !slices.Equal(got, in) || got == nil {
			t.Errorf("decodeList(JSONList(%q)) = %q, %v", in, got, err)
		}
	}
}

// A list of strings with <, > and & is stored as written, so a page of such entities decodes
// through decodeList's plain path instead of encoding/json.
func TestJSONListUnescaped(t *testing.T) {
	if got, want := JSONList([]string{"<a>", "b&c"}), `["<a>","b&c"]`; got != want {
		t.Fatalf("JSONList = %s, want %s", got, want)
	}
	if got := JSONList(nil); got != "[]" {
		t.Fatalf("JSONList(nil) = %s", got)
	}
}
