package api

import "time"

// timeFormat is how every timestamp is written: RFC 3339 in UTC with microseconds.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

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
