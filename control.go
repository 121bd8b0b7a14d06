package mtreplica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Errors of the control methods.
var (
	// ErrNotRunning: the call needs Run to be running.
	ErrNotRunning = errors.New("the replica is not running (Run has not started or has returned)")
	// ErrApplierRunning: the call needs the applier stopped first (StopApplier).
	ErrApplierRunning = errors.New("the applier is running: stop it first (STOP REPLICA SQL_THREAD)")
	// ErrAlreadyExecuted: Skip was given a transaction the target already holds.
	ErrAlreadyExecuted = errors.New("the target already holds this transaction")
)

// Until is a START REPLICA UNTIL condition: the applier stops before the
// first transaction past it, every transaction before that one committed. The
// zero value is no condition.
type Until struct {
	// GTIDs (SQL_AFTER_GTIDS; for MariaDB a position such as "0-1-100", each
	// domain taken as 1..seq_no): the applier stops before the first
	// transaction to apply that is not in this set.
	GTIDs string `json:"Until_Gtids,omitempty"`
	// SourceLogFile and SourceLogPos (SOURCE_LOG_FILE, SOURCE_LOG_POS): the
	// applier applies the transactions that start before this source position
	// and stops before the first that starts at or after it.
	SourceLogFile string `json:"Until_Log_File,omitempty"`
	SourceLogPos  uint32 `json:"Until_Log_Pos,omitempty"`

	set *gtid.Set // GTIDs, parsed by parse
}

// IsZero reports whether u is no condition.
func (u Until) IsZero() bool { return u.GTIDs == "" && u.SourceLogFile == "" }

// Condition names the condition as SHOW REPLICA STATUS's Until_Condition does.
func (u Until) Condition() string {
	switch {
	case u.GTIDs != "":
		return "SQL_AFTER_GTIDS"
	case u.SourceLogFile != "":
		return "Source"
	}
	return "None"
}

// parse validates u and parses its GTID set.
func (u Until) parse(f gtid.Flavor) (Until, error) {
	if u.GTIDs != "" && u.SourceLogFile != "" {
		return u, errors.New("until: give either a GTID set or a source file and position, not both")
	}
	if u.SourceLogFile == "" && u.SourceLogPos != 0 {
		return u, errors.New("until: a source position needs its file (SOURCE_LOG_FILE)")
	}
	if u.GTIDs != "" {
		s, err := gtid.ParseSet(f, u.GTIDs)
		if err != nil {
			return u, fmt.Errorf("until GTID set: %w", err)
		}
		u.set = s
	}
	return u, nil
}

// reached reports whether t lies past the condition.
func (u Until) reached(t *coordinator.Txn) bool {
	switch {
	case u.set != nil:
		return t.Info.GTID.IsZero() || !u.set.Contains(t.Info.GTID)
	case u.SourceLogFile != "":
		return coordinator.AnonymousSeq(t.Info.SourceFile, t.Info.StartPos) >= coordinator.AnonymousSeq(u.SourceLogFile, u.SourceLogPos)
	}
	return false
}

// StartReceiver starts the receiver (START REPLICA IO_THREAD). It does
// nothing when the receiver runs already; it returns ErrNotRunning when Run
// is not running.
func (r *Replica) StartReceiver() error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return ErrNotRunning
	}
	r.startReceiverLocked()
	return nil
}

// StopReceiver stops the receiver (STOP REPLICA IO_THREAD) and waits until it
// has stopped or ctx is done. The relay log keeps what was received.
func (r *Replica) StopReceiver(ctx context.Context) error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	t := r.io
	r.mu.Unlock()
	return t.stop(ctx)
}

// StartApplier starts the applier (START REPLICA SQL_THREAD), with an until
// condition unless until is zero. When the applier runs already, it only
// replaces the condition if until is set. It returns ErrNotRunning when Run
// is not running.
func (r *Replica) StartApplier(until Until) error {
	u, err := until.parse(r.cfg.Source.Flavor)
	if err != nil {
		return err
	}
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return ErrNotRunning
	}
	if !u.IsZero() || r.sql == nil {
		r.until = u
	}
	r.startApplierLocked()
	return nil
}

// StopApplier stops the applier (STOP REPLICA SQL_THREAD) and waits until it
// has stopped or ctx is done: transactions not yet committed are rolled back
// and applied again at the next start.
func (r *Replica) StopApplier(ctx context.Context) error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	t := r.sql
	r.mu.Unlock()
	return t.stop(ctx)
}

// SetDelay sets SOURCE_DELAY: a transaction is not applied before its source
// commit time plus d. It takes effect at once, for a transaction being held too.
func (r *Replica) SetDelay(d time.Duration) {
	r.delay.Store(int64(max(d, 0)))
}

