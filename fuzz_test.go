package roster_test

// Fuzz targets for everything roster parses from a client before it touches storage: JSON
// bodies and their decoders, cursors, sorts, key secrets and ids. Every target checks that no
// input panics, that every error is a *roster.Error (so a surface renders it as a 4xx, never a
// 500), and a few properties of what is accepted. Seed corpora live in testdata/fuzz/<Name>/;
// .ci/run fuzzes each target for a few seconds. To fuzz one longer:
//
//	go test -run='^$' -fuzz='^FuzzDecodeEntity$' -fuzztime=5m .

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// fzTyped fails unless err is nil or a *roster.Error; it returns the typed error.
func fzTyped(t *testing.T, what string, err error) *roster.Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *roster.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: untyped error %T: %v", what, err, err)
	}
	if e.Code == roster.CodeInternal || e.Message == "" {
		t.Fatalf("%s: error %q is not a client error", what, err)
	}
	return e
}

// fzInvalid checks a decoder's error: a validation error whose every problem sits in the body.
func fzInvalid(t *testing.T, what string, err error) bool {
	t.Helper()
	e := fzTyped(t, what, err)
	if e == nil {
		return false
	}
	if e.Code != roster.CodeInvalid || len(e.Problems) == 0 {
		t.Fatalf("%s: want a validation error with problems, got %v", what, err)
	}
	for _, p := range e.Problems {
		if len(p.Loc) == 0 || p.Loc[0] != "body" || p.Msg == "" || p.Type == "" {
			t.Fatalf("%s: malformed problem %+v", what, p)
		}
	}
	return true
}

// fzJSON parses data as a request body; it reports whether there is a value to decode. JSON is
// what encoding/json calls valid, in UTF-8 (SPEC §5 "Text"); an accepted body never yields a
// U+FFFD the client did not send.
func fzJSON(t *testing.T, data []byte) (any, bool) {
	t.Helper()
	valid := json.Valid(data) && utf8.Valid(data)
	v, err := roster.DecodeJSON(data)
	if e := fzTyped(t, "DecodeJSON", err); e != nil {
		if e.Code != roster.CodePayloadInvalid || len(e.Problems) != 1 || e.Problems[0].Type != "json_invalid" {
			t.Fatalf("DecodeJSON: want payload_invalid json_invalid, got %+v", e)
		}
		p := e.Problems[0]
		if off, ok := p.Loc[1].(int); len(p.Loc) != 2 || !ok || off < 0 || off > len(data) || p.Ctx == nil || p.Ctx.Error == "" {
			t.Fatalf("DecodeJSON: json_invalid without its place and reason: %+v", p)
		}
		if valid {
			t.Fatalf("DecodeJSON refused valid JSON %q", data)
		}
		return nil, false
	}
	if !valid {
		t.Fatalf("DecodeJSON accepted invalid JSON %q", data)
	}
	lower := strings.ToLower(string(data))
	sent := strings.Contains(lower, `\ufffd`) || strings.ContainsRune(lower, utf8.RuneError)
	if !sent && fzHasRuneError(v) {
		t.Fatalf("DecodeJSON made a U+FFFD the client did not send from %q", data)
	}
	// Without a surrogate escape, the value is encoding/json's.
	if !strings.Contains(lower, `\ud`) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil || !reflect.DeepEqual(v, want) {
			t.Fatalf("DecodeJSON(%q) = %#v; encoding/json gives %#v, %v", data, v, want, err)
		}
	}
	return v, true
}

// fzHasRuneError reports whether a decoded value holds U+FFFD in a key or a string.
func fzHasRuneError(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, utf8.RuneError)
	case []any:
		return slices.ContainsFunc(v, fzHasRuneError)
	case map[string]any:
		for k, x := range v {
			if strings.ContainsRune(k, utf8.RuneError) || fzHasRuneError(x) {
				return true
			}
		}
	}
	return false
}

// TestDecodeJSONStrayCloser is the regression test of a defect FuzzDecodeAccountCreate found: a
// JSON value followed by a stray closing bracket (`{"name":"x"}}`) was accepted as the value.
// It is malformed JSON: 422 json_invalid (400 payload_invalid on /v0).
func TestDecodeJSONStrayCloser(t *testing.T) {
	for _, body := range []string{`{"name":"Acme"}}`, `{"name":"Acme"}]`, `{"name":"Acme"} ]`, `[]]`, `"x"}`, `null]`} {
		if v, err := roster.DecodeJSON([]byte(body)); roster.ErrorCode(err) != roster.CodePayloadInvalid {
			t.Errorf("DecodeJSON(%q) = %v, %v; want a payload_invalid error", body, v, err)
		}
	}
}

