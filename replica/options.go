package replica

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Defaults applied by New.
const (
	DefaultPort            = 3306
	DefaultHeartbeatPeriod = 5 * time.Second
	DefaultConnectRetry    = time.Second
	DefaultMaxConnectRetry = 60 * time.Second
	// readTimeoutFactor: ReadTimeout defaults to this many heartbeat periods.
	// 2, as MySQL's own defaults (replica_net_timeout 60s, heartbeat 30s): a
	// silent drop is noticed within twice the heartbeat period.
	readTimeoutFactor = 2
	// maxHeartbeatPeriod is the server's limit for SOURCE_HEARTBEAT_PERIOD (4294967 seconds).
	maxHeartbeatPeriod = 4294967 * time.Second
	// randomServerIDMin is the lowest server id New picks when Options.ServerID is 0:
	// high enough to stay clear of the small ids people give their servers.
	randomServerIDMin = 1 << 31
)

// Options configures a Client. Zero values take the defaults listed on each field.
type Options struct {
	Flavor   gtid.Flavor // gtid.MariaDB or gtid.MySQL; must match the source
	Host     string      // source host (a name or an IP address)
	Port     uint16      // default 3306
	User     string      // a user with REPLICATION SLAVE and REPLICATION CLIENT (MariaDB: BINLOG MONITOR)
	Password string      // never logged

	// ServerID is our server_id as a replica. It must differ from the source's and
	// from every other replica of the same source (the source drops a replica whose
	// id another one registers). 0 picks a random id in [2^31, 2^32-1).
	ServerID uint32

	// TLS, when set, makes TLS required: a source that does not offer it is an
	// error, never a plaintext fallback. ServerName defaults to Host.
	TLS *tls.Config

	// HeartbeatPeriod is SOURCE_HEARTBEAT_PERIOD: the source sends a heartbeat
	// after this long without events. Default 5s.
	HeartbeatPeriod time.Duration
	// ReadTimeout ends a connection that received nothing, not even a heartbeat,
	// for this long: a silent network partition is noticed. Default 2x HeartbeatPeriod;
	// it must be longer than HeartbeatPeriod.
	ReadTimeout time.Duration
	// ConnectRetry is the first delay before reconnecting (SOURCE_CONNECT_RETRY),
	// default 1s. Consecutive failures double it, with jitter, up to MaxConnectRetry
	// (default 60s).
	ConnectRetry    time.Duration
	MaxConnectRetry time.Duration
	// MaxReconnects bounds consecutive failed connection attempts (SOURCE_RETRY_COUNT);
	// a connection that delivers a transaction's event or a heartbeat resets the
	// count. 0 = retry forever.
	MaxReconnects int

	// AllowStatementFormat accepts a source with binlog_format STATEMENT or MIXED.
	// By default ROW is required.
	AllowStatementFormat bool
	// RetentionWarning: the preflight warns when the source purges binlogs sooner
	// than this (binlog_expire_logs_seconds / expire_logs_days). Default 24h.
	RetentionWarning time.Duration

	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = metrics are kept but not registered
}

// String describes the options without the password (fmt's %v and %+v use it).
func (o Options) String() string {
	pw := "(none)"
	if o.Password != "" {
		pw = "(redacted)"
	}
	return fmt.Sprintf("{Flavor:%v Source:%s User:%s Password:%s ServerID:%d TLS:%v HeartbeatPeriod:%v ReadTimeout:%v "+
		"ConnectRetry:%v MaxConnectRetry:%v MaxReconnects:%d}", o.Flavor, net.JoinHostPort(o.Host, strconv.Itoa(int(o.Port))),
		o.User, pw, o.ServerID, o.TLS != nil, o.HeartbeatPeriod, o.ReadTimeout, o.ConnectRetry, o.MaxConnectRetry, o.MaxReconnects)
}

// GoString is String, so %#v does not show the password either.
func (o Options) GoString() string { return o.String() }

// LogValue keeps the password out of logs when Options is logged.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("flavor", o.Flavor.String()),
		slog.String("source", net.JoinHostPort(o.Host, strconv.Itoa(int(o.Port)))),
		slog.String("user", o.User),
		slog.Uint64("server_id", uint64(o.ServerID)),
		slog.Bool("tls", o.TLS != nil),
		slog.Duration("heartbeat_period", o.HeartbeatPeriod),
		slog.Duration("read_timeout", o.ReadTimeout),
	)
}

