package applier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/applier/rowsql"
	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// Options configure a Worker.
type Options struct {
	Target   TargetOptions
	Progress Progress
	// MaxRetries bounds how often one transaction is retried after transient
	// errors (deadlock, lock wait timeout, lost connection). Default 10.
	MaxRetries int
	// MaxPacketBytes: statements are sent in packets of at most about this size. Default 4 MiB.
	MaxPacketBytes int
	// Idempotent turns divergence (missing rows, duplicate keys) into no-ops.
	Idempotent bool
	// RowApply is how row events are applied: RowApplySQL (default) or
	// RowApplyBinlog (binlogrows.go).
	RowApply string
	// Pending are 'ddl-pending' progress rows found at start (Executed.Pending),
	// shared by the workers.
	Pending *PendingSet
	// Schemas caches table definitions read from the target. Share one cache
	// between the workers of a coordinator: a DDL applied by one invalidates it
	// for all. Nil: the worker has its own.
	Schemas *tableschema.Cache
	// Name identifies the worker in logs and errors.
	Name   string
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.MaxRetries <= 0 {
		o.MaxRetries = 10
	}
	if o.MaxPacketBytes <= 0 {
		o.MaxPacketBytes = 4 << 20
	}
	if o.Progress.Schema == "" {
		o.Progress.Schema = "mtreplica"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Schemas == nil {
		o.Schemas = tableschema.NewCache()
	}
	if o.Pending == nil {
		o.Pending = NewPendingSet(nil)
	}
}

// Worker applies transactions on its own target connection. Not safe for
// concurrent use: one goroutine drives it.
type Worker struct {
	opts    Options
	conn    *client.Conn
	gen     *rowsql.Generator
	schemas *tableschema.Cache
	applied int
	connID  atomic.Uint32
	retries atomic.Uint64

	// the packet being built
	buf    queryPacket // packet.go
	rbuf   []byte      // replies are read into it
	expect []expectation
	stmts  []rowsql.Statement
	cur    *coordinator.Txn // the transaction whose statements are being added
	one    [1]*coordinator.Txn
	// session state on the target connection
	rowSession bool
	bin        binlogRows // row events applied natively (binlogrows.go)
}

type expectation struct {
	stmt *rowsql.Statement // nil for control statements
	sql  string            // for errors (control statements)
	kind string
	txn  *coordinator.Txn // the transaction the statement belongs to (nil: the one flushed)
}

var _ coordinator.GroupWorker = (*Worker)(nil)

// NewWorker returns a worker; it connects on first use.
func NewWorker(opts Options) *Worker {
	opts.setDefaults()
	return &Worker{
		opts:    opts,
		gen:     rowsql.NewGenerator(rowsql.Options{Idempotent: opts.Idempotent}),
		schemas: opts.Schemas,
	}
}

// Close closes the target connection.
func (w *Worker) Close() error {
	w.opts.Pending.closeSession() // statement.go: the workers' shared statement session
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	w.connID.Store(0)
	return err
}

func (w *Worker) connect(ctx context.Context) error {
	if w.conn != nil {
		return nil
	}
	c, err := Dial(ctx, w.opts.Target)
	if err != nil {
		return err
	}
	w.conn = c
	w.connID.Store(c.GetConnectionID())
	w.rowSession = true
	return nil
}

// Retries returns how many times the worker retried a transaction after a
// transient error (deadlock, lock wait timeout, lost connection).
func (w *Worker) Retries() uint64 { return w.retries.Load() }

// ConnectionID returns the target connection id (0 when not connected).
func (w *Worker) ConnectionID() uint32 { return w.connID.Load() }

// Apply applies t and records it, retrying transient failures. The body is
// sent and its results checked first; the COMMIT follows once the gate opens.
// gate may be nil (commit at once).
func (w *Worker) Apply(ctx context.Context, t *coordinator.Txn, gate coordinator.Gate) error {
	w.one[0] = t
	defer func() { w.one[0] = nil }()
	return w.apply(ctx, w.one[:], gate)
}

// ApplyGroup applies consecutive transactions as one target transaction: each
// one's statements and progress record in order, then one COMMIT, so the
// target sees all of them or none. None of ts may be a Statement.
func (w *Worker) ApplyGroup(ctx context.Context, ts []*coordinator.Txn, gate coordinator.Gate) error {
	for _, t := range ts {
		if t.Statement {
			return fmt.Errorf("%s: a statement that commits implicitly cannot be applied in a group", t.ID())
		}
	}
	return w.apply(ctx, ts, gate)
}

func (w *Worker) apply(ctx context.Context, ts []*coordinator.Txn, gate coordinator.Gate) error {
	t, last := ts[0], ts[len(ts)-1]
	if gate == nil {
		gate = openGate{}
	}
	var err error
	unreachable := 0 // attempts that could not connect: a target that is down is waited for, not counted
	for attempt := 0; ; attempt++ {
		if err = ctx.Err(); err != nil {
			return err
		}
		if err = w.connect(ctx); err != nil && isConnError(err) {
			unreachable++
		} else if err == nil {
			// Cancellation interrupts a statement in flight by closing the
			// socket itself: go-mysql's Conn.Close writes state its reader
			// uses, a data race with the read it means to stop.
			sock := w.conn.Conn.Conn
			stop := context.AfterFunc(ctx, func() { sock.Close() })
			err = w.applyOnce(ctx, ts, gate)
			if !stop() {
				w.conn = nil // closed by cancellation
				w.connID.Store(0)
				if err == nil {
					return nil
				}
				return ctx.Err()
			}
		}
		if err == nil {
			w.applied++
			return nil
		}
		if !errors.Is(err, coordinator.ErrAborted) && gate.Aborted() {
			// The coordinator killed our statement to break an order-inversion deadlock.
			w.rollback()
			return coordinator.ErrAborted
		}
		if !isTransient(err) {
			if len(ts) > 1 && ctx.Err() == nil && !errors.Is(err, coordinator.ErrAborted) {
				// Which transaction of the group failed, and why exactly: apply
				// them one by one, in order, each its own target transaction
				// (the group's turn is theirs: they are consecutive).
				w.opts.Logger.Warn("group failed; applying its transactions one by one", "worker", w.opts.Name,
					"first", t.ID(), "last", last.ID(), "err", err)
				// Once the turn has come the group is never aborted: no
				// member is committed and then applied again.
				if err := gate.Wait(ctx); err != nil {
					return err
				}
				// Each commits as soon as applied, so the group never holds all
				// its locks at once: no Executed for later transactions to start on.
				turn := struct{ coordinator.Gate }{gate}
				for _, one := range ts {
					w.one[0] = one
					if err := w.apply(ctx, w.one[:], turn); err != nil {
						return err
					}
				}
				return nil
			}
			return err
		}
		w.retries.Add(1)
		if e, ok := gate.(coordinator.ExecutedGate); ok {
			e.Unexecuted() // rolled back: its locks are gone until the body runs again
		}
		if isConnError(err) && w.conn != nil {
			w.conn.Close()
			w.conn = nil
			w.connID.Store(0)
		}
		if attempt-unreachable >= w.opts.MaxRetries {
			return fmt.Errorf("%s: %w after %d attempts: %w", t.ID(), ErrRetriesExhausted, attempt+1, err)
		}
		w.opts.Logger.Warn("retrying transaction", "worker", w.opts.Name, "txn", t.ID(), "attempt", attempt+1, "err", err)
		backoff := time.Duration(1<<min(attempt, 6)) * 50 * time.Millisecond
		backoff = backoff/2 + rand.N(backoff/2) // jitter: workers do not reconnect in lockstep
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		// A lost connection may have lost the COMMIT's answer, not the commit.
		if isConnError(err) {
			if err := w.connect(ctx); err == nil {
				// The group's progress rows commit together: the last one stands for all.
				if done, err := w.recorded(last); err == nil && done {
					w.applied++
					return nil
				}
			}
		}
	}
}

// recorded reports whether t's progress row is on the target (state applied).
func (w *Worker) recorded(t *coordinator.Txn) (bool, error) {
	stream, seq := t.ProgressKey()
	p := w.opts.Progress
	r, err := w.conn.Execute("SELECT 1 FROM "+p.table("applied_transactions")+" WHERE channel=? AND stream=? AND seq>=? AND COALESCE(first_seq, seq)<=? AND state='applied' "+
		"UNION ALL SELECT 1 FROM "+p.table("low_water")+" WHERE channel=? AND stream=? AND seq>=?",
		p.Channel, stream, seq, seq, p.Channel, stream, seq)
	if err != nil {
		return false, err
	}
	return len(r.Values) > 0, nil
}

func (w *Worker) applyOnce(ctx context.Context, ts []*coordinator.Txn, gate coordinator.Gate) error {
	t := ts[0]
	if NeedsSession(ts) && !w.onSession() {
		// Statement events run on the statement session, in their commit turn (statement.go).
		if err := gate.Wait(ctx); err != nil {
			return err
		}
		return w.applyOnSession(ctx, func() error { return w.applyOnce(ctx, ts, openGate{}) })
	}
	if t.Statement {
		// A statement commits implicitly: it runs only when it may commit.
		if err := gate.Wait(ctx); err != nil {
			return err
		}
		return w.applyStatement(t)
	}
	w.reset()
	w.cur = t
	w.add("BEGIN", "control")
	for _, t := range ts {
		w.cur = t
		if err := w.addBody(ctx, t); err != nil {
			return err
		}
	}
	// The progress rows of the whole group in one statement.
	w.sep()
	w.opts.Progress.appendRecords(&w.buf, ts)
	w.expect = append(w.expect, expectation{kind: "progress", sql: "record progress", txn: ts[len(ts)-1]})
	for _, t := range ts {
		for _, m := range t.Prune {
			w.sep()
			w.opts.Progress.appendPrune(&w.buf, m.Stream, m.Seq, m.ServerID, m.SourceFile, m.SourcePos)
			w.expect = append(w.expect, expectation{kind: "control", sql: "raise low-water mark", txn: t},
				expectation{kind: "control", sql: "prune progress", txn: t})
		}
	}
	t = ts[len(ts)-1]
	// The body's results are checked before the COMMIT is sent: a COMMIT in
	// the same packet would commit a row change whose affected-row count
	// shows divergence, progress row included, before the check could stop
	// it. One more round trip per group, not per transaction.
	if err := w.sendBinlogRows(t); err != nil {
		return err
	}
	if err := w.flush(t); err != nil {
		return err
	}
	if e, ok := gate.(coordinator.ExecutedGate); ok {
		e.Executed() // the body holds its row locks: later transactions may start (coordinator.Options.Pipeline)
	}
	if err := gate.Wait(ctx); err != nil {
		w.rollback()
		return err
	}
	w.add("COMMIT", "control")
	return w.flush(t)
}

// addBody adds t's statements to the packet, sending it whenever it is full.
// A streamed transaction's events are read from the relay log batch by batch:
// memory stays bounded by the packet size whatever the transaction's size.
func (w *Worker) addBody(ctx context.Context, t *coordinator.Txn) error {
	if !t.Streamed {
		return w.addEvents(t, t.Events)
	}
	s, err := t.OpenEvents()
	if err != nil {
		w.rollback()
		return err
	}
	defer s.Close()
	for {
		batch, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			w.rollback()
			return err
		}
		if err := w.addEvents(t, batch); err != nil {
			return err
		}
	}
}

