package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// Text in request bodies (SPEC §5 "Text"): UTF-8 only, no lone surrogate, and malformed JSON
// says where and why.

const textUnicodeMsg = "Input should be a valid string, unable to parse raw data as a unicode string"

// textJSONInvalid is the 422 body of malformed JSON at a byte offset, for a reason.
func textJSONInvalid(offset int, reason string) arr {
	return arr{obj{"loc": arr{"body", offset}, "msg": "JSON decode error", "type": "json_invalid", "ctx": obj{"error": reason}}}
}

// TestTextMalformedJSON: the 422 of malformed JSON names the byte where parsing stopped and the
// parser's reason (Python's json wording, which FastAPI reports), on /v1 and LeadConduit.
func TestTextMalformedJSON(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Syntax Co"), "id")
		admin := e.key(acct, "admin")
		for _, tc := range []struct {
			body   string
			offset int
			reason string
		}{
			{`{"name":`, 8, "Expecting value"},
			{`{"name" "x"}`, 8, "Expecting ':' delimiter"},
			{`{"name":"x" "source":null}`, 12, "Expecting ',' delimiter"},
			{`{"name":"x",}`, 11, "Illegal trailing comma before end of object"},
			{`{"module_ids":[1,]}`, 16, "Illegal trailing comma before end of array"},
			{`{"name": "x",`, 13, "Expecting property name enclosed in double quotes"},
			{`{'name': 'x'}`, 1, "Expecting property name enclosed in double quotes"},
			{`{"name":"x"} {}`, 13, "Extra data"},
			{`{"name":"x"}]`, 12, "Extra data"},
			{`{"name":"abc`, 8, "Unterminated string starting at"},
			{"{\"name\":\"a\tb\"}", 10, "Invalid control character at"},
			{`{"name":"a\qb"}`, 11, `Invalid \escape: 'q'`},
			{`{"name":"\u12"}`, 10, `Invalid \uXXXX escape`},
			{`{"name":tru}`, 8, "Expecting value"},
			{`{"name":NaN}`, 8, "Expecting value"},
			{`{"deprecated":01}`, 15, "Expecting ',' delimiter"},
			{"  ", 2, "Expecting value"},
			{"{\"name\":\"caf\xe9\"}", 12, "Invalid UTF-8 byte 0xe9"},
			{"\xef\xbb\xbf{}", 0, "Expecting value"}, // a byte order mark is no JSON
		} {
			t.Run(tc.body, func(t *testing.T) {
				e := e.forT(t)
				detail := textJSONInvalid(tc.offset, tc.reason)
				wantBody(t, e.as(admin, "POST", "/v1/entities", tc.body), 422, obj{"detail": detail})
				wantBody(t, entConduit(e, admin, "POST", "/entities", tc.body), 422, obj{"detail": detail, "error": anyText})
			})
		}
	})
}

// TestTextInvalidUTF8: a body that is not UTF-8 is malformed JSON, wherever the bad byte sits;
// Lead Bank's surface answers 400 payload_invalid. Nothing is stored.
func TestTextInvalidUTF8(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Bytes Co"), "id")
		admin := e.key(acct, "admin")
		ent := str(entCreate(t, e, admin, entMin("Kept")), "id")
		body := "{\"name\":\"\xff\",\"module_ids\":[],\"source\":null,\"recipient\":null}"
		detail := textJSONInvalid(9, "Invalid UTF-8 byte 0xff")
		wantBody(t, e.as(admin, "POST", "/v1/entities", body), 422, obj{"detail": detail})
		wantBody(t, e.as(admin, "PUT", "/v1/entities/"+ent, body), 422, obj{"detail": detail})
		wantBody(t, entConduit(e, admin, "PATCH", "/entities/"+bareID(ent), "{\"description\":\"ok \xc3\x28\"}"), 422,
			obj{"detail": textJSONInvalid(19, "Invalid UTF-8 byte 0xc3"), "error": "the body is not valid JSON: Invalid UTF-8 byte 0xc3 (byte 19)"})
		// An encoded surrogate (CESU-8) is no UTF-8 either.
		wantBody(t, e.as(admin, "PATCH", "/v1/entities/"+ent, "{\"name\":\"\xed\xa0\x80\"}"), 422,
			obj{"detail": textJSONInvalid(9, "Invalid UTF-8 byte 0xed")})
		wantBody(t, e.as(admin, "PATCH", "/v1/accounts/"+acct, "{\"name\":\"Bytes \xfe\"}"), 422,
			obj{"detail": textJSONInvalid(15, "Invalid UTF-8 byte 0xfe")})
		batch := "{\"entity_ids\":[\"" + ent + "\"],\"relationship_type\":\"account_holder\xff\"}"
		wantBody(t, e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", batch, "Idempotency-Key", "utf8-1"), 400,
			obj{"code": "payload_invalid", "title": "Bad Request", "status": "400",
				"detail": fmt.Sprintf("the body is not valid JSON: Invalid UTF-8 byte 0xff (byte %d)", strings.IndexByte(batch, 0xff))})
		entExpect(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+ent, nil), 200).Obj(), entMin("Kept"))
	})
}