// Skip records one transaction, by GTID, as applied without applying it (as
// injecting an empty transaction with that GTID does on a MySQL replica): it
// gets its progress row on the target, so it is never applied, after a
// restart either. The applier must be stopped; a typical use is after the
// applier stopped on that transaction's error: Skip it, then StartApplier.
func (r *Replica) Skip(ctx context.Context, id string) error {
	g, err := gtid.Parse(id)
	if err != nil {
		return fmt.Errorf("skip: %w", err)
	}
	if g.Flavor != r.cfg.Source.Flavor {
		return fmt.Errorf("skip %s: a %s GTID, but the source is %s", id, g.Flavor, r.cfg.Source.Flavor)
	}
	r.ctl.Lock() // the applier cannot start meanwhile
	defer r.ctl.Unlock()
	r.mu.Lock()
	running := r.sql != nil
	r.mu.Unlock()
	if running {
		return fmt.Errorf("skip %s: %w", id, ErrApplierRunning)
	}
	conn, err := applier.Dial(ctx, r.cfg.Target)
	if err != nil {
		return fmt.Errorf("skip %s: %w", id, err)
	}
	defer conn.Close()
	progress := r.progress()
	if err := progress.Ensure(conn); err != nil {
		return fmt.Errorf("skip %s: %w", id, err)
	}
	ex, err := progress.Load(conn, r.cfg.Source.Flavor)
	if err != nil {
		return fmt.Errorf("skip %s: %w", id, err)
	}
	if ex.Set.Contains(g) {
		return fmt.Errorf("skip %s: %w", id, ErrAlreadyExecuted)
	}
	q := "INSERT INTO " + quoteIdent(progress.Schema) + ".`applied_transactions` (channel, stream, seq, server_id, state) VALUES (?, ?, ?, ?, 'applied')"
	if _, err := conn.Execute(q, progress.Channel, g.Stream, g.Seq, g.ServerID); err != nil {
		return fmt.Errorf("skip %s: record progress: %w", id, err)
	}
	r.mu.Lock()
	if r.executed != nil {
		r.executed.Add(g)
	}
	r.mu.Unlock()
	r.m.operatorSkips.Inc()
	r.cfg.Logger.Info("transaction skipped by the operator", "gtid", g.String())
	return nil
}

// Reset is RESET REPLICA: it stops the receiver and the applier, deletes the
// relay log and forgets this channel's progress on the target (the next start
// begins from Config.StartGTID / StartFile, or the source's first binlog).
// Both stay stopped; start them again with StartReceiver and StartApplier.
func (r *Replica) Reset(ctx context.Context) error {
	r.ctl.Lock() // no thread can start meanwhile
	defer r.ctl.Unlock()
	r.mu.Lock()
	io, sql, relay, running := r.io, r.sql, r.relay, r.running
	r.mu.Unlock()
	if !running {
		return ErrNotRunning
	}
	if err := errors.Join(io.stop(ctx), sql.stop(ctx)); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := relay.Reset(); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	conn, err := applier.Dial(ctx, r.cfg.Target)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	defer conn.Close()
	if err := r.progress().Reset(conn); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	ex, err := r.loadProgressConn(conn)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	r.mu.Lock()
	r.ex, r.executed = ex, ex.Set.Clone()
	r.ioErr, r.sqlErr, r.until = threadError{}, threadError{}, Until{}
	r.mu.Unlock()
	r.cfg.Logger.Info("replica reset: relay log deleted, progress forgotten", "executed", r.executed.String())
	return nil
}

// hold is the coordinator's Hold hook: the until condition, then SOURCE_DELAY.
func (r *Replica) hold(ctx context.Context, t *coordinator.Txn) error {
	r.origCommit.Store(!t.Info.OriginalCommit.IsZero())
	r.mu.Lock()
	u := r.until
	r.mu.Unlock()
	if u.reached(t) {
		r.cfg.Logger.Info("applier reached its until condition", "condition", u.Condition(), "next", t.ID())
		return coordinator.ErrUntilReached
	}
	defer r.holding.Store(0)
	defer r.heldCommit.Store(0)
	for {
		d := time.Duration(r.delay.Load())
		if d <= 0 {
			return nil
		}
		due := r.commitTime(t).Add(d)
		wait := time.Until(due)
		if wait <= 0 {
			return nil
		}
		r.holding.Store(due.UnixNano())
		r.heldCommit.Store(due.Add(-d).UnixNano())
		tm := time.NewTimer(min(wait, 500*time.Millisecond)) // a SetDelay is seen within 0.5 s
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C:
		}
	}
}

// commitTime returns t's source commit time on our clock, never earlier than
// the real one: the original commit timestamp (microseconds) when the source
// sends one, else the event timestamp (whole seconds, so the end of that
// second) corrected for the clock skew measured at connect.
func (r *Replica) commitTime(t *coordinator.Txn) time.Time {
	if !t.Info.OriginalCommit.IsZero() {
		return t.Info.OriginalCommit
	}
	return time.Unix(int64(t.Info.Timestamp)+1, 0).Add(-time.Duration(r.skew.Load()))
}
