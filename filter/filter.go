package filter

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/coordinator"
)

// Filter applies compiled Rules to transactions. Apply is called by one
// goroutine at a time (the coordinator's reader); Stats is safe for concurrent use.
type Filter struct {
	c *compiled

	rowsDropped, statementsDropped, emptied, rewritten atomic.Uint64
	metrics                                            *metrics
}

// Stats counts what a Filter did since New.
type Stats struct {
	RowsEventsDropped   uint64 // rows events of filtered tables (their table maps go too)
	StatementsDropped   uint64 // statement events whose default database is filtered, and account statements
	TransactionsEmptied uint64 // transactions left with no change (still recorded as applied)
	SchemasRewritten    uint64 // table maps and statements whose database replicate-rewrite-db renamed
}

// New checks rules (every malformed rule is reported, each wrapping ErrRule)
// and returns a Filter. reg may be nil.
func New(rules Rules, reg prometheus.Registerer) (*Filter, error) {
	c, err := compile(rules)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("filter: register metrics: %w", err)
	}
	return &Filter{c: c, metrics: m}, nil
}

// Stats returns the counters.
func (f *Filter) Stats() Stats {
	return Stats{RowsEventsDropped: f.rowsDropped.Load(), StatementsDropped: f.statementsDropped.Load(),
		TransactionsEmptied: f.emptied.Load(), SchemasRewritten: f.rewritten.Load()}
}

// Table reports whether changes to db.table are replicated, and under which
// database name (after replicate-rewrite-db).
func (f *Filter) Table(db, table string) (keep bool, targetDB string) {
	db = f.c.rewriteDB(db)
	return f.c.tableAllowed(db, table), db
}

// Statement reports whether a statement with this default database and text
// is replicated, and under which default database.
func (f *Filter) Statement(defaultDB, query string) (keep bool, targetDB string) {
	db := f.c.rewriteDB(defaultDB)
	if !f.c.system && IsAccountStatement(query) {
		return false, db
	}
	if db == "" {
		// No default database: no replicate-do-db rule matches it.
		return len(f.c.doDB) == 0, db
	}
	return f.c.dbAllowed(db), db
}

// Apply filters t in place (see the package documentation). It reports
// whether anything was dropped or renamed.
func (f *Filter) Apply(t *coordinator.Txn) (changed bool) {
	tables := map[*replication.TableMapEvent]bool{} // table map -> kept
	out := t.Events[:0]
	var context []*replication.BinlogEvent // events that set up the next statement
	hadChange, hasChange := false, false
	flushContext := func(keep bool) {
		if keep {
			out = append(out, context...)
		} else if len(context) > 0 {
			changed = true
		}
		context = context[:0]
	}
	droppedStatement := false
	for _, ev := range t.Events {
		switch e := ev.Event.(type) {
		case *replication.TableMapEvent:
			keep := f.tableMap(e)
			tables[e] = keep
			if !keep {
				changed = true
				continue
			}
		case *replication.RowsEvent:
			hadChange = true
			keep, seen := tables[e.Table]
			if !seen && e.Table != nil {
				// A table map outside this transaction (never written so by a
				// server): judge it without renaming it again.
				keep = f.c.tableAllowed(string(e.Table.Schema), string(e.Table.Table))
			}
			if !keep {
				f.rowsDropped.Add(1)
				f.metrics.rows.Inc()
				changed = true
				continue
			}
			hasChange = true
		case *replication.IntVarEvent:
			context = append(context, ev)
			continue
		case *replication.GenericEvent:
			if t := ev.Header.EventType; t == replication.RAND_EVENT || t == replication.USER_VAR_EVENT {
				context = append(context, ev)
				continue
			}
		case *replication.QueryEvent:
			q := bytes.TrimSpace(e.Query)
			if isControl(q) {
				break
			}
			hadChange = true
			keep, db := f.Statement(string(e.Schema), string(q))
			if !keep {
				f.statementsDropped.Add(1)
				f.metrics.statements.Inc()
				flushContext(false)
				changed, droppedStatement = true, true
				continue
			}
			if db != string(e.Schema) {
				e.Schema = []byte(db)
				f.rewritten.Add(1)
				changed = true
			}
			hasChange = true
			flushContext(true)
		}
		flushContext(true)
		out = append(out, ev)
	}
	flushContext(true)
	clear(t.Events[len(out):])
	t.Events = out
	if t.Statement && droppedStatement && !hasChange {
		// Nothing left to run: apply it as an ordinary (empty) transaction,
		// which records its progress row in one round trip.
		t.Statement = false
	}
	if hadChange && !hasChange {
		f.emptied.Add(1)
		f.metrics.emptied.Inc()
	}
	return changed
}

