package clone_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/clone"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// TestCloneVersusDump measures the clone against `mariadb-dump --single-transaction | mariadb` on the same
// sysbench data, each into a fresh target, and checks every copy with mariadbtest.Compare. It runs only with
// MTREPLICA_CLONE_BENCH=1 (minutes, not seconds); MTREPLICA_CLONE_BENCH_TABLES and _ROWS size the data
// (default 8 x 100000):
//
//	MTREPLICA_CLONE_BENCH=1 go test ./clone/ -run TestCloneVersusDump -v -timeout 30m
func TestCloneVersusDump(t *testing.T) {
	if os.Getenv("MTREPLICA_CLONE_BENCH") == "" {
		t.Skip("benchmark: set MTREPLICA_CLONE_BENCH=1")
	}
	tables, rows := envInt("MTREPLICA_CLONE_BENCH_TABLES", 8), envInt("MTREPLICA_CLONE_BENCH_ROWS", 100000)
	ctx := context.Background()
	src := mariadbtest.Start(t, mariadbtest.Options{BufferPool: "1G", RedoLogSize: "1G"})
	if out, err := mariadbtest.Sysbench(ctx, src, "sbtest", "oltp_read_write", fmt.Sprintf("--tables=%d", tables),
		fmt.Sprintf("--table-size=%d", rows), "--threads=2", "prepare"); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	total := float64(tables * rows)
	newTarget := func() *mariadbtest.Server {
		return mariadbtest.Start(t, mariadbtest.Options{BufferPool: "1G", RedoLogSize: "1G", NoBinlog: true})
	}
	type result struct {
		name string
		secs float64
	}
	var results []result

	// mariadb-dump --single-transaction | mariadb
	{
		dst := newTarget()
		cmdline := fmt.Sprintf("mariadb-dump --single-transaction --host=127.0.0.1 --port=%d --user=root --databases sbtest | mariadb --host=127.0.0.1 --port=%d --user=root",
			src.Port, dst.Port)
		start := time.Now()
		out, err := exec.Command("bash", "-o", "pipefail", "-c", cmdline).CombinedOutput()
		secs := time.Since(start).Seconds()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmdline, err, out)
		}
		if err := mariadbtest.Compare(ctx, src, dst, "sbtest"); err != nil {
			t.Fatalf("dump copy differs: %v", err)
		}
		t.Logf("%s", cmdline)
		results = append(results, result{"mariadb-dump --single-transaction | mariadb", secs})
		dst.Stop()
	}
	for _, v := range []struct {
		workers int
		deferIx bool
	}{{4, false}, {4, true}, {2, false}, {8, false}} {
		dst := newTarget()
		o := options(t, src, dst)
		o.Workers, o.DeferIndexes, o.ChunkRows, o.InsertBytes = v.workers, v.deferIx, 10000, 1<<20
		o.ProgressInterval = 5 * time.Second
		res, err := clone.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := mariadbtest.Compare(ctx, src, dst, "sbtest"); err != nil {
			t.Fatalf("clone differs: %v", err)
		}
		results = append(results, result{fmt.Sprintf("mtreplica clone, %d workers, defer indexes %v", v.workers, v.deferIx), res.Elapsed.Seconds()})
		dst.Stop()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d tables x %d rows (%d rows), %d CPUs, load average %s\n", tables, rows, tables*rows, nproc(), loadavg())
	fmt.Fprintf(&b, "| method | seconds | rows/s | speed-up over the dump |\n|---|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %.1f | %.0f | %.2fx |\n", r.name, r.secs, total/r.secs, results[0].secs/r.secs)
	}
	t.Log(b.String())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func nproc() int {
	out, _ := exec.Command("nproc").Output()
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
