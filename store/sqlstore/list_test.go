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
		got, err := decodeList(jsonList(in))
		if err != nil || !slices.Equal(got, in) || got == nil {
			t.Errorf("decodeList(jsonList(%q)) = %q, %v", in, got, err)
		}
	}
}
