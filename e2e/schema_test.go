package e2e

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// A small JSON Schema (2020-12, as OpenAPI 3.1 uses it) validator for the subset roster's
// document uses: $ref, type (a name or a list), enum, const, properties, required,
// additionalProperties, items, minItems, maxItems, uniqueItems, minLength, maxLength, pattern,
// minimum, maximum, allOf, anyOf, oneOf and format date-time (loosely: RFC 3339). Keywords it
// does not know fail validation, so the document cannot quietly outgrow it.

// oaSchemaKeywords are the keywords oaValidate applies.
var oaSchemaKeywords = map[string]bool{
	"$ref": true, "type": true, "enum": true, "const": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "minItems": true, "maxItems": true, "uniqueItems": true,
	"minLength": true, "maxLength": true, "pattern": true, "minimum": true, "maximum": true,
	"allOf": true, "anyOf": true, "oneOf": true, "format": true,
}

// oaSchemaAnnotations are keywords that never change the outcome.
var oaSchemaAnnotations = map[string]bool{
	"title": true, "description": true, "examples": true, "example": true, "default": true,
	"readOnly": true, "writeOnly": true, "deprecated": true, "contentMediaType": true,
}

// oaSchemas resolves $ref against one document.
type oaSchemas struct {
	root map[string]any
}

var (
	oaPatternsMu sync.Mutex
	oaPatterns   = map[string]*regexp.Regexp{}
)

