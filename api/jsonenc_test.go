package api

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// jsonFragments are the pieces random strings are made of: everything encoding/json escapes
// or replaces, and enough plain text around it.
var jsonFragments = []string{
	"", "a", "A Corporation", " ", "<", ">", "&", "<script>", `"`, `\`, `\"`, "/",
	"\x00", "\x01", "\b", "\t", "\n", "\v", "\f", "\r", "\x1b", "\x1f", "\x7f",
	"\u2028", "\u2029", "\u2027", "\u202a", "\ufffd", "é", "日本", "😀",
	"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf0\x9f\x98", "\x80\x80",
}

func randString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(jsonFragments[r.IntN(len(jsonFragments))])
	}
	return b.String()
}

func randOptString(r *rand.Rand) *string {
	if r.IntN(3) == 0 {
		return nil
	}
	s := randString(r)
	return &s
}

// randStrings is nil, empty or filled, the three encoding/json tells apart.
func randStrings(r *rand.Rand) []string {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := make([]string, 1+r.IntN(3))
	for i := range out {
		out[i] = randString(r)
	}
	return out
}

// jsonTimes are edge timestamps: the zero time, years MarshalText pads, years it cannot write in
// four digits (also reached only through the conversion to UTC), and sub-microsecond nanos.
func jsonTimes(t *testing.T) []time.Time {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	east, west := time.FixedZone("", 5*3600+30*60), time.FixedZone("W", -(9*3600+59*60+59))
	return []time.Time{
		{},
		time.Unix(0, 0),
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, la),
		time.Date(2024, 1, 1, 0, 0, 0, 1, east),
		time.Date(2024, 12, 31, 20, 0, 0, 123_456_789, west),
		time.Date(999, 3, 4, 5, 6, 7, 890, time.UTC),
		time.Date(9, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, east),
		time.Date(0, 1, 1, 12, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 999_999, time.UTC),
		time.Date(-12345, 6, 7, 8, 9, 10, 11, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(9999, 12, 31, 23, 0, 0, 0, west),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(123456, 7, 8, 9, 10, 11, 12, la),
		time.Now(),
		time.Now().In(la),
	}
}

func randTime(r *rand.Rand, times []time.Time) time.Time {
	if r.IntN(2) == 0 {
		return times[r.IntN(len(times))]
	}
	// Anywhere in years 1 to 9999, at any nanosecond.
	return time.Unix(r.Int64N(315_537_897_600)-62_135_596_800, r.Int64N(1e9)).In(times[r.IntN(len(times))].Location())
}

func randEntityView(r *rand.Rand, times []time.Time) entityView {
	sf := native
	if r.IntN(2) == 0 {
		sf = conduit
	}
	id := func() string {
		if r.IntN(4) == 0 {
			return randString(r)
		}
		return sf.id(roster.KindEntity, roster.NewID(randTime(r, times)))
	}
	var expires *stamp
	if r.IntN(2) == 0 {
		s := stamp(randTime(r, times))
		expires = &s
	}
	account := &falseValue
	if r.IntN(4) == 0 {
		account = nil
	}
	return entityView{
		Name: randString(r), ModuleIDs: randStrings(r), Source: randOptString(r), Recipient: randOptString(r),
		ID: id(), AccountID: id(), Description: randOptString(r), Standard: r.IntN(2) == 0, Account: account,
		Pending: r.IntN(2) == 0, Connected: randOptString(r), ConnectedAccountID: randOptString(r),
		Deprecated: r.IntN(2) == 0, See: randOptString(r), FieldSuffix: randOptString(r),
		InvitationID: randOptString(r), InvitationExpiresAt: expires, Expired: r.IntN(2) == 0,
		FlowIDs: randStrings(r), LogoURL: randOptString(r), TimeZone: randOptString(r),
		TrustedFormCertifiedVendor: r.IntN(2) == 0, Website: randOptString(r),
		CreatedAt: stamp(randTime(r, times)), UpdatedAt: stamp(randTime(r, times)),
	}
}

func randPagination(r *rand.Rand) paginationView {
	return paginationView{Count: r.IntN(101), HasNext: r.IntN(2) == 0, HasPrev: r.IntN(2) == 0,
		NextCursor: randOptString(r), PrevCursor: randOptString(r)}
}

