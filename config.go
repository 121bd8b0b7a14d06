package mtreplica

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/coordinator/deptrack"
	"github.com/mtreplica/mtreplica/filter"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/relaylog"
)

// SourceConfig says how to reach the source (CHANGE REPLICATION SOURCE TO).
type SourceConfig struct {
	Flavor          gtid.Flavor   // default MariaDB
	Host            string        // SOURCE_HOST
	Port            uint16        // SOURCE_PORT, default 3306
	User            string        // SOURCE_USER: needs REPLICATION SLAVE and REPLICATION CLIENT
	Password        string        // SOURCE_PASSWORD (never logged or shown)
	TLS             *tls.Config   // SOURCE_SSL: when set, required
	ServerID        uint32        // our server_id on the source; 0 = random
	HeartbeatPeriod time.Duration // SOURCE_HEARTBEAT_PERIOD, default 5s
	ConnectRetry    time.Duration // SOURCE_CONNECT_RETRY: first reconnect delay, doubled with jitter up to 60s
	// RetryCount bounds consecutive failed connection attempts
	// (SOURCE_RETRY_COUNT); 0 = retry forever.
	RetryCount int
	// NetTimeout ends a connection that received nothing, not even a
	// heartbeat, for this long (replica_net_timeout): a silent network drop is
	// noticed. Default twice HeartbeatPeriod.
	NetTimeout time.Duration
	// AllowStatementFormat accepts STATEMENT/MIXED sources (statement events are applied as they come).
	AllowStatementFormat bool
}

