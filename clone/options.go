package clone

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/filter"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Options configure a clone.
type Options struct {
	// Source: host, port, user, password, TLS and flavor. The user needs SELECT on the cloned schemas, RELOAD
	// when the snapshot lock is taken, and REPLICATION SLAVE/CLIENT for a resumed clone's catch-up.
	Source mtreplica.SourceConfig
	// Target: the user needs to create the schemas and tables and the progress schema.
	Target applier.TargetOptions
	// Schemas to clone; empty: every schema except the system ones (mysql, sys, information_schema,
	// performance_schema) and the progress schema.
	Schemas []string
	// Filter: the replication filters (replicate-do-db, ...); only the tables they keep are cloned, and the
	// catch-up replays with them. replicate-rewrite-db is not supported by the clone.
	Filter filter.Rules
	// Channel and ProgressSchema as in mtreplica.Config (defaults "" and "mtreplica").
	Channel        string
	ProgressSchema string
	// Workers copying chunks in parallel, each with a source and a target connection (default 4).
	Workers int
	// ChunkRows bounds the rows of one chunk, the unit of checkpointing (default 10000).
	ChunkRows int
	// InsertBytes bounds one multi-row INSERT (default 1 MiB; keep it below the target's max_allowed_packet).
	InsertBytes int
	// IndexesDuringLoad creates tables with their secondary indexes. By default they are left out and added
	// after a table's rows are loaded, which was measured faster (docs/benchmarks.md).
	IndexesDuringLoad bool
	// SnapshotLock always takes FLUSH TABLES WITH READ LOCK while the workers' snapshots start (MariaDB: by
	// default only when equal binlog positions cannot be had without it; MySQL: always).
	SnapshotLock bool
	// MaxRowsPerSecond throttles the copy (all workers together) to spare the source; 0: no limit.
	MaxRowsPerSecond int
	// ProgressInterval: how often progress is logged (default 10s); OnProgress, if set, also receives it.
	ProgressInterval time.Duration
	OnProgress       func(Report)
	// Restart drops what an unfinished earlier clone on this target created and starts over.
	Restart bool
	// CatchUp configures the replica that replays the binlog from the first to the last snapshot when a clone
	// was resumed (RelayDir: a temporary directory when empty; Workers etc.). Source, Target, Channel and
	// ProgressSchema are taken from these Options.
	CatchUp mtreplica.Config
	// Logger (nil discards).
	Logger *slog.Logger
}

// systemSchemas are never cloned.
var systemSchemas = []string{"mysql", "sys", "information_schema", "performance_schema"}

func (o *Options) setDefaults() {
	if o.Source.Flavor == 0 {
		o.Source.Flavor = gtid.MariaDB
	}
	if o.Source.Port == 0 {
		o.Source.Port = 3306
	}
	if o.ProgressSchema == "" {
		o.ProgressSchema = "mtreplica"
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.ChunkRows == 0 {
		o.ChunkRows = 10000
	}
	if o.InsertBytes == 0 {
		o.InsertBytes = 1 << 20
	}
	if o.ProgressInterval == 0 {
		o.ProgressInterval = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	var errs []error
	if o.Source.Host == "" {
		errs = append(errs, errors.New("source host is empty: set --source"))
	}
	if o.Target.Addr == "" {
		errs = append(errs, errors.New("target address is empty: set --target"))
	}
	if o.Workers < 1 || o.Workers > 256 {
		errs = append(errs, fmt.Errorf("workers = %d: use 1 to 256", o.Workers))
	}
	if o.ChunkRows < 1 {
		errs = append(errs, fmt.Errorf("chunk rows = %d: must be positive", o.ChunkRows))
	}
	if o.InsertBytes < 1024 {
		errs = append(errs, fmt.Errorf("insert bytes = %d: use at least 1024", o.InsertBytes))
	}
	for _, s := range o.Schemas {
		if isSystemSchema(s, o.ProgressSchema) {
			errs = append(errs, fmt.Errorf("schema %q is a system schema: it is never cloned", s))
		}
	}
	if len(o.Filter.RewriteDB) > 0 {
		errs = append(errs, errors.New("replicate_rewrite_db is not supported by clone: clone the source schemas under their own names"))
	}
	return errors.Join(errs...)
}

func isSystemSchema(s, progressSchema string) bool {
	for _, x := range systemSchemas {
		if strings.EqualFold(s, x) {
			return true
		}
	}
	return strings.EqualFold(s, progressSchema)
}
