package replay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// mysqlRand is MySQL's (and MariaDB's) my_rnd: the value RAND() returns with
// the given seeds.
func mysqlRand(seed1, seed2 uint64) float64 {
	const max = 0x3FFFFFFF
	seed1 = (seed1*3 + seed2) % max
	return float64(seed1) / float64(max)
}

// TestReplayStatementFixtures replays the MySQL 5.7 statement-context
// fixtures (INTVAR, RAND, USER_VAR, LOAD DATA) into a MariaDB target and
// checks the rows their SQL sessions (fixtures' expected/*_sql.sql) produced.
func TestReplayStatementFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server")
	}
	ctx := context.Background()
	dst := mariadbtest.Start(t, mariadbtest.Options{})
	dir := "../../shared/fixtures/mysql-cdc-rs/"
	randRow := fmt.Sprintf("%d abc", int(mysqlRand(694882935, 292094996)*100))
	for _, c := range []struct {
		file, setup, query, want string
	}{
		{"5.7_05_intvar_log.bin", "", "SELECT i, c FROM `default`.boxercrab", "[[1 abc]]"},
		{"5.7_13_rand_log.bin", "", "SELECT CONCAT(i, ' ', c) FROM `default`.boxercrab", "[[" + randRow + "]]"},
		{"5.7_14_user_var_log.bin", "", "SELECT id, str, `int`, `dec` FROM `default`.boxercrab", "[[1 test blog 100 1.0000]]"},
		// Captured after RESET MASTER: the binlog holds only the LOAD DATA, the table comes from the SQL session.
		{"5.7_17_18_load_log.bin", "CREATE TABLE `default`.boxercrab (i INT AUTO_INCREMENT PRIMARY KEY, c VARCHAR(10))",
			"SELECT i, c FROM `default`.boxercrab", "[[1 abc]]"},
	} {
		t.Run(c.file, func(t *testing.T) {
			if err := dst.Exec(ctx, "DROP DATABASE IF EXISTS `default`", "CREATE DATABASE `default`"); err != nil {
				t.Fatal(err)
			}
			if c.setup != "" {
				if err := dst.Exec(ctx, c.setup); err != nil {
					t.Fatal(err)
				}
			}
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			st, err := Run(rctx, Options{Files: []string{dir + c.file}, Workers: 2, WorkDir: t.TempDir(), Channel: c.file,
				Target: applier.TargetOptions{Addr: dst.Addr(), User: "root"}})
			if err != nil {
				t.Fatalf("replay: %v (%+v)", err, st)
			}
			rows, err := dst.QueryRows(ctx, c.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(rows); got != c.want {
				t.Errorf("%s: %s, want %s", c.query, got, c.want)
			}
		})
	}
}

// loadLines counts the lines of the LOAD DATA blocks of a binlog file.
func loadLines(t *testing.T, path string) int {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fh.Seek(4, 0)
	n := 0
	p := replication.NewBinlogParser()
	err = p.ParseReader(bufio.NewReader(fh), func(ev *replication.BinlogEvent) error {
		switch e := ev.Event.(type) {
		case *replication.BeginLoadQueryEvent:
			n += bytes.Count(e.BlockData, []byte("\n"))
		case *replication.GenericEvent:
			if ev.Header.EventType == replication.APPEND_BLOCK_EVENT {
				n += bytes.Count(e.Data[4:], []byte("\n"))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplayOldStatementFixtures replays the MySQL 5.1 and trunk fixtures
// (MyISAM and InnoDB statements, rows, USER_VAR, RAND, INTVAR, and a LOAD DATA
// of many APPEND_BLOCK events) into MariaDB.
func TestReplayOldStatementFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server")
	}
	ctx := context.Background()
	dst := mariadbtest.Start(t, mariadbtest.Options{})
	dir := "../../shared/fixtures/rust_mysql_common/"
	for _, c := range []struct {
		file         string
		seed1, seed2 uint64
	}{
		{"ver_5_1_23.001", 206881985, 103665823},
		{"ver_trunk_row_v2.001", 93575718, 859635654},
	} {
		t.Run(c.file, func(t *testing.T) {
			if err := dst.Exec(ctx, "DROP DATABASE IF EXISTS test", "CREATE DATABASE test"); err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			st, err := Run(rctx, Options{Files: []string{dir + c.file}, Workers: 2, WorkDir: t.TempDir(), Channel: c.file,
				Target: applier.TargetOptions{Addr: dst.Addr(), User: "root"}})
			if err != nil {
				t.Fatalf("replay: %v (%+v)", err, st)
			}
			want := fmt.Sprintf("[[1 one] [3 last stm in trx: next event should be xid] [4 four] [%d random] [0 last_insert_id]]",
				int64(math.Round(mysqlRand(c.seed1, c.seed2)*1000000))) // INT rounds
			rows, err := dst.QueryRows(ctx, "SELECT * FROM test.t1")
			if err != nil || fmt.Sprint(rows) != want {
				t.Errorf("t1: %v %v, want %s", rows, err, want)
			}
			rows, err = dst.QueryRows(ctx, "SELECT COUNT(*) FROM test.t3")
			if n := loadLines(t, dir+c.file); err != nil || fmt.Sprint(rows) != fmt.Sprintf("[[%d]]", n) {
				t.Errorf("t3 (LOAD DATA): %v %v, want %d rows", rows, err, n)
			}
		})
	}
}
