package mtreplica_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
	"github.com/mtreplica/mtreplica/replay"
)

// statementWorkload runs, from clients concurrent connections, statements
// whose effect depends on the source session: NOW() under session time zones,
// RAND(), AUTO_INCREMENT with a session auto_increment_increment,
// LAST_INSERT_ID(), user variables of every type, temporary tables that live
// across transactions (same name in every session), sql_mode, a latin1
// client character set, foreign_key_checks=0, and LOAD DATA LOCAL INFILE.
// With mixed set it adds statements MIXED logs as rows (UUID()).
func statementWorkload(t *testing.T, src *mariadbtest.Server, clients, opsPerClient int, mixed bool) {
	t.Helper()
	ctx := context.Background()
	if err := src.Exec(ctx,
		"CREATE DATABASE st",
		"CREATE TABLE st.ev (id INT AUTO_INCREMENT PRIMARY KEY, client INT NOT NULL, r DOUBLE, at DATETIME(6), ts TIMESTAMP(6) NULL, note VARCHAR(64) CHARACTER SET utf8mb4) ENGINE=InnoDB",
		"CREATE TABLE st.parent (id INT AUTO_INCREMENT PRIMARY KEY, client INT, name VARCHAR(32)) ENGINE=InnoDB",
		"CREATE TABLE st.child (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, v INT, FOREIGN KEY (parent_id) REFERENCES st.parent (id)) ENGINE=InnoDB",
		"CREATE TABLE st.vars (id INT AUTO_INCREMENT PRIMARY KEY, i BIGINT, u BIGINT UNSIGNED, d DECIMAL(20,6), r DOUBLE, s VARCHAR(40) CHARACTER SET utf8mb4, b VARBINARY(16), n INT) ENGINE=InnoDB",
		"CREATE TABLE st.agg (client INT, k INT, total INT, PRIMARY KEY (client, k)) ENGINE=InnoDB",
		"CREATE TABLE st.loaded (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB",
		"CREATE TABLE st.counter (id INT PRIMARY KEY, n INT) ENGINE=InnoDB",
		"INSERT INTO st.counter VALUES (1, 0)",
	); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			// The client allows LOCAL INFILE (go-mysql sends only the file our handler gives).
			conn, err := client.ConnectWithContext(ctx, src.Addr(), "root", "", "st", 10*time.Second, func(c *client.Conn) error {
				return c.SetCapability(mysql.CLIENT_LOCAL_FILES)
			})
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			must := func(qs ...string) bool {
				for _, q := range qs {
					if _, err := conn.Execute(q); err != nil {
						// Deadlocks between the clients are part of the workload: what commits is replicated.
						if !strings.Contains(err.Error(), "Deadlock found") {
							t.Errorf("client %d: %s: %v", c, q, err)
						}
						conn.Execute("ROLLBACK")
						return false
					}
				}
				return true
			}
			// Session settings that the binlog must carry.
			must(fmt.Sprintf("SET time_zone='+%02d:00'", c%12),
				fmt.Sprintf("SET auto_increment_increment=%d, auto_increment_offset=%d", 1+c%3, 1+c%2))
			// A temporary table of the same name in every session, alive across transactions.
			must("CREATE TEMPORARY TABLE tmp (k INT PRIMARY KEY, v INT)")
			for i := 0; i < opsPerClient; i++ {
				switch op := rng.IntN(11); op {
				case 0:
					must(fmt.Sprintf("INSERT INTO st.ev (client, r, at, ts, note) VALUES (%d, RAND(), NOW(6), NOW(6), 'rand+now')", c))
				case 1:
					must("BEGIN",
						fmt.Sprintf("INSERT INTO st.parent (client, name) VALUES (%d, CONCAT('p', CONNECTION_ID() > 0))", c),
						"INSERT INTO st.child (parent_id, v) VALUES (LAST_INSERT_ID(), 1)",
						fmt.Sprintf("INSERT INTO st.child (parent_id, v) SELECT MAX(id), 2 FROM st.parent WHERE client = %d", c),
						"COMMIT")
				case 2:
					must(fmt.Sprintf("SET @i := %d, @u := 18446744073709551615 - %d, @d := %d.%06d, @r := %g, @s := 'h\u00e9llo %d', @b := X'00ff%02x', @n := NULL",
						rng.IntN(1<<20)-1<<19, i, rng.IntN(1000), rng.IntN(1000000), rng.Float64()*1e6, i, c),
						"INSERT INTO st.vars (i, u, d, r, s, b, n) VALUES (@i, @u, @d, @r, @s, @b, @n)")
				case 3:
					must(fmt.Sprintf("INSERT INTO tmp VALUES (%d, %d) ON DUPLICATE KEY UPDATE v = v + VALUES(v)", rng.IntN(5), 1+rng.IntN(9)))
				case 4:
					// Reads the session's temporary table, written by earlier transactions.
					must(fmt.Sprintf("REPLACE INTO st.agg SELECT %d, k, v FROM tmp", c))
				case 5:
					must("SET sql_mode = CONCAT(@@sql_mode, ',PIPES_AS_CONCAT')",
						fmt.Sprintf("INSERT INTO st.ev (client, note) VALUES (%d, 'a' || 'b' || %d)", c, i),
						"SET sql_mode = REPLACE(@@sql_mode, ',PIPES_AS_CONCAT', '')")
				case 6:
					// A latin1 client: the statement's bytes are latin1.
					must("SET NAMES latin1", fmt.Sprintf("INSERT INTO st.ev (client, note) VALUES (%d, 'caf\xe9 %d')", c, i), "SET NAMES utf8mb4")
				case 7:
					must("SET foreign_key_checks=0",
						fmt.Sprintf("INSERT INTO st.child (parent_id, v) VALUES (%d, -1)", 1000000+c),
						"SET foreign_key_checks=1")
				case 8:
					var data bytes.Buffer
					base := c*100000 + i*10
					for k := 0; k < 5; k++ {
						fmt.Fprintf(&data, "%d,name %d\n", base+k, k)
					}
					if _, err := conn.ExecQueryRelayLocalInfile("LOAD DATA LOCAL INFILE 'rows.csv' INTO TABLE st.loaded FIELDS TERMINATED BY ','",
						func([]byte) (io.Reader, error) { return bytes.NewReader(data.Bytes()), nil }); err != nil {
						t.Errorf("client %d: LOAD DATA: %v", c, err)
					}
				case 9:
					must("UPDATE st.counter SET n = n + 1 WHERE id = 1")
				case 10:
					if mixed {
						// Unsafe for statements: MIXED logs it as rows.
						must(fmt.Sprintf("INSERT INTO st.ev (client, note) VALUES (%d, UUID())", c))
					} else {
						must(fmt.Sprintf("UPDATE st.ev SET r = r * 2 WHERE client = %d AND id %% 7 = %d", c, i%7))
					}
				}
			}
			if c%2 == 0 {
				must("DROP TEMPORARY TABLE tmp") // odd clients leave it to the disconnect
			}
		}(c)
	}
	wg.Wait()
	// The server logs DROP TEMPORARY TABLE for a closed session's tables when it notices the disconnect.
	time.Sleep(time.Second)
}