func (w *Worker) addEvents(t *coordinator.Txn, evs []*replication.BinlogEvent) error {
	for _, ev := range evs {
		if err := w.addEvent(t, ev); err != nil {
			w.rollback()
			return err
		}
		if w.buf.Len() >= w.opts.MaxPacketBytes {
			if err := w.flush(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// openGate is the gate of a worker used without a coordinator.
type openGate struct{}

func (openGate) Ready() bool                { return true }
func (openGate) Aborted() bool              { return false }
func (openGate) Wait(context.Context) error { return nil }

func (w *Worker) addEvent(t *coordinator.Txn, ev *replication.BinlogEvent) error {
	switch e := ev.Event.(type) {
	case *replication.RowsEvent:
		if w.native(t) {
			return w.addBinlogRows(t, ev, e)
		}
		return w.addRows(t, ev.Header, e)
	case *replication.QueryEvent:
		if err := w.sendBinlogRows(t); err != nil { // a statement runs after the rows before it
			return err
		}
		return w.addQuery(ev, e) // statement.go
	case *replication.TableMapEvent:
		if w.native(t) {
			w.addBinlogTableMap(ev)
		}
		return nil
	case *replication.XIDEvent, *replication.GTIDEvent, *replication.GtidTaggedLogEvent,
		*replication.MariadbGTIDEvent, *replication.MariadbAnnotateRowsEvent, *replication.RowsQueryEvent:
		return nil
	}
	if err := w.sendBinlogRows(t); err != nil {
		return err
	}
	return w.addStatementEvent(t, ev) // statement.go: INTVAR, RAND, USER_VAR, LOAD DATA; others refused
}

func (w *Worker) addRows(t *coordinator.Txn, h *replication.EventHeader, e *replication.RowsEvent) error {
	if e.Table == nil {
		return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: h.LogPos, Statement: h.EventType.String(),
			Err: errors.New("rows event without its table map")}
	}
	schema, table := string(e.Table.Schema), string(e.Table.Table)
	if err := t.DecodeRows(); err != nil { // left undecoded by the reader (coordinator.Options.DeferRows)
		return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: h.LogPos, Statement: h.EventType.String(), Err: err}
	}
	if !w.rowSession {
		w.add(rowSessionSQL, "control")
		w.rowSession = true
	}
	tbl, err := w.schemas.Get(w.conn, schema, table)
	if err != nil {
		return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: h.LogPos,
			Statement: fmt.Sprintf("read definition of `%s`.`%s` from the target", schema, table), Err: err}
	}
	noFK := e.Flags&replication.NO_FOREIGN_KEY_CHECKS_F != 0
	if noFK {
		w.add("SET @@session.foreign_key_checks=0", "control")
	}
	first := len(w.stmts)
	w.stmts, err = w.gen.Append(w.stmts, h.EventType, e, tbl)
	if err != nil {
		return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: h.LogPos,
			Statement: fmt.Sprintf("%s on `%s`.`%s`", h.EventType, schema, table), Err: err}
	}
	for i := first; i < len(w.stmts); i++ {
		w.sep()
		w.buf.WriteString(w.stmts[i].SQL)
		w.expect = append(w.expect, expectation{stmt: &w.stmts[i], kind: "rows", txn: t})
	}
	if noFK {
		w.add("SET @@session.foreign_key_checks=1", "control")
	}
	return nil
}

