package roster

import "time"

// Relationship puts an entity in a role on the account that owns it.
type Relationship struct {
	AccountID string
	EntityID  string
	Type      string
	CreatedAt time.Time
}

// RelationshipTypes are the roles an entity can hold.
var RelationshipTypes = []string{"account_holder", "authorized_signer", "authorized_user"}

// ValidRelationshipType reports whether t is one of RelationshipTypes.
func ValidRelationshipType(t string) bool {
	for _, r := range RelationshipTypes {
		if r == t {
			return true
		}
	}
	return false
}

// Relationships is how relationships are listed: by creation, then entity, then type.
var Relationships = Listing{
	Fields:       map[string]FieldKind{"created_at": FieldTime, "entity_id": FieldString, "relationship_type": FieldString},
	Sortable:     []string{"created_at"},
	DefaultSort:  "created_at:asc",
	TieBreak:     []string{"entity_id", "relationship_type"},
	DefaultLimit: 20,
	MaxLimit:     100,
}

// RelationshipValue returns the value of a sortable field of r.
func RelationshipValue(r Relationship, field string) any {
	switch field {
	case "entity_id":
		return r.EntityID
	case "relationship_type":
		return r.Type
	default:
		return r.CreatedAt
	}
}
