package mtreplica_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// counterValue reads a counter from a registry (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var v float64
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
			return v
		}
	}
	return 0
}

// TestLargeTransactionsStreamed: transactions larger than the stream
// threshold (a quarter of a small queue) are applied while read again from
// the relay log, between small ones applied by four workers; the target
// equals the source.
func TestLargeTransactionsStreamed(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	cfg := engineConfig(t, src, dst, t.TempDir())
	cfg.Workers = 4
	cfg.QueueBytes = 2 << 20 // stream past 512 KiB
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	r, _ := startEngine(t, cfg)
	if err := src.Exec(ctx,
		"CREATE DATABASE big",
		"CREATE TABLE big.t (id INT PRIMARY KEY, k INT NOT NULL, pad VARCHAR(2000) NOT NULL, UNIQUE KEY (k))",
		"CREATE TABLE big.small (id INT PRIMARY KEY, v INT)",
	); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		qs := []string{fmt.Sprintf("INSERT INTO big.small VALUES (%d, 0)", i)}
		switch i {
		case 0: // ~10 MB of rows in one transaction
			qs = append(qs, "INSERT INTO big.t SELECT seq, seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM seq_1_to_10000")
		case 1: // before and after images
			qs = append(qs, "UPDATE big.t SET k = k + 100000, pad = REPEAT('u', 900) WHERE id % 2 = 0")
		case 2:
			qs = append(qs, "DELETE FROM big.t WHERE id % 3 = 0")
		}
		conn, err := src.ConnAs(ctx, "root", "", "big")
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range append(append([]string{"BEGIN"}, qs...), "COMMIT") {
			if _, err := conn.Execute(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		conn.Close()
		for j := range 50 { // small transactions around the large ones
			if err := src.Exec(ctx, fmt.Sprintf("UPDATE big.small SET v = v + %d WHERE id = %d", j, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitCaughtUp(t, src, dst, r, 3*time.Minute)
	compare(t, src, dst, "big")
	if n := counterValue(t, reg, "mtreplica_applier_streamed_transactions_total"); n < 3 {
		t.Fatalf("%v transactions streamed, want the 3 large ones", n)
	}
}

// TestHugeTransactionRSS applies one transaction of MTREPLICA_HUGE_TXN_MB
// megabytes (for instance 1024) with the daemon, and reports the daemon's
// peak RSS (VmHWM), which must stay under 256 MiB. Not part of `make test`
// (minutes of disk writes); run it with `make huge-txn`.
func TestHugeTransactionRSS(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("MTREPLICA_HUGE_TXN_MB"))
	if mb <= 0 {
		t.Skip("set MTREPLICA_HUGE_TXN_MB to run (e.g. 1024)")
	}
	opts := mariadbtest.Options{RedoLogSize: "512M", BufferPool: "256M", ExtraArgs: []string{"--max-binlog-cache-size=4G", "--max-allowed-packet=64M"}}
	src, dst := mariadbtest.Start(t, opts), mariadbtest.Start(t, opts)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "mtreplica")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/mtreplica").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const rowBytes = 8000
	rows := mb << 20 / rowBytes
	if err := src.Exec(ctx,
		"CREATE DATABASE huge",
		"CREATE TABLE huge.t (id INT PRIMARY KEY, pad VARCHAR(8000) NOT NULL) ENGINE=InnoDB",
	); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	conn, err := src.ConnAs(ctx, "root", "", "huge")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN",
		fmt.Sprintf("INSERT INTO huge.t SELECT seq, REPEAT(CHAR(65 + seq %% 26), %d) FROM seq_1_to_%d", rowBytes, rows), "COMMIT"} {
		if _, err := conn.Execute(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	t.Logf("source: one transaction of %d rows x %d bytes (%d MiB) written in %.1fs", rows, rowBytes, mb, time.Since(started).Seconds())

	relay := t.TempDir()
	cmd := exec.Command(bin, "run", "--source", src.DSN(mariadbtest.ReplUser, mariadbtest.ReplPassword, ""),
		"--target", dst.RootDSN(), "--relay-dir", relay, "--workers", "4", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(30 * time.Minute)
	for {
		rows, err := dst.QueryRows(ctx, "SELECT COUNT(*) FROM huge.t")
		if err == nil && rows0(rows) == mb<<20/rowBytes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not applied in 30 minutes")
		}
		time.Sleep(2 * time.Second)
	}
	hwm := vmHWM(t, cmd.Process.Pid)
	t.Logf("daemon: applied in %.1fs, peak RSS (VmHWM) %d MiB", time.Since(started).Seconds(), hwm>>20)
	compare(t, src, dst, "huge")
	if hwm > 256<<20 {
		t.Fatalf("peak RSS %d MiB, want under 256 MiB", hwm>>20)
	}
}

func rows0(rows [][]string) int {
	n, _ := strconv.Atoi(rows[0][0])
	return n
}

// vmHWM reads a process's peak resident set size in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