// TestTextLoneSurrogates: a \u escape of a lone surrogate is a string_unicode problem at its
// loc, with the body's other problems; a pair is its character; a U+FFFD the client sent,
// literal or escaped, is kept.
func TestTextLoneSurrogates(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, e *env) {
		acct := str(e.account("Surrogates Co"), "id")
		admin := e.key(acct, "admin")
		ent := str(entCreate(t, e, admin, entMin("Plain")), "id")
		unicode := func(loc ...any) obj {
			return obj{"loc": append(arr{"body"}, loc...), "msg": textUnicodeMsg, "type": "string_unicode"}
		}
		body := `{"name":"a\ud800b","module_ids":["ok","\udc00"],"source":"web","recipient":null,"description":"\ud800\u0041",` +
			`"time_zone":"\udbff","\ud83dkey":1}`
		want := arr{unicode("name"), unicode("module_ids", 1), obj{"loc": arr{"body", "source"}, "msg": "Input should be 'form', 'seller' or 'other'", "type": "enum"},
			unicode("description"), unicode("time_zone"),
			obj{"loc": arr{"body", `\ud83dkey`}, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}}
		wantBody(t, e.as(admin, "POST", "/v1/entities", body), 422, obj{"detail": want})
		wantBody(t, e.as(admin, "PUT", "/v1/entities/"+ent, body), 422, obj{"detail": want})
		wantBody(t, entConduit(e, admin, "PATCH", "/entities/"+bareID(ent), `{"description":"x\udfffy"}`), 422,
			obj{"detail": arr{unicode("description")}, "error": "description: " + textUnicodeMsg})
		wantBody(t, e.as(admin, "PATCH", "/v1/accounts/"+acct, `{"name":"\ud800\ud800"}`), 422, obj{"detail": arr{unicode("name")}})
		wantBody(t, e.as(admin, "POST", "/v1/api-keys", `{"account_id":"`+acct+`","name":"\udc00"}`), 422, obj{"detail": arr{unicode("name")}})
		batch := `{"entity_ids":["` + ent + `","\ud800"],"relationship_type":"account_holder"}`
		wantBody(t, e.as(admin, "POST", "/v0/accounts/"+acct+"/entity_relationships/batch", batch, "Idempotency-Key", "sur-1"), 422,
			obj{"code": "parameters_invalid", "title": "Unprocessable Entity", "status": "422", "detail": "One or more parameters are invalid.",
				"invalid_parameters": arr{obj{"parameter": "entity_ids[1]", "reason": "string_unicode"}}})
		entExpect(t, mustStatus(t, e.as(admin, "GET", "/v1/entities/"+ent, nil), 200).Obj(), entMin("Plain"))

		// A pair is one character; U+FFFD sent literally or as \ufffd is the client's, and kept.
		got := mustStatus(t, e.as(admin, "POST", "/v1/entities",
			`{"name":"\ud83d\ude00 \uFFFD`+"\ufffd"+`","module_ids":["\uD834\uDD1E"],"source":null,"recipient":null,"description":"\u00e9"}`), 201).Obj()
		entExpect(t, got, map[string]any{"name": "😀 \ufffd\ufffd", "module_ids": []any{"𝄞"}, "description": "é"})
		if !strings.Contains(string(mustStatus(t, e.as(admin, "GET", "/v1/entities/"+str(got, "id"), nil), 200).Body), `"name":"😀 `+"\ufffd\ufffd"+`"`) {
			t.Fatal("the stored name is not the one sent")
		}
	})
}
