package applier

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/coordinator"
)

func (w *Worker) useSession(e *replication.QueryEvent) {
	if len(e.Schema) > 0 {
		w.add("USE "+quoteIdent(string(e.Schema)), "control")
	}
	if s, err := ParseStatusVars(e.StatusVars); err == nil || s.HaveSQLMode {
		w.add(s.sessionSQL(), "control")
	}
}

// applyStatement applies a transaction that is one implicitly committing
// statement (DDL): see "Statements that commit implicitly" in the package doc.
func (w *Worker) applyStatement(t *coordinator.Txn) error {
	stream, seq := t.ProgressKey()
	key := PendingKey(stream, seq)
	p := w.opts.Progress
	pending := w.opts.Pending.Has(key)
	if !pending {
		var b strings.Builder
		p.appendRecord(&b, stream, seq, t.Info.GTID.ServerID, t.Info.SourceFile, t.Info.EndPos, "ddl-pending")
		if _, err := w.conn.Execute(b.String()); err != nil {
			return w.statementError(t, expectation{kind: "progress", sql: "record pending statement"}, err)
		}
		w.opts.Pending.Add(key)
	}
	var stmt string
	w.rowSession = false
	for _, ev := range t.Events {
		switch e := ev.Event.(type) {
		case *replication.QueryEvent:
			stmt = string(e.Query)
			if len(e.Schema) > 0 {
				if _, err := w.conn.Execute("USE " + quoteIdent(string(e.Schema))); err != nil {
					// CREATE/DROP DATABASE name their own schema as the default
					// one (for replicate-do-db), and it may not exist yet (or any
					// more): run them from the progress schema instead.
					if serverCode(err) != erBadDB {
						return w.statementError(t, expectation{sql: "USE " + string(e.Schema)}, err)
					}
					if _, err := w.conn.Execute("USE " + quoteIdent(p.Schema)); err != nil {
						return w.statementError(t, expectation{sql: "USE " + p.Schema}, err)
					}
				}
			}
			s, perr := ParseStatusVars(e.StatusVars)
			if perr == nil || s.HaveSQLMode {
				if _, err := w.conn.Execute(s.sessionSQL()); err != nil {
					return w.statementError(t, expectation{sql: s.sessionSQL()}, err)
				}
			}
			if _, err := w.conn.Execute(stmt); err != nil {
				if !(pending && ddlAlreadyApplied(err)) {
					return w.statementError(t, expectation{sql: stmt}, err)
				}
				w.opts.Logger.Info("statement already applied before a restart", "txn", t.ID(), "err", err)
			}
		case *replication.IntVarEvent:
			q := fmt.Sprintf("SET INSERT_ID=%d", e.Value)
			if e.Type == replication.LAST_INSERT_ID {
				q = fmt.Sprintf("SET LAST_INSERT_ID=%d", e.Value)
			}
			if _, err := w.conn.Execute(q); err != nil {
				return w.statementError(t, expectation{sql: q}, err)
			}
		case *replication.GTIDEvent, *replication.GtidTaggedLogEvent, *replication.MariadbGTIDEvent,
			*replication.MariadbAnnotateRowsEvent, *replication.RowsQueryEvent:
		default:
			return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: ev.Header.LogPos, Statement: ev.Header.EventType.String(),
				Err: fmt.Errorf("event type %s in a standalone statement is not supported yet", ev.Header.EventType)}
		}
	}
	w.schemas.InvalidateAll()
	if _, err := w.conn.Execute("UPDATE "+p.table("applied_transactions")+" SET state='applied' WHERE channel=? AND stream=? AND seq=?",
		p.Channel, stream, seq); err != nil {
		return w.statementError(t, expectation{sql: "mark statement applied"}, err)
	}
	w.opts.Pending.Remove(key)
	if _, err := w.conn.Execute(rowSessionSQL); err != nil {
		return w.statementError(t, expectation{sql: rowSessionSQL}, err)
	}
	w.rowSession = true
	return nil
}

// PendingSet is the set of statements that may or may not have run before a
// restart (their progress row says 'ddl-pending'). Safe for concurrent use.
type PendingSet struct {
	mu   sync.Mutex
	keys map[string]bool
}

// NewPendingSet returns a set holding the given keys (PendingKey format).
func NewPendingSet(keys map[string]bool) *PendingSet {
	p := &PendingSet{keys: map[string]bool{}}
	for k, v := range keys {
		if v {
			p.keys[k] = true
		}
	}
	return p
}

func (p *PendingSet) Has(k string) bool { p.mu.Lock(); defer p.mu.Unlock(); return p.keys[k] }
func (p *PendingSet) Add(k string)      { p.mu.Lock(); p.keys[k] = true; p.mu.Unlock() }
func (p *PendingSet) Remove(k string)   { p.mu.Lock(); delete(p.keys, k); p.mu.Unlock() }
