package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if c.fromJSON != "" {
		if err := render(c); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, c, strings.Join(append([]string{"go run ./bench"}, os.Args[1:]...), " "))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1) // some run failed: the table says which
	}
}

// render writes the table and chart of an earlier run's --json file (--from-json) to stdout, --md and --svg.
func render(c config) error {
	b, err := os.ReadFile(c.fromJSON)
	if err != nil {
		return err
	}
	var results []Result
	if err := json.Unmarshal(b, &results); err != nil {
		return fmt.Errorf("%s: %w", c.fromJSON, err)
	}
	title := "mtreplica vs MariaDB native replica"
	if len(results) > 0 {
		title += " (" + results[0].Durability + " durability)"
	}
	var md bytes.Buffer
	writeMarkdown(&md, report{title: title}, results)
	fmt.Print(md.String())
	var errs []error
	if c.mdPath != "" {
		errs = append(errs, writeFile(c.mdPath, md.Bytes()))
	}
	if c.svgPath != "" {
		errs = append(errs, writeFile(c.svgPath, []byte(renderChart(title, results))))
	}
	return errors.Join(errs...)
}

// bench holds one harness invocation's state.
type bench struct {
	c       config
	work    string // scratch directory: snapshots, relay logs, engine logs
	srv     *servers
	eng     *engine
	prog    *progress
	results []Result
	notes   []string

	sourceDirty bool // the source holds more than the initial data
}

// run performs the whole benchmark and writes the reports. ok is false when a run failed.
func run(ctx context.Context, c config, command string) (ok bool, err error) {
	if err := mariadbtest.Available(); err != nil {
		return false, err
	}
	if _, err := exec.LookPath("sysbench"); err != nil {
		return false, errors.New("sysbench not found; install it with `apt-get install -y sysbench`")
	}
	work, err := os.MkdirTemp("", "mtreplica-bench-")
	if err != nil {
		return false, err
	}
	b := &bench{c: c, work: work, prog: newProgress(os.Stderr)}
	stopProg := make(chan struct{})
	progDone := make(chan struct{})
	go func() { b.prog.run(stopProg); close(progDone) }()
	defer func() {
		close(stopProg)
		<-progDone
		if c.keep {
			fmt.Fprintf(os.Stderr, "bench: work directory kept: %s\n", work)
		} else {
			os.RemoveAll(work)
		}
	}()
	started := time.Now()

	if c.has("mtreplica") {
		if c.mtBin == "" {
			b.prog.logf("building mtreplica")
		}
		b.eng = buildEngine(ctx, c.mtBin, work)
		if b.eng.err != nil {
			b.prog.logf("mtreplica unavailable, its runs will fail: %v", b.eng.err)
		}
	} else {
		b.eng = &engine{err: errors.New("not selected (--engines)")}
	}
	b.srv, err = startServers(ctx, c, b.prog.logf)
	if err != nil {
		return false, err
	}
	defer b.srv.stop()
	if err := b.srv.loadInitialData(ctx, c, work, b.prog.logf); err != nil {
		return false, err
	}
	machine := machineInfo(b.srv.source.Version)

	// Interrupted or not, whatever was measured is written out.
	defer func() {
		rep := report{
			title:   fmt.Sprintf("mtreplica vs MariaDB native replica (%s durability)", c.durability),
			command: command,
			machine: machine,
			notes:   append(b.notes, fmt.Sprintf("total time %s", time.Since(started).Round(time.Second))),
		}
		var md bytes.Buffer
		writeMarkdown(&md, rep, b.results)
		fmt.Print("\n" + md.String())
		if werr := b.writeOutputs(rep, md.Bytes()); werr != nil && err == nil {
			err = werr
		}
	}()

	failedRun := false
	for _, wl := range c.workloads {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if err := b.resetSource(ctx); err != nil {
			return false, err
		}
		b.sourceDirty = true
		bl, err := b.generate(ctx, wl)
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			b.note(fmt.Sprintf("workload %s not measured: %s", wl, firstLine(err.Error())))
			b.prog.logf("%v", err)
			failedRun = true
			continue
		}
		if c.has("mtreplica") && b.eng.err == nil {
			if bl.relayErr = b.fillRelay(ctx, bl); bl.relayErr != nil {
				b.prog.logf("mtreplica relay log for %s: %v", wl, bl.relayErr)
			}
		}
		b.runCatchUp(ctx, bl)
	}
	if c.steady > 0 {
		b.runSteady(ctx)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	ok = !failedRun
	for _, r := range b.results {
		if !r.Verified {
			ok = false
		}
	}
	return ok, nil
}

// runCatchUp runs every configuration on backlog bl, --repeat times, interleaved: each round runs every
// configuration once, starting one further along the list than the round before.
func (b *bench) runCatchUp(ctx context.Context, bl *backlog) {
	type runFn func(rep int) Result
	var runs []runFn
	if b.c.has("mariadb") {
		for _, nc := range b.c.nativeConfigs() {
			runs = append(runs, func(rep int) Result { return b.runNative(ctx, bl, nc, rep) })
		}
	}
	if b.c.has("mtreplica") {
		for _, mc := range b.c.mtConfigs() {
			if why := b.eng.unsupported(mc); why != "" {
				b.note(why)
				continue
			}
			runs = append(runs, func(rep int) Result { return b.runEngine(ctx, bl, mc, rep) })
		}
	}
	for rep := 1; rep <= b.c.repeat; rep++ {
		for i := range runs {
			if ctx.Err() != nil {
				return
			}
			r := runs[(i+rep-1)%len(runs)](rep)
			if ctx.Err() != nil {
				return // interrupted: the run's failure says nothing about the engine
			}
			b.record(r)
		}
	}
}

