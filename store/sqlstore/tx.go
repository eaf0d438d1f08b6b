package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// Tx implements roster.Tx over one engine transaction.
type Tx struct {
	q        Querier
	d        *Dialect
	appended bool         // the transaction recorded events (see Appended)
	buf      *writeBuffer // events and audit records deferred to Flush (buffer.go); nil: written at once
}

// NewTx wraps an engine transaction.
func NewTx(q Querier, d *Dialect) *Tx { return &Tx{q: q, d: d} }

var _ roster.Tx = (*Tx)(nil)

func (t *Tx) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	n, err := t.q.Exec(ctx, t.d.Rebind(sql), args...)
	if err != nil {
		return 0, t.d.MapErr(err)
	}
	return n, nil
}

// execLater runs sql for a caller that needs no answer back: now, or, on an engine that holds
// statements (Pipeliner), with the transaction's next statement or its commit. check, when not
// nil, judges the rows it affected.
func (t *Tx) execLater(ctx context.Context, check func(rows int64) error, sql string, args ...any) error {
	if p, ok := t.q.(Pipeliner); ok {
		p.Defer(check, t.d.Rebind(sql), args...)
		return nil
	}
	n, err := t.exec(ctx, sql, args...)
	if err == nil && check != nil {
		err = check(n)
	}
	return err
}

func (t *Tx) query(ctx context.Context, sql string, args ...any) (Rows, error) {
	rows, err := t.q.Query(ctx, t.d.Rebind(sql), args...)
	if err != nil {
		return nil, t.d.MapErr(err)
	}
	return rows, nil
}

// queryRows runs a query and scans every row with scan.
func queryRows[T any](ctx context.Context, t *Tx, scan func(Rows) (T, error), sql string, args ...any) ([]T, error) {
	return queryRowsSized(ctx, t, 0, scan, sql, args...)
}

// queryRowsSized is queryRows for a statement expected to return about n rows: the result is
// allocated once instead of grown (a list page of entities grown row by row copies about 17 KB).
func queryRowsSized[T any](ctx context.Context, t *Tx, n int, scan func(Rows) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	if n > 0 {
		out = make([]T, 0, n)
	}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.d.MapErr(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.d.MapErr(err)
	}
	return out, nil
}

// queryOne is queryRows for a single row; ErrNotFound when there is none.
func queryOne[T any](ctx context.Context, t *Tx, scan func(Rows) (T, error), sql string, args ...any) (T, error) {
	rows, err := queryRows(ctx, t, scan, sql, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	if len(rows) == 0 {
		var zero T
		return zero, roster.ErrNotFound
	}
	return rows[0], nil
}

// scanInt reads a row of one integer (a count).
func scanInt(r Rows) (int, error) {
	var n int
	return n, r.Scan(&n)
}

func notFoundIfNone(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return roster.ErrNotFound
	}
	return nil
}

// micros is how every timestamp is stored: Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

func optMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromOptMicros(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := fromMicros(*n)
	return &t
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// --- accounts ---

// InsertAccount implements roster.Tx.
func (t *Tx) InsertAccount(ctx context.Context, a *roster.Account) error {
	_, err := t.exec(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?)`, AccountRow(make([]any, 0, 6), a)...)
	return err
}

// Account implements roster.Tx.
func (t *Tx) Account(ctx context.Context, id string) (roster.Account, error) {
	return queryOne(ctx, t, scanAccount, `SELECT `+accountCols+` FROM accounts WHERE id = ? AND deleted_at IS NULL`, id)
}

// LockAccount implements roster.Tx.
func (t *Tx) LockAccount(ctx context.Context, id string) (roster.Account, error) {
	return queryOne(ctx, t, scanAccount, `SELECT `+accountCols+` FROM accounts WHERE id = ? AND deleted_at IS NULL`+t.d.ShareLock, id)
}

// AccountForUpdate implements roster.Tx.
func (t *Tx) AccountForUpdate(ctx context.Context, id string) (roster.Account, error) {
	return queryOne(ctx, t, scanAccount, `SELECT `+accountCols+` FROM accounts WHERE id = ? AND deleted_at IS NULL`+t.d.UpdateLock, id)
}

// UpdateAccount implements roster.Tx.
func (t *Tx) UpdateAccount(ctx context.Context, a *roster.Account) error {
	return notFoundIfNone(t.exec(ctx, `UPDATE accounts SET name = ?, slug = ?, status = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`,
		a.Name, a.Slug, string(a.Status), micros(a.UpdatedAt), a.ID))
}

// DeleteAccount implements roster.Tx.
func (t *Tx) DeleteAccount(ctx context.Context, id string, at time.Time) error {
	if err := notFoundIfNone(t.exec(ctx, `UPDATE accounts SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`, micros(at), micros(at), id)); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `UPDATE api_keys SET deleted_at = ? WHERE account_id = ? AND deleted_at IS NULL`, micros(at), id); err != nil {
		return err
	}
	_, err := t.exec(ctx, `UPDATE entities SET deleted_at = ? WHERE account_id = ? AND deleted_at IS NULL`, micros(at), id)
	return err
}

var accountColumns = map[string]string{"id": "id", "name": "name", "slug": "slug", "status": "status", "created_at": "created_at", "updated_at": "updated_at"}

// ListAccounts implements roster.Tx.
func (t *Tx) ListAccounts(ctx context.Context, q roster.ListQuery) ([]roster.Account, error) {
	return listPage(ctx, t, "accounts", q, scanAccount, roster.AccountValue)
}

// --- keys ---

const keyCols = `id, account_id, name, role, prefix, hash, revoked, expires_at, last_used_at, created_at, updated_at`

func scanKey(r Rows) (roster.APIKey, error) {
	var k roster.APIKey
	var account *string
	var role string
	var expires, used *int64
	var created, updated int64
	err := r.Scan(&k.ID, &account, &k.Name, &role, &k.Prefix, &k.Hash, &k.Revoked, &expires, &used, &created, &updated)
	if account != nil {
		k.AccountID = *account
	}
	k.Role, k.ExpiresAt, k.LastUsedAt = roster.Role(role), fromOptMicros(expires), fromOptMicros(used)
	k.CreatedAt, k.UpdatedAt = fromMicros(created), fromMicros(updated)
	return k, err
}

// InsertKey implements roster.Tx.
func (t *Tx) InsertKey(ctx context.Context, k *roster.APIKey) error {
	_, err := t.exec(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, nullIfEmpty(k.AccountID), k.Name, string(k.Role), k.Prefix, k.Hash, k.Revoked, optMicros(k.ExpiresAt), optMicros(k.LastUsedAt), micros(k.CreatedAt), micros(k.UpdatedAt))
	return err
}

// Key implements roster.Tx.
func (t *Tx) Key(ctx context.Context, id string) (roster.APIKey, error) {
	return queryOne(ctx, t, scanKey, `SELECT `+keyCols+` FROM api_keys WHERE id = ? AND deleted_at IS NULL`, id)
}

// KeyForUpdate implements roster.Tx.
func (t *Tx) KeyForUpdate(ctx context.Context, id string) (roster.APIKey, error) {
	return queryOne(ctx, t, scanKey, `SELECT `+keyCols+` FROM api_keys WHERE id = ? AND deleted_at IS NULL`+t.d.UpdateLock, id)
}

func scanCredential(r Rows) (roster.Credential, error) {
	var c roster.Credential
	var account, status *string
	var expires, used *int64
	var role string
	err := r.Scan(&c.KeyID, &account, &role, &c.Revoked, &expires, &used, &status)
	if account != nil {
		c.AccountID = *account
	}
	if status != nil {
		c.AccountStatus = roster.AccountStatus(*status)
	}
	c.Role, c.ExpiresAt, c.LastUsedAt = roster.Role(role), fromOptMicros(expires), fromOptMicros(used)
	return c, err
}

// LockKey implements roster.Tx.
func (t *Tx) LockKey(ctx context.Context, id string) (roster.APIKey, error) {
	return queryOne(ctx, t, scanKey, `SELECT `+keyCols+` FROM api_keys WHERE id = ? AND deleted_at IS NULL`+t.d.ShareLock, id)
}

// LockCaller implements roster.Tx. Only the account row is locked (OF a): whatever changes a
// key locks its account first.
func (t *Tx) LockCaller(ctx context.Context, keyID, accountID string, exclusive bool) (roster.Credential, error) {
	lock := t.d.ShareLock
	if exclusive {
		lock = t.d.UpdateLock
	}
	if lock != "" {
		lock += " OF a"
	}
	return queryOne(ctx, t, scanCredential, `SELECT k.id, k.account_id, k.role, k.revoked, k.expires_at, k.last_used_at, a.status
		FROM accounts a JOIN api_keys k ON k.account_id = a.id
		WHERE a.id = ? AND k.id = ? AND a.deleted_at IS NULL AND k.deleted_at IS NULL`+lock, accountID, keyID)
}

// KeyByHash implements roster.Tx.
func (t *Tx) KeyByHash(ctx context.Context, hash string) (roster.Credential, error) {
	return queryOne(ctx, t, scanCredential, `SELECT k.id, k.account_id, k.role, k.revoked, k.expires_at, k.last_used_at, a.status
		FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id
		WHERE k.hash = ? AND k.deleted_at IS NULL AND (k.account_id IS NULL OR (a.id IS NOT NULL AND a.deleted_at IS NULL))`, hash)
}

// UpdateKey implements roster.Tx.
func (t *Tx) UpdateKey(ctx context.Context, k *roster.APIKey) error {
	var deleted any
	if k.Deleted {
		deleted = micros(k.UpdatedAt)
	}
	return notFoundIfNone(t.exec(ctx, `UPDATE api_keys SET name = ?, revoked = ?, updated_at = ?, deleted_at = ? WHERE id = ? AND deleted_at IS NULL`,
		k.Name, k.Revoked, micros(k.UpdatedAt), deleted, k.ID))
}

// TouchKey implements roster.Tx.
func (t *Tx) TouchKey(ctx context.Context, id string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, micros(at), id)
	return err
}

// CountKeys implements roster.Tx. Deleted keys are not counted, like everywhere else.
func (t *Tx) CountKeys(ctx context.Context) (int, error) {
	return queryOne(ctx, t, scanInt, `SELECT COUNT(*) FROM api_keys WHERE deleted_at IS NULL`)
}

// CountActiveKeys implements roster.Tx.
func (t *Tx) CountActiveKeys(ctx context.Context, accountID string, now time.Time) (int, error) {
	return queryOne(ctx, t, scanInt, `SELECT COUNT(*) FROM api_keys WHERE account_id = ? AND deleted_at IS NULL AND NOT revoked AND (expires_at IS NULL OR expires_at > ?)`,
		accountID, micros(now))
}

var keyColumns = map[string]string{"id": "id", "name": "name", "account_id": "account_id", "created_at": "created_at", "updated_at": "updated_at", "role": "role"}

// ListKeys implements roster.Tx. The filter "status" takes active, revoked or expired, judged
// at q.Now (see keyStatusFilter).
func (t *Tx) ListKeys(ctx context.Context, q roster.ListQuery) ([]roster.APIKey, error) {
	return listPage(ctx, t, "api_keys", q, scanKey, roster.KeyValue)
}

// --- entities ---

// InsertEntity implements roster.Tx.
func (t *Tx) InsertEntity(ctx context.Context, e *roster.Entity) error {
	_, err := t.exec(ctx, `INSERT INTO entities (`+entityCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, EntityRow(make([]any, 0, 18), e)...)
	return err
}

// Entity implements roster.Tx.
func (t *Tx) Entity(ctx context.Context, id string) (roster.Entity, error) {
	return queryOne(ctx, t, scanEntity, `SELECT `+entityCols+` FROM entities WHERE id = ? AND deleted_at IS NULL`, id)
}

// EntityForUpdate implements roster.Tx.
func (t *Tx) EntityForUpdate(ctx context.Context, id string) (roster.Entity, error) {
	return queryOne(ctx, t, scanEntity, `SELECT `+entityCols+` FROM entities WHERE id = ? AND deleted_at IS NULL`+t.d.UpdateLock, id)
}

// LockEntity implements roster.Tx.
func (t *Tx) LockEntity(ctx context.Context, id string) (roster.Entity, error) {
	return queryOne(ctx, t, scanEntity, `SELECT `+entityCols+` FROM entities WHERE id = ? AND deleted_at IS NULL`+t.d.ShareLock, id)
}

// UpdateEntity implements roster.Tx.
func (t *Tx) UpdateEntity(ctx context.Context, e *roster.Entity) error {
	args := EntityRow(make([]any, 0, 18), e)
	return notFoundIfNone(t.exec(ctx, `UPDATE entities SET name = ?, module_ids = ?, source = ?, recipient = ?, description = ?,
		deprecated = ?, see = ?, field_suffix = ?, invitation_id = ?, flow_ids = ?, logo_url = ?, website = ?, time_zone = ?,
		trustedform_certified_vendor = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`,
		append(append([]any{}, args[2:16]...), args[17], e.ID)...))
}

// DeleteEntity implements roster.Tx.
func (t *Tx) DeleteEntity(ctx context.Context, id string) ([]roster.Relationship, error) {
	removed, err := queryRows(ctx, t, scanRelationship,
		`DELETE FROM relationships WHERE entity_id = ? RETURNING `+relationshipCols, id)
	if err != nil {
		return nil, err
	}
	sortRelationships(removed)
	return removed, notFoundIfNone(t.exec(ctx, `DELETE FROM entities WHERE id = ? AND deleted_at IS NULL`, id))
}

var entityColumns = map[string]string{"id": "id", "account_id": "account_id", "name": "name", "source": "source",
	"recipient": "recipient", "deprecated": "deprecated", "created_at": "created_at", "updated_at": "updated_at"}

// ListEntities implements roster.Tx.
func (t *Tx) ListEntities(ctx context.Context, q roster.ListQuery) ([]roster.Entity, error) {
	return listPage(ctx, t, "entities", q, scanEntity, roster.EntityValue)
}

// ExistingEntities implements roster.Tx.
func (t *Tx) ExistingEntities(ctx context.Context, accountID string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{accountID}
	for _, id := range ids {
		args = append(args, id)
	}
	found, err := queryRows(ctx, t, func(r Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, `SELECT id FROM entities WHERE account_id = ? AND deleted_at IS NULL AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) ORDER BY id`+t.d.ShareLock, args...)
	for _, id := range found {
		out[id] = true
	}
	return out, err
}

// --- relationships ---

// InsertRelationships implements roster.Tx.
// All rows go in one statement (one statement shape per batch size, at most roster.MaxBatch).
func (t *Tx) InsertRelationships(ctx context.Context, rs []roster.Relationship) ([]roster.Relationship, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	// Rows go in in one order (entity, type) whatever the request's, so two batches that share
	// entities wait for each other instead of each holding a row the other needs (a deadlock).
	rs = slices.Clone(rs)
	sortRelationships(rs)
	var b strings.Builder
	b.WriteString(`INSERT INTO relationships (` + relationshipCols + `) VALUES `)
	args := make([]any, 0, 4*len(rs))
	for i := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?)")
		args = RelationshipRow(args, &rs[i])
	}
	b.WriteString(` ON CONFLICT (account_id, entity_id, relationship_type) DO NOTHING RETURNING ` + relationshipCols)
	created, err := queryRows(ctx, t, scanRelationship, b.String(), args...)
	sortRelationships(created)
	return created, err
}

// sortRelationships puts relationships in (entity, type) order.
func sortRelationships(rs []roster.Relationship) {
	slices.SortFunc(rs, func(a, b roster.Relationship) int {
		return cmp.Or(cmp.Compare(a.EntityID, b.EntityID), cmp.Compare(a.Type, b.Type))
	})
}

// DeleteRelationship implements roster.Tx.
func (t *Tx) DeleteRelationship(ctx context.Context, r roster.Relationship) (roster.Relationship, error) {
	return queryOne(ctx, t, scanRelationship, `DELETE FROM relationships WHERE account_id = ? AND entity_id = ? AND relationship_type = ?
		RETURNING `+relationshipCols, r.AccountID, r.EntityID, r.Type)
}

var relationshipColumns = map[string]string{"account_id": "account_id", "entity_id": "entity_id",
	"relationship_type": "relationship_type", "created_at": "created_at"}

// ListRelationships implements roster.Tx.
func (t *Tx) ListRelationships(ctx context.Context, q roster.ListQuery) ([]roster.Relationship, error) {
	return listPage(ctx, t, "relationships", q, scanRelationship, roster.RelationshipValue)
}

// --- idempotency ---

// ClaimIdempotency implements roster.Tx.
func (t *Tx) ClaimIdempotency(ctx context.Context, rec roster.IdempotencyRecord, staleBefore time.Time) (roster.IdempotencyRecord, bool, error) {
	n, err := t.exec(ctx, `INSERT INTO idempotency (scope, idem_key, fingerprint, token, lease_until, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, 0, NULL, ?) ON CONFLICT (scope, idem_key) DO NOTHING`,
		rec.Scope, rec.Key, rec.Fingerprint, rec.Token, micros(rec.LeaseUntil), micros(rec.CreatedAt))
	if err != nil || n == 1 {
		return roster.IdempotencyRecord{}, n == 1, err
	}
	n, err = t.exec(ctx, `UPDATE idempotency SET fingerprint = ?, token = ?, lease_until = ?, status = 0, body = NULL, created_at = ?
		WHERE scope = ? AND idem_key = ? AND ((status = 0 AND lease_until < ?) OR created_at < ?)`,
		rec.Fingerprint, rec.Token, micros(rec.LeaseUntil), micros(rec.CreatedAt), rec.Scope, rec.Key,
		micros(rec.CreatedAt), micros(staleBefore))
	if err != nil || n == 1 {
		return roster.IdempotencyRecord{}, n == 1, err
	}
	existing, err := queryOne(ctx, t, func(r Rows) (roster.IdempotencyRecord, error) {
		var e roster.IdempotencyRecord
		var lease, created int64
		err := r.Scan(&e.Scope, &e.Key, &e.Fingerprint, &e.Token, &lease, &e.Status, &e.Body, &created)
		e.LeaseUntil, e.CreatedAt = fromMicros(lease), fromMicros(created)
		return e, err
	}, `SELECT scope, idem_key, fingerprint, token, lease_until, status, body, created_at FROM idempotency WHERE scope = ? AND idem_key = ?`, rec.Scope, rec.Key)
	if errors.Is(err, roster.ErrNotFound) {
		// Released between our insert and our read: the caller may simply retry.
		return roster.IdempotencyRecord{Fingerprint: rec.Fingerprint}, false, nil
	}
	return existing, false, err
}

// CompleteIdempotency implements roster.Tx.
func (t *Tx) CompleteIdempotency(ctx context.Context, scope, key, token string, status int, body []byte) error {
	return notFoundIfNone(t.exec(ctx, `UPDATE idempotency SET status = ?, body = ? WHERE scope = ? AND idem_key = ? AND token = ? AND status = 0`,
		status, body, scope, key, token))
}

// ReleaseIdempotency implements roster.Tx.
func (t *Tx) ReleaseIdempotency(ctx context.Context, scope, key, token string) error {
	_, err := t.exec(ctx, `DELETE FROM idempotency WHERE scope = ? AND idem_key = ? AND token = ? AND status = 0`, scope, key, token)
	return err
}

// PurgeIdempotency implements roster.Tx.
func (t *Tx) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	return t.exec(ctx, `DELETE FROM idempotency WHERE created_at < ? AND (status <> 0 OR lease_until < ?)`, micros(before), micros(before))
}

// --- nonces ---

// InsertNonce implements roster.Tx.
func (t *Tx) InsertNonce(ctx context.Context, n roster.Nonce) error {
	_, err := t.exec(ctx, `INSERT INTO nonces (value, key_id, expires_at, used_at, created_at) VALUES (?, ?, ?, NULL, ?)`,
		n.Value, n.KeyID, micros(n.ExpiresAt), micros(n.CreatedAt))
	return err
}

// SpendNonce implements roster.Tx.
func (t *Tx) SpendNonce(ctx context.Context, value, keyID string, now time.Time) (bool, error) {
	n, err := t.exec(ctx, `UPDATE nonces SET used_at = ? WHERE value = ? AND key_id = ? AND used_at IS NULL AND expires_at > ?`,
		micros(now), value, keyID, micros(now))
	return n == 1, err
}

// PurgeNonces implements roster.Tx.
func (t *Tx) PurgeNonces(ctx context.Context, before time.Time) (int64, error) {
	return t.exec(ctx, `DELETE FROM nonces WHERE expires_at < ?`, micros(before))
}
