package roster

import (
	"context"
	"time"
)

// Store is roster's persistence: transactions over the tables of every resource. Both engines
// implement it; the rules live in Service, above it.
type Store interface {
	// View runs fn's reads. Each statement reads committed data; the statements of one View
	// are not guaranteed one snapshot, so a View that needs two reads to agree must not rely
	// on it.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a write transaction, committed durably when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateLazy is Update for a write that need not be on disk when it returns: it is visible
	// to every later read and write at once, and on disk no later than the next Update's
	// commit. A crash may lose it only together with everything that came after it. The
	// in-flight record of an idempotent request is such a write: the request's own durable
	// commit follows it.
	UpdateLazy(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// Tx is what one transaction can do. Methods return ErrNotFound for a missing row and
// ErrConflict for a uniqueness violation; deleted rows are invisible unless a method says so.
type Tx interface {
	AuditTx
	EventTx

	InsertAccount(ctx context.Context, a *Account) error
	Account(ctx context.Context, id string) (Account, error)
	// LockAccount is Account for a write that adds rows under the account: the account row is
	// held (shared) until the transaction ends, so a concurrent soft delete either comes first
	// (and this is ErrNotFound) or waits and then cascades over the new rows.
	LockAccount(ctx context.Context, id string) (Account, error)
	// AccountForUpdate is Account for a write that changes the account from what it read: the
	// row is held (exclusive) until the transaction ends, so no concurrent write can come
	// between the read and the write and be undone by it (SPEC §11).
	AccountForUpdate(ctx context.Context, id string) (Account, error)
	UpdateAccount(ctx context.Context, a *Account) error
	// DeleteAccount soft-deletes the account and, with it, its keys and entities.
	DeleteAccount(ctx context.Context, id string, at time.Time) error
	ListAccounts(ctx context.Context, q ListQuery) ([]Account, error)

	InsertKey(ctx context.Context, k *APIKey) error
	Key(ctx context.Context, id string) (APIKey, error)
	// KeyByHash finds the credential of a key that is not deleted by its hash. A key whose
	// account is deleted is not found.
	KeyByHash(ctx context.Context, hash string) (Credential, error)
	// KeyForUpdate is Key holding the row (exclusive) until the transaction ends.
	KeyForUpdate(ctx context.Context, id string) (APIKey, error)
	// LockKey is Key holding the row (shared) until the transaction ends.
	LockKey(ctx context.Context, id string) (APIKey, error)
	// LockCaller reads the credential of a live account key with its live account's status, in
	// one statement, and holds the account row until the transaction ends: exclusively when
	// exclusive, else shared. ErrNotFound when the key or its account is deleted.
	LockCaller(ctx context.Context, keyID, accountID string, exclusive bool) (Credential, error)
	UpdateKey(ctx context.Context, k *APIKey) error
	TouchKey(ctx context.Context, id string, at time.Time) error
	ListKeys(ctx context.Context, q ListQuery) ([]APIKey, error)
	CountKeys(ctx context.Context) (int, error)
	// CountActiveKeys counts the account's keys that are neither revoked, deleted nor expired at now.
	CountActiveKeys(ctx context.Context, accountID string, now time.Time) (int, error)

	InsertEntity(ctx context.Context, e *Entity) error
	Entity(ctx context.Context, id string) (Entity, error)
	// EntityForUpdate is Entity holding the row (exclusive) until the transaction ends.
	EntityForUpdate(ctx context.Context, id string) (Entity, error)
	// LockEntity is Entity holding the row (shared) until the transaction ends, so it cannot be
	// deleted or changed under a write that relies on it.
	LockEntity(ctx context.Context, id string) (Entity, error)
	UpdateEntity(ctx context.Context, e *Entity) error
	// DeleteEntity removes the entity and its relationships, returning those in (entity, type)
	// order.
	DeleteEntity(ctx context.Context, id string) (removed []Relationship, err error)
	ListEntities(ctx context.Context, q ListQuery) ([]Entity, error)
	// ExistingEntities returns which of ids name live entities of the account, and holds those
	// rows (shared) until the transaction ends: a concurrent delete of one of them either comes
	// first (and it is not found) or waits and then removes what this transaction added.
	ExistingEntities(ctx context.Context, accountID string, ids []string) (map[string]bool, error)

	// InsertRelationships adds the relationships, keeping any that already exist as they are,
	// and returns those it added, in (entity, type) order.
	InsertRelationships(ctx context.Context, rs []Relationship) (created []Relationship, err error)
	// DeleteRelationship removes one relationship and returns it as it was; ErrNotFound if
	// there is none.
	DeleteRelationship(ctx context.Context, r Relationship) (Relationship, error)
	ListRelationships(ctx context.Context, q ListQuery) ([]Relationship, error)

	// ClaimIdempotency records rec as in flight unless the key is taken. It returns claimed
	// true when rec now holds the key (fresh, taking over a lease that ran out without a saved
	// response, or replacing a record created before staleBefore, whose time to live is over
	// even if the purge has not removed it yet); otherwise it returns the record that holds it.
	ClaimIdempotency(ctx context.Context, rec IdempotencyRecord, staleBefore time.Time) (existing IdempotencyRecord, claimed bool, err error)
	// CompleteIdempotency saves the response on the record held with token; ErrNotFound when
	// the lease was lost.
	CompleteIdempotency(ctx context.Context, scope, key, token string, status int, body []byte) error
	// ReleaseIdempotency drops an in-flight record held with token.
	ReleaseIdempotency(ctx context.Context, scope, key, token string) error
	// PurgeIdempotency deletes records created before t.
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)

	InsertNonce(ctx context.Context, n Nonce) error
	// SpendNonce marks the nonce used if it belongs to keyID, is unexpired at now and unused.
	// It reports whether it did; check and spend are one statement.
	SpendNonce(ctx context.Context, value, keyID string, now time.Time) (bool, error)
	PurgeNonces(ctx context.Context, before time.Time) (int64, error)
}
