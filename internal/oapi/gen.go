package oapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
)

// Gen makes JSON values a schema of the document admits, at random: the request bodies of a
// randomized test. It covers the keywords the document's request schemas use ($ref, allOf
// with one member, anyOf, oneOf, const, enum, type and its lists, properties, required,
// items, minItems, maxItems, uniqueItems, minimum, maximum), leans away from null where null
// is one choice of several, and leaves strings to its String hook. A run is the same for the
// same Rand state and hooks.
type Gen struct {
	Doc  *Doc
	Rand *rand.Rand
	// String makes a string the string schema sc admits (its pattern, format and lengths),
	// filling the property prop ("" at the top).
	String func(sc map[string]any, prop string) string
	// AnyString makes a string for a value of any type.
	AnyString func() string
	// Property, when set, may decide that an object gets its optional property name (include
	// and decided both true); otherwise Gen fills half of the writable ones and a few of the
	// read-only ones (those whose schema says nothing, so any value is accepted).
	Property func(name string, readOnly bool) (include, decided bool)
	// Choice, when set, may fix the value of a property whose schema is a choice (anyOf, oneOf),
	// once Gen has picked an alternative.
	Choice func(prop string) (v any, decided bool)
}

// Int reads an integer keyword of a schema (minimum, maxLength…) as Decode gives it.
func Int(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func (g *Gen) pct(p int) bool { return g.Rand.IntN(100) < p }

func pick[T any](g *Gen, xs []T) T { return xs[g.Rand.IntN(len(xs))] }

// Value makes a value schema admits.
func (g *Gen) Value(schema any) (any, error) { return g.value(schema, "", 0) }

// value makes a value valid by schema; prop is the name of the property it fills.
func (g *Gen) value(schema any, prop string, depth int) (any, error) {
	if b, ok := schema.(bool); ok {
		if !b {
			return nil, fmt.Errorf("no value is valid by the schema false (%s)", prop)
		}
		return g.AnyJSON(depth), nil
	}
	sc, err := g.Doc.Deref(schema)
	if err != nil {
		return nil, err
	}
	if all, ok := sc["allOf"].([]any); ok && len(all) > 0 {
		first, err := g.Doc.Deref(all[0])
		if err != nil {
			return nil, err
		}
		merged := maps.Clone(first)
		for k, v := range sc {
			if k != "allOf" {
				merged[k] = v
			}
		}
		return g.value(merged, prop, depth)
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if alts, ok := sc[k].([]any); ok && len(alts) > 0 {
			alt := alts[g.Rand.IntN(len(alts))]
			if m, err := g.Doc.Deref(alt); err == nil && m["type"] == "null" && g.pct(80) {
				alt = alts[0]
			}
			if g.Choice != nil {
				if v, ok := g.Choice(prop); ok {
					return v, nil
				}
			}
			return g.value(alt, prop, depth)
		}
	}
	if c, ok := sc["const"]; ok {
		return c, nil
	}
	if enum, ok := sc["enum"].([]any); ok && len(enum) > 0 {
		v := pick(g, enum)
		if v == nil && g.pct(70) {
			v = enum[0]
		}
		return v, nil
	}
	typ := ""
	switch tt := sc["type"].(type) {
	case string:
		typ = tt
	case []any:
		typ = fmt.Sprint(pick(g, tt))
		if typ == "null" && g.pct(75) {
			typ = fmt.Sprint(tt[0])
		}
	}
	switch typ {
	case "null":
		return nil, nil
	case "boolean":
		return g.pct(50), nil
	case "integer", "number":
		lo, _ := Int(sc["minimum"])
		hi, ok := Int(sc["maximum"])
		if !ok {
			hi = lo + 1000
		}
		return json.Number(strconv.FormatInt(lo+g.Rand.Int64N(hi-lo+1), 10)), nil
	case "string":
		return g.String(sc, prop), nil
	case "array":
		return g.array(sc, prop, depth)
	case "object", "":
		return g.object(sc, typ, depth)
	}
	return nil, fmt.Errorf("no value of type %q (%s)", typ, prop)
}

func (g *Gen) array(sc map[string]any, prop string, depth int) (any, error) {
	lo, _ := Int(sc["minItems"])
	hi, ok := Int(sc["maxItems"])
	if !ok {
		hi = lo + 6
	}
	n := lo
	if g.pct(8) {
		n = hi
	} else if span := min(hi, lo+5) - lo; span > 0 {
		n += g.Rand.Int64N(span + 1)
	}
	out := []any{}
	for tries := 0; int64(len(out)) < n && tries < 10*int(n)+10; tries++ {
		item, err := g.value(sc["items"], prop, depth+1)
		if err != nil {
			return nil, err
		}
		if sc["uniqueItems"] == true && slices.ContainsFunc(out, func(x any) bool { return reflect.DeepEqual(x, item) }) {
			continue
		}
		out = append(out, item)
	}
	return out, nil
}

func (g *Gen) object(sc map[string]any, typ string, depth int) (any, error) {
	props, _ := sc["properties"].(map[string]any)
	if typ == "" && props == nil {
		return g.AnyJSON(depth), nil // a schema that says nothing: anything is accepted
	}
	required := map[string]bool{}
	req, _ := sc["required"].([]any)
	for _, r := range req {
		name, _ := r.(string)
		required[name] = true
	}
	out := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(props)) {
		ps, err := g.Doc.Deref(props[name])
		if err != nil {
			return nil, err
		}
		readOnly := ps["type"] == nil && ps["$ref"] == nil && ps["anyOf"] == nil && ps["allOf"] == nil && ps["enum"] == nil
		include := required[name]
		if !include && g.Property != nil {
			include, _ = g.Property(name, readOnly)
		}
		if !include {
			include = readOnly && g.pct(8) || !readOnly && g.pct(50)
		}
		if !include {
			continue
		}
		if out[name], err = g.value(props[name], name, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AnyJSON is an arbitrary JSON value, nested less the deeper it is.
func (g *Gen) AnyJSON(depth int) any {
	n := 7
	if depth > 2 {
		n = 5
	}
	switch g.Rand.IntN(n) {
	case 0:
		return nil
	case 1:
		return g.pct(50)
	case 2:
		return json.Number(pick(g, []string{"0", "-1", "1.5", "1e308", "123456789012345678901234567890"}))
	case 3:
		return pick(g, []string{"x", "", "account_" + g.Hex(24), "2020-01-01T00:00:00Z", "ünï"})
	case 4:
		return g.AnyString()
	case 5:
		return []any{g.AnyJSON(depth + 1), g.AnyJSON(depth + 1)}
	default:
		return map[string]any{"k": g.AnyJSON(depth + 1)}
	}
}

// Hex is n random lowercase hexadecimal digits.
func (g *Gen) Hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.Rand.IntN(16)]
	}
	return string(b)
}
