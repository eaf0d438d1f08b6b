// Package roster is the core of roster: accounts, the entities that belong to them, the roles
// (relationships) entities hold on accounts, and the API keys that act on them, with every rule
// the product contract (SPEC.md) states. It imports neither HTTP nor SQL: surfaces (package api)
// decode a request, make one call here and render the answer; storage (package store and its
// engines) implements Store and Tx.
//
// Where things are:
//   - service.go: the Service, the one value every surface and the command line call.
//   - principal.go: who is calling and what they may do (Access, Allow), authentication, and
//     how a write re-checks its caller inside its transaction.
//   - write.go: the write envelope. Every mutation goes through write, which decodes and
//     validates, runs idempotency (idempotency.go) and the nonce (nonce.go) in SPEC §5's order,
//     and commits the operation in one transaction; what a write records of itself is recorded
//     there.
//   - account.go, entity.go, key.go, relationship.go: one file per noun, each with its type,
//     listing, body decoding and validation, and its Service methods.
//   - page.go: keyset pagination (cursors, sorts, filters, page building) for every list.
//   - body.go, decode.go: the strict JSON reader and the field readers validation uses.
//   - error.go: the one error type, with FastAPI-shaped validation problems.
//   - id.go, secret.go: ids and key secrets.
//   - store.go: the storage interface both engines implement.
package roster
