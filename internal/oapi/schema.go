// Package oapi reads roster's OpenAPI 3.1 document for the tests: its operations and
// parameters, its JSON Schemas (validated with github.com/santhosh-tekuri/jsonschema/v6), and
// whether an answer is one the document describes for its path, method and status.
package oapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docURL is where the document lives for the schema compiler; inline schemas are resources
// beside it whose local $refs are rewritten to point into it.
const docURL = "https://roster.invalid/openapi.json"

// Decode parses JSON the way the validator expects it: numbers as json.Number.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// RoundTrip turns a Go value into what Decode would give for its JSON.
func RoundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// schemas compiles and caches the JSON Schemas of one document, draft 2020-12 as OpenAPI 3.1
// uses it. Formats date-time and uuid are asserted; uri stays an annotation (the server's rule,
// an absolute http or https URL, is its own, and the tests send other strings on purpose).
type schemas struct {
	root     map[string]any
	mu       sync.Mutex
	c        *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema // by the schema's JSON
	added    int                           // inline resources added
	err      error                         // the document could not be added
}

func newSchemas(root map[string]any) *schemas {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "uri", Validate: func(any) error { return nil }})
	s := &schemas{root: root, c: c, compiled: map[string]*jsonschema.Schema{}}
	s.err = c.AddResource(docURL, root)
	return s
}

// Validate returns every way v (as Decode gives it) breaks schema, a schema value of the
// document (an object or a boolean) whose $refs are local to the document. Nil means v is valid.
func (s *schemas) Validate(schema, v any) []string {
	sch, err := s.compile(schema)
	if err != nil {
		return []string{err.Error()}
	}
	err = sch.Validate(v)
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, u := range verr.BasicOutput().Errors {
		if u.Error != nil && !strings.HasPrefix(u.Error.String(), "validation failed") {
			out = append(out, fmt.Sprintf("at %q: %s", u.InstanceLocation, u.Error))
		}
	}
	if len(out) == 0 {
		out = []string{verr.Error()}
	}
	return out
}

func (s *schemas) compile(schema any) (*jsonschema.Schema, error) {
	if s.err != nil {
		return nil, s.err
	}
	key, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.compiled[string(key)]; ok {
		return sch, nil
	}
	s.added++
	url := fmt.Sprintf("%s/inline/%d.json", strings.TrimSuffix(docURL, "/openapi.json"), s.added)
	if err := s.c.AddResource(url, absoluteRefs(schema)); err != nil {
		return nil, err
	}
	sch, err := s.c.Compile(url)
	if err != nil {
		return nil, err
	}
	s.compiled[string(key)] = sch
	return sch, nil
}

// absoluteRefs copies a schema value with its local $refs ("#/components/...") made absolute
// ones into the document.
func absoluteRefs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if ref, ok := e.(string); ok && k == "$ref" && strings.HasPrefix(ref, "#") {
				out[k] = docURL + ref
				continue
			}
			out[k] = absoluteRefs(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = absoluteRefs(e)
		}
		return out
	}
	return v
}
