package api

import "github.com/rosterhq/roster"

// native is roster's own surface under /v1, in LEADR's conventions: prefixed ids, FastAPI's
// error bodies, the {data, pagination} list envelope.
var native = &surface{
	name:         "native",
	prefix:       "/v1",
	accountQuery: true,
	renderError:  nativeError,
	viewRelationship: func(s *surface, r roster.Relationship) any {
		return relationshipView{AccountID: s.id(roster.KindAccount, r.AccountID), EntityID: s.id(roster.KindEntity, r.EntityID),
			RelationshipType: r.Type, CreatedAt: stamp(r.CreatedAt)}
	},
}

func nativeError(status int, e *roster.Error) any {
	if len(e.Problems) > 0 {
		return validationBody{Detail: e.Problems}
	}
	return errorBody{Detail: e.Message, Code: string(e.Code)}
}

type relationshipView struct {
	AccountID        string `json:"account_id"`
	EntityID         string `json:"entity_id"`
	RelationshipType string `json:"relationship_type"`
	CreatedAt        stamp  `json:"created_at"`
}

// paginationView is the native list envelope's navigation.
type paginationView struct {
	Count      int     `json:"count"`
	HasNext    bool    `json:"has_next"`
	HasPrev    bool    `json:"has_prev"`
	NextCursor *string `json:"next_cursor"`
	PrevCursor *string `json:"prev_cursor"`
}

type listView struct {
	Data       []any          `json:"data"`
	Pagination paginationView `json:"pagination"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nativePage renders a page in the native envelope.
func nativePage[T any](p roster.Page[T], view func(T) any) listView {
	out := listView{Data: make([]any, len(p.Items)), Pagination: paginationView{
		Count: len(p.Items), HasNext: p.HasNext, HasPrev: p.HasPrev, NextCursor: optString(p.Next), PrevCursor: optString(p.Prev)}}
	for i, it := range p.Items {
		out.Data[i] = view(it)
	}
	return out
}
