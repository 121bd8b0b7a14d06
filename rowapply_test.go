package mtreplica_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/applier"
)

// TestRowApplyBinlog replicates a sysbench write workload and a table of
// many column types with row events applied natively (BINLOG statements), in
// groups, by four workers: the target equals the source. A row missing on
// the target then stops the applier with the server's error naming the table.
func TestRowApplyBinlog(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Workers = 4
	cfg.RowApply = applier.RowApplyBinlog
	r, stop := startEngine(t, cfg)
	if err := src.Exec(ctx,
		"CREATE DATABASE nat",
		`CREATE TABLE nat.t (id INT PRIMARY KEY, d DECIMAL(20,6), f DOUBLE, dt DATETIME(6), ts TIMESTAMP(3) NULL,
		  b BIT(10), e ENUM('x','y'), s SET('a','b'), j JSON, bl BLOB, v VARCHAR(20) CHARACTER SET utf8mb4, u BIGINT UNSIGNED)`,
		`INSERT INTO nat.t VALUES (1, -123.456789, 1e300, '2020-01-02 03:04:05.123456', '2021-06-07 08:09:10.123', b'1010101010',
		  'y', 'a,b', '{"a": [1, 2]}', X'00FF00', 'ünï 😀', 18446744073709551615), (2, 0, 0, '1000-01-01', NULL, 0, 'x', '', NULL, '', '', 0)`,
		"UPDATE nat.t SET v = CONCAT(v, '!'), j = JSON_ARRAY(id) WHERE id = 2",
		"DELETE FROM nat.t WHERE id = 1",
	); err != nil {
		t.Fatal(err)
	}
	sysbench(t, src, "oltp_write_only", "--tables=2", "--table-size=2000", "prepare")
	sysbench(t, src, "oltp_write_only", "--tables=2", "--table-size=2000", "--threads=8", "--time=4", "run")
	waitCaughtUp(t, src, dst, r, 3*time.Minute)
	compare(t, src, dst, "sbtest", "nat")

	// divergence: the row the source updates next is gone on the target
	if err := dst.Exec(ctx, "DELETE FROM nat.t WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "UPDATE nat.t SET u = 7 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && r.Status().LastSQLError == "" {
		time.Sleep(50 * time.Millisecond)
	}
	msg := r.Status().LastSQLError
	if !strings.Contains(msg, "`nat`.`t`") || !strings.Contains(msg, "1032") {
		t.Fatalf("applier error %q: want the table and the server's error 1032", msg)
	}
	_ = stop()
}