// fzSeeds adds the JSON bodies every decoder target starts from.
func fzSeeds(f *testing.F, bodies ...string) {
	for _, b := range append(bodies, ``, `null`, `[]`, `{}`, `"x"`, `{"a":1}`, `{"name":null}`, `[[[[[[[[]]]]]]]]`,
		`{"name":"x"} {}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"name":1e400}`, `{`) {
		f.Add([]byte(b))
	}
}

var slugRE = regexp.MustCompile(roster.SlugPattern)

func FuzzDecodeAccountCreate(f *testing.F) {
	fzSeeds(f, `{"name":"Acme Corp!"}`, `{"name":"  Acme  ","slug":"acme"}`, `{"name":"Ünïcödé Straße","slug":null}`,
		`{"name":"x","slug":"A B","extra":1}`, `{"name":"`+strings.Repeat("ab-", 40)+`"}`, `{"name":"!!"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := fzJSON(t, data)
		if !ok {
			return
		}
		in, err := roster.DecodeAccountCreate(v)
		if fzInvalid(t, "DecodeAccountCreate", err) {
			return
		}
		if n := roster.StrLen(in.Name); n < 2 || n > 100 || in.Name != strings.TrimSpace(in.Name) {
			t.Fatalf("accepted name %q", in.Name)
		}
		if len(in.Slug) < 2 || len(in.Slug) > 50 || !slugRE.MatchString(in.Slug) {
			t.Fatalf("accepted slug %q", in.Slug)
		}
	})
}

func FuzzDecodeAccountPatch(f *testing.F) {
	fzSeeds(f, `{"name":"New","slug":"new-slug"}`, `{"status":"suspended"}`, `{"status":"gone"}`, `{"deleted":true,"name":1}`,
		`{"id":"account_x","created_at":"then","updated_at":null}`, `{"slug":"-a"}`, `{"deleted":"yes"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := fzJSON(t, data)
		if !ok {
			return
		}
		in, err := roster.DecodeAccountPatch(v)
		if fzInvalid(t, "DecodeAccountPatch", err) {
			return
		}
		if in.Name.Set && (roster.StrLen(in.Name.V) < 2 || roster.StrLen(in.Name.V) > 100) {
			t.Fatalf("accepted name %q", in.Name.V)
		}
		if in.Slug.Set && !slugRE.MatchString(in.Slug.V) {
			t.Fatalf("accepted slug %q", in.Slug.V)
		}
		if in.Status.Set && in.Status.V != roster.AccountActive && in.Status.V != roster.AccountSuspended {
			t.Fatalf("accepted status %q", in.Status.V)
		}
	})
}

var hex24RE = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

