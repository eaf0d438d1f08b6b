// Package store opens the engine a database URL names; an engine that reports metrics says so
// through Instrumented.
package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

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

// Instrumented is a store that reports its own metrics (its connection pools, for one).
type Instrumented interface {
	Collectors() []prometheus.Collector
}

// Collectors returns the Prometheus collectors of st, if it has any.
func Collectors(st roster.Store) []prometheus.Collector {
	if m, ok := st.(Instrumented); ok {
		return m.Collectors()
	}
	return nil
}

var (
	_ Instrumented = (*sqlite.Store)(nil)
	_ Instrumented = (*postgres.Store)(nil)
)
