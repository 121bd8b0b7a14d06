package clone_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
	methods := []struct {
		name    string
		workers int  // 0: the dump
		inline  bool // secondary indexes during the load
	}{
		{name: "mariadb-dump --single-transaction | mariadb"},
		{name: "mtreplica clone, 8 workers, indexes during the load", workers: 8, inline: true},
		{name: "mtreplica clone, 8 workers, indexes after the load", workers: 8},
		{name: "mtreplica clone, 4 workers, indexes after the load", workers: 4},
	}
	rounds := envInt("MTREPLICA_CLONE_BENCH_ROUNDS", 3)
	secs := make([][]float64, len(methods))
	cpus := make([][3][]float64, len(methods)) // CPU seconds of the source server, the target server, the client
	for round := 0; round < rounds; round++ {
		for i, m := range methods {
			dst := newTarget()
			var s, client float64
			srcCPU, dstCPU := procCPU(src.PID), procCPU(dst.PID)
			if m.workers == 0 {
				cmdline := fmt.Sprintf("mariadb-dump --single-transaction --host=127.0.0.1 --port=%d --user=root --databases sbtest | mariadb --host=127.0.0.1 --port=%d --user=root",
					src.Port, dst.Port)
				if round == 0 {
					t.Logf("%s", cmdline)
				}
				start := time.Now()
				cmd := exec.Command("bash", "-o", "pipefail", "-c", cmdline)
				out, err := cmd.CombinedOutput()
				s = time.Since(start).Seconds()
				if err != nil {
					t.Fatalf("%s: %v\n%s", cmdline, err, out)
				}
				client = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
			} else {
				o := options(t, src, dst)
				o.Workers, o.IndexesDuringLoad, o.ChunkRows, o.InsertBytes = m.workers, m.inline, 10000, 1<<20
				o.ProgressInterval = 10 * time.Second
				self := selfCPU()
				res, err := clone.Run(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				s = res.Elapsed.Seconds()
				client = selfCPU() - self
			}
			if err := mariadbtest.Compare(ctx, src, dst, "sbtest"); err != nil {
				t.Fatalf("%s: the copy differs: %v", m.name, err)
			}
			srcCPU, dstCPU = procCPU(src.PID)-srcCPU, procCPU(dst.PID)-dstCPU
			secs[i] = append(secs[i], s)
			for j, c := range []float64{srcCPU, dstCPU, client} {
				cpus[i][j] = append(cpus[i][j], c)
			}
			t.Logf("round %d: %s: %.1f s; CPU s: source %.1f, target %.1f, client %.1f (load average %s)",
				round+1, m.name, s, srcCPU, dstCPU, client, loadavg())
			dst.Stop()
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d tables x %d rows (%d rows), %d CPUs, %d rounds (median; all runs in seconds)\n", tables, rows, tables*rows, nproc(), rounds)
	fmt.Fprintf(&b, "| method | seconds (median) | rows/s | speed-up over the dump | CPU s: source + target + client (median) | runs (s) |\n|---|---:|---:|---:|---|---|\n")
	base := median(secs[0])
	for i, m := range methods {
		md := median(secs[i])
		c := [3]float64{median(cpus[i][0]), median(cpus[i][1]), median(cpus[i][2])}
		fmt.Fprintf(&b, "| %s | %.1f | %.0f | %.2fx | %.1f + %.1f + %.1f = %.1f | %v |\n", m.name, md, total/md, base/md,
			c[0], c[1], c[2], c[0]+c[1]+c[2], fmtSecs(secs[i]))
	}
	t.Log(b.String())
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtSecs(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, " ")
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

// procCPU returns the user and system CPU seconds process pid has used (Linux /proc; 100 ticks per second).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

// selfCPU returns this process's user and system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
