package mtreplica

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/prometheus/client_golang/prometheus"
)

// engineMetrics are the series the root package adds to those of the relay
// log (mtreplica_relay_log_*), the receiver (mtreplica_receiver_*) and the
// coordinator (mtreplica_applier_*). Counters live as long as the Replica;
// the gauges are read from Status at each scrape.
//
//	mtreplica_seconds_behind_source            Seconds_Behind_Source (absent when NULL)
//	mtreplica_source_clock_skew_seconds        the source's clock minus ours, measured at connect
//	mtreplica_receiver_lag_bytes               source binlog bytes not yet received
//	mtreplica_thread_running{thread}           1 while the receiver / applier runs
//	mtreplica_sql_delay_seconds                SOURCE_DELAY
//	mtreplica_sql_remaining_delay_seconds      how long the held transaction still waits
//	mtreplica_applier_events_total             events of the transactions applied
//	mtreplica_applier_operator_skips_total     transactions skipped with Skip
//	mtreplica_errors_total{thread,code}        errors that stopped a thread, and receiver connection errors, by MySQL error code
//	mtreplica_applier_worker_seconds_total{worker,state}   time per worker applying, waiting for its commit turn, idle
//	mtreplica_applier_worker_applying{worker}  1 while the worker applies a transaction
//	mtreplica_applier_worker_transactions_total{worker}
//	mtreplica_applier_worker_retries_total{worker}
type engineMetrics struct {
	eventsApplied prometheus.Counter
	operatorSkips prometheus.Counter
	errors        *prometheus.CounterVec

	mu        sync.Mutex
	reg       prometheus.Registerer
	collector *statusCollector
}

func newEngineMetrics() *engineMetrics {
	return &engineMetrics{
		eventsApplied: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "events_total", Help: "Events of the transactions committed on the target."}),
		operatorSkips: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "applier",
			Name: "operator_skips_total", Help: "Transactions recorded as applied without applying them (Skip)."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mtreplica",
			Name: "errors_total", Help: "Errors that stopped the receiver or the applier, and receiver connection errors, by MySQL error code (0: not a server error)."},
			[]string{"thread", "code"}),
	}
}

// register registers the series on reg (nil: nothing) for one Run.
func (m *engineMetrics) register(reg prometheus.Registerer, r *Replica) error {
	if reg == nil {
		return nil
	}
	c := &statusCollector{r: r}
	cs := []prometheus.Collector{m.eventsApplied, m.operatorSkips, m.errors, c}
	for i, col := range cs {
		if err := reg.Register(col); err != nil {
			for _, d := range cs[:i] {
				reg.Unregister(d)
			}
			return fmt.Errorf("register metrics: %w (two Replicas on one Registerer: wrap it with prometheus.WrapRegistererWith)", err)
		}
	}
	m.mu.Lock()
	m.reg, m.collector = reg, c
	m.mu.Unlock()
	return nil
}

func (m *engineMetrics) unregister() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reg == nil {
		return
	}
	for _, c := range []prometheus.Collector{m.eventsApplied, m.operatorSkips, m.errors, m.collector} {
		m.reg.Unregister(c)
	}
	m.reg = nil
}

var (
	descBehind       = desc("seconds_behind_source", "Seconds_Behind_Source: how far the applier is behind the source, corrected for clock skew; absent when NULL.")
	descSkew         = desc("source_clock_skew_seconds", "The source's clock minus ours, measured with SELECT UNIX_TIMESTAMP(NOW(6)) at connect.")
	descLagBytes     = desc("receiver_lag_bytes", "Bytes of the source's binary logs not yet received (from SHOW BINARY LOGS).")
	descRunning      = desc("thread_running", "1 while the receiver (IO thread) or the applier (SQL thread) runs.", "thread")
	descDelay        = desc("sql_delay_seconds", "SOURCE_DELAY: transactions are applied no earlier than their source commit plus this.")
	descRemaining    = desc("sql_remaining_delay_seconds", "Seconds the applier still holds the next transaction for SOURCE_DELAY.")
	descWorkerTime   = desc("applier_worker_seconds_total", "Time each worker spent per state: applying, commit_wait (its body done, waiting for its commit turn), dependency_wait (idle while the next transaction read waits for a dependency to commit), idle (nothing to apply).", "worker", "state")
	descWorkerBusy   = desc("applier_worker_applying", "1 while the worker applies a transaction.", "worker")
	descWorkerTxns   = desc("applier_worker_transactions_total", "Transactions committed by the worker.", "worker")
	descWorkerRetry  = desc("applier_worker_retries_total", "Transaction retries by the worker (deadlocks, lock wait timeouts, aborts).", "worker")
	statusCollectorD = []*prometheus.Desc{descBehind, descSkew, descLagBytes, descRunning, descDelay, descRemaining,
		descWorkerTime, descWorkerBusy, descWorkerTxns, descWorkerRetry}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("mtreplica_"+name, help, labels, nil)
}