func (w *Worker) reset() {
	w.cur = nil
	w.buf.Reset()
	w.expect = w.expect[:0]
	w.stmts = w.stmts[:0]
}

func (w *Worker) sep() {
	if w.buf.Len() > 0 {
		w.buf.WriteByte(';')
	}
}

func (w *Worker) add(sql, kind string) {
	w.sep()
	w.buf.WriteString(sql)
	w.expect = append(w.expect, expectation{sql: sql, kind: kind, txn: w.cur})
}

func (w *Worker) rollback() {
	w.reset()
	if w.conn != nil {
		if _, err := w.conn.Execute("ROLLBACK"); err != nil {
			w.conn.Close()
			w.conn = nil
			w.connID.Store(0)
		}
	}
	w.rowSession = false // a failed packet may have left any session state
	w.forgetBinlogSession()
}

// flush sends the packet built so far and checks every statement's result.
func (w *Worker) flush(t *coordinator.Txn) error {
	if w.buf.Len() == 0 {
		return nil
	}
	i := 0
	var failure error
	err := w.buf.execute(w.conn, &w.rbuf, func(r *mysql.Result, err error) {
		if i >= len(w.expect) {
			i++
			return
		}
		x := w.expect[i]
		i++
		if failure != nil {
			return
		}
		xt := t
		if x.txn != nil {
			xt = x.txn
		}
		if err != nil {
			failure = w.statementError(xt, x, err)
			return
		}
		if x.stmt != nil && x.stmt.Expect >= 0 && r != nil && int64(r.AffectedRows) != x.stmt.Expect {
			failure = w.divergence(xt, x.stmt, int64(r.AffectedRows), nil)
		}
		if r != nil {
			r.Close()
		}
	})
	if err == nil && failure == nil && i != len(w.expect) {
		failure = fmt.Errorf("target answered %d results for %d statements", i, len(w.expect))
	}
	if err != nil || failure != nil {
		if errors.Is(err, errUnexpectedReply) && w.conn != nil {
			w.conn.Close() // its replies are out of step: no ROLLBACK on it
			w.conn = nil
			w.connID.Store(0)
		}
		w.rollback()
		if err != nil {
			return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: t.Info.EndPos, Statement: "send transaction", Err: err}
		}
		return failure
	}
	w.reset()
	return nil
}

func (w *Worker) statementError(t *coordinator.Txn, x expectation, err error) error {
	code := serverCode(err)
	if x.stmt != nil && code == erDupEntry {
		return w.divergence(t, x.stmt, 0, err)
	}
	if x.kind == "progress" && code == erDupEntry {
		return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: t.Info.EndPos, Statement: "record progress",
			Err: fmt.Errorf("the target already records this transaction as applied; refusing to apply it twice: %w", err)}
	}
	sql := x.sql
	if x.stmt != nil {
		sql = x.stmt.SQL
	}
	return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: t.Info.EndPos, Statement: shorten(sql), Err: err}
}

func (w *Worker) divergence(t *coordinator.Txn, s *rowsql.Statement, affected int64, serr error) error {
	op := map[rowsql.Kind]string{rowsql.Insert: "INSERT", rowsql.Update: "UPDATE", rowsql.Delete: "DELETE"}[s.Kind]
	return &DivergenceError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: t.Info.EndPos,
		Schema: s.Schema, Table: s.Table, Key: s.Key, Op: op, Expected: s.Expect, Affected: affected, ServerError: serr}
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
