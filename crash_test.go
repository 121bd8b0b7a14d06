package mtreplica_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// buildBinary builds cmd/mtreplica into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mtreplica")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mtreplica")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKillNine kills the daemon with SIGKILL at random moments, at least 20
// times, while the source keeps writing, restarting it each time (serially,
// with 4 workers in commit order, with 8 workers committing out of order,
// with 4 workers applying row events natively (BINLOG statements):
// a restart must cope with the holes out-of-order commits leave); at the end
// the target equals the source: nothing lost, nothing applied twice (a second
// apply would fail on the progress table's primary key or on a duplicate row,
// and stop the engine).
func TestKillNine(t *testing.T) {
	src, dst := pair(t)
	bin := buildBinary(t)
	relayDir := t.TempDir()
	ctx := context.Background()
	sysbench(t, src, "oltp_write_only", "--tables=4", "--table-size=1000", "prepare")
	if err := src.Exec(ctx, "CREATE TABLE sbtest.ddl_log (id INT AUTO_INCREMENT PRIMARY KEY, v INT)"); err != nil {
		t.Fatal(err)
	}

	// The source writes all along: sysbench from 4 clients, plus DDL now and then.
	wctx, stopWrites := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		out, err := mariadbtest.Sysbench(wctx, src, "sbtest", "oltp_write_only", "--tables=4", "--table-size=1000",
			"--threads=4", "--time=3600", "run")
		if err != nil && wctx.Err() == nil {
			t.Errorf("sysbench: %v\n%s", err, out)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; wctx.Err() == nil; i++ {
			q := []string{
				"INSERT INTO sbtest.ddl_log (v) VALUES (1),(2),(3)",
				"ALTER TABLE sbtest.ddl_log ADD COLUMN extra INT DEFAULT 5",
				"UPDATE sbtest.ddl_log SET v = v + 1",
				"ALTER TABLE sbtest.ddl_log DROP COLUMN extra",
			}[i%4]
			if err := src.Exec(wctx, q); err != nil && wctx.Err() == nil {
				t.Errorf("source write: %v", err)
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
	}()

	args := []string{"run", "--source", src.DSN(mariadbtest.ReplUser, mariadbtest.ReplPassword, ""),
		"--target", dst.RootDSN(), "--relay-dir", relayDir, "--source-heartbeat-period", "1s", "--log-level", "warn"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	const kills = 20
	for i := 0; i < kills; i++ {
		// Serial and parallel runs, with and without commit order, take turns.
		runArgs := append([]string(nil), args...)
		switch i % 4 {
		case 1:
			runArgs = append(runArgs, "--workers", "4")
		case 2:
			runArgs = append(runArgs, "--workers", "8", "--preserve-commit-order=false")
		case 3:
			runArgs = append(runArgs, "--workers", "4", "--row-apply", "binlog")
			if i%8 == 7 {
				runArgs = append(runArgs, "--pipeline=false") // pipelining is the default
			}
		}
		cmd := exec.Command(bin, runArgs...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run %d: the engine exited on its own before the kill: %v", i, err)
		}
	}
	stopWrites()
	wg.Wait()

	// A last run catches up.
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}()
	waitCaughtUpCheck(t, src, dst, func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("the engine stopped before catching up: %v", err)
		default:
			return nil
		}
	}, 3*time.Minute)
	compare(t, src, dst, "sbtest")

	// The daemon's status, as a person sees it (status.json is written every second).
	var out []byte
	for i := 0; i < 50; i++ {
		out, _ = exec.Command(bin, "status", "--relay-dir", relayDir).CombinedOutput()
		if strings.Contains(string(out), "Replica_SQL_Running: Yes") && strings.Contains(string(out), "Seconds_Behind_Source: 0") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"Replica_IO_Running: Yes", "Replica_SQL_Running: Yes", "Seconds_Behind_Source: 0", "Executed_Gtid_Set: 0-"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("mtreplica status lacks %q:\n%s", want, out)
		}
	}
}
