package oapi

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

const genDoc = `{"components":{"schemas":{
	"Name":  {"type":"string","minLength":1,"maxLength":8},
	"Kind":  {"enum":["a","b",null]},
	"Item":  {"type":"object","properties":{"n":{"type":"integer","minimum":2,"maximum":4},"kind":{"$ref":"#/components/schemas/Kind"}},
	          "required":["n"],"additionalProperties":false},
	"Body":  {"type":"object","properties":{
	            "name":  {"$ref":"#/components/schemas/Name"},
	            "tags":  {"type":"array","items":{"type":"string","enum":["x","y","z"]},"minItems":1,"maxItems":3,"uniqueItems":true},
	            "items": {"type":"array","items":{"$ref":"#/components/schemas/Item"},"maxItems":2},
	            "note":  {"anyOf":[{"$ref":"#/components/schemas/Name"},{"type":"null"}]},
	            "flag":  {"type":["boolean","null"]},
	            "v":     {"const":"v1"},
	            "free":  {"description":"read-only: says nothing"},
	            "base":  {"allOf":[{"$ref":"#/components/schemas/Item"}],"description":"an Item"}},
	          "required":["name","v"],"additionalProperties":false}
}}}`

func genFor(t *testing.T, seed uint64) *Gen {
	t.Helper()
	d, err := Parse([]byte(genDoc))
	if err != nil {
		t.Fatal(err)
	}
	g := &Gen{Doc: d, Rand: rand.New(rand.NewPCG(seed, 1)), AnyString: func() string { return "any" }}
	g.String = func(sc map[string]any, prop string) string {
		lo, _ := Int(sc["minLength"])
		return strings.Repeat("s", int(max(lo, 1+g.Rand.Int64N(4))))
	}
	return g
}

// TestGenValid: every value Gen makes is valid by its schema, and over many values each
// optional part of the schema shows up.
func TestGenValid(t *testing.T) {
	g := genFor(t, 7)
	body := map[string]any{"$ref": "#/components/schemas/Body"}
	seen := map[string]bool{}
	for i := range 500 {
		v, err := g.Value(body)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := RoundTrip(v)
		if err != nil {
			t.Fatal(err)
		}
		if errs := g.Doc.Validate(body, rt); len(errs) > 0 {
			t.Fatalf("value %d %v breaks its schema: %v", i, rt, errs)
		}
		for k, x := range rt.(map[string]any) {
			seen[k] = true
			if x == nil {
				seen[k+"=null"] = true
			}
		}
	}
	for _, k := range []string{"tags", "items", "note", "note=null", "flag", "flag=null", "free", "base"} {
		if !seen[k] {
			t.Errorf("500 values and never %s", k)
		}
	}
}

// TestGenDeterministic: the same seed makes the same values.
func TestGenDeterministic(t *testing.T) {
	body := map[string]any{"$ref": "#/components/schemas/Body"}
	a, b := genFor(t, 42), genFor(t, 42)
	for range 50 {
		va, _ := a.Value(body)
		vb, _ := b.Value(body)
		if !reflect.DeepEqual(va, vb) {
			t.Fatalf("one seed, two values: %v and %v", va, vb)
		}
	}
}

// TestGenHooks: Property adds optional properties; Choice fixes a choice's value.
func TestGenHooks(t *testing.T) {
	g := genFor(t, 3)
	g.Property = func(name string, readOnly bool) (bool, bool) { return name == "note", true }
	g.Choice = func(prop string) (any, bool) { return "fixed", prop == "note" }
	for range 50 {
		v, err := g.Value(map[string]any{"$ref": "#/components/schemas/Body"})
		if err != nil {
			t.Fatal(err)
		}
		if got := v.(map[string]any)["note"]; got != "fixed" {
			t.Fatalf("note = %v, want the hooks' fixed", got)
		}
	}
}

func TestGenErrors(t *testing.T) {
	g := genFor(t, 1)
	for _, schema := range []any{false, map[string]any{"$ref": "#/components/schemas/Nope"}, map[string]any{"type": "tuple"}} {
		if v, err := g.Value(schema); err == nil {
			t.Errorf("%v: made %v, want an error", schema, v)
		}
	}
}