// statusCollector turns a Status snapshot into gauges and per-worker counters
// at each scrape (the coordinator keeps the per-worker figures).
type statusCollector struct{ r *Replica }

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statusCollectorD {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if s.SecondsBehindSource != nil {
		gauge(descBehind, float64(*s.SecondsBehindSource))
	}
	if s.SourceClockSkew != nil {
		gauge(descSkew, *s.SourceClockSkew)
	}
	if s.ReceiverLagBytes != nil {
		gauge(descLagBytes, float64(*s.ReceiverLagBytes))
	}
	gauge(descRunning, yes(s.ReplicaIORunning), "receiver")
	gauge(descRunning, yes(s.ReplicaSQLRunning), "applier")
	gauge(descDelay, float64(s.SQLDelay))
	remaining := 0.0
	if s.SQLRemainingDelay != nil {
		remaining = float64(*s.SQLRemainingDelay)
	}
	gauge(descRemaining, remaining)
	for _, w := range s.Workers {
		id := strconv.Itoa(w.WorkerID)
		counter(descWorkerTime, w.BusyTime.Seconds(), id, "applying")
		counter(descWorkerTime, w.CommitWaitTime.Seconds(), id, "commit_wait")
		counter(descWorkerTime, w.IdleTime.Seconds(), id, "idle")
		counter(descWorkerTime, w.DependencyWaitTime.Seconds(), id, "dependency_wait")
		busy := 0.0
		if w.ApplyingTransaction != "" {
			busy = 1
		}
		gauge(descWorkerBusy, busy, id)
		counter(descWorkerTxns, float64(w.TransactionsApplied), id)
		counter(descWorkerRetry, float64(w.Retries), id)
	}
}

func yes(s string) float64 {
	if s == "Yes" {
		return 1
	}
	return 0
}

// errorCode returns the MySQL error number carried by err, or 0.
func errorCode(err error) int {
	var my *mysql.MyError
	if errors.As(err, &my) {
		return int(my.Code)
	}
	return 0
}

// scopedRegisterer registers on reg and remembers what, so that a component
// that lives shorter than the Replica (the coordinator, made again at each
// applier start) can be unregistered when it ends.
type scopedRegisterer struct {
	reg prometheus.Registerer
	mu  sync.Mutex
	cs  []prometheus.Collector
}

var _ prometheus.Registerer = (*scopedRegisterer)(nil)

func (s *scopedRegisterer) Register(c prometheus.Collector) error {
	if err := s.reg.Register(c); err != nil {
		return err
	}
	s.mu.Lock()
	s.cs = append(s.cs, c)
	s.mu.Unlock()
	return nil
}

func (s *scopedRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := s.Register(c); err != nil {
			panic(err)
		}
	}
}

func (s *scopedRegisterer) Unregister(c prometheus.Collector) bool { return s.reg.Unregister(c) }

func (s *scopedRegisterer) unregisterAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.cs {
		s.reg.Unregister(c)
	}
	s.cs = nil
}

// orNil returns s as a Registerer, or a nil interface when s is nil.
func (s *scopedRegisterer) orNil() prometheus.Registerer {
	if s == nil {
		return nil
	}
	return s
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
