package mtreplica_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// pair starts a source and a target server.
func pair(t *testing.T) (src, dst *mariadbtest.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	return mariadbtest.Start(t, mariadbtest.Options{}), mariadbtest.Start(t, mariadbtest.Options{})
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
}

func engineConfig(t *testing.T, src, dst *mariadbtest.Server, relayDir string) mtreplica.Config {
	return mtreplica.Config{
		Source: mtreplica.SourceConfig{Flavor: gtid.MariaDB, Host: src.Host, Port: uint16(src.Port),
			User: mariadbtest.ReplUser, Password: mariadbtest.ReplPassword, HeartbeatPeriod: time.Second},
		Target:   applier.TargetOptions{Addr: dst.Addr(), User: "root"},
		RelayDir: relayDir,
		Logger:   testLogger(t),
	}
}

// startEngine runs a Replica in the background; stop cancels it and returns Run's error.
func startEngine(t *testing.T, cfg mtreplica.Config) (*mtreplica.Replica, func() error) {
	t.Helper()
	r, err := mtreplica.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	var runErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	return r, stop
}

// waitCaughtUp waits until the target's progress table covers the source's
// binlog position, failing early if the engine stops.
func waitCaughtUp(t *testing.T, src, dst *mariadbtest.Server, r *mtreplica.Replica, timeout time.Duration) {
	t.Helper()
	waitCaughtUpCheck(t, src, dst, func() error {
		if r == nil {
			return nil
		}
		if st := r.Status(); st.ReplicaSQLRunning == "No" && st.LastSQLError != "" {
			return fmt.Errorf("applier stopped: %s", st.LastSQLError)
		}
		return nil
	}, timeout)
}

