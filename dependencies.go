package mtreplica

import (
	"context"
	"fmt"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/coordinator/deptrack"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// dependencies computes each transaction's dependency for the coordinator:
// it turns a coordinator.Txn into a deptrack.Txn (logical clock values,
// schemas, writeset keys extracted from the row images with table definitions
// read from the target) and asks the tracker. Called from the coordinator's
// reader goroutine only.
type dependencies struct {
	ctx     context.Context
	target  applier.TargetOptions
	mode    deptrack.Mode
	tracker *deptrack.Tracker
	extract *deptrack.Extractor
	schemas *tableschema.Cache
	conn    *client.Conn
	keys    []deptrack.Key
	dbs     []string
	// pipeline: decide which transactions may be pipelined (unless Config.NoPipeline)
	// even when the mode needs no keys.
	pipeline bool
}

func newDependencies(ctx context.Context, mode deptrack.Mode, target applier.TargetOptions, schemas *tableschema.Cache) *dependencies {
	return &dependencies{ctx: ctx, target: target, mode: mode, tracker: deptrack.NewTracker(mode, 0),
		extract: deptrack.NewExtractor(), schemas: schemas}
}

func (d *dependencies) close() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// dep implements coordinator.Options.Dependency. Statements (DDL) are barriers
// the coordinator lets commit before it computes the next dependency, so the
// table definitions the writesets are computed with are current.
func (d *dependencies) dep(t *coordinator.Txn) (uint64, bool, error) {
	tx := deptrack.Txn{
		Seq: t.Seq, SourceFile: t.Info.SourceFile,
		LastCommitted: t.Info.LastCommitted, SequenceNumber: t.Info.SequenceNumber,
		CommitID: t.Info.CommitID, Barrier: t.Statement,
	}
	keyed := d.mode&(deptrack.WriteSet|deptrack.Database) != 0
	if !tx.Barrier && (keyed || (d.pipeline && t.RowsOnly)) {
		barrier, err := d.keysOf(t)
		if err != nil {
			return 0, false, err
		}
		if barrier || len(d.keys) == 0 {
			// Pipelining relies on each row being found through a unique key,
			// where InnoDB waits for an earlier transaction's lock; a table scan
			// (no key) reads past a locked row's new version (semi-consistent
			// reads under READ COMMITTED).
			t.RowsOnly = false
		}
		if keyed {
			tx.Barrier = barrier
			tx.Keys, tx.Schemas = d.keys, d.dbs
			if d.mode&deptrack.WriteSet != 0 && len(d.keys) == 0 {
				tx.Barrier = true // nothing to key on: order it with everything
			}
		}
	}
	return d.tracker.Add(&tx), t.Statement, nil
}

// keysOf fills d.keys and d.dbs; barrier reports a transaction that cannot be
// keyed soundly.
func (d *dependencies) keysOf(t *coordinator.Txn) (barrier bool, err error) {
	d.keys, d.dbs = d.keys[:0], d.dbs[:0]
	if err := t.DecodeRows(); err != nil {
		return false, err
	}
	for _, ev := range t.Events {
		switch e := ev.Event.(type) {
		case *replication.RowsEvent:
			if e.Table == nil {
				return true, nil
			}
			tbl, err := d.table(string(e.Table.Schema), string(e.Table.Table))
			if err != nil {
				return true, nil // unknown to the target: let the worker report it, in order
			}
			keys, b, err := d.extract.Add(d.keys, ev.Header.EventType, e, tbl)
			if err != nil || b {
				return true, nil
			}
			d.keys = keys
			d.dbs = deptrack.TableSchemas(d.dbs, tbl)
		case *replication.QueryEvent:
			if !coordinator.BeginOrCommit(e.Query) {
				// Statement DML: bounded by its tables when the parser can name them all, else a barrier.
				tables, ok := deptrack.StatementTables(string(e.Query), string(e.Schema))
				if !ok {
					return true, nil
				}
				for _, tr := range tables {
					tbl, err := d.table(tr.Schema, tr.Name)
					if err != nil {
						return true, nil // a temporary table, a CTE, or unknown to the target
					}
					keys, b := d.extract.TableKeys(d.keys, tbl)
					if b {
						return true, nil
					}
					d.keys = keys
					d.dbs = deptrack.TableSchemas(d.dbs, tbl)
				}
			}
		case *replication.GenericEvent:
			if ev.Header.EventType != replication.USER_VAR_EVENT && ev.Header.EventType != replication.RAND_EVENT {
				return true, nil
			}
		case *replication.TableMapEvent, *replication.XIDEvent, *replication.GTIDEvent, *replication.GtidTaggedLogEvent,
			*replication.MariadbGTIDEvent, *replication.MariadbAnnotateRowsEvent, *replication.RowsQueryEvent, *replication.IntVarEvent:
		default:
			return true, nil
		}
	}
	return false, nil
}

func (d *dependencies) table(schema, name string) (*tableschema.Table, error) {
	if d.conn == nil {
		c, err := applier.Dial(d.ctx, d.target)
		if err != nil {
			return nil, fmt.Errorf("dependency tracking: %w", err)
		}
		d.conn = c
	}
	tbl, err := d.schemas.Get(d.conn, schema, name)
	if err != nil {
		d.close() // reconnect next time, in case the connection broke
	}
	return tbl, err
}
