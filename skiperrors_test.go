package mtreplica_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// TestSkipErrors: with replica_skip_errors=1062,1032 a transaction that hits
// a duplicate key or a missing row on the target is skipped (recorded as
// applied, counted per code); the transactions around it apply. Without the
// option the same divergence stops the applier.
func TestSkipErrors(t *testing.T) {
	src, dst := pair(t)
	mustExec(t, src, "CREATE DATABASE sk", "CREATE TABLE sk.t (id INT PRIMARY KEY, v INT)", "INSERT INTO sk.t VALUES (5, 5)")
	start, err := src.GTIDPos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The target diverged: it already has id 1, and lacks id 5.
	mustExec(t, dst, "CREATE DATABASE sk", "CREATE TABLE sk.t (id INT PRIMARY KEY, v INT)", "INSERT INTO sk.t VALUES (1, 100)")
	mustExec(t, src,
		"INSERT INTO sk.t VALUES (1, 1)",     // duplicate key on the target: 1062
		"INSERT INTO sk.t VALUES (2, 2)",     // applies
		"UPDATE sk.t SET v = 6 WHERE id = 5", // no such row on the target: 1032
		"INSERT INTO sk.t VALUES (3, 3)")     // applies

	reg := prometheus.NewRegistry()
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.StartGTID, cfg.SkipErrors, cfg.Registerer = start, []uint16{1062, 1032}, reg
	r, stop := startEngine(t, cfg)
	waitCaughtUp(t, src, dst, r, time.Minute)
	if got := rowsOf(t, dst, "SELECT * FROM sk.t ORDER BY id"); got != "1,100;2,2;3,3" {
		t.Errorf("target rows %q, want the skipped transactions absent and the others applied", got)
	}
	st := r.Status()
	if st.SkippedErrors[1062] != 1 || st.SkippedErrors[1032] != 1 {
		t.Errorf("Skipped_Errors %v, want one 1062 and one 1032", st.SkippedErrors)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "mtreplica_applier_skipped_errors_total" {
			for _, m := range mf.GetMetric() {
				counted[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if counted["1062"] != 1 || counted["1032"] != 1 || len(counted) != 2 {
		t.Errorf("mtreplica_applier_skipped_errors_total by code: %v, want 1062 and 1032 once each", counted)
	}

	// Without the option the divergence stops replication.
	dst2 := mariadbtest.Start(t, mariadbtest.Options{})
	mustExec(t, dst2, "CREATE DATABASE sk", "CREATE TABLE sk.t (id INT PRIMARY KEY, v INT)", "INSERT INTO sk.t VALUES (1, 100)")
	cfg2 := engineConfig(t, src, dst2, t.TempDir())
	cfg2.StartGTID = start
	err = runUntilError(t, cfg2)
	t.Logf("without replica_skip_errors: %v", err)
}
