package mariadbtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStartExecCompare(t *testing.T) {
	ctx := context.Background()
	var servers [2]*Server
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() { // Start calls t.Fatal, which must run on the test goroutine: use StartServer here
			defer wg.Done()
			s, err := StartServer(ctx, Options{DomainID: uint32(i), Logf: t.Logf})
			if err != nil {
				t.Errorf("start %d: %v", i, err)
				return
			}
			servers[i] = s
		}()
	}
	wg.Wait()
	for _, s := range servers {
		if s != nil {
			t.Cleanup(func() {
				if err := s.Stop(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	src, dst := servers[0], servers[1]
	if src.ServerID == dst.ServerID {
		t.Fatalf("both servers have server_id %d", src.ServerID)
	}

	for _, s := range servers {
		pos, err := s.GTIDPos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pos != "" {
			t.Errorf("fresh server %s: gtid_binlog_pos = %q, want empty", s.Addr(), pos)
		}
		rows, err := s.QueryRows(ctx, "SELECT @@server_id, @@gtid_domain_id, @@log_bin, @@binlog_format, @@binlog_row_metadata, @@gtid_strict_mode, @@innodb_flush_log_at_trx_commit, @@sync_binlog, NULL")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", s.Addr(), rows[0])
		if rows[0][2] != "1" || rows[0][3] != "ROW" || rows[0][4] != "FULL" || rows[0][5] != "1" ||
			rows[0][6] != "2" || rows[0][7] != "0" || rows[0][8] != "NULL" {
			t.Errorf("unexpected settings %v", rows[0])
		}
		if err := s.Exec(ctx,
			"CREATE DATABASE app",
			"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
			"CREATE TABLE app.nokey (a INT, b TEXT)",
			"INSERT INTO app.t VALUES (1, 'one'), (2, 'two'), (3, NULL)",
			"INSERT INTO app.nokey VALUES (1, 'x'), (1, 'x'), (2, NULL)",
			"CREATE DATABASE same",
			"CREATE TABLE same.t (id INT PRIMARY KEY)",
			"INSERT INTO same.t VALUES (1), (2)",
		); err != nil {
			t.Fatal(err)
		}
	}
	if err := Compare(ctx, src, dst); err != nil {
		t.Fatalf("identical servers: %v", err)
	}

	// The least-privilege account can read the binlog position but not the data.
	c, err := src.ConnAs(ctx, ReplUser, ReplPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute("SHOW MASTER STATUS"); err != nil {
		t.Errorf("repl user: SHOW MASTER STATUS: %v", err)
	}
	if _, err := c.Execute("SELECT * FROM app.t"); err == nil {
		t.Errorf("repl user could read app.t")
	}
	c.Close()

	files, err := src.BinlogFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 || !strings.HasPrefix(files[0], src.DataDir) {
		t.Fatalf("binlog files %v", files)
	}
	if _, err := os.Stat(files[0]); err != nil {
		t.Fatal(err)
	}

	if err := dst.Exec(ctx,
		"UPDATE app.t SET v = 'TWO' WHERE id = 2",
		"DELETE FROM app.nokey WHERE b IS NULL",
		"CREATE TABLE app.extra (id INT)",
		"CREATE DATABASE only_dst",
	); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "ALTER TABLE app.t ADD COLUMN w INT"); err != nil {
		t.Fatal(err)
	}
	err = Compare(ctx, src, dst)
	var de *DiffError
	if !errors.As(err, &de) {
		t.Fatalf("Compare of different servers: %v, want a *DiffError", err)
	}
	t.Logf("%v", err)
	for _, want := range []string{
		"app.t: checksum differs",
		"app.t: columns differ",
		"app.nokey: row count differs: source 3, target 2",
		"app.extra: table exists only on target",
		"only_dst: schema exists only on target",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Compare error lacks %q", want)
		}
	}
	// Restricting to one schema ignores the rest.
	if err := Compare(ctx, src, dst, "same"); err != nil {
		t.Errorf("Compare(same): %v", err)
	}
}

func TestSysbenchPrepare(t *testing.T) {
	ctx := context.Background()
	s := Start(t, Options{})
	out, err := Sysbench(ctx, s, "sbtest", "oltp_write_only", "--tables=2", "--table-size=1000", "prepare")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out)
	for _, tbl := range []string{"sbtest1", "sbtest2"} {
		rows, err := s.QueryRows(ctx, "SELECT COUNT(*) FROM sbtest."+tbl)
		if err != nil {
			t.Fatal(err)
		}
		if rows[0][0] != "1000" {
			t.Errorf("%s has %s rows, want 1000", tbl, rows[0][0])
		}
	}
	pos, err := s.GTIDPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pos == "" {
		t.Error("sysbench prepare wrote nothing to the binlog")
	}
}

func TestStopRemovesDir(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		s, err := StartServer(ctx, Options{KeepDir: keep, NoBinlog: true, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		pid := s.PID
		if !processAlive(pid) {
			t.Fatalf("pid %d not alive after start", pid)
		}
		if _, err := s.BinlogFiles(ctx); err == nil {
			t.Error("BinlogFiles on a NoBinlog server succeeded")
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if processAlive(pid) {
			t.Errorf("pid %d still alive after Stop", pid)
		}
		_, err = os.Stat(s.Dir)
		if keep {
			if err != nil {
				t.Errorf("KeepDir: %v", err)
			}
			if !strings.Contains(readFile(t, s.ErrorLog()), "Shutdown complete") {
				t.Errorf("KeepDir: no clean shutdown in the error log")
			}
			os.RemoveAll(s.Dir)
		} else if !os.IsNotExist(err) {
			t.Errorf("dir %s still there after Stop: %v", s.Dir, err)
		}
		if err := s.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	}
}

func TestKillRestart(t *testing.T) {
	ctx := context.Background()
	s := Start(t, Options{Durability: Strict})
	if err := s.Exec(ctx, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)", "INSERT INTO d.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	old := s.PID
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Running() || processAlive(old) {
		t.Fatal("server still running after Kill")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := s.QueryRows(ctx, "SELECT COUNT(*) FROM d.t")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "1" || s.PID == old {
		t.Errorf("after crash recovery: rows %v, pid %d (was %d)", rows, s.PID, old)
	}
}

func TestExecContextCancel(t *testing.T) {
	s := Start(t, Options{NoBinlog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Exec(ctx, "SELECT SLEEP(10)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec past deadline: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Exec returned after %v", d)
	}
}

func TestDSN(t *testing.T) {
	s := &Server{Host: "127.0.0.1", Port: 3307}
	if got, want := s.RootDSN(), "root@tcp(127.0.0.1:3307)/"; got != want {
		t.Errorf("RootDSN = %q, want %q", got, want)
	}
	if got, want := s.DSN("repl", "replpass", "db"), "repl:replpass@tcp(127.0.0.1:3307)/db"; got != want {
		t.Errorf("DSN = %q, want %q", got, want)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
