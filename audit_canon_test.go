package roster

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gowebpki/jcs"
)

// The direct canonical form (audit_canon.go) against RFC 8785's own examples and against the
// reference path (encoding/json, then github.com/gowebpki/jcs) on random records.

// TestCanonRFC8785Examples: the examples of RFC 8785 §3.2.2 (sorting, strings, literals) and
// §3.2.2.3 (numbers), as written in the RFC.
func TestCanonRFC8785Examples(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// §3.2.3, sorting of properties by UTF-16 code units.
		{`{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
		   "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		// §3.2.2, the example of the whole scheme.
		{`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
		   "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
		   "literals": [null, true, false]}`,
			"{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"},
		{`[0, -0, 1, -1, 9007199254740991, 1.5, 100]`, `[0,0,1,-1,9007199254740991,1.5,100]`},
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`{"a":{"c":[{"z":1,"y":[]}],"b":"\u003c\u0026\u003e \u2028"}}`, "{\"a\":{\"b\":\"<&> \u2028\",\"c\":[{\"y\":[],\"z\":1}]}}"},
	} {
		got, err := appendCanonJSON(nil, []byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("canonical form of %s:\n got  %s (%v)\n want %s", tc.in, got, err, tc.want)
		}
		ref, err := jcs.Transform([]byte(tc.in))
		if err != nil || string(ref) != tc.want {
			t.Errorf("the reference disagrees on %s: %s (%v)", tc.in, ref, err)
		}
	}
}

// randomText draws strings that exercise escaping: controls, quotes, backslashes, HTML
// characters, line separators, non-BMP characters.
func randomText(r *rand.Rand) string {
	pool := []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\u2028", "\u2029", "é", "€", "\U0001F600", "\x01", "\x1f", "\n", "\t", "\x7f", "\ufffd"}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pool[r.IntN(len(pool))])
	}
	return b.String()
}

// TestCanonRecordMatchesReference: the hash the write path computes (canonical, directly) is
// the hash verification recomputes from the API's rendering with the reference canonicalizer,
// for random records whose changes come from auditChanges.
func TestCanonRecordMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(8785, 19))
	for i := range 500 {
		obj := map[string]any{"id": "entity_" + NewID(time.Unix(0, 0)), "name": randomText(r), "n": r.IntN(1000) - 500,
			"list": []string{randomText(r), randomText(r)}, "flag": r.IntN(2) == 0, "none": nil, randomText(r): randomText(r)}
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		members, err := objectMembers(raw)
		if err != nil {
			t.Fatal(err)
		}
		changes, err := appendMembers([]byte(`{"after":`), members)
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, `,"before":{}}`...)
		rec := AuditRecord{ID: NewID(time.Now()), Sequence: int64(i + 1), OccurredAt: time.Now(), ActorType: ActorKey, ActorKeyID: NewID(time.Now()),
			ActorRole: RoleAdmin, Source: Source{IP: "10.0.0.1", UserAgent: cleanText(randomText(r), maxUserAgent)}, RequestID: randomText(r),
			IdempotencyKey: randomText(r), Action: "entity.update", TargetType: "entity", TargetID: NewID(time.Now()), Outcome: OutcomeSuccess,
			Status: 200, Count: 1, Changes: changes, PrevHash: GenesisHash}
		if i%3 == 0 {
			rec.Changes, rec.TargetType, rec.Status, rec.AccountID, rec.ActorKeyID, rec.ActorRole = nil, "", 0, NewID(time.Now()), "", ""
		}
		ref, err := jcs.Transform(mustJSON(t, rec.view()))
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.canonical(nil); string(got) != string(ref) {
			t.Fatalf("record %d:\n direct    %s\n reference %s", i, got, ref)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkAuditHash compares the write path's hash of an entity creation's record with the
// reference path's.
func BenchmarkAuditHash(b *testing.B) {
	obj := map[string]any{"id": "entity_6b15bcd769c08f4f3222c096", "account_id": "account_6b15bcd619b71a3aa47d2d19", "name": "Signer One",
		"module_ids": []string{"m1", "m2"}, "source": "form", "recipient": nil, "description": "a <long> description", "deprecated": false,
		"created_at": "2026-12-06T19:51:51.627568Z", "updated_at": "2026-12-06T19:51:51.627568Z", "website": "https://example.com"}
	raw, _ := json.Marshal(obj)
	members, _ := objectMembers(raw)
	changes, _ := appendMembers([]byte(`{"after":`), members)
	changes = append(changes, `,"before":{}}`...)
	rec := AuditRecord{ID: NewID(time.Now()), AccountID: NewID(time.Now()), Sequence: 42, OccurredAt: time.Now(), ActorType: ActorKey,
		ActorKeyID: NewID(time.Now()), ActorRole: RoleAdmin, Source: Source{IP: "10.0.0.1", UserAgent: "Go-http-client/1.1"}, RequestID: "req",
		Action: "entity.create", TargetType: "entity", TargetID: NewID(time.Now()), Outcome: OutcomeSuccess, Status: 201, Count: 1,
		Changes: changes, PrevHash: GenesisHash}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			buf = rec.canonical(buf[:0])
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rec.ComputeHash(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rec.referenceHash(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzComputeHash: for any record as it may be read back from storage — edited in the database,
// so with any text in any field (invalid UTF-8, control characters, quotes) and any changes —
// ComputeHash is the reference hash of the API's rendering, or both fail (changes that are not
// JSON). Verification uses ComputeHash, so a record it accepts is one anyone can check.
func FuzzComputeHash(f *testing.F) {
	f.Add("entity.update", "Go-http-client/1.1", "req", "key-1", "10.0.0.1", `{"after":{"name":"b"},"before":{"name":"a"}}`, int64(3))
	f.Add("a\x00b\"c", "\xff\xfe ok \u2028", "\xe2\x82", "<>&", "", `{"b":1,"a":[1.5e3,-0,"\u00e9"]}`, int64(0))
	f.Add("x", "y", "", "", "::1", ` { "z" : null , "a" : true } `, int64(-1))
	f.Add("x", "y", "", "", "", `{"a":1`, int64(1))
	f.Fuzz(func(t *testing.T, action, agent, request, idem, ip, changes string, seq int64) {
		rec := AuditRecord{ID: "6b15bcd769c08f4f3222c096", AccountID: "6b15bcd619b71a3aa47d2d19", Sequence: seq,
			OccurredAt: time.Unix(1796000000, 123456000), ActorType: ActorKey, ActorKeyID: "6b15bcd619b71a3aa47d2d1a", ActorRole: RoleAdmin,
			Source: Source{IP: ip, UserAgent: agent}, RequestID: request, IdempotencyKey: idem, Action: action, TargetType: "entity",
			TargetID: "6b15bcd619b71a3aa47d2d1b", Outcome: OutcomeSuccess, Status: 200, Count: 1, PrevHash: GenesisHash}
		if changes != "" {
			rec.Changes = json.RawMessage(changes)
		}
		got, err := rec.ComputeHash()
		want, refErr := rec.referenceHash()
		if (err != nil) != (refErr != nil) {
			t.Fatalf("ComputeHash error %v, reference error %v", err, refErr)
		}
		if got != want {
			t.Fatalf("ComputeHash %s, reference %s", got, want)
		}
	})
}

// referenceHash is ComputeHash the slow way, as anyone can run it on the API's answer: the
// record rendered by encoding/json, canonicalized by github.com/gowebpki/jcs.
func (r *AuditRecord) referenceHash() (string, error) {
	b, err := json.Marshal(r.view())
	if err != nil {
		return "", err
	}
	return HashAuditJSON(b)
}

// TestCompareUTF16: the comparison that sorts an object's keys agrees with comparing their
// UTF-16 code units, on strings that mix ASCII, two- and three-byte characters (either side of
// the surrogates' range) and characters past U+FFFF, sharing prefixes.
func TestCompareUTF16(t *testing.T) {
	alphabet := []rune{'a', 'b', 'Z', 0x7f, 0x80, 0xf6, 0x20ac, 0xd7ff, 0xe000, 0xfb33, 0xffff, 0x10000, 0x1f600, 0x10ffff}
	r := rand.New(rand.NewPCG(7, 8))
	word := func() string {
		var b strings.Builder
		for range r.IntN(4) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20000 {
		prefix := word()
		a, b := prefix+word(), prefix+word()
		want := slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		if got := compareUTF16(a, b); got != want {
			t.Fatalf("compareUTF16(%+q, %+q) = %d, want %d", a, b, got, want)
		}
	}
}
