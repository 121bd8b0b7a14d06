package mtreplica_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sourceLast returns the source's last GTID in domain 0 (server id, seq_no).
func sourceLast(t *testing.T, src *mariadbtest.Server) (uint32, uint64) {
	t.Helper()
	pos, err := src.GTIDPos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gtid.Parse(pos)
	if err != nil {
		t.Fatalf("source position %q: %v", pos, err)
	}
	return g.ServerID, g.Seq
}

func rowIDs(t *testing.T, s *mariadbtest.Server, q string) string {
	t.Helper()
	rows, err := s.QueryRows(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r[0])
	}
	return strings.Join(ids, ",")
}

func insertEach(t *testing.T, src *mariadbtest.Server, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := src.Exec(context.Background(), fmt.Sprintf("INSERT INTO ct.t VALUES (%d)", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestControl: the receiver and the applier stop and start separately while
// Run runs; UNTIL stops exactly before the first GTID outside the set; a
// skipped GTID is never applied, after a restart either; RESET REPLICA
// forgets everything and replicates again from the start.
func TestControl(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	relay := t.TempDir()
	cfg := engineConfig(t, src, dst, relay)
	r, stop := startEngine(t, cfg)
	if err := src.Exec(ctx, "CREATE DATABASE ct", "CREATE TABLE ct.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, r, time.Minute)

	// STOP REPLICA IO_THREAD: nothing more is received; START: it catches up.
	if err := r.StopReceiver(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.ReplicaIORunning != "No" || st.ReplicaSQLRunning != "Yes" {
		t.Fatalf("after StopReceiver: IO %s SQL %s", st.ReplicaIORunning, st.ReplicaSQLRunning)
	}
	if st := r.Status(); st.SecondsBehindSource != nil {
		t.Fatalf("Seconds_Behind_Source %d with the receiver stopped and nothing to apply: want NULL", *st.SecondsBehindSource)
	}
	retrieved := r.Status().RetrievedGtidSet
	insertEach(t, src, 1, 1)
	time.Sleep(300 * time.Millisecond) // the ordering below holds whatever this wait
	if got := r.Status().RetrievedGtidSet; got != retrieved {
		t.Fatalf("the stopped receiver retrieved %s (was %s)", got, retrieved)
	}
	if err := r.StartReceiver(); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, r, time.Minute)

	// STOP REPLICA SQL_THREAD: received, not applied; START: applied.
	if err := r.StopApplier(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.ReplicaSQLRunning != "No" || st.ReplicaIORunning != "Yes" {
		t.Fatalf("after StopApplier: IO %s SQL %s", st.ReplicaIORunning, st.ReplicaSQLRunning)
	}
	insertEach(t, src, 2, 2)
	sid, seq := sourceLast(t, src)
	last := gtid.GTID{Flavor: gtid.MariaDB, Stream: "0", ServerID: sid, Seq: seq}
	waitFor(t, "the receiver retrieves "+last.String(), time.Minute, func() bool {
		s, err := gtid.ParseSet(gtid.MariaDB, r.Status().RetrievedGtidSet)
		return err == nil && s.Contains(last)
	})
	if got := rowIDs(t, dst, "SELECT id FROM ct.t ORDER BY id"); got != "1" {
		t.Fatalf("the stopped applier applied: target has %q", got)
	}
	if err := r.StartApplier(mtreplica.Until{}); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, r, time.Minute)

	// UNTIL: ten transactions; the applier stops exactly after the fifth.
	if err := r.StopApplier(ctx); err != nil {
		t.Fatal(err)
	}
	insertEach(t, src, 11, 17)
	ms, err := src.QueryRows(ctx, "SHOW MASTER STATUS") // where row 18's transaction will start
	if err != nil || len(ms) != 1 {
		t.Fatalf("SHOW MASTER STATUS: %v %v", ms, err)
	}
	untilFile, untilPos := ms[0][0], ms[0][1]
	insertEach(t, src, 18, 20)
	_, end := sourceLast(t, src)
	until := fmt.Sprintf("0-%d-%d", sid, end-5)
	if err := r.StartApplier(mtreplica.Until{GTIDs: until}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the applier stops at its until condition", time.Minute, func() bool {
		return r.Status().ReplicaSQLRunning == "No"
	})
	st := r.Status()
	if st.LastSQLError != "" {
		t.Fatalf("until ended with an error: %s", st.LastSQLError)
	}
	if got := rowIDs(t, dst, "SELECT id FROM ct.t WHERE id > 10 ORDER BY id"); got != "11,12,13,14,15" {
		t.Fatalf("until %s: target has rows %q, want 11..15", until, got)
	}
	if ex, _ := gtid.ParseSet(gtid.MariaDB, st.ExecutedGtidSet); ex == nil || ex.Contains(gtid.GTID{Flavor: gtid.MariaDB, Stream: "0", Seq: end - 4}) {
		t.Fatalf("executed %s goes past %s", st.ExecutedGtidSet, until)
	}

	// UNTIL a source position: rows up to 17, not 18 (its transaction starts there).
	pos, _ := strconv.ParseUint(untilPos, 10, 32)
	if err := r.StartApplier(mtreplica.Until{SourceLogFile: untilFile, SourceLogPos: uint32(pos)}); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.UntilCondition != "Source" || st.UntilLogFile != untilFile {
		t.Errorf("status: Until_Condition %q, Until_Log_File %q", st.UntilCondition, st.UntilLogFile)
	}
	waitFor(t, "the applier stops at the source position", time.Minute, func() bool {
		return r.Status().ReplicaSQLRunning == "No"
	})
	if st := r.Status(); st.LastSQLError != "" || st.UntilCondition != "None" {
		t.Fatalf("until position: error %q, condition left %q", st.LastSQLError, st.UntilCondition)
	}
	if got := rowIDs(t, dst, "SELECT id FROM ct.t WHERE id > 10 ORDER BY id"); got != "11,12,13,14,15,16,17" {
		t.Fatalf("until %s:%s: target has rows %q, want 11..17", untilFile, untilPos, got)
	}

	// Skip: with the applier running it is refused; stopped, 0-S-(end-3) is
	// recorded without being applied.
	if err := r.StartApplier(mtreplica.Until{}); err != nil {
		t.Fatal(err)
	}
	skipID := fmt.Sprintf("0-%d-%d", sid, end+2)
	if err := r.Skip(ctx, skipID); !errors.Is(err, mtreplica.ErrApplierRunning) {
		t.Fatalf("Skip with the applier running: %v", err)
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	if err := r.StopApplier(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Skip(ctx, fmt.Sprintf("0-%d-%d", sid, end)); !errors.Is(err, mtreplica.ErrAlreadyExecuted) {
		t.Fatalf("Skip of an applied transaction: %v", err)
	}
	if err := r.Skip(ctx, skipID); err != nil {
		t.Fatal(err)
	}
	insertEach(t, src, 21, 23) // end+1, end+2 (skipped), end+3
	if err := r.StartApplier(mtreplica.Until{}); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	if got := rowIDs(t, dst, "SELECT id FROM ct.t WHERE id > 20 ORDER BY id"); got != "21,23" {
		t.Fatalf("skipped %s: target has rows %q, want 21,23", skipID, got)
	}
	// After a restart too (the relay log still holds the skipped transaction).
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r, stop = startEngine(t, cfg)
	insertEach(t, src, 24, 24)
	waitCaughtUp(t, src, dst, r, time.Minute)
	if got := rowIDs(t, dst, "SELECT id FROM ct.t WHERE id > 20 ORDER BY id"); got != "21,23,24" {
		t.Fatalf("after a restart: target has rows %q, want 21,23,24", got)
	}

	// RESET REPLICA: both threads stop, the relay log and the progress go;
	// started again on an emptied target, everything is replicated again.
	if err := r.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	st = r.Status()
	if st.ReplicaIORunning != "No" || st.ReplicaSQLRunning != "No" || st.ExecutedGtidSet != "" || st.RelayLogSpace != 0 {
		t.Fatalf("after Reset: IO %s SQL %s executed %q relay %d bytes", st.ReplicaIORunning, st.ReplicaSQLRunning, st.ExecutedGtidSet, st.RelayLogSpace)
	}
	if segs, _ := filepath.Glob(filepath.Join(relay, "relay-bin.0*")); len(segs) != 0 {
		t.Fatalf("relay log segments left after Reset: %v", segs)
	}
	if rows, err := dst.QueryRows(ctx, "SELECT COUNT(*) FROM mtreplica.applied_transactions"); err != nil || rows[0][0] != "0" {
		t.Fatalf("progress rows after Reset: %v %v", rows, err)
	}
	if err := dst.Exec(ctx, "DROP DATABASE ct"); err != nil {
		t.Fatal(err)
	}
	if err := r.StartReceiver(); err != nil {
		t.Fatal(err)
	}
	if err := r.StartApplier(mtreplica.Until{}); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	// Everything, the skipped transaction included: the reset forgot the skip.
	if got := rowIDs(t, dst, "SELECT COUNT(*) FROM ct.t"); got != "16" {
		t.Fatalf("after Reset and a new start: %s rows, want 16", got)
	}
	compare(t, src, dst, "ct")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestSourceDelay: with SOURCE_DELAY 2 s a transaction reaches the target no
// earlier than 2 s after the source committed it, and the status says it waits.
func TestSourceDelay(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	r, _ := startEngine(t, engineConfig(t, src, dst, t.TempDir()))
	if err := src.Exec(ctx, "CREATE DATABASE ct", "CREATE TABLE ct.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	const delay = 2 * time.Second
	r.SetDelay(delay)
	written := time.Now()
	insertEach(t, src, 1, 1)
	var held mtreplica.Status
	waitFor(t, "the applier holds the transaction", 30*time.Second, func() bool {
		held = r.Status()
		return held.SQLRemainingDelay != nil
	})
	if held.SQLDelay != 2 || !strings.Contains(held.ReplicaSQLRunningState, "SOURCE_DELAY") || held.SecondsBehindSource == nil {
		t.Errorf("status while held: SQL_Delay %d, state %q, Seconds_Behind_Source %v", held.SQLDelay, held.ReplicaSQLRunningState, held.SecondsBehindSource)
	}
	if got := rowIDs(t, dst, "SELECT id FROM ct.t"); got != "" && time.Since(written) < delay {
		t.Fatalf("applied %s after the source write, before SOURCE_DELAY %s", time.Since(written), delay)
	}
	var applied time.Time
	waitFor(t, "the delayed row arrives", 30*time.Second, func() bool {
		if rowIDs(t, dst, "SELECT id FROM ct.t") == "1" {
			applied = time.Now()
			return true
		}
		return false
	})
	if got := applied.Sub(written); got < delay-100*time.Millisecond {
		t.Fatalf("the row arrived %s after the write, before SOURCE_DELAY %s", got, delay)
	}
	// SetDelay(0) releases at once.
	r.SetDelay(0)
	insertEach(t, src, 2, 2)
	waitCaughtUp(t, src, dst, r, time.Minute)
	t.Logf("delayed row arrived %s after the write", applied.Sub(written).Round(time.Millisecond))
}