func testStatementFormat(t *testing.T, format string) {
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	src := mariadbtest.Start(t, mariadbtest.Options{BinlogFormat: format})
	statementWorkload(t, src, 6, 60, format == "MIXED")
	if rows, err := src.QueryRows(context.Background(), "SELECT COUNT(*) FROM st.loaded"); err != nil || rows[0][0] == "0" {
		t.Fatalf("workload loaded nothing: %v %v", rows, err)
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			dst := mariadbtest.Start(t, mariadbtest.Options{})
			cfg := engineConfig(t, src, dst, t.TempDir())
			cfg.Source.AllowStatementFormat = true
			cfg.Workers = workers
			r, stop := startEngine(t, cfg)
			waitCaughtUp(t, src, dst, r, 2*time.Minute)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			compare(t, src, dst, "st")
			st := r.Status()
			t.Logf("%d transactions applied", st.TransactionsApplied)
		})
	}
	// The same binlog replayed from its files (mtreplica replay, with its default native row apply).
	t.Run("replay", func(t *testing.T) {
		ctx := context.Background()
		if err := src.Exec(ctx, "FLUSH BINARY LOGS"); err != nil {
			t.Fatal(err)
		}
		files, err := src.BinlogFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dst := mariadbtest.Start(t, mariadbtest.Options{})
		rs, err := replay.Run(ctx, replay.Options{Files: files, Workers: 4, WorkDir: t.TempDir(), RowApply: applier.RowApplyBinlog,
			Target: applier.TargetOptions{Addr: dst.Addr(), User: "root"}})
		if err != nil {
			t.Fatalf("replay: %v (%+v)", err, rs)
		}
		compare(t, src, dst, "st")
		t.Logf("replay: %d transactions applied", rs.Applied)
	})
}

// TestStatementFormat replicates a STATEMENT-format source running the
// session-dependent workload with 1 and 4 workers: the target equals the source.
func TestStatementFormat(t *testing.T) { testStatementFormat(t, "STATEMENT") }

// TestMixedFormat: the same with a MIXED-format source (some statements logged as rows).
func TestMixedFormat(t *testing.T) { testStatementFormat(t, "MIXED") }
