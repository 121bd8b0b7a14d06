package mtreplica_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// conflictWorkload runs a conflict-heavy workload on the source from clients
// concurrent connections: hot rows, unique-key swaps (including case-only
// changes under a _ci collation), foreign-key parents and children with
// cascades, a table without a key, DDL on a table others write, large rows.
// Statements the source rejects (duplicate keys, FK failures, deadlocks) are
// part of the workload: only what commits is replicated.
func conflictWorkload(t *testing.T, src *mariadbtest.Server, clients, opsPerClient int) {
	t.Helper()
	ctx := context.Background()
	setup := []string{
		"CREATE DATABASE cw",
		"CREATE TABLE cw.hot (id INT PRIMARY KEY, v INT NOT NULL)",
		"INSERT INTO cw.hot VALUES (1,0),(2,0),(3,0),(4,0),(5,0)",
		"CREATE TABLE cw.uk (id INT PRIMARY KEY, code VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, UNIQUE KEY code (code))",
		"INSERT INTO cw.uk VALUES (1,'alpha'),(2,'beta'),(3,'gamma'),(4,'delta'),(5,'eps'),(6,'zeta')",
		"CREATE TABLE cw.parent (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE cw.child (id INT PRIMARY KEY, pid INT NOT NULL, v INT, KEY (pid), FOREIGN KEY (pid) REFERENCES cw.parent (id) ON DELETE CASCADE)",
		"CREATE TABLE cw.nokey (a INT, b VARCHAR(10))",
		"CREATE TABLE cw.big (id INT PRIMARY KEY, payload LONGTEXT)",
		"CREATE TABLE cw.ddl (id INT PRIMARY KEY, v INT)",
	}
	if err := src.Exec(ctx, setup...); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn, err := src.Conn(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			for i := 0; i < opsPerClient; i++ {
				var stmts []string
				switch op := rng.IntN(12); op {
				case 0, 1:
					stmts = []string{fmt.Sprintf("UPDATE cw.hot SET v = v + 1 WHERE id = %d", 1+rng.IntN(5))}
				case 2:
					a, b := 1+rng.IntN(6), 1+rng.IntN(6)
					if a == b {
						continue
					}
					stmts = []string{"BEGIN",
						fmt.Sprintf("SELECT code INTO @a FROM cw.uk WHERE id = %d FOR UPDATE", a),
						fmt.Sprintf("SELECT code INTO @b FROM cw.uk WHERE id = %d FOR UPDATE", b),
						fmt.Sprintf("UPDATE cw.uk SET code = 'tmp-%d' WHERE id = %d", c, a),
						fmt.Sprintf("UPDATE cw.uk SET code = @a WHERE id = %d", b),
						fmt.Sprintf("UPDATE cw.uk SET code = @b WHERE id = %d", a),
						"COMMIT"}
				case 3:
					f := "UPPER"
					if rng.IntN(2) == 0 {
						f = "LOWER"
					}
					stmts = []string{fmt.Sprintf("UPDATE cw.uk SET code = %s(code) WHERE id = %d", f, 1+rng.IntN(6))}
				case 4:
					stmts = []string{fmt.Sprintf("INSERT INTO cw.parent VALUES (%d, %d)", 1+rng.IntN(30), i)}
				case 5:
					stmts = []string{fmt.Sprintf("INSERT INTO cw.child VALUES (%d, %d, %d)", 1+rng.IntN(200), 1+rng.IntN(30), i)}
				case 6:
					stmts = []string{fmt.Sprintf("DELETE FROM cw.parent WHERE id = %d", 1+rng.IntN(30))}
				case 7:
					stmts = []string{fmt.Sprintf("UPDATE cw.child SET v = v + 1 WHERE pid = %d", 1+rng.IntN(30))}
				case 8:
					stmts = []string{fmt.Sprintf("INSERT INTO cw.nokey VALUES (%d, 'x%d')", rng.IntN(5), rng.IntN(3))}
				case 9:
					stmts = []string{fmt.Sprintf("DELETE FROM cw.nokey WHERE a = %d LIMIT 1", rng.IntN(5))}
				case 10:
					stmts = []string{fmt.Sprintf("REPLACE INTO cw.big VALUES (%d, REPEAT('%c', %d))", rng.IntN(4), 'a'+rng.IntN(26), 50000+rng.IntN(150000))}
				case 11:
					if c == 0 && i%10 == 0 {
						if i%20 == 0 {
							stmts = []string{"ALTER TABLE cw.ddl ADD COLUMN extra INT DEFAULT 1"}
						} else {
							stmts = []string{"ALTER TABLE cw.ddl DROP COLUMN extra"}
						}
					} else {
						stmts = []string{fmt.Sprintf("INSERT INTO cw.ddl (id, v) VALUES (%d, 1) ON DUPLICATE KEY UPDATE v = v + 1", rng.IntN(50))}
					}
				}
				for _, q := range stmts {
					if _, err := conn.Execute(q); err != nil {
						conn.Execute("ROLLBACK")
						break
					}
				}
			}
		}(c)
	}
	wg.Wait()
}

// TestParallelModes replicates the conflict-heavy workload in every
// dependency mode, with commit order preserved and not, with 1, 4 and 16
// workers: the target equals the source every time.
func TestParallelModes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	src := mariadbtest.Start(t, mariadbtest.Options{})
	conflictWorkload(t, src, 8, 120)
	pos, _ := src.GTIDPos(context.Background())
	t.Logf("workload done: source at %s", pos)
	modes := []string{"commit-order", "logical-clock", "writeset", "database", "logical-clock+writeset"}
	for _, mode := range modes {
		for _, preserve := range []bool{true, false} {
			for _, workers := range []int{1, 4, 16} {
				name := fmt.Sprintf("%s/preserve=%v/workers=%d", strings.ReplaceAll(mode, "+", "_"), preserve, workers)
				if workers == 16 {
					name += "/rows=binlog" // and pipelining, the default
				}
				if workers == 4 {
					name += "/no-pipeline"
				}
				t.Run(name, func(t *testing.T) {
					dst := mariadbtest.Start(t, mariadbtest.Options{})
					cfg := engineConfig(t, src, dst, t.TempDir())
					cfg.DependencyTracking = mode
					cfg.Workers = workers
					cfg.UnorderedCommits = !preserve
					if workers == 16 {
						cfg.RowApply = applier.RowApplyBinlog // native row apply under the most concurrency
					}
					cfg.NoPipeline = workers == 4 // only once their dependencies committed

					start := time.Now()
					r, stop := startEngine(t, cfg)
					waitCaughtUp(t, src, dst, r, 2*time.Minute)
					if err := stop(); err != nil {
						t.Fatal(err)
					}
					compare(t, src, dst, "cw")
					st := r.Status()
					t.Logf("%d transactions in %.2fs, %d order-inversion aborts, %d pipelined starts", st.TransactionsApplied, time.Since(start).Seconds(), st.Aborts, st.Pipelined)
				})
			}
		}
	}
}
