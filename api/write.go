package api

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/rosterhq/roster"
)

// fingerprint identifies a request for idempotency: method, path with ids in canonical form,
// sorted query and a hash of the body.
func (c *call) fingerprint() string {
	segs := strings.Split(c.r.URL.Path, "/")
	for i, seg := range segs {
		for _, k := range []roster.Kind{roster.KindAccount, roster.KindEntity, roster.KindKey} {
			if id, ok := roster.ParseID(k, seg); ok && id != "" {
				segs[i] = id
				break
			}
		}
	}
	h := sha256.Sum256(c.body)
	return c.r.Method + " " + strings.Join(segs, "/") + "?" + c.params().Encode() + " " + hex.EncodeToString(h[:])
}

// writeCall is a write on its way to the core and back: the request the core reads, and how
// the surface renders the result (status and view).
type writeCall[T any] struct {
	c      *call
	req    *roster.Request
	status int
	view   func(T) any
}

// newWrite prepares a write of call c whose result renders as view with status.
func newWrite[T any](c *call, status int, view func(T) any) *writeCall[T] {
	req := &roster.Request{Principal: c.p, ID: c.reqID, IdempotencyKey: c.header("Idempotency-Key"),
		Nonce: c.header("leadr-client-nonce"), Fingerprint: c.fingerprint()}
	req.Render = func(v any) (int, []byte, error) {
		b, err := encode(view(v.(T)))
		return status, b, err
	}
	return &writeCall[T]{c: c, req: req, status: status, view: view}
}

// answer sends the core's answer to the write: an error in the surface's shape, the response
// it saved or replayed as it is, or its result rendered.
func (w *writeCall[T]) answer(out T, err error) error {
	if err != nil {
		return err
	}
	if w.req.Replayed {
		w.c.w.Header().Set("Idempotent-Replayed", "true")
	}
	if w.req.Body != nil {
		w.c.send(w.req.Status, w.req.Body)
		return nil
	}
	return w.c.reply(w.status, w.view(out))
}
