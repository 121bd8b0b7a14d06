package replay

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

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// TestReplayVersusMariadbBinlog is the replay benchmark of docs/benchmarks.md
// ("Replay"): 16 sysbench clients write a binlog (oltp_write_only) on a
// source; its files are copied and applied, side by side in one run, to two
// fresh targets loaded with the same starting data (a mariadb-dump taken
// after prepare): one with `mariadb-binlog FILES | mariadb`, one with
// mtreplica replay and 16 workers. Both targets must then equal the source.
// It runs only with MTREPLICA_REPLAY_BENCH=1 (events: MTREPLICA_REPLAY_EVENTS,
// default 20000; workers: MTREPLICA_REPLAY_WORKERS, default 16; target
// durability: MTREPLICA_REPLAY_DURABILITY=strict|relaxed, default relaxed;
// MTREPLICA_REPLAY_UNORDERED=1 for --unordered-commits;
// MTREPLICA_REPLAY_ROW_APPLY=binlog for --row-apply binlog).
func TestReplayVersusMariadbBinlog(t *testing.T) {
	if os.Getenv("MTREPLICA_REPLAY_BENCH") != "1" {
		t.Skip("set MTREPLICA_REPLAY_BENCH=1 to run the replay benchmark")
	}
	events := envInt("MTREPLICA_REPLAY_EVENTS", 20000)
	workers := envInt("MTREPLICA_REPLAY_WORKERS", 16)
	durability := mariadbtest.Relaxed
	if os.Getenv("MTREPLICA_REPLAY_DURABILITY") == "strict" {
		durability = mariadbtest.Strict
	}
	ctx := context.Background()
	src := mariadbtest.Start(t, mariadbtest.Options{BufferPool: "256M"})
	sb := func(args ...string) {
		t.Helper()
		if out, err := mariadbtest.Sysbench(ctx, src, "sbtest", args...); err != nil {
			t.Fatalf("sysbench: %v\n%s", err, out)
		}
	}
	sb("oltp_write_only", "--tables=8", "--table-size=10000", "--rand-seed=1", "prepare")
	dump := filepath.Join(t.TempDir(), "start.sql")
	if out, err := exec.Command("sh", "-c", fmt.Sprintf("mariadb-dump -h127.0.0.1 -P%d -uroot --single-transaction --databases sbtest > %s",
		src.Port, dump)).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-dump: %v\n%s", err, out)
	}
	before, err := src.BinlogFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sb("oltp_write_only", "--tables=8", "--table-size=10000", "--threads=16", "--time=0",
		fmt.Sprintf("--events=%d", events), "--rand-seed=2", "run")
	t.Logf("source: %d sysbench transactions from 16 clients in %.1fs", events, time.Since(start).Seconds())
	all := copyBinlogs(t, src)
	files := all[len(before):] // the files the run wrote
	var size int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		size += fi.Size()
	}

	targets := [2]*mariadbtest.Server{}
	for i := range targets {
		targets[i] = mariadbtest.Start(t, mariadbtest.Options{NoBinlog: true, Durability: durability, BufferPool: "256M"})
		if out, err := exec.Command("sh", "-c", fmt.Sprintf("mariadb -h127.0.0.1 -P%d -uroot < %s", targets[i].Port, dump)).CombinedOutput(); err != nil {
			t.Fatalf("load starting data: %v\n%s", err, out)
		}
	}

	// mariadb-binlog FILES | mariadb
	args := strings.Join(files, " ")
	start = time.Now()
	if out, err := exec.Command("bash", "-o", "pipefail", "-c", fmt.Sprintf("mariadb-binlog %s | mariadb -h127.0.0.1 -P%d -uroot",
		args, targets[0].Port)).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-binlog | mariadb: %v\n%s", err, out)
	}
	pipe := time.Since(start)

	// mtreplica replay
	unordered := os.Getenv("MTREPLICA_REPLAY_UNORDERED") == "1"
	rowApply := os.Getenv("MTREPLICA_REPLAY_ROW_APPLY") // "" (sql) or binlog
	start = time.Now()
	st, err := Run(ctx, Options{Files: files, Target: applier.TargetOptions{Addr: targets[1].Addr(), User: "root"},
		Workers: workers, WorkDir: t.TempDir(), UnorderedCommits: unordered, RowApply: rowApply})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	ours := time.Since(start)

	for i, tgt := range targets {
		if err := mariadbtest.Compare(ctx, src, tgt, "sbtest"); err != nil {
			t.Fatalf("target %d differs from the source: %v", i, err)
		}
	}
	n := float64(st.Selected)
	report := fmt.Sprintf("replay benchmark: %d files, %.1f MiB, %d transactions (sysbench oltp_write_only, 16 clients), target durability %s\n"+
		"  mariadb-binlog | mariadb:       %6.2fs  %7.0f txn/s\n"+
		"  mtreplica replay, %2d workers%s:   %6.2fs  %7.0f txn/s  (read+relay %.2fs, apply %.2fs)\n"+
		"  speedup: %.2fx\n",
		len(files), float64(size)/(1<<20), st.Selected, durability,
		pipe.Seconds(), n/pipe.Seconds(), workers, map[bool]string{true: ", unordered commits"}[unordered]+map[bool]string{true: ", row apply " + rowApply}[rowApply != ""], ours.Seconds(), n/ours.Seconds(), st.Read.Seconds(), st.Apply.Seconds(),
		pipe.Seconds()/ours.Seconds())
	t.Log("\n" + report)
	if out := os.Getenv("MTREPLICA_REPLAY_BENCH_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprint(f, report)
			f.Close()
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
