package mtreplica_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/applier"
)

// TestDivergenceStops: a row missing on the target stops the applier with an
// error naming the table, the key and the transaction.
func TestDivergenceStops(t *testing.T) {
	src, dst := pair(t)
	r, stop := startEngine(t, engineConfig(t, src, dst, t.TempDir()))
	ctx := context.Background()
	for _, q := range []string{
		"CREATE DATABASE dv",
		"CREATE TABLE dv.t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO dv.t VALUES (1,1),(2,2),(3,3)",
	} {
		if err := src.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	if err := dst.Exec(ctx, "DELETE FROM dv.t WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	// The diverging transaction also inserts a row: none of it may reach the target.
	if err := src.Exec(ctx, "BEGIN", "INSERT INTO dv.t VALUES (7,7)", "UPDATE dv.t SET v = 20 WHERE id = 2", "COMMIT"); err != nil {
		t.Fatal(err)
	}
	pos, _ := src.GTIDPos(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for r.Status().ReplicaSQLRunning == "Yes" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	err := stop()
	var div *applier.DivergenceError
	if !errors.As(err, &div) {
		t.Fatalf("Run returned %v, want a DivergenceError", err)
	}
	if div.Schema != "dv" || div.Table != "t" || !strings.Contains(div.Key, "2") || !strings.HasSuffix(pos, div.Txn[strings.LastIndex(div.Txn, "-"):]) {
		t.Fatalf("divergence error lacks detail: %+v (source at %s)", div, pos)
	}
	if st := r.Status(); !strings.Contains(st.LastSQLError, "diverged") {
		t.Fatalf("Last_SQL_Error = %q", st.LastSQLError)
	}
	rows, err2 := dst.QueryRows(ctx, "SELECT (SELECT COUNT(*) FROM dv.t WHERE id = 7), (SELECT COUNT(*) FROM mtreplica.applied_transactions WHERE seq = "+
		pos[strings.LastIndex(pos, "-")+1:]+")")
	if err2 != nil {
		t.Fatal(err2)
	}
	if rows[0][0] != "0" || rows[0][1] != "0" {
		t.Fatalf("the diverging transaction was committed on the target (row 7: %s, progress rows: %s)", rows[0][0], rows[0][1])
	}
	t.Logf("error: %v", err)
}

// TestDDLPendingRerun: a DDL whose progress row says it may or may not have
// run (the engine died between the two) is run again, and "already exists"
// counts as done.
func TestDDLPendingRerun(t *testing.T) {
	src, dst := pair(t)
	relay := t.TempDir()
	ctx := context.Background()
	r, stop := startEngine(t, engineConfig(t, src, dst, relay))
	for _, q := range []string{
		"CREATE DATABASE dp",
		"CREATE TABLE dp.t (id INT PRIMARY KEY)",
		"INSERT INTO dp.t VALUES (1)",
		"ALTER TABLE dp.t ADD COLUMN v INT",
	} {
		if err := src.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Pretend the engine died after the ALTER ran but before it was marked applied.
	if err := dst.Exec(ctx, "UPDATE mtreplica.applied_transactions SET state='ddl-pending' ORDER BY seq DESC LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	r2, _ := startEngine(t, engineConfig(t, src, dst, relay))
	if err := src.Exec(ctx, "INSERT INTO dp.t VALUES (2, 2)"); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, src, dst, r2, time.Minute)
	compare(t, src, dst, "dp")
	rows, err := dst.QueryRows(ctx, "SELECT COUNT(*) FROM mtreplica.applied_transactions WHERE state='ddl-pending'")
	if err != nil || rows[0][0] != "0" {
		t.Fatalf("pending rows left: %v %v", rows, err)
	}
}

// TestDivergenceInGroup: a backlog is applied in groups; the transaction that
// diverges is named exactly (its group is applied again one transaction at a
// time), the transactions before it are applied, and nothing after it is. In
// both row apply modes.
func TestDivergenceInGroup(t *testing.T) {
	for _, mode := range []string{applier.RowApplySQL, applier.RowApplyBinlog} {
		t.Run(mode, func(t *testing.T) {
			src, dst := pair(t)
			relay := t.TempDir()
			ctx := context.Background()
			cfg := engineConfig(t, src, dst, relay)
			cfg.RowApply = mode
			r, stop := startEngine(t, cfg)
			if err := src.Exec(ctx, "CREATE DATABASE dg", "CREATE TABLE dg.t (id INT PRIMARY KEY, v INT)", "INSERT INTO dg.t VALUES (1,1),(2,2)"); err != nil {
				t.Fatal(err)
			}
			waitCaughtUp(t, src, dst, r, time.Minute)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if err := dst.Exec(ctx, "DELETE FROM dg.t WHERE id = 2"); err != nil {
				t.Fatal(err)
			}
			for i := 10; i < 20; i++ {
				if err := src.Exec(ctx, fmt.Sprintf("INSERT INTO dg.t VALUES (%d, %d)", i, i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := src.Exec(ctx, "UPDATE dg.t SET v = 20 WHERE id = 2"); err != nil {
				t.Fatal(err)
			}
			bad, _ := src.GTIDPos(ctx)
			for i := 30; i < 35; i++ {
				if err := src.Exec(ctx, fmt.Sprintf("INSERT INTO dg.t VALUES (%d, %d)", i, i)); err != nil {
					t.Fatal(err)
				}
			}
			r2, stop2 := startEngine(t, cfg)
			deadline := time.Now().Add(time.Minute)
			for r2.Status().LastSQLError == "" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			err := stop2()
			if err == nil || !strings.Contains(err.Error(), bad) {
				t.Fatalf("Run returned %v: want an error naming the diverging transaction %s", err, bad)
			}
			rows, qerr := dst.QueryRows(ctx, "SELECT (SELECT COUNT(*) FROM dg.t WHERE id BETWEEN 10 AND 19), (SELECT COUNT(*) FROM dg.t WHERE id >= 30)")
			if qerr != nil {
				t.Fatal(qerr)
			}
			if rows[0][0] != "10" || rows[0][1] != "0" {
				t.Fatalf("rows before the diverging transaction: %s of 10, after it: %s of 0", rows[0][0], rows[0][1])
			}
		})
	}
}