// withDefaults fills zero fields. r picks the random server id.
func (o Options) withDefaults(r *rand.Rand) Options {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.ServerID == 0 {
		o.ServerID = randomServerIDMin + uint32(r.Int64N(1<<31-1))
	}
	if o.HeartbeatPeriod == 0 {
		o.HeartbeatPeriod = DefaultHeartbeatPeriod
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = readTimeoutFactor * o.HeartbeatPeriod
	}
	if o.ConnectRetry == 0 {
		o.ConnectRetry = DefaultConnectRetry
	}
	if o.MaxConnectRetry == 0 {
		o.MaxConnectRetry = max(DefaultMaxConnectRetry, o.ConnectRetry)
	}
	if o.RetentionWarning == 0 {
		o.RetentionWarning = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TLS != nil && o.TLS.ServerName == "" && !o.TLS.InsecureSkipVerify {
		o.TLS = o.TLS.Clone()
		o.TLS.ServerName = o.Host
	}
	return o
}

// validate checks options after withDefaults.
func (o Options) validate() error {
	var errs []error
	if o.Flavor != gtid.MariaDB && o.Flavor != gtid.MySQL {
		errs = append(errs, fmt.Errorf("flavor %d: set Flavor to gtid.MariaDB or gtid.MySQL", o.Flavor))
	}
	if o.Host == "" {
		errs = append(errs, errors.New("host is empty: set the source's address"))
	}
	if o.User == "" {
		errs = append(errs, errors.New("user is empty: set a user with REPLICATION SLAVE and REPLICATION CLIENT"))
	}
	if o.HeartbeatPeriod < time.Millisecond || o.HeartbeatPeriod > maxHeartbeatPeriod {
		errs = append(errs, fmt.Errorf("heartbeat period %v: want 1ms to %v", o.HeartbeatPeriod, maxHeartbeatPeriod))
	}
	if o.ReadTimeout <= o.HeartbeatPeriod {
		errs = append(errs, fmt.Errorf("read timeout %v must be longer than the heartbeat period %v (use 2-3x)",
			o.ReadTimeout, o.HeartbeatPeriod))
	}
	if o.ConnectRetry < 0 || o.MaxConnectRetry < o.ConnectRetry {
		errs = append(errs, fmt.Errorf("connect retry %v, max %v: want 0 < retry <= max", o.ConnectRetry, o.MaxConnectRetry))
	}
	if o.MaxReconnects < 0 {
		errs = append(errs, fmt.Errorf("max reconnects %d: want >= 0 (0 = forever)", o.MaxReconnects))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replica options: %w", err)
	}
	return nil
}

// StartPosition says where the source starts sending.
//
// GTIDs non-nil selects GTID mode: for MariaDB it is the replica's GTID position
// (the last GTID of each domain, with its server id, sent as @slave_connect_state;
// holes cannot be expressed and are ignored), for MySQL the executed set (the
// source sends every transaction not in it). An empty set starts from the
// beginning of the source's binlog history.
//
// GTIDs nil selects file/position: File and Pos name the source binlog file and
// the offset of the first event to send (Pos below 4 means 4). File "" starts from
// the first binlog file the source still has.
type StartPosition struct {
	GTIDs *gtid.Set
	File  string
	Pos   uint32
}

func (p StartPosition) String() string {
	if p.GTIDs != nil {
		if p.GTIDs.Flavor == gtid.MariaDB {
			return "gtid " + p.GTIDs.String()
		}
		return "gtid " + p.GTIDs.IntervalString()
	}
	if p.File == "" {
		return "first binlog file"
	}
	return fmt.Sprintf("%s:%d", p.File, max(p.Pos, 4))
}

// backoff returns the delay before reconnect attempt n (1-based): base doubled
// per attempt, capped at ceil, then scaled by a jitter factor in [0.8, 1.2)
// taken from u in [0, 1). The result never exceeds ceil.
func backoff(base, ceil time.Duration, n int, u float64) time.Duration {
	d := base
	for i := 1; i < n && d < ceil; i++ {
		d *= 2
	}
	d = min(d, ceil)
	d = time.Duration(float64(d) * (0.8 + 0.4*u))
	return min(d, ceil)
}
