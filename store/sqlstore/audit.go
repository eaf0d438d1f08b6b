package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/rosterhq/roster"
)

// The audit trail's SQL (roster.AuditTx; tables in migrations/0007_audit.sql).

const auditCols = `n, id, account_id, sequence, occurred_at, actor_type, actor_key_id, actor_role, source_ip, source_user_agent,
	request_id, idempotency_key, action, target_type, target_id, outcome, status, count, changes, prev_hash, hash`

func scanAudit(r Rows) (roster.AuditRecord, error) {
	var a roster.AuditRecord
	var occurred int64
	var role string
	var changes *string
	err := r.Scan(&a.Position, &a.ID, &a.AccountID, &a.Sequence, &occurred, &a.ActorType, &a.ActorKeyID, &role, &a.Source.IP,
		&a.Source.UserAgent, &a.RequestID, &a.IdempotencyKey, &a.Action, &a.TargetType, &a.TargetID, &a.Outcome, &a.Status,
		&a.Count, &changes, &a.PrevHash, &a.Hash)
	a.OccurredAt, a.ActorRole = fromMicros(occurred), roster.Role(role)
	if changes != nil {
		a.Changes = []byte(*changes)
	}
	return a, err
}

func scanHead(r Rows) (roster.AuditHead, error) {
	var h roster.AuditHead
	return h, r.Scan(&h.Sequence, &h.Hash)
}

const auditInsertCols = `(id, account_id, sequence, occurred_at, actor_type, actor_key_id, actor_role, source_ip, source_user_agent,
	request_id, idempotency_key, action, target_type, target_id, outcome, status, count, changes, prev_hash, hash)`

// insertAudit inserts records in one statement.
func (t *Tx) insertAudit(ctx context.Context, recs []roster.AuditRecord) error {
	return insertRows(ctx, t, `INSERT INTO audit_records `+auditInsertCols, "", 20, recs, func(args []any, a roster.AuditRecord) []any {
		var changes any
		if len(a.Changes) > 0 {
			changes = string(a.Changes)
		}
		return append(args, a.ID, a.AccountID, a.Sequence, micros(a.OccurredAt), a.ActorType, a.ActorKeyID, string(a.ActorRole), a.Source.IP,
			a.Source.UserAgent, a.RequestID, a.IdempotencyKey, a.Action, a.TargetType, a.TargetID, a.Outcome, a.Status, a.Count,
			changes, a.PrevHash, a.Hash)
	})
}

// LockAuditHead implements roster.AuditTx: the head read with the dialect's update lock (FOR
// UPDATE on PostgreSQL; SQLite's one writer needs none), made first when the chain has none.
// Two transactions making one chain's head at once: the second's insert waits for the first's
// and does nothing, and its read then holds the first's head.
func (t *Tx) LockAuditHead(ctx context.Context, accountID string) (roster.AuditHead, error) {
	if b := t.buf; b != nil {
		return b.auditHead(ctx, t, accountID)
	}
	head, err := queryOne(ctx, t, scanHead, `SELECT sequence, hash FROM audit_heads WHERE account_id = ?`+t.d.UpdateLock, accountID)
	if !errors.Is(err, roster.ErrNotFound) {
		return head, err
	}
	if _, err := t.exec(ctx, `INSERT INTO audit_heads (account_id, sequence, hash) VALUES (?, 0, ?) ON CONFLICT (account_id) DO NOTHING`,
		accountID, roster.GenesisHash); err != nil {
		return head, err
	}
	return queryOne(ctx, t, scanHead, `SELECT sequence, hash FROM audit_heads WHERE account_id = ?`+t.d.UpdateLock, accountID)
}

// AppendAudit implements roster.AuditTx. Buffered (SQLite's group commit, where every write
// goes; buffer.go), the append waits for Flush; otherwise (PostgreSQL) the record's insert and the
// head's move are one statement, a data-modifying WITH, sent with the transaction's next
// statement or its commit (Pipeliner).
func (t *Tx) AppendAudit(ctx context.Context, a *roster.AuditRecord) error {
	if b := t.buf; b != nil {
		b.appendAudit(a)
		return nil
	}
	var changes any
	if len(a.Changes) > 0 {
		changes = string(a.Changes)
	}
	sql := `WITH moved AS (UPDATE audit_heads SET sequence = ?, hash = ? WHERE account_id = ? RETURNING 1)
		INSERT INTO audit_records ` + auditInsertCols + ` SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM moved`
	args := []any{a.Sequence, a.Hash, a.AccountID,
		a.ID, a.AccountID, a.Sequence, micros(a.OccurredAt), a.ActorType, a.ActorKeyID, string(a.ActorRole), a.Source.IP,
		a.Source.UserAgent, a.RequestID, a.IdempotencyKey, a.Action, a.TargetType, a.TargetID, a.Outcome, a.Status, a.Count,
		changes, a.PrevHash, a.Hash}
	return t.execLater(ctx, func(n int64) error { return notFoundIfNone(n, nil) }, sql, args...)
}

