package replica

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the receiver's Prometheus series (namespace mtreplica, subsystem receiver):
//
//	mtreplica_receiver_events_total      events appended to the relay log (heartbeats excluded)
//	mtreplica_receiver_bytes_total       bytes of those events (headers and checksums included)
//	mtreplica_receiver_heartbeats_total  heartbeats received
//	mtreplica_receiver_reconnects_total  reconnect attempts
//	mtreplica_receiver_connected         1 while a binlog dump is streaming, else 0
type metrics struct {
	events     prometheus.Counter
	bytes      prometheus.Counter
	heartbeats prometheus.Counter
	reconnects prometheus.Counter
	connected  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "mtreplica", Subsystem: "receiver", Name: name, Help: help}
	}
	m := &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts(opts("events_total",
			"Binlog events received from the source and appended to the relay log (heartbeats excluded)."))),
		bytes: prometheus.NewCounter(prometheus.CounterOpts(opts("bytes_total",
			"Bytes of binlog events appended to the relay log."))),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts(opts("heartbeats_total",
			"Heartbeat events received from the source."))),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts(opts("reconnects_total",
			"Reconnect attempts to the source."))),
		connected: prometheus.NewGauge(prometheus.GaugeOpts(opts("connected",
			"1 while the receiver is streaming from the source, else 0."))),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.events, err = register(reg, m.events)
	if err == nil {
		m.bytes, err = register(reg, m.bytes)
	}
	if err == nil {
		m.heartbeats, err = register(reg, m.heartbeats)
	}
	if err == nil {
		m.reconnects, err = register(reg, m.reconnects)
	}
	if err == nil {
		m.connected, err = register(reg, m.connected)
	}
	return m, err
}

// register registers c, or returns the collector already registered under the
// same name (two Clients sharing a Registerer share the series).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