func oaPattern(p string) (*regexp.Regexp, error) {
	oaPatternsMu.Lock()
	defer oaPatternsMu.Unlock()
	if re, ok := oaPatterns[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	oaPatterns[p] = re
	return re, nil
}

// oaResolve follows a local JSON pointer.
func (s oaSchemas) oaResolve(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("only local $ref are supported: %q", ref)
	}
	var cur any = s.root
	if rest == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(rest, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return cur, nil
}

// oaValidate returns every way value breaks schema; at is the value's JSON path.
func (s oaSchemas) oaValidate(schema, value any, at string) []string {
	switch sc := schema.(type) {
	case bool:
		if !sc {
			return []string{at + ": no value is allowed here"}
		}
		return nil
	case map[string]any:
		return s.oaObject(sc, value, at)
	default:
		return []string{fmt.Sprintf("%s: a schema must be an object or a boolean, not %T", at, schema)}
	}
}

func (s oaSchemas) oaObject(sc map[string]any, v any, at string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	keys := make([]string, 0, len(sc))
	for k := range sc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !oaSchemaKeywords[k] && !oaSchemaAnnotations[k] && !strings.HasPrefix(k, "x-") {
			fail("the validator does not know the keyword %q", k)
		}
	}
	if ref, ok := sc["$ref"].(string); ok {
		target, err := s.oaResolve(ref)
		if err != nil {
			fail("%v", err)
		} else {
			errs = append(errs, s.oaValidate(target, v, at)...)
		}
	}
	if t, ok := sc["type"]; ok {
		var names []string
		switch tt := t.(type) {
		case string:
			names = []string{tt}
		case []any:
			for _, n := range tt {
				names = append(names, fmt.Sprint(n))
			}
		}
		matched := false
		for _, n := range names {
			if oaIsType(n, v) {
				matched = true
			}
		}
		if !matched {
			fail("want type %s, got %s", strings.Join(names, "|"), oaDescribe(v))
			return errs // the other keywords would only repeat the mismatch
		}
	}
	if enum, ok := sc["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if oaEqual(e, v) {
				found = true
			}
		}
		if !found {
			fail("%s is not one of %s", oaDescribe(v), oaJSON(enum))
		}
	}
	if c, ok := sc["const"]; ok && !oaEqual(c, v) {
		fail("want %s, got %s", oaJSON(c), oaDescribe(v))
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := sc["properties"].(map[string]any)
		if req, ok := sc["required"].([]any); ok {
			for _, r := range req {
				if _, has := obj[r.(string)]; !has {
					fail("required property %q is missing", r)
				}
			}
		}
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if ps, has := props[k]; has {
				errs = append(errs, s.oaValidate(ps, obj[k], at+"."+k)...)
				continue
			}
			if ap, has := sc["additionalProperties"]; has {
				if ap == false {
					fail("property %q is not allowed", k)
				} else {
					errs = append(errs, s.oaValidate(ap, obj[k], at+"."+k)...)
				}
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, has := sc["items"]; has {
			for i, it := range arr {
				errs = append(errs, s.oaValidate(items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
		if n, ok := oaInt(sc["minItems"]); ok && int64(len(arr)) < n {
			fail("%d items, want at least %d", len(arr), n)
		}
		if n, ok := oaInt(sc["maxItems"]); ok && int64(len(arr)) > n {
			fail("%d items, want at most %d", len(arr), n)
		}
		if sc["uniqueItems"] == true {
			for i := range arr {
				for j := i + 1; j < len(arr); j++ {
					if oaEqual(arr[i], arr[j]) {
						fail("items %d and %d are equal", i, j)
					}
				}
			}
		}
	}
	if str, ok := v.(string); ok {
		n := int64(utf8.RuneCountInString(str))
		if min, ok := oaInt(sc["minLength"]); ok && n < min {
			fail("%q is shorter than %d", str, min)
		}
		if max, ok := oaInt(sc["maxLength"]); ok && n > max {
			fail("%q is longer than %d", str, max)
		}
		if p, ok := sc["pattern"].(string); ok {
			re, err := oaPattern(p)
			switch {
			case err != nil:
				fail("pattern %q: %v", p, err)
			case !re.MatchString(str):
				fail("%q does not match %s", str, p)
			}
		}
		if sc["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				fail("%q is not an RFC 3339 date-time", str)
			}
		}
	}
	if num, ok := v.(json.Number); ok {
		x, _ := new(big.Rat).SetString(num.String())
		if min, ok := sc["minimum"].(json.Number); ok && x != nil {
			if m, _ := new(big.Rat).SetString(min.String()); m != nil && x.Cmp(m) < 0 {
				fail("%s is less than %s", num, min)
			}
		}
		if max, ok := sc["maximum"].(json.Number); ok && x != nil {
			if m, _ := new(big.Rat).SetString(max.String()); m != nil && x.Cmp(m) > 0 {
				fail("%s is more than %s", num, max)
			}
		}
	}
	if all, ok := sc["allOf"].([]any); ok {
		for i, sub := range all {
			for _, e := range s.oaValidate(sub, v, at) {
				errs = append(errs, fmt.Sprintf("allOf[%d]: %s", i, e))
			}
		}
	}
	if anyOf, ok := sc["anyOf"].([]any); ok {
		var why []string
		ok := false
		for _, sub := range anyOf {
			e := s.oaValidate(sub, v, at)
			if len(e) == 0 {
				ok = true
				break
			}
			why = append(why, strings.Join(e, "; "))
		}
		if !ok {
			fail("matches none of anyOf: %s", strings.Join(why, " | "))
		}
	}
	if oneOf, ok := sc["oneOf"].([]any); ok {
		n := 0
		var why []string
		for _, sub := range oneOf {
			e := s.oaValidate(sub, v, at)
			if len(e) == 0 {
				n++
			} else {
				why = append(why, strings.Join(e, "; "))
			}
		}
		if n != 1 {
			fail("matches %d of oneOf, want exactly 1: %s", n, strings.Join(why, " | "))
		}
	}
	return errs
}

// oaIsType applies a JSON Schema type name to a value decoded with UseNumber.
func oaIsType(name string, v any) bool {
	switch name {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		r, ok := new(big.Rat).SetString(n.String())
		return ok && r.IsInt()
	}
	return false
}

func oaInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// oaEqual compares two decoded JSON values; numbers by value.
func oaEqual(a, b any) bool {
	na, aNum := a.(json.Number)
	nb, bNum := b.(json.Number)
	if aNum && bNum {
		x, okx := new(big.Rat).SetString(na.String())
		y, oky := new(big.Rat).SetString(nb.String())
		return okx && oky && x.Cmp(y) == 0
	}
	return reflect.DeepEqual(a, b)
}

func oaJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func oaDescribe(v any) string {
	s := oaJSON(v)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// oaDecode parses JSON as the validator expects it (numbers as json.Number).
func oaDecode(t *testing.T, data string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// TestOASchemaValidator holds the validator itself to the keywords it claims.
func TestOASchemaValidator(t *testing.T) {
	root := oaDecode(t, `{"components":{"schemas":{
		"ID": {"type":"string","pattern":"^entity_[0-9a-f]{24}$"},
		"Obj": {"type":"object","properties":{"id":{"$ref":"#/components/schemas/ID"},"n":{"type":["integer","null"],"minimum":1,"maximum":3}},
		        "required":["id","n"],"additionalProperties":false},
		"Err": {"allOf":[{"type":"object","properties":{"code":{"type":"string"}},"required":["code"],"additionalProperties":false}],"properties":{"code":{"enum":["a","b"]}}}
	}}}`).(map[string]any)
	s := oaSchemas{root: root}
	id := `"entity_0123456789abcdef01234567"`
	for _, tc := range []struct {
		schema, value string
		ok            bool
	}{
		{`{"type":"string"}`, `"x"`, true},
		{`{"type":"string"}`, `1`, false},
		{`{"type":["string","null"]}`, `null`, true},
		{`{"type":["string","null"]}`, `false`, false},
		{`{"type":"integer"}`, `3`, true},
		{`{"type":"integer"}`, `3.5`, false},
		{`{"type":"integer"}`, `3.0`, true},
		{`{"type":"number"}`, `3.5`, true},
		{`{"type":"boolean"}`, `"true"`, false},
		{`{"enum":["a",null]}`, `null`, true},
		{`{"enum":["a",null]}`, `"b"`, false},
		{`{"const":"422"}`, `"422"`, true},
		{`{"const":"422"}`, `422`, false},
		{`{"$ref":"#/components/schemas/Obj"}`, `{"id":` + id + `,"n":2}`, true},
		{`{"$ref":"#/components/schemas/Obj"}`, `{"id":` + id + `,"n":null}`, true},
		{`{"$ref":"#/components/schemas/Obj"}`, `{"id":` + id + `}`, false},
		{`{"$ref":"#/components/schemas/Obj"}`, `{"id":` + id + `,"n":1,"x":1}`, false},
		{`{"$ref":"#/components/schemas/Obj"}`, `{"id":"entity_xyz","n":1}`, false},
		{`{"$ref":"#/components/schemas/Obj"}`, `{"id":` + id + `,"n":4}`, false},
		{`{"$ref":"#/components/schemas/Obj"}`, `{"id":` + id + `,"n":0}`, false},
		{`{"$ref":"#/components/schemas/Nope"}`, `1`, false},
		{`{"$ref":"#/components/schemas/Err"}`, `{"code":"a"}`, true},
		{`{"$ref":"#/components/schemas/Err"}`, `{"code":"c"}`, false},
		{`{"$ref":"#/components/schemas/Err"}`, `{"code":"a","x":1}`, false},
		{`{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}`, `["a"]`, true},
		{`{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}`, `[]`, false},
		{`{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}`, `["a","b","c"]`, false},
		{`{"type":"array","items":{"type":"string"}}`, `["a",1]`, false},
		{`{"type":"array","uniqueItems":true}`, `["a","a"]`, false},
		{`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `1`, true},
		{`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `true`, false},
		{`{"oneOf":[{"type":"string"},{"type":["string","null"]}]}`, `null`, true},
		{`{"oneOf":[{"type":"string"},{"type":["string","null"]}]}`, `"x"`, false},
		{`{"type":"string","minLength":2,"maxLength":3}`, `"é"`, false},
		{`{"type":"string","minLength":2,"maxLength":3}`, `"éé"`, true},
		{`{"type":"string","format":"date-time"}`, `"2026-01-02T03:04:05.123456Z"`, true},
		{`{"type":"string","format":"date-time"}`, `"2026-01-02 03:04:05"`, false},
		{`{"type":["string","null"],"format":"date-time"}`, `null`, true},
		{`{"type":"object","additionalProperties":{"type":"integer"}}`, `{"a":1,"b":"x"}`, false},
		{`{"type":"string","if":{}}`, `"x"`, false},
		{`false`, `1`, false},
		{`true`, `1`, true},
	} {
		errs := s.oaValidate(oaDecode(t, tc.schema), oaDecode(t, tc.value), "$")
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s against %s: ok %v, errors %v", tc.value, tc.schema, tc.ok, errs)
		}
	}
}
