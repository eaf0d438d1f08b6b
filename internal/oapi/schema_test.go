package oapi

import (
	"testing"
)

func mustDecode(t *testing.T, data string) any {
	t.Helper()
	v, err := Decode([]byte(data))
	if err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// TestValidate holds the validator to the keywords roster's document uses, to $refs into the
// document from inline schemas, and to the formats it asserts.
func TestValidate(t *testing.T) {
	d, err := Parse([]byte(`{"components":{"schemas":{
		"ID": {"type":"string","pattern":"^entity_[0-9a-f]{24}$"},
		"Obj": {"type":"object","properties":{"id":{"$ref":"#/components/schemas/ID"},"n":{"type":["integer","null"],"minimum":1,"maximum":3}},
		        "required":["id","n"],"additionalProperties":false},
		"Err": {"allOf":[{"type":"object","properties":{"code":{"type":"string"}},"required":["code"],"additionalProperties":false}],"properties":{"code":{"enum":["a","b"]}}}
	}}}`))
	if err != nil {
		t.Fatal(err)
	}
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
		{`{"type":"object","properties":{"o":{"$ref":"#/components/schemas/Obj"}}}`, `{"o":{"id":` + id + `,"n":5}}`, false},
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
		{`{"type":"string","format":"uuid"}`, `"6f1c2b9e-1d2c-4e5f-8a7b-0c1d2e3f4a5b"`, true},
		{`{"type":"string","format":"uuid"}`, `"nope"`, false},
		{`{"type":"string","format":"uri"}`, `"not a URI, yet only an annotation"`, true},
		{`{"type":"object","additionalProperties":{"type":"integer"}}`, `{"a":1,"b":"x"}`, false},
		{`{"type":"string","if":{"maxLength":1},"then":{"const":"x"}}`, `"y"`, false},
		{`false`, `1`, false},
		{`true`, `1`, true},
	} {
		errs := d.Validate(mustDecode(t, tc.schema), mustDecode(t, tc.value))
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s against %s: ok %v, errors %v", tc.value, tc.schema, tc.ok, errs)
		}
	}
}