// tableMap decides a table map and renames its schema when a rule says so.
func (f *Filter) tableMap(e *replication.TableMapEvent) bool {
	src := string(e.Schema)
	keep, db := f.Table(src, string(e.Table))
	if keep && db != src {
		e.Schema = []byte(db)
		f.rewritten.Add(1)
	}
	return keep
}

// isControl reports statements that shape the transaction rather than change
// data: they are never filtered (dropping a SAVEPOINT would break the ROLLBACK
// TO that follows it, dropping XA START the XA END).
func isControl(q []byte) bool {
	if bytes.EqualFold(q, []byte("BEGIN")) || bytes.EqualFold(q, []byte("COMMIT")) || bytes.EqualFold(q, []byte("ROLLBACK")) {
		return true
	}
	w := leadingWords(string(q[:min(len(q), 64)]), 2)
	if len(w) == 0 {
		return false
	}
	switch w[0] {
	case "XA", "SAVEPOINT":
		return true
	case "ROLLBACK", "RELEASE":
		return len(w) > 1 && (w[1] == "TO" || w[1] == "SAVEPOINT")
	}
	return false
}

// IsAccountStatement reports whether query manages accounts or privileges:
// CREATE/ALTER/DROP/RENAME USER, GRANT, REVOKE, SET PASSWORD, CREATE/DROP ROLE,
// SET [DEFAULT] ROLE, FLUSH PRIVILEGES. Leading comments and whitespace are skipped.
func IsAccountStatement(query string) bool {
	words := leadingWords(query, 4)
	if len(words) == 0 {
		return false
	}
	switch words[0] {
	case "GRANT", "REVOKE":
		return true
	case "RENAME":
		return len(words) > 1 && words[1] == "USER"
	case "SET":
		return len(words) > 1 && (words[1] == "PASSWORD" ||
			words[1] == "DEFAULT" && len(words) > 2 && words[2] == "ROLE")
	case "FLUSH":
		for _, w := range words[1:] {
			if w == "PRIVILEGES" {
				return true
			}
		}
	case "CREATE", "ALTER", "DROP":
		rest := words[1:]
		if len(rest) >= 2 && rest[0] == "OR" && rest[1] == "REPLACE" {
			rest = rest[2:]
		}
		return len(rest) > 0 && (rest[0] == "USER" || rest[0] == "ROLE")
	}
	return false
}

// leadingWords returns up to n upper-cased words of query, skipping comments.
func leadingWords(q string, n int) []string {
	var out []string
	for len(out) < n {
		q = strings.TrimLeft(q, " \t\r\n")
		switch {
		case q == "":
			return out
		case strings.HasPrefix(q, "/*"):
			end := strings.Index(q, "*/")
			if end < 0 {
				return out
			}
			// MySQL's executable comments (/*!50706 ... */) hold statement text.
			if body := q[2:end]; strings.HasPrefix(body, "!") {
				q = strings.TrimLeft(body[1:], "0123456789") + " " + q[end+2:]
			} else {
				q = q[end+2:]
			}
			continue
		case strings.HasPrefix(q, "#") || strings.HasPrefix(q, "-- "):
			nl := strings.IndexByte(q, '\n')
			if nl < 0 {
				return out
			}
			q = q[nl+1:]
			continue
		}
		end := strings.IndexFunc(q, func(r rune) bool {
			return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		})
		if end == 0 {
			return out
		}
		if end < 0 {
			end = len(q)
		}
		out = append(out, strings.ToUpper(q[:end]))
		q = q[end:]
	}
	return out
}

type metrics struct {
	rows, statements, emptied prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "filter",
		Name: "events_dropped_total", Help: "Events dropped by replication filters, by kind (rows, statement)."}, []string{"kind"})
	emptied := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mtreplica", Subsystem: "filter",
		Name: "transactions_emptied_total", Help: "Transactions whose every change was filtered out (recorded as applied)."})
	if reg != nil {
		for _, c := range []prometheus.Collector{dropped, emptied} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return &metrics{rows: dropped.WithLabelValues("rows"), statements: dropped.WithLabelValues("statement"), emptied: emptied}, nil
}