// waitCaughtUpCheck is waitCaughtUp with a liveness check of the engine.
func waitCaughtUpCheck(t *testing.T, src, dst *mariadbtest.Server, alive func() error, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	pos, err := src.GTIDPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gtid.ParseSet(gtid.MariaDB, pos)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		have, err := targetExecuted(ctx, dst)
		if err == nil && covers(have, want) {
			return
		}
		if err := alive(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up after %s: source %s, target executed %v (err %v)", timeout, pos, have, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func targetExecuted(ctx context.Context, dst *mariadbtest.Server) (*gtid.Set, error) {
	c, err := dst.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ex, err := applier.Progress{Schema: "mtreplica"}.Load(c, gtid.MariaDB)
	if err != nil {
		return nil, err
	}
	return ex.Set, nil
}

func covers(have, want *gtid.Set) bool {
	if have == nil {
		return false
	}
	for _, s := range want.Streams() {
		for _, iv := range want.Intervals(s) {
			for _, h := range have.Intervals(s) {
				if h.Start <= iv.Start && iv.End <= h.End {
					goto ok
				}
			}
			return false
		ok:
		}
	}
	return true
}

func compare(t *testing.T, src, dst *mariadbtest.Server, schemas ...string) {
	t.Helper()
	if err := mariadbtest.Compare(context.Background(), src, dst, schemas...); err != nil {
		t.Fatalf("target differs from source: %v", err)
	}
}

func sysbench(t *testing.T, s *mariadbtest.Server, args ...string) {
	t.Helper()
	if out, err := mariadbtest.Sysbench(context.Background(), s, "sbtest", args...); err != nil {
		t.Fatalf("sysbench %v: %v\n%s", args, err, out)
	}
}

// TestSysbench: sysbench tables, prepared, then oltp_write_only from 8 clients,
// replicate, and the target equals the source.
func TestSysbench(t *testing.T) {
	src, dst := pair(t)
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Workers = 4
	r, stop := startEngine(t, cfg)
	sysbench(t, src, "oltp_write_only", "--tables=4", "--table-size=2000", "prepare")
	sysbench(t, src, "oltp_write_only", "--tables=4", "--table-size=2000", "--threads=8", "--time=5", "run")
	waitCaughtUp(t, src, dst, r, 3*time.Minute)
	compare(t, src, dst, "sbtest")
	st := r.Status()
	if st.ReplicaIORunning != "Yes" || st.ReplicaSQLRunning != "Yes" {
		t.Errorf("status while running: IO %s SQL %s", st.ReplicaIORunning, st.ReplicaSQLRunning)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
	t.Logf("applied %d transactions; executed %s", st.TransactionsApplied, st.ExecutedGtidSet)
}

// TestDDLInStream: DDL between DML is applied in order, including column
// position changes.
func TestDDLInStream(t *testing.T) {
	src, dst := pair(t)
	r, _ := startEngine(t, engineConfig(t, src, dst, t.TempDir()))
	ctx := context.Background()
	steps := []string{
		"CREATE DATABASE d1",
		"CREATE TABLE d1.t1 (id INT PRIMARY KEY, a VARCHAR(10)) ENGINE=InnoDB",
		"INSERT INTO d1.t1 VALUES (1,'one'),(2,'two'),(3,'three')",
		"ALTER TABLE d1.t1 ADD COLUMN b INT NOT NULL DEFAULT 7",
		"INSERT INTO d1.t1 VALUES (4,'four',40)",
		"UPDATE d1.t1 SET b = b + id",
		"ALTER TABLE d1.t1 DROP COLUMN a",
		"CREATE TABLE d1.t2 LIKE d1.t1",
		"INSERT INTO d1.t2 SELECT * FROM d1.t1",
		"RENAME TABLE d1.t2 TO d1.t3",
		"ALTER TABLE d1.t1 ADD COLUMN c VARCHAR(20) FIRST",
		"INSERT INTO d1.t1 (c, id, b) VALUES ('first', 5, 50)",
		"UPDATE d1.t1 SET c = CONCAT('c', id) WHERE id < 3",
		"DELETE FROM d1.t3 WHERE id = 2",
		"CREATE TABLE d1.t4 (k INT PRIMARY KEY, v INT)",
		"INSERT INTO d1.t4 VALUES (1,1),(2,2)",
		"DROP TABLE d1.t4",
		"CREATE TABLE d1.t4 (k VARCHAR(5) PRIMARY KEY, v TEXT)",
		"INSERT INTO d1.t4 VALUES ('x','y')",
		"CREATE DATABASE d2",
		"CREATE TABLE d2.t (id INT PRIMARY KEY)",
		"INSERT INTO d2.t VALUES (1)",
		"DROP DATABASE d2",
	}
	for _, q := range steps {
		if err := src.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	compare(t, src, dst, "d1")
	rows, err := dst.QueryRows(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='d2'")
	if err != nil || rows[0][0] != "0" {
		t.Fatalf("d2 should be dropped on the target: %v %v", rows, err)
	}
}

// TestAllTypes: a table with every column type replicates exactly.
func TestAllTypes(t *testing.T) {
	src, dst := pair(t)
	r, _ := startEngine(t, engineConfig(t, src, dst, t.TempDir()))
	ctx := context.Background()
	stmts := []string{
		"CREATE DATABASE types",
		`CREATE TABLE types.all_types (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), d2 DECIMAL(10,2) UNSIGNED, f FLOAT, db DOUBLE,
  b1 BIT(1), b64 BIT(64),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR,
  c_latin CHAR(10) CHARACTER SET latin1, v_latin VARCHAR(50) CHARACTER SET latin1,
  c_utf8 CHAR(10) CHARACTER SET utf8mb4, v_utf8 VARCHAR(50) CHARACTER SET utf8mb4, tx TEXT CHARACTER SET utf8mb4,
  bin BINARY(8), vbin VARBINARY(20), bl BLOB, lbl LONGBLOB,
  e ENUM('red','green','blue'), s SET('a','b','c','d'),
  j JSON,
  gen_stored BIGINT AS (i * 2) STORED,
  gen_virtual VARCHAR(60) AS (CONCAT(v_utf8, '!')) VIRTUAL
) ENGINE=InnoDB`,
		`INSERT INTO types.all_types (ti,tiu,si,siu,mi,miu,i,iu,bi,biu,d,d2,f,db,b1,b64,dt,dtm,ts,tm,y,c_latin,v_latin,c_utf8,v_utf8,tx,bin,vbin,bl,lbl,e,s,j) VALUES
 (-128,255,-32768,65535,-8388608,16777215,-2147483648,4294967295,-9223372036854775808,18446744073709551615,
  '-12345678901234567890123456789012345.123456789012345678901234567890', 99999999.99, 3.14159, -2.718281828459045,
  b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
  '1000-01-01', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '-838:59:59.000000', 2155,
  _latin1 X'636166E9', _latin1 X'6E61EF766520FC', '😀', 'emoji 😀🎉 ünï', 'long text ✓',
  X'00FF00FF00FF00FF', X'00FF', X'000102FFFE', REPEAT(X'00FF', 1000), 'blue', 'a,c,d', '{"k": [1, 2.5, "x", null, true], "n": {"m": "ü"}}'),
 (127,0,32767,0,8388607,0,2147483647,0,9223372036854775807,0,
  '0.000000000000000000000000000001', 0.00, -1.5e-10, 1.7976931348623157e308,
  b'0', b'0', '2024-02-29', '1970-01-01 00:00:00.000001', '1970-01-01 00:00:01.000000', '838:59:59.999999', 1901,
  '', '', '', '', '', X'', X'', X'', X'', 'red', '', '[]')`,
		`INSERT INTO types.all_types (id) VALUES (100)`,
		`UPDATE types.all_types SET v_utf8 = 'changed ✓', j = JSON_SET(j, '$.k[0]', 42), tm = '-00:00:00.5', b64 = b'101' WHERE id = 1`,
		`UPDATE types.all_types SET id = 200, ti = NULL WHERE id = 2`,
		`CREATE TABLE types.nokey (a INT, f FLOAT, v VARCHAR(10)) ENGINE=InnoDB`,
		`INSERT INTO types.nokey VALUES (1, 1.5, 'x'), (1, 1.5, 'x'), (2, 0.1, 'y'), (NULL, NULL, NULL)`,
		`DELETE FROM types.nokey WHERE a = 1 LIMIT 1`,
		`UPDATE types.nokey SET v = 'z' WHERE a = 2`,
		`UPDATE types.nokey SET a = 3 WHERE a IS NULL`,
		`CREATE TABLE types.composite (a INT, b VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, v INT, PRIMARY KEY (a, b))`,
		`INSERT INTO types.composite VALUES (1,'x',1),(1,'y',2),(2,'x',3)`,
		`UPDATE types.composite SET b = 'X' WHERE a = 1 AND b = 'x'`,
		`DELETE FROM types.composite WHERE a = 2`,
		`DELETE FROM types.all_types WHERE id = 100`,
	}
	for _, q := range stmts {
		if err := src.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	waitCaughtUp(t, src, dst, r, time.Minute)
	compare(t, src, dst, "types")
	// CHECKSUM TABLE covers stored bytes; also compare rendered values for a readable diff.
	q := "SELECT * FROM types.all_types ORDER BY id"
	a, err1 := src.QueryRows(ctx, q)
	b, err2 := dst.QueryRows(ctx, q)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("rows differ:\nsource %v\ntarget %v", a, b)
	}
}
