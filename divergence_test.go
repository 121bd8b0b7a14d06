package mtreplica_test

import (
	"context"
	"errors"
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
