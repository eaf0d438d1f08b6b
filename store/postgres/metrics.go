package postgres

import "github.com/prometheus/client_golang/prometheus"

// Collectors implements store.Instrumented: the connection pool's statistics.
func (s *Store) Collectors() []prometheus.Collector { return []prometheus.Collector{poolCollector{s}} }

var (
	poolAcquired = prometheus.NewDesc("roster_pg_pool_acquired_conns", "Connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("roster_pg_pool_idle_conns", "Idle connections.", nil, nil)
	poolTotal    = prometheus.NewDesc("roster_pg_pool_total_conns", "All connections of the pool.", nil, nil)
	poolMax      = prometheus.NewDesc("roster_pg_pool_max_conns", "The pool's size limit.", nil, nil)
	poolAcquires = prometheus.NewDesc("roster_pg_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaits    = prometheus.NewDesc("roster_pg_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitTime = prometheus.NewDesc("roster_pg_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", nil, nil)
)

// poolCollector reads pgxpool's statistics at each scrape.
type poolCollector struct{ s *Store }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWaits, poolWaitTime} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(st.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(st.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, st.AcquireDuration().Seconds())
}
