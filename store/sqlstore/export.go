package sqlstore

import (
	"context"
	"fmt"

	"github.com/rosterhq/roster"
)

// Exporter receives what Export reads, object by object.
type Exporter struct {
	Account      func(roster.Account) error
	Entity       func(roster.Entity) error
	Relationship func(roster.Relationship) error
}

// Export reads from q, which must be one snapshot (Copier.Snapshot), the live accounts, then
// their live entities, then their relationships — of the account accountID (bare hex) alone
// when it is not "" — each kind in the order of its primary key.
func Export(ctx context.Context, q Querier, accountID string, x Exporter) error {
	where := ""
	if accountID != "" {
		if !roster.IsHex24(accountID) {
			return fmt.Errorf("export: %q is not an account id", accountID)
		}
		where = " AND a.id = '" + accountID + "'" // hex: nothing to quote
	}
	if err := each(ctx, q, `SELECT `+prefixed("a.", AccountColumns)+` FROM accounts a WHERE a.deleted_at IS NULL`+where+` ORDER BY a.id`,
		scanAccount, x.Account); err != nil {
		return err
	}
	if err := each(ctx, q, `SELECT `+prefixed("e.", EntityColumns)+` FROM entities e JOIN accounts a ON a.id = e.account_id
		WHERE e.deleted_at IS NULL AND a.deleted_at IS NULL`+where+` ORDER BY e.id`, scanEntity, x.Entity); err != nil {
		return err
	}
	return each(ctx, q, `SELECT `+prefixed("r.", RelationshipColumns)+` FROM relationships r JOIN accounts a ON a.id = r.account_id
		WHERE a.deleted_at IS NULL`+where+` ORDER BY r.account_id, r.entity_id, r.relationship_type`, scanRelationship, x.Relationship)
}

func prefixed(p string, cols []string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += p + c
	}
	return out
}

// each runs query and hands every row, scanned, to fn.
func each[T any](ctx context.Context, q Querier, query string, scan func(Rows) (T, error), fn func(T) error) error {
	rows, err := q.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}
