package roster

import (
	"slices"
	"time"
)

func sortStrings(s []string) { slices.Sort(s) }

// Clock returns the current time; tests replace it.
type Clock func() time.Time

// Now truncates to microseconds, the precision both engines store.
func (c Clock) Now() time.Time { return c().UTC().Truncate(time.Microsecond) }
