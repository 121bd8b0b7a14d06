package mtreplica_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/filter"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

func mustExec(t *testing.T, s *mariadbtest.Server, qs ...string) {
	t.Helper()
	if err := s.Exec(context.Background(), qs...); err != nil {
		t.Fatal(err)
	}
}

func rowsOf(t *testing.T, s *mariadbtest.Server, q string) string {
	t.Helper()
	rows, err := s.QueryRows(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var b []string
	for _, r := range rows {
		b = append(b, strings.Join(r, ","))
	}
	return strings.Join(b, ";")
}

// TestFilters: every filter kind keeps and drops what it should, against real
// servers. Tables a filter drops do not exist on the target, so a filter that
// let one of their changes through would stop replication; every transaction,
// emptied or not, is recorded as applied (waitCaughtUp reads the progress
// table).
func TestFilters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	src := mariadbtest.Start(t, mariadbtest.Options{})
	// Schemas that exist before the replica starts (it starts after them).
	mustExec(t, src,
		"CREATE DATABASE app", "CREATE DATABASE other", "CREATE DATABASE old",
		"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))", "CREATE TABLE app.log (id INT PRIMARY KEY)",
		"CREATE TABLE app.tmp_1 (id INT PRIMARY KEY)", "CREATE TABLE app.keep_1 (id INT PRIMARY KEY)",
		"CREATE TABLE other.t (id INT PRIMARY KEY)", "CREATE TABLE old.t (id INT PRIMARY KEY, v INT)")
	targetTables := []string{"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE app.keep_1 (id INT PRIMARY KEY)", "CREATE DATABASE new", "CREATE TABLE new.t (id INT PRIMARY KEY, v INT)"}
	startPos, err := src.GTIDPos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	writes := []string{
		"INSERT INTO app.t VALUES (1, 'one'), (2, 'two')",
		"INSERT INTO app.log VALUES (1)",
		"INSERT INTO app.tmp_1 VALUES (1)",
		"INSERT INTO app.keep_1 VALUES (1)",
		"INSERT INTO other.t VALUES (1)",
		"INSERT INTO old.t VALUES (1, 10), (2, 20)",
		// one transaction mixing kept and dropped tables
		"BEGIN", "INSERT INTO app.t VALUES (3, 'three')", "INSERT INTO other.t VALUES (2)", "INSERT INTO app.log VALUES (2)",
		"UPDATE old.t SET v = v + 1", "COMMIT",
		// statements: judged by their default database
		"USE other", "CREATE TABLE other.t2 (id INT PRIMARY KEY)",
		"USE app", "CREATE TABLE t2 (id INT PRIMARY KEY)", "INSERT INTO app.t2 VALUES (7)",
		"USE old", "CREATE TABLE t3 (id INT PRIMARY KEY)", "INSERT INTO old.t3 VALUES (9)",
		// the system schema
		"CREATE USER 'filtered'@'%' IDENTIFIED BY 'x'", "GRANT SELECT ON app.* TO 'filtered'@'%'",
		"UPDATE app.t SET v = 'uno' WHERE id = 1",
	}

	t.Run("ignore rules and rewrite", func(t *testing.T) {
		dst := mariadbtest.Start(t, mariadbtest.Options{})
		mustExec(t, dst, targetTables...)
		cfg := engineConfig(t, src, dst, t.TempDir())
		cfg.StartGTID = startPos
		cfg.Filter = filter.Rules{IgnoreDB: []string{"other"}, IgnoreTable: []string{"app.log"},
			WildIgnoreTable: []string{"app.tmp\\_%"}, RewriteDB: []string{"old->new"}}
		r, _ := startEngine(t, cfg)
		mustExec(t, src, writes...)
		waitCaughtUp(t, src, dst, r, time.Minute)
		for q, want := range map[string]string{
			"SELECT * FROM app.t ORDER BY id":                         "1,uno;2,two;3,three",
			"SELECT * FROM app.keep_1":                                "1",
			"SELECT * FROM new.t ORDER BY id":                         "1,11;2,21",
			"SELECT * FROM app.t2":                                    "7",
			"SELECT * FROM new.t3":                                    "9",
			"SELECT COUNT(*) FROM mysql.user WHERE user = 'filtered'": "0",
			"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema IN ('other', 'old') OR table_name IN ('log', 'tmp_1')": "0",
		} {
			if got := rowsOf(t, dst, q); got != want {
				t.Errorf("%s: %q, want %q", q, got, want)
			}
		}
		if st := r.Status(); st.LastSQLError != "" {
			t.Errorf("applier error: %s", st.LastSQLError)
		}
	})

	t.Run("do rules", func(t *testing.T) {
		dst := mariadbtest.Start(t, mariadbtest.Options{})
		mustExec(t, dst, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
			"CREATE TABLE app.keep_1 (id INT PRIMARY KEY)")
		cfg := engineConfig(t, src, dst, t.TempDir())
		cfg.StartGTID = startPos
		cfg.Filter = filter.Rules{DoDB: []string{"app"}, DoTable: []string{"app.t"}, WildDoTable: []string{"app.keep%"}}
		r, _ := startEngine(t, cfg)
		waitCaughtUp(t, src, dst, r, time.Minute)
		for q, want := range map[string]string{
			"SELECT * FROM app.t ORDER BY id": "1,uno;2,two;3,three",
			"SELECT * FROM app.keep_1":        "1",
			// app's statements run (default database app); old's and other's do not
			"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'app'":                     "3",
			"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN ('old', 'new', 'other')": "0",
			"SELECT COUNT(*) FROM mysql.user WHERE user = 'filtered'":                                       "0",
		} {
			if got := rowsOf(t, dst, q); got != want {
				t.Errorf("%s: %q, want %q", q, got, want)
			}
		}
		// app.t2 exists (its CREATE ran: default database app) but its rows were
		// not replicated: no do-table rule names it.
		if got := rowsOf(t, dst, "SELECT COUNT(*) FROM app.t2"); got != "0" {
			t.Errorf("app.t2 rows: %s, want 0", got)
		}
	})

	t.Run("system schema asked for", func(t *testing.T) {
		dst := mariadbtest.Start(t, mariadbtest.Options{})
		mustExec(t, dst, targetTables...)
		mustExec(t, dst, "CREATE DATABASE other", "CREATE TABLE other.t (id INT PRIMARY KEY)", "CREATE DATABASE old",
			"CREATE TABLE old.t (id INT PRIMARY KEY, v INT)", "CREATE TABLE app.log (id INT PRIMARY KEY)",
			"CREATE TABLE app.tmp_1 (id INT PRIMARY KEY)")
		cfg := engineConfig(t, src, dst, t.TempDir())
		cfg.StartGTID = startPos
		cfg.Filter = filter.Rules{ReplicateSystemSchema: true}
		r, _ := startEngine(t, cfg)
		waitCaughtUp(t, src, dst, r, time.Minute)
		if got := rowsOf(t, dst, "SELECT COUNT(*) FROM mysql.user WHERE user = 'filtered'"); got != "1" {
			t.Errorf("account not replicated with ReplicateSystemSchema: %s", got)
		}
		compare(t, src, dst, "app", "other", "old")
	})
}