func FuzzDecodeEntity(f *testing.F) {
	full := `{"name":"Acme","module_ids":["m"],"source":"form","recipient":null,"description":"d","deprecated":true,` +
		`"see":"entity_5f0c6b2e1a2b3c4d5e6f7a8b","field_suffix":"ab1","invitation_id":"5f0c6b2e1a2b3c4d5e6f7a8b",` +
		`"flow_ids":["5F0C6B2E1A2B3C4D5E6F7A8B"],"logo_url":"https://x.example/l.png","website":"http://x.example",` +
		`"time_zone":"America/Los Angeles","trustedform_certified_vendor":false,"account_id":"account_5f0c6b2e1a2b3c4d5e6f7a8b",` +
		`"id":"ignored","standard":true,"pending":false,"expired":null}`
	for _, b := range []string{full, `{"name":"a","module_ids":[],"source":null,"recipient":"crm"}`,
		`{"name":"","module_ids":[1,null],"source":"x","recipient":7}`, `{"see":"entity_ nope","deprecated":false}`,
		`{"logo_url":"ftp://x","website":"//x","time_zone":"../../etc/passwd"}`, `{"time_zone":"Local"}`,
		`{"flow_ids":null,"deprecated":null,"trustedform_certified_vendor":null}`, `{"account_id":"account_!"}`} {
		for mode := range 3 {
			f.Add([]byte(b), uint8(mode))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, m uint8) {
		v, ok := fzJSON(t, data)
		if !ok {
			return
		}
		mode := roster.EntityMode(m % 3)
		in, err := roster.DecodeEntity(v, mode)
		if fzInvalid(t, "DecodeEntity", err) {
			return
		}
		if mode != roster.EntityPatch {
			if !in.Name.Has() || !in.ModuleIDs.Has() || !in.Source.Set || !in.Recipient.Set {
				t.Fatalf("mode %d accepted a body without its required fields: %q", mode, data)
			}
			if in.See.Has() && !(in.Deprecated.Has() && in.Deprecated.V) {
				t.Fatalf("mode %d accepted see without deprecated: %q", mode, data)
			}
		}
		if in.Name.Has() && (roster.StrLen(in.Name.V) < 1 || roster.StrLen(in.Name.V) > 200) {
			t.Fatalf("accepted name %q", in.Name.V)
		}
		if in.Source.Has() && !slices.Contains(roster.EntitySources, in.Source.V) {
			t.Fatalf("accepted source %q", in.Source.V)
		}
		if in.Recipient.Has() && !slices.Contains(roster.EntityRecipients, in.Recipient.V) {
			t.Fatalf("accepted recipient %q", in.Recipient.V)
		}
		if in.See.Has() && in.See.V != "" && !roster.IsHex24(in.See.V) {
			t.Fatalf("accepted see %q", in.See.V)
		}
		if in.FieldSuffix.Has() && (len(in.FieldSuffix.V) < 3 || len(in.FieldSuffix.V) > 5) {
			t.Fatalf("accepted field_suffix %q", in.FieldSuffix.V)
		}
		if in.InvitationID.Has() && !hex24RE.MatchString(in.InvitationID.V) {
			t.Fatalf("accepted invitation_id %q", in.InvitationID.V)
		}
		for _, id := range in.FlowIDs.V {
			if !hex24RE.MatchString(id) {
				t.Fatalf("accepted flow id %q", id)
			}
		}
		if in.TimeZone.Has() && !roster.ValidTimeZone(in.TimeZone.V) {
			t.Fatalf("accepted time_zone %q", in.TimeZone.V)
		}
		// Applying an accepted body never panics and leaves no nil list.
		e := roster.Entity{ID: "5f0c6b2e1a2b3c4d5e6f7a8b", AccountID: "5f0c6b2e1a2b3c4d5e6f7a8c"}
		in.Apply(&e, mode)
		if e.ModuleIDs == nil || e.FlowIDs == nil {
			t.Fatalf("Apply left a nil list: %+v", e)
		}
	})
}