// AuditHead implements roster.AuditTx.
func (t *Tx) AuditHead(ctx context.Context, accountID string) (roster.AuditHead, error) {
	return queryOne(ctx, t, scanHead, `SELECT sequence, hash FROM audit_heads WHERE account_id = ?`, accountID)
}

// AuditChains implements roster.AuditTx.
func (t *Tx) AuditChains(ctx context.Context) ([]string, error) {
	return queryRows(ctx, t, func(r Rows) (string, error) {
		var s string
		return s, r.Scan(&s)
	}, `SELECT account_id FROM audit_heads ORDER BY account_id`)
}

// AuditChain implements roster.AuditTx.
func (t *Tx) AuditChain(ctx context.Context, accountID string, after int64, limit int) ([]roster.AuditRecord, error) {
	return queryRowsSized(ctx, t, limit, scanAudit, `SELECT `+auditCols+` FROM audit_records
		WHERE account_id = ? AND sequence > ? ORDER BY sequence LIMIT ?`, accountID, after, limit)
}

// AuditRecord implements roster.AuditTx.
func (t *Tx) AuditRecord(ctx context.Context, id string) (roster.AuditRecord, error) {
	return queryOne(ctx, t, scanAudit, `SELECT `+auditCols+` FROM audit_records WHERE id = ?`, id)
}

// ListAudit implements roster.AuditTx. A list of one account reads its chain by sequence
// (audit_records_chain), a list of every chain the table by n; either way one index range from
// the boundary. With filters beyond the account, the range read is a window of scanBudget rows,
// filtered here: a page stops short, with q.Stop at the last row examined, when the window held
// too few matches (SPEC §6: every list request is cheap).
func (t *Tx) ListAudit(ctx context.Context, q roster.ListQuery) ([]roster.AuditRecord, error) {
	pos, where := "n", "1 = 1"
	var args []any
	var resid []roster.Filter
	for _, f := range q.Filters {
		if f.Field == "account_id" {
			pos, where = "sequence", "account_id = ?"
			args = append(args, f.Value)
			continue
		}
		resid = append(resid, f)
	}
	desc := q.Order[0].Desc != q.Backward
	if q.After != nil {
		op := ">"
		if desc {
			op = "<"
		}
		if q.Inclusive {
			op += "="
		}
		where += " AND " + pos + " " + op + " ?"
		args = append(args, q.After[0])
	}
	order := pos
	if desc {
		order += " DESC"
	}
	window := q.Limit
	if len(resid) > 0 {
		window = scanBudget(q.Limit)
	}
	rows, err := queryRowsSized(ctx, t, min(window, presizedRows), scanAudit,
		`SELECT `+auditCols+` FROM audit_records WHERE `+where+` ORDER BY `+order+` LIMIT ?`, append(args, window)...)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		if pos == "sequence" {
			rows[i].Position = rows[i].Sequence
		}
	}
	if len(resid) == 0 {
		return rows, nil
	}
	out := rows[:0:0]
	for _, r := range rows {
		if auditMatches(r, resid) {
			out = append(out, r)
			if len(out) == q.Limit {
				return out, nil
			}
		}
	}
	if len(rows) == window && q.Stop != nil {
		q.Stop.After = []any{strconv.FormatInt(rows[len(rows)-1].Position, 10)}
	}
	return out, nil
}

// auditMatches applies the residual filters of ListAudit to a record.
func auditMatches(r roster.AuditRecord, fs []roster.Filter) bool {
	for _, f := range fs {
		switch f.Field {
		case "action":
			if r.Action != f.Value {
				return false
			}
		case "actor_key_id":
			if r.ActorKeyID != f.Value {
				return false
			}
		case "target_id":
			if r.TargetID != f.Value {
				return false
			}
		case "since":
			if r.OccurredAt.Before(f.Value.(time.Time)) {
				return false
			}
		case "until":
			if r.OccurredAt.After(f.Value.(time.Time)) {
				return false
			}
		}
	}
	return true
}
