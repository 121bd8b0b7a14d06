package mtreplica

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/filter"
)

// checkOperations validates the options of configuration, security and
// resilience (filters, skip errors, TLS, timeouts). Every problem is
// returned, each saying what to change.
func (c *Config) checkOperations() []error {
	var errs []error
	s := c.Source
	if s.RetryCount < 0 {
		errs = append(errs, fmt.Errorf("source_retry_count = %d: use 0 (retry forever) or more", s.RetryCount))
	}
	if s.ConnectRetry < 0 {
		errs = append(errs, fmt.Errorf("source_connect_retry = %v: use a positive delay, e.g. 1s", s.ConnectRetry))
	}
	hb := s.HeartbeatPeriod
	if hb == 0 {
		hb = 5 * time.Second
	}
	if hb < time.Millisecond {
		errs = append(errs, fmt.Errorf("source_heartbeat_period = %v: use at least 1ms (e.g. 5s)", s.HeartbeatPeriod))
	}
	if s.NetTimeout != 0 && s.NetTimeout <= hb {
		errs = append(errs, fmt.Errorf("replica_net_timeout = %v must be longer than source_heartbeat_period = %v: use twice the heartbeat period",
			s.NetTimeout, hb))
	}
	if s.TLS != nil && s.TLS.InsecureSkipVerify && s.TLS.VerifyPeerCertificate == nil && s.TLS.RootCAs != nil {
		errs = append(errs, fmt.Errorf("source TLS: a CA is given but verification is off: drop InsecureSkipVerify"))
	}
	for _, code := range c.SkipErrors {
		if code == 0 {
			errs = append(errs, fmt.Errorf("replica_skip_errors: 0 is not an error code: list server error codes such as 1062,1032"))
		}
	}
	if _, err := filter.New(c.Filter, nil); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// build creates the filter and the skip-error policy (registering their
// metrics) once the configuration is valid.
func (c *Config) build() error {
	f, err := filter.New(c.Filter, c.Registerer)
	if err != nil {
		return err
	}
	skip, err := applier.NewSkipErrors(c.SkipErrors, c.Logger.With("component", "applier"), c.Registerer)
	if err != nil {
		return err
	}
	c.filter, c.skip = f, skip
	// Every connection to the source (receiver, preflight, clock and lag
	// monitor) verifies the same name: the host, unless one was given.
	c.Source.TLS = withServerName(c.Source.TLS, c.Source.Host)
	return nil
}

// withServerName returns t with ServerName set to host when the certificate
// is verified and no name was given (a copy: the caller's config is not changed).
func withServerName(t *tls.Config, host string) *tls.Config {
	if t == nil || t.ServerName != "" || t.InsecureSkipVerify {
		return t
	}
	t = t.Clone()
	t.ServerName = host
	return t
}

// String describes the configuration without secrets: passwords print as
// "(redacted)", TLS as on or off.
func (c Config) String() string {
	return fmt.Sprintf("source %s, %s, relay log %s, channel %q, workers %d",
		c.Source, c.Target, c.RelayDir, c.Channel, c.Workers)
}

// GoString is String, so %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// LogValue keeps passwords out of logs when a Config is logged.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("source", c.Source), slog.Any("target", c.Target),
		slog.String("relay_dir", c.RelayDir), slog.String("channel", c.Channel), slog.Int("workers", c.Workers))
}

// String describes the source without its password.
func (s SourceConfig) String() string {
	return fmt.Sprintf("%s as %s (password %s, tls %v)", net.JoinHostPort(s.Host, strconv.Itoa(int(s.Port))), s.User,
		redact(s.Password), tlsMode(s.TLS))
}

// GoString is String.
func (s SourceConfig) GoString() string { return s.String() }

// LogValue keeps the password out of logs.
func (s SourceConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", s.Host), slog.Int("port", int(s.Port)), slog.String("user", s.User),
		slog.String("password", redact(s.Password)), slog.String("tls", tlsMode(s.TLS)))
}

func redact(pw string) string {
	if pw == "" {
		return "(none)"
	}
	return "(redacted)"
}

func tlsMode(c *tls.Config) string {
	switch {
	case c == nil:
		return "off"
	case c.InsecureSkipVerify && c.VerifyPeerCertificate == nil:
		return "required, not verified"
	case c.InsecureSkipVerify:
		return "required, CA verified"
	default:
		return "required, CA and host verified"
	}
}

// ensure the applier's options keep redacting too
var _ fmt.Stringer = applier.TargetOptions{}

// txnFilter returns the coordinator's filter hook (nil when New did not build one).
func (c *Config) txnFilter() func(*coordinator.Txn) {
	if c.filter == nil {
		return nil
	}
	f := c.filter
	return func(t *coordinator.Txn) { f.Apply(t) }
}
