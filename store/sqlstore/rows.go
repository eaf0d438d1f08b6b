package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rosterhq/roster"
)

// The row encoding of the tables a bulk load fills, the same for every write and both engines:
// each table's columns, in the order of the values its Row function appends, and the scan that
// reads a row back. Timestamps are Unix microseconds, lists JSON arrays (JSONList).

// AccountColumns are the columns AccountRow's values are for.
var AccountColumns = []string{"id", "name", "slug", "status", "created_at", "updated_at"}

// AccountRow appends a's values for AccountColumns to dst.
func AccountRow(dst []any, a *roster.Account) []any {
	return append(dst, a.ID, a.Name, a.Slug, string(a.Status), micros(a.CreatedAt), micros(a.UpdatedAt))
}

var accountCols = strings.Join(AccountColumns, ", ")

func scanAccount(r Rows) (roster.Account, error) {
	var a roster.Account
	var status string
	var created, updated int64
	err := r.Scan(&a.ID, &a.Name, &a.Slug, &status, &created, &updated)
	a.Status, a.CreatedAt, a.UpdatedAt = roster.AccountStatus(status), fromMicros(created), fromMicros(updated)
	return a, err
}

// EntityColumns are the columns EntityRow's values are for.
var EntityColumns = []string{"id", "account_id", "name", "module_ids", "source", "recipient", "description", "deprecated", "see",
	"field_suffix", "invitation_id", "flow_ids", "logo_url", "website", "time_zone", "trustedform_certified_vendor", "created_at", "updated_at"}

// EntityRow appends e's values for EntityColumns to dst.
func EntityRow(dst []any, e *roster.Entity) []any {
	return append(dst, e.ID, e.AccountID, e.Name, JSONList(e.ModuleIDs), e.Source, e.Recipient, e.Description, e.Deprecated, e.See,
		e.FieldSuffix, e.InvitationID, JSONList(e.FlowIDs), e.LogoURL, e.Website, e.TimeZone, e.TrustedFormCertifiedVendor,
		micros(e.CreatedAt), micros(e.UpdatedAt))
}

var entityCols = strings.Join(EntityColumns, ", ")

func scanEntity(r Rows) (roster.Entity, error) {
	var e roster.Entity
	var modules, flows string
	var created, updated int64
	err := r.Scan(&e.ID, &e.AccountID, &e.Name, &modules, &e.Source, &e.Recipient, &e.Description, &e.Deprecated, &e.See,
		&e.FieldSuffix, &e.InvitationID, &flows, &e.LogoURL, &e.Website, &e.TimeZone, &e.TrustedFormCertifiedVendor, &created, &updated)
	if err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	if e.ModuleIDs, err = decodeList(modules); err != nil {
		return e, fmt.Errorf("entity %s module_ids: %w", e.ID, err)
	}
	if e.FlowIDs, err = decodeList(flows); err != nil {
		return e, fmt.Errorf("entity %s flow_ids: %w", e.ID, err)
	}
	return e, nil
}

// RelationshipColumns are the columns RelationshipRow's values are for.
var RelationshipColumns = []string{"account_id", "entity_id", "relationship_type", "created_at"}

// RelationshipRow appends r's values for RelationshipColumns to dst.
func RelationshipRow(dst []any, r *roster.Relationship) []any {
	return append(dst, r.AccountID, r.EntityID, r.Type, micros(r.CreatedAt))
}

var relationshipCols = strings.Join(RelationshipColumns, ", ")

func scanRelationship(r Rows) (roster.Relationship, error) {
	var rel roster.Relationship
	var created int64
	err := r.Scan(&rel.AccountID, &rel.EntityID, &rel.Type, &created)
	rel.CreatedAt = fromMicros(created)
	return rel, err
}

// JSONList is how both engines store a list column (module_ids, flow_ids): a JSON array, []
// when empty, with <, > and & as themselves and not escaped as encoding/json's default would,
// so that decodeList's plain-string path reads them (an escaped list would take encoding/json,
// far slower; see docs/performance.md).
func JSONList(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// decodeList reads a list stored by JSONList. Lists of plain strings (no escapes), the usual
// case, are cut out directly; anything else goes through encoding/json.
func decodeList(s string) ([]string, error) {
	if s == "[]" {
		return []string{}, nil
	}
	if len(s) >= 4 && s[0] == '[' && s[1] == '"' && s[len(s)-2] == '"' && s[len(s)-1] == ']' && !strings.ContainsRune(s, '\\') {
		parts := strings.Split(s[2:len(s)-2], `","`)
		ok := true
		for _, p := range parts {
			if strings.ContainsRune(p, '"') {
				ok = false
				break
			}
		}
		if ok {
			return parts, nil
		}
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}
