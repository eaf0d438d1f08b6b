// Package store opens the engine a database URL names.
package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/sqlite"
)

// Open opens "sqlite:PATH" or "postgres://..." (also "postgresql://...") and migrates it.
func Open(ctx context.Context, url string) (roster.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, fmt.Errorf("database %q: sqlite: needs a file path", url)
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	default:
		return nil, fmt.Errorf("database %q: want sqlite:PATH or a postgres:// URL", url)
	}
}
