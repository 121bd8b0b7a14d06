package relaylog

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the relay log's Prometheus collectors (namespace "mtreplica",
// subsystem "relay_log"). They exist (unregistered) when no Registerer is given.
type metrics struct {
	bytesWritten prometheus.Counter
	events       prometheus.Counter
	transactions prometheus.Counter
	heartbeats   prometheus.Counter
	discarded    prometheus.Counter
	segCreated   prometheus.Counter
	segPurged    prometheus.Counter
	fsyncs       prometheus.Counter
	fsyncSeconds prometheus.Histogram
	segments     prometheus.Gauge
	bytes        prometheus.Gauge
	cacheHit     prometheus.Counter
	cacheMiss    prometheus.Counter

	reg  prometheus.Registerer
	list []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "relay_log", Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "mtreplica", Subsystem: "relay_log", Name: name, Help: help})
	}
	m := &metrics{
		bytesWritten: counter("bytes_written_total", "Bytes of events appended to the relay log (segment headers included)."),
		events:       counter("events_total", "Events stored in the relay log."),
		transactions: counter("transactions_total", "Complete transactions stored in the relay log."),
		heartbeats:   counter("heartbeats_total", "Heartbeat events received (not stored)."),
		discarded:    counter("discarded_bytes_total", "Bytes of incomplete transactions discarded (DiscardPartial, abandoned transactions, torn tails at open)."),
		segCreated:   counter("segments_created_total", "Segment files created."),
		segPurged:    counter("segments_purged_total", "Segment files purged."),
		fsyncs:       counter("fsyncs_total", "fsync calls on segment files."),
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "mtreplica", Subsystem: "relay_log", Name: "fsync_seconds",
			Help:    "Latency of fsync calls on segment files.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		segments:  gauge("segments", "Segment files in the relay log."),
		bytes:     gauge("bytes", "Bytes on disk in the relay log's segments (published events)."),
		cacheHit:  counter("tail_cache_hit_bytes_total", "Bytes readers took from the in-memory tail cache (the newest published bytes)."),
		cacheMiss: counter("tail_cache_miss_bytes_total", "Bytes readers read from segment files because the tail cache did not hold them."),
		reg:       reg,
	}
	m.list = []prometheus.Collector{m.bytesWritten, m.events, m.transactions, m.heartbeats, m.discarded,
		m.segCreated, m.segPurged, m.fsyncs, m.fsyncSeconds, m.segments, m.bytes, m.cacheHit, m.cacheMiss}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.list {
		if err := reg.Register(c); err != nil {
			for _, d := range m.list[:i] {
				reg.Unregister(d)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register relay log metrics: %w (another Log is open on this Registerer: wrap it with prometheus.WrapRegistererWith)", err)
			}
			return nil, fmt.Errorf("register relay log metrics: %w", err)
		}
	}
	return m, nil
}

// unregister removes the collectors, so the same Registerer can serve a
// Log opened again later.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.list {
		m.reg.Unregister(c)
	}
	m.reg = nil
}
