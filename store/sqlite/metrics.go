package sqlite

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Collectors implements store.Instrumented: database/sql's statistics of the writer connection
// and of the reader pool (go_sql_* with db_name sqlite_writer and sqlite_readers).
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{collectors.NewDBStatsCollector(s.writer, "sqlite_writer"), collectors.NewDBStatsCollector(s.readers, "sqlite_readers")}
}
