package store

import (
	"context"
	"fmt"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlstore"
)

// Copy copies everything in from into to, an empty database of either engine, and verifies the
// count of every table at the end (sqlstore.Copy). It returns those counts.
func Copy(ctx context.Context, from, to roster.Store, progress sqlstore.CopyProgress) (map[string]int64, error) {
	src, ok := from.(sqlstore.Copier)
	if !ok {
		return nil, fmt.Errorf("copy: the source store (%T) cannot be copied", from)
	}
	dst, ok := to.(sqlstore.Copier)
	if !ok {
		return nil, fmt.Errorf("copy: the target store (%T) cannot be copied into", to)
	}
	return sqlstore.Copy(ctx, src, dst, progress)
}
