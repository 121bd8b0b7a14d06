package coordinator

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	read, applied, skipped, dispatched, aborts, groupedTxns, streamed prometheus.Counter
	applySeconds, commitWaitSeconds                                   prometheus.Histogram
	lagSeconds                                                        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		read: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "transactions_read_total", Help: "Transactions assembled from the relay log."}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "transactions_applied_total", Help: "Transactions committed on the target."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "transactions_skipped_total", Help: "Transactions skipped because the target already holds them."}),
		dispatched: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "transactions_dispatched_total", Help: "Transactions handed to workers (retries included)."}),
		streamed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "streamed_transactions_total", Help: "Transactions too large to hold in memory, applied while read again from the relay log."}),
		groupedTxns: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "grouped_transactions_total", Help: "Transactions committed inside a group of several in one target transaction."}),
		aborts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "order_inversion_aborts_total", Help: "Transactions rolled back to break an order-inversion deadlock."}),
		commitWaitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "commit_wait_seconds", Help: "Time a worker waited for its commit turn.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "transaction_apply_seconds", Help: "Time to apply and commit one transaction or group.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		lagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "lag_seconds", Help: "Seconds between the source commit and the target commit of the last applied transaction."}),
	}
	if reg != nil {
		reg.MustRegister(m.read, m.applied, m.skipped, m.dispatched, m.aborts, m.groupedTxns, m.streamed, m.applySeconds, m.commitWaitSeconds, m.lagSeconds)
	}
	return m
}