// runSteady measures lag under steady load for the --steady-native configurations and each mtreplica one.
func (b *bench) runSteady(ctx context.Context) {
	if b.c.has("mariadb") {
		for _, nc := range b.c.steadyNative {
			if ctx.Err() != nil {
				return
			}
			if r := b.steadyNative(ctx, nc); ctx.Err() == nil {
				b.record(r)
			}
		}
	}
	if b.c.has("mtreplica") {
		for _, mc := range b.c.mtConfigs() {
			if ctx.Err() != nil {
				return
			}
			if b.eng.unsupported(mc) != "" {
				continue // noted by the catch-up phase
			}
			if r := b.steadyEngine(ctx, mc); ctx.Err() == nil {
				b.record(r)
			}
		}
	}
}

func (b *bench) record(r Result) {
	b.results = append(b.results, r)
	switch {
	case r.Error != "":
		b.prog.logf("FAILED %s: %s", r.label(), r.Error)
	case r.Kind == "steady":
		b.prog.logf("%s: lag p50 %s p99 %s max %s, drained in %.1fs, verified", r.label(),
			fmtSecs(r.LagP50), fmtSecs(r.LagP99), fmtSecs(r.LagMax), r.DrainSeconds)
	default:
		rss := ""
		if r.PeakRSSBytes > 0 {
			rss = ", peak RSS " + fmtBytes(r.PeakRSSBytes)
		}
		b.prog.logf("%s: %d txns in %.2fs = %s txn/s (first applied after %.2fs%s; fsync %.2f ms, load %.1f), verified",
			r.label(), r.Txns, r.Seconds, fmtRate(r.TxnPerS), r.FirstApplySeconds, rss, r.FsyncMs, r.LoadAvg)
	}
}

func (b *bench) note(s string) {
	for _, n := range b.notes {
		if n == s {
			return
		}
	}
	b.notes = append(b.notes, s)
	b.prog.logf("%s", s)
}

func (b *bench) newResult(kind, engine, mode string, workers int, preserve bool, workload string, rep int) Result {
	r := Result{Kind: kind, Engine: engine, Mode: mode, Workers: workers, PreserveCommitOrder: preserve,
		Workload: workload, Durability: b.c.durability.String(), Repeat: rep, Tables: b.c.tables,
		TableSize: b.c.tableSize, Started: time.Now().UTC().Truncate(time.Second)}
	if kind == "steady" {
		r.SteadyRate = b.c.steadyRate
	}
	r.LoadAvg = loadAverage()
	if ms, err := fsyncProbe(b.srv.source.Dir, 50); err == nil {
		r.FsyncMs = ms
	}
	return r
}

// verify compares dst with the source; only a run whose target equals the source gets its figures.
func (b *bench) verify(ctx context.Context, res Result, dst *mariadbtest.Server, el time.Duration) Result {
	b.prog.start(res.label()+": verifying", 0)
	err := mariadbtest.Compare(ctx, b.srv.source, dst)
	b.prog.finish()
	if err != nil {
		return res.failed(fmt.Errorf("target differs from the source: %w", err))
	}
	res.Verified = true
	res.Seconds = el.Seconds()
	if res.Kind == "catch-up" {
		res.TxnPerS = float64(res.Txns) / res.Seconds
	}
	return res
}

// resetSource puts the source back to the initial data (and its binlog with it).
func (b *bench) resetSource(ctx context.Context) error {
	if !b.sourceDirty {
		return nil
	}
	if err := restore(ctx, b.srv.source, b.srv.sourceSnap); err != nil {
		return err
	}
	b.sourceDirty = false
	return nil
}

func (b *bench) writeOutputs(rep report, md []byte) error {
	var errs []error
	if b.c.jsonPath != "" {
		errs = append(errs, writeJSON(b.c.jsonPath, b.results))
	}
	if b.c.mdPath != "" {
		errs = append(errs, writeFile(b.c.mdPath, md))
	}
	if b.c.svgPath != "" {
		errs = append(errs, writeFile(b.c.svgPath, []byte(renderChart(rep.title, b.results))))
	}
	for _, p := range []string{b.c.jsonPath, b.c.mdPath, b.c.svgPath} {
		if p != "" {
			abs, _ := filepath.Abs(p)
			fmt.Fprintf(os.Stderr, "bench: wrote %s\n", abs)
		}
	}
	return errors.Join(errs...)
}

// machineInfo describes the machine for the report: CPUs, memory, the server version.
func machineInfo(serverVersion string) string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				var kb int64
				fmt.Sscan(f[1], &kb)
				mem = fmtBytes(kb << 10)
			}
		}
	}
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	s := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if model != "" {
		s += " (" + model + ")"
	}
	if mem != "" {
		s += ", " + mem + " RAM"
	}
	return s + ", " + strings.TrimSpace(serverVersion) + ", " + runtime.Version()
}
