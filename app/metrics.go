package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/sqlite"
)

// storeCollectors exposes the database pools' statistics to Prometheus.
func storeCollectors(st roster.Store) []prometheus.Collector {
	switch s := st.(type) {
	case *sqlite.Store:
		w, r := s.DBs()
		return []prometheus.Collector{collectors.NewDBStatsCollector(w, "sqlite_writer"), collectors.NewDBStatsCollector(r, "sqlite_readers")}
	case *postgres.Store:
		return []prometheus.Collector{pgPoolCollector{s}}
	}
	return nil
}

var (
	pgAcquired = prometheus.NewDesc("roster_pg_pool_acquired_conns", "Connections in use.", nil, nil)
	pgIdle     = prometheus.NewDesc("roster_pg_pool_idle_conns", "Idle connections.", nil, nil)
	pgTotal    = prometheus.NewDesc("roster_pg_pool_total_conns", "All connections of the pool.", nil, nil)
	pgMax      = prometheus.NewDesc("roster_pg_pool_max_conns", "The pool's size limit.", nil, nil)
	pgAcquires = prometheus.NewDesc("roster_pg_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	pgWaits    = prometheus.NewDesc("roster_pg_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	pgWaitTime = prometheus.NewDesc("roster_pg_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", nil, nil)
)

type pgPoolCollector struct{ s *postgres.Store }

func (c pgPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pgAcquired, pgIdle, pgTotal, pgMax, pgAcquires, pgWaits, pgWaitTime} {
		ch <- d
	}
}

func (c pgPoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(pgAcquired, prometheus.GaugeValue, float64(st.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(pgIdle, prometheus.GaugeValue, float64(st.IdleConns()))
	ch <- prometheus.MustNewConstMetric(pgTotal, prometheus.GaugeValue, float64(st.TotalConns()))
	ch <- prometheus.MustNewConstMetric(pgMax, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(pgAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(pgWaits, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(pgWaitTime, prometheus.CounterValue, st.AcquireDuration().Seconds())
}