func FuzzDecodeRelationshipBatch(f *testing.F) {
	fzSeeds(f, `{"entity_ids":["entity_5f0c6b2e1a2b3c4d5e6f7a8b","5F0C6B2E1A2B3C4D5E6F7A8B"],"relationship_type":"account_holder"}`,
		`{"entity_ids":["entity_5f0c6b2e1a2b3c4d5e6f7a8b","entity_nothex"],"relationship_type":"authorized_user"}`,
		`{"entity_ids":[],"relationship_type":null}`, `{"entity_ids":null}`, `{"entity_ids":["entity_x","entity_x"],"relationship_type":"x"}`,
		`{"entity_ids":[`+strings.Repeat(`"entity_a",`, 25)+`"entity_b"],"relationship_type":"authorized_signer"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := fzJSON(t, data)
		if !ok {
			return
		}
		in, err := roster.DecodeRelationshipBatch(v)
		if fzInvalid(t, "DecodeRelationshipBatch", err) {
			return
		}
		if n := len(in.EntityIDs); n < 1 || n > roster.MaxBatch || len(in.Raw) != n || !roster.ValidRelationshipType(in.Type) {
			t.Fatalf("accepted batch %+v", in)
		}
		seen := map[string]bool{}
		for i, id := range in.EntityIDs {
			if id != "" && (!roster.IsHex24(id) || id != strings.ToLower(id)) {
				t.Fatalf("accepted entity id %q as %q", in.Raw[i], id)
			}
			key := id
			if id == "" {
				key = "raw:" + in.Raw[i]
			}
			if seen[key] {
				t.Fatalf("accepted the same entity twice: %q", in.Raw)
			}
			seen[key] = true
		}
	})
}

// fzListings are the listings a cursor or sort can be aimed at.
var fzListings = []roster.Listing{roster.AccountListing, roster.EntityListing, roster.ConduitEntityListing, roster.RelationshipListing}

// fzBuild validates raw filters the way the services do: known names only.
func fzBuild(raw map[string]string) ([]roster.Filter, error) {
	var out []roster.Filter
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	}) {
		switch k {
		case "source", "status", "relationship_type":
			out = append(out, roster.Filter{Field: k, Value: raw[k]})
		default:
			return nil, roster.Invalid("extra_forbidden", "unknown filter", "query", k)
		}
	}
	return out, nil
}

func FuzzCursor(f *testing.F) {
	// A real cursor, issued by BuildPage, and some near misses.
	pl, _ := roster.EntityListing.Plan(roster.PageRequest{Limit: 1, Principal: roster.Principal{Role: roster.RoleSuperadmin}}, fzBuild)
	rows := []roster.Entity{{ID: "5f0c6b2e1a2b3c4d5e6f7a8b", Name: "a", CreatedAt: time.UnixMicro(1700000000000000)}, {ID: "5f0c6b2e1a2b3c4d5e6f7a8c"}}
	issued := roster.BuildPage(rows, pl, roster.EntityValue).Next
	for _, c := range []string{issued, issued + "=", issued[:len(issued)-2], "", "e30", "bnVsbA", "W10", "eyJzIjoiaWQ6YXNjIn0",
		"eyJzIjoiaWQ6YXNjIiwiYSI6IioiLCJ2IjpbIngiXX0", "eyJzIjoiY3JlYXRlZF9hdDpkZXNjLGlkOmFzYyIsImEiOiIqIiwidiI6WyJ4IiwieSJdfQ",
		"%%%", strings.Repeat("A", 6000)} {
		f.Add(c, "", "x", int64(0))
		f.Add(c, "name:desc", "émile", int64(-1))
	}
	f.Fuzz(func(t *testing.T, cur, sort, name string, micros int64) {
		principals := []roster.Principal{{Role: roster.RoleSuperadmin, KeyID: "k"}, {Role: roster.RoleAdmin, AccountID: "5f0c6b2e1a2b3c4d5e6f7a8b", KeyID: "k2"}}
		for _, l := range fzListings {
			for _, p := range principals {
				pl, err := l.Plan(roster.PageRequest{Limit: 10, Sort: sort, Cursor: cur, Principal: p}, fzBuild)
				if fzTyped(t, "Plan", err) != nil {
					continue
				}
				q := pl.Query
				if len(q.Order) == 0 || (cur != "" && len(q.After) != len(q.Order)) || (cur == "" && q.After != nil) {
					t.Fatalf("plan %+v for cursor %q", q, cur)
				}
			}
		}
		// A cursor the server issued is always taken back, and seeks from the row it names
		// (names as stored: valid UTF-8, no NUL).
		if !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
			return
		}
		ts := time.UnixMicro(micros).UTC()
		row := roster.Entity{ID: "5f0c6b2e1a2b3c4d5e6f7a8b", Name: name, CreatedAt: ts, UpdatedAt: ts}
		for _, p := range principals {
			first, err := roster.EntityListing.Plan(roster.PageRequest{Limit: 1, Sort: sort, Principal: p}, fzBuild)
			if fzTyped(t, "Plan", err) != nil {
				return
			}
			page := roster.BuildPage([]roster.Entity{row, row}, first, roster.EntityValue)
			next, err := roster.EntityListing.Plan(roster.PageRequest{Limit: 1, Cursor: page.Next, Principal: p}, fzBuild)
			if err != nil {
				t.Fatalf("Plan refused its own cursor %q (sort %q): %v", page.Next, sort, err)
			}
			if next.Query.Backward || next.Query.Order.String() != first.Query.Order.String() {
				t.Fatalf("cursor changed the order: %v → %v", first.Query.Order, next.Query.Order)
			}
			for i, k := range next.Query.Order {
				want := roster.EntityValue(row, k.Field)
				got := next.Query.After[i]
				if wt, ok := want.(time.Time); ok {
					if gt, ok := got.(time.Time); !ok || !gt.Equal(wt) {
						t.Fatalf("cursor carried %s %v, want %v", k.Field, got, want)
					}
				} else if got != want {
					t.Fatalf("cursor carried %s %q, want %q", k.Field, got, want)
				}
			}
			// Another caller cannot use it.
			other := roster.Principal{Role: roster.RoleAdmin, AccountID: "5f0c6b2e1a2b3c4d5e6f7a8d", KeyID: "k3"}
			if _, err := roster.EntityListing.Plan(roster.PageRequest{Limit: 1, Cursor: page.Next, Principal: other}, fzBuild); roster.ErrorCode(err) != roster.CodeCursorMismatch {
				t.Fatalf("a cursor of %+v used by another account: %v", p, err)
			}
		}
	})
}

func FuzzParseSort(f *testing.F) {
	for _, s := range []string{"", "id", "name:desc", "created_at:desc,id:asc", "updated_at:asc,name", " name : desc", "name:DESC",
		"id,id", "created_at:asc,entity_id:desc", "relationship_type", ",", "name:desc:asc", "slug:asc,created_at:desc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, l := range fzListings {
			s, err := l.ParseSort(raw)
			if fzTyped(t, "ParseSort", err) != nil {
				if roster.ErrorCode(err) != roster.CodeInvalidSort {
					t.Fatalf("ParseSort(%q): want invalid_sort, got %v", raw, err)
				}
				continue
			}
			seen := map[string]bool{}
			for _, k := range s {
				if _, ok := l.Fields[k.Field]; !ok || seen[k.Field] {
					t.Fatalf("ParseSort(%q) = %v", raw, s)
				}
				seen[k.Field] = true
			}
			for _, tb := range l.TieBreak {
				if !seen[tb] {
					t.Fatalf("ParseSort(%q) = %v lacks tie-breaker %s", raw, s, tb)
				}
			}
			// The canonical form parses back to itself (where a client may name every field).
			if l.Sortable != nil {
				continue
			}
			again, err := l.ParseSort(s.String())
			if err != nil || again.String() != s.String() {
				t.Fatalf("ParseSort(%q) = %v, which parses back as %v, %v", raw, s, again, err)
			}
		}
	})
}

func FuzzWellFormedSecret(f *testing.F) {
	good := roster.NewSecret()
	for _, s := range []string{good, good[:len(good)-1], good + "0", strings.ToUpper(good), "rk_", "", "Bearer " + good,
		"rk_" + strings.Repeat("0", 49), "rk_" + strings.Repeat("é", 25)} {
		f.Add(s, uint8(0), byte('A'))
	}
	f.Add(good, uint8(10), byte('z'))
	f.Fuzz(func(t *testing.T, s string, at uint8, c byte) {
		if !roster.WellFormedSecret(s) {
			_ = roster.HashSecret(s)
			return
		}
		if len(s) != roster.SecretLen || !strings.HasPrefix(s, "rk_") {
			t.Fatalf("accepted %q", s)
		}
		// The checksum catches any one changed character of body or checksum.
		i := 3 + int(at)%(len(s)-3)
		if c = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[int(c)%62]; c != s[i] {
			mutated := s[:i] + string(c) + s[i+1:]
			if roster.WellFormedSecret(mutated) {
				t.Fatalf("accepted %q, one character away from %q", mutated, s)
			}
		}
	})
}

// fzIDPatterns are the documented patterns, with \s as Unicode White_Space (as pydantic's Rust
// regex reads it) and \w as ASCII (roster's reading).
var fzIDPatterns = map[roster.Kind]*regexp.Regexp{
	roster.KindAccount: regexp.MustCompile(`^account_[0-9A-Za-z_]+$`),
	roster.KindKey:     regexp.MustCompile(`^key_[0-9A-Za-z_]+$`),
	roster.KindEntity:  regexp.MustCompile(`^entity_[^\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]{1,33}$`),
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"5f0c6b2e1a2b3c4d5e6f7a8b", "5F0C6B2E1A2B3C4D5E6F7A8B", "account_5f0c6b2e1a2b3c4d5e6f7a8b",
		"entity_5F0C6B2E1A2B3C4D5E6F7A8B", "key_x", "entity_é", "entity_a b", "entity_" + strings.Repeat("x", 34), "ACCOUNT_5f0c6b2e1a2b3c4d5e6f7a8b",
		"account_", "", "entity_\u3000", "entity_\xff", "key_5f0c6b2e1a2b3c4d5e6f7a8bff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []roster.Kind{roster.KindAccount, roster.KindEntity, roster.KindKey} {
			id, ok := roster.ParseID(k, s)
			if !ok {
				if id != "" {
					t.Fatalf("ParseID(%s, %q) = %q, false", k, s, id)
				}
			} else if id != "" {
				if !roster.IsHex24(id) || id != strings.ToLower(id) {
					t.Fatalf("ParseID(%s, %q) = %q", k, s, id)
				}
				if again, ok := roster.ParseID(k, k.Prefixed(id)); !ok || again != id {
					t.Fatalf("ParseID(%s, %q) = %q, but its prefixed form parses as %q, %v", k, s, id, again, ok)
				}
				if again, ok := roster.ParseID(k, strings.ToUpper(id)); !ok || again != id {
					t.Fatalf("ParseID(%s, %q) = %q, but its upper-case form parses as %q, %v", k, s, id, again, ok)
				}
			}
			if utf8.ValidString(s) {
				if want := roster.IsHex24(s) || fzIDPatterns[k].MatchString(s); ok != want {
					t.Fatalf("ParseID(%s, %q) ok = %v, the documented pattern says %v", k, s, ok, want)
				}
			}
		}
	})
}