// sameJSON fails unless encode gives v exactly as json.Marshal does, and through the appender.
func sameJSON(t testing.TB, v jsonAppender) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encode(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encode differs from json.Marshal for %#v\n got: %q\nwant: %q", v, got, want)
	}
}

func TestEntityJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := jsonTimes(t)
	for range 5000 {
		sameJSON(t, randEntityView(r, times))
	}
	for _, tm := range times {
		sameJSON(t, entityView{CreatedAt: stamp(tm), UpdatedAt: stamp(tm), InvitationExpiresAt: (*stamp)(&tm)})
	}
	for c := range 256 {
		sameJSON(t, entityView{Name: string(rune(c)) + string([]byte{byte(c)})})
	}
	sameJSON(t, entityView{})
}

func TestEntityJSONFromEntity(t *testing.T) {
	now := time.Now()
	src, see, inv := "form & <more>", roster.NewID(now), "inv\u2028"
	e := roster.Entity{ID: roster.NewID(now), AccountID: roster.NewID(now), Name: `"A" Corporation`,
		ModuleIDs: []string{}, Source: &src, See: &see, InvitationID: &inv, CreatedAt: now, UpdatedAt: now}
	for _, sf := range []*surface{native, conduit, leadBank} {
		sameJSON(t, sf.entity(e).(entityView))
	}
}

func TestPaginationJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sameJSON(t, paginationView{})
	sameJSON(t, paginationView{Count: math.MinInt})
	for range 500 {
		sameJSON(t, randPagination(r))
	}
}

func TestListJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	times := jsonTimes(t)
	sameJSON(t, listView{})
	sameJSON(t, listView{Data: []any{}})
	for range 300 {
		data := make([]any, r.IntN(25))
		for i := range data {
			switch r.IntN(5) {
			case 0:
				data[i] = accountView{ID: randString(r), Name: randString(r), Slug: randString(r), Status: "active",
					CreatedAt: stamp(randTime(r, times)), UpdatedAt: stamp(randTime(r, times))}
			case 1:
				data[i] = nil
			default:
				data[i] = randEntityView(r, times)
			}
		}
		sameJSON(t, listView{Data: data, Pagination: randPagination(r)})
	}
}

// TestListJSONError: an item json.Marshal refuses fails the whole body, as it did before.
func TestListJSONError(t *testing.T) {
	v := listView{Data: []any{entityView{}, math.Inf(1)}}
	_, want := json.Marshal(v)
	b, err := encode(v)
	if err == nil || want == nil || err.Error() != want.Error() || b != nil {
		t.Fatalf("encode = %q, %v; json.Marshal's error %v", b, err, want)
	}
}

// FuzzEntityJSON feeds the fuzzer's strings and times to every kind of field.
func FuzzEntityJSON(f *testing.F) {
	f.Add("A Corporation", "form", "", "<a href=\"x\">&amp;</a>", int64(0), int64(0))
	f.Add("\u2028\u2029\x00\x1f\x7f", "\xff\xfe", "😀", `\"`, int64(-62135596800), int64(999_999_999))
	f.Add("", "\xed\xa0\x80", "\t\r\n\b\f", "é", int64(253402300799), int64(1))
	f.Fuzz(func(t *testing.T, a, b, c, d string, sec, nsec int64) {
		tm := stamp(time.Unix(sec, nsec))
		sameJSON(t, entityView{Name: a, ModuleIDs: []string{b, c}, Source: &d, ID: b, AccountID: c,
			Description: &a, See: &b, FieldSuffix: &c, InvitationID: &d, InvitationExpiresAt: &tm,
			FlowIDs: []string{d}, LogoURL: &a, TimeZone: &b, Website: &c,
			CreatedAt: tm, UpdatedAt: stamp(time.Unix(nsec, sec).In(time.FixedZone("", int(sec%86400))))})
		sameJSON(t, listView{Data: []any{entityView{Name: b}}, Pagination: paginationView{NextCursor: &a, PrevCursor: &d}})
	})
}
