package roster

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// A Change is what a write did to one object, in the terms of the events it records (SPEC §13).
type Change struct {
	// Type is the event type: "entity.updated", "api_key.revoked"…
	Type string
	// AccountID is the account the change belongs to; "" for a superadmin key's own key.
	AccountID string
	// ObjectID is the object's id (bare hex); for a relationship, its entity's.
	ObjectID string
	// Object is the object after the change; for a deletion, as it was.
	Object any
	// Before is the object before an update, nil for any other change.
	Before any

	// object and before are Object and Before in the native view, rendered once for the
	// write's event and its audit record (views).
	object, before []byte
}

// views renders the change's object and, for an update, the object before it in the native
// view at moment at, once: the event and the audit record of a write both read them.
func (c *Change) views(at time.Time) (object, before []byte, err error) {
	if objectView == nil {
		return nil, nil, errors.New("roster: no object view registered (import package api)")
	}
	if c.object == nil {
		if c.object, err = objectView(c.Object, at); err != nil {
			return nil, nil, err
		}
	}
	if c.Before != nil && c.before == nil {
		if c.before, err = objectView(c.Before, at); err != nil {
			return nil, nil, err
		}
	}
	return c.object, c.before, nil
}

// changes collects what one write did, in order, for the envelope to record.
type changes []Change

func (cs *changes) add(typ, account, id string, object, before any) {
	*cs = append(*cs, Change{Type: typ, AccountID: account, ObjectID: id, Object: object, Before: before})
}

// ObjectView renders an object (Account, Entity, APIKey, Relationship) as the native surface
// shows it, at moment at (a key's status depends on it): what an event's data.object holds.
// Package api registers it (SetObjectView); the core only calls it.
type ObjectView func(v any, at time.Time) ([]byte, error)

var objectView ObjectView

// SetObjectView registers how objects are rendered in events. It is called once, from the
// init of the package that owns the native views.
func SetObjectView(v ObjectView) { objectView = v }

// changeData renders a change as an event's data (SPEC §13): {"object": the native view after
// the change (as it was, for a deletion), "previous_attributes": the old values of the fields an
// update changed}.
func changeData(c *Change, at time.Time) ([]byte, error) {
	object, before, err := c.views(at)
	if err != nil {
		return nil, err
	}
	if before == nil {
		// The view is already compact and HTML-safe, as encoding/json would write it
		// (TestChangeDataAsEncodingJSON): no need to scan it again.
		return append(append(append(make([]byte, 0, len(object)+11), `{"object":`...), object...), '}'), nil
	}
	data := struct {
		Object   json.RawMessage            `json:"object"`
		Previous map[string]json.RawMessage `json:"previous_attributes,omitempty"`
	}{Object: object}
	{
		var was, is map[string]json.RawMessage
		if err := json.Unmarshal(before, &was); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(object, &is); err != nil {
			return nil, err
		}
		data.Previous = map[string]json.RawMessage{}
		for k, v := range was {
			if !bytes.Equal(v, is[k]) {
				data.Previous[k] = v
			}
		}
	}
	return json.Marshal(data)
}
