package api

import (
	"time"

	"github.com/rosterhq/roster"
)

// timeFormat is how every timestamp is written (roster.TimeFormat).
const timeFormat = roster.TimeFormat

// stamp is a timestamp that marshals in timeFormat.
type stamp time.Time

// MarshalText renders the timestamp; as text, encoding/json skips re-scanning it.
func (t stamp) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(make([]byte, 0, len(timeFormat)), timeFormat), nil
}

func optStamp(t *time.Time) *stamp {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}
