package api

import (
	"fmt"
	"time"

	"github.com/rosterhq/roster"
)

func init() { roster.SetObjectView(nativeObject) }

// nativeObject renders an object as the native surface shows it at moment at: what an event's
// data.object holds (SPEC §13), whatever surface the write came through.
func nativeObject(v any, at time.Time) ([]byte, error) {
	switch o := v.(type) {
	case roster.Account:
		return encode(native.account(o))
	case roster.Entity:
		return encode(native.entity(o))
	case roster.APIKey:
		return encode(native.key(o, at))
	case roster.Relationship:
		return encode(native.relationship(o))
	}
	return nil, fmt.Errorf("api: no native view of %T", v)
}