// Config configures a Replica.
type Config struct {
	Source SourceConfig
	Target applier.TargetOptions
	// RelayDir holds the relay log.
	RelayDir string
	// RelaySegmentSize: rotate relay log segments past this size (default 256 MiB).
	RelaySegmentSize int64
	// RelaySync: the relay log's fsync policy (default: group fsync every 50 ms).
	RelaySync relaylog.SyncPolicy
	// Channel names this replication stream in the progress table ("" default).
	Channel string
	// ProgressSchema holds the progress tables on the target (default "mtreplica").
	ProgressSchema string
	// StartGTID (a GTID set) or StartFile/StartPos: where to start when the
	// target has no progress for this channel yet. Everything before it is taken
	// as already present on the target. Empty: from the source's first binlog.
	StartGTID string
	StartFile string
	StartPos  uint32
	// Workers applying transactions in parallel, each with its own target
	// connection (replica_parallel_workers). Default 1.
	Workers int
	// DependencyTracking says how the coordinator finds transactions that may
	// run in parallel: "commit-order", "logical-clock" (the source's
	// last_committed/sequence_number or MariaDB commit_id groups), "writeset"
	// (computed here from row keys), "database", or a combination joined by "+"
	// (a transaction runs as early as any of them allows). Default
	// "logical-clock+writeset".
	DependencyTracking string
	// UnorderedCommits lets workers commit as soon as they are done
	// (replica_preserve_commit_order=OFF). By default commits follow source order.
	UnorderedCommits bool
	// QueueBytes bounds the raw bytes of transactions read but not yet applied (default 16 MiB; decoded, they take several times that in memory).
	QueueBytes int64
	// GroupTransactions bounds how many consecutive transactions a worker may
	// apply as one target transaction (one COMMIT; the target's visible state
	// stays a prefix of the source's history). Only transactions already read
	// are grouped, so an idle source adds no latency. Default 256; 1 disables.
	GroupTransactions int
	// RowApply is how row events are applied on the target: "sql" (default:
	// statements generated from the row images, columns matched by name) or
	// "binlog" (the events themselves in BINLOG statements, applied by the
	// target like its own replica would; see applier.RowApplyBinlog).
	RowApply string
	// NoPipeline turns pipelining off. With several workers, a worker may
	// start a transaction that changes only rows once every transaction
	// before it has applied its changes and waits only for its commit,
	// instead of once its dependencies have committed: anything it conflicts
	// with is locked on the target until committed, so the target orders
	// them. A group's execution then overlaps the commits before it. (With
	// one worker there is nothing to overlap: it is off.)
	NoPipeline bool
	// NoReceiver runs only the applier, on what the relay log holds (START
	// REPLICA SQL_THREAD); NoApplier runs only the receiver (START REPLICA IO_THREAD).
	NoReceiver bool
	NoApplier  bool
	// SourceDelay holds each transaction until its source commit time plus
	// this delay before applying it (SOURCE_DELAY); Replica.SetDelay changes it.
	SourceDelay time.Duration
	// Until, when set, stops the applier before the first transaction past it
	// (START REPLICA UNTIL); Replica.StartApplier sets it again.
	Until Until
	// KeepRunningOnError: a receiver or applier that stops with an error leaves
	// Run running, the error in Last_IO_Error/Last_SQL_Error, so it can be
	// started again (StartReceiver, StartApplier) after a fix or a Skip, as a
	// MySQL server keeps running with a stopped replica thread. By default the
	// first such error ends Run.
	KeepRunningOnError bool
	// Idempotent ignores missing rows and duplicate keys instead of stopping.
	Idempotent bool
	// Filter holds the replication filters (replicate-do-db, ...). The zero
	// value replicates every schema except `mysql` and account statements.
	Filter filter.Rules
	// SkipErrors lists target error codes after which a transaction is
	// skipped (recorded as applied without its changes) instead of stopping
	// replication (replica_skip_errors), e.g. 1062, 1032. Counted per code.
	SkipErrors []uint16

	filter *filter.Filter      // built from Filter by New
	skip   *applier.SkipErrors // built from SkipErrors by New
	// Logger (nil discards) and Registerer (nil: no metrics registered).
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.Source.Flavor == 0 {
		c.Source.Flavor = gtid.MariaDB
	}
	if c.Source.Port == 0 {
		c.Source.Port = 3306
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.DependencyTracking == "" {
		c.DependencyTracking = "logical-clock+writeset"
	}
	if c.ProgressSchema == "" {
		c.ProgressSchema = "mtreplica"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Source.Host == "" {
		errs = append(errs, errors.New("source host is empty: set source_host (--source-host or MTREPLICA_SOURCE_HOST)"))
	}
	if c.Target.Addr == "" {
		errs = append(errs, errors.New("target address is empty: set target_host (--target-host or MTREPLICA_TARGET_HOST)"))
	}
	if c.RelayDir == "" {
		errs = append(errs, errors.New("relay log directory is empty: set relay_log_dir (--relay-dir or MTREPLICA_RELAY_LOG_DIR)"))
	}
	if c.Workers < 1 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers = %d: use 1 to 1024", c.Workers))
	}
	if _, err := deptrack.ParseMode(c.DependencyTracking); err != nil {
		errs = append(errs, fmt.Errorf("dependency tracking: %w", err))
	}
	if c.NoReceiver && c.NoApplier {
		errs = append(errs, errors.New("both the receiver and the applier are disabled: nothing to run"))
	}
	if c.StartGTID != "" && c.StartFile != "" {
		errs = append(errs, errors.New("give either a start GTID set or a start file/position, not both"))
	}
	if c.StartGTID != "" {
		if _, err := gtid.ParseSet(c.Source.Flavor, c.StartGTID); err != nil {
			errs = append(errs, fmt.Errorf("start GTID set: %w", err))
		}
	}
	errs = append(errs, c.checkOperations()...)
	if len(errs) == 0 {
		if err := c.build(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RowApply != "" && c.RowApply != applier.RowApplySQL && c.RowApply != applier.RowApplyBinlog {
		errs = append(errs, fmt.Errorf("row apply %q: use %q or %q", c.RowApply, applier.RowApplySQL, applier.RowApplyBinlog))
	}
	if c.GroupTransactions < 0 {
		errs = append(errs, fmt.Errorf("group transactions = %d: use 1 (no groups) or more", c.GroupTransactions))
	}
	return errors.Join(errs...)
}
