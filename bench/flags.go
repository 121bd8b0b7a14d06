package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// config is everything the command line chooses. parseFlags builds it; nothing else reads flags.
type config struct {
	quick      bool
	durability mariadbtest.Durability
	tables     int
	tableSize  int
	txns       int
	workloads  []string
	repeat     int
	engines    []string // "mtreplica", "mariadb"

	nativeThreads []int
	nativeModes   []string
	mtModes       []string
	mtWorkers     []int
	mtPreserve    []bool
	mtGroups      []int
	mtPipeline    []bool
	mtRowApply    []string

	steady         time.Duration
	steadyRate     int
	steadyWorkload string
	steadyCold     bool // don't warm the buffer pools before the steady phase
	steadyNative   []nativeConfig

	bigTxns int
	bigRows int

	bufferPool string
	redoLog    string

	jsonPath string
	svgPath  string
	mdPath   string
	mtBin    string
	fromJSON string
	keep     bool
	timeout  time.Duration
}

// nativeConfig is one setting of MariaDB's own parallel replica.
type nativeConfig struct {
	threads int    // slave_parallel_threads (0: the SQL thread applies serially)
	mode    string // slave_parallel_mode; "serial" when threads is 0
}

func (n nativeConfig) String() string {
	if n.threads == 0 {
		return "0"
	}
	return fmt.Sprintf("%d:%s", n.threads, n.mode)
}

// mtConfig is one setting of mtreplica's applier.
type mtConfig struct {
	mode     string // dependency tracking mode (DESIGN.md section 3)
	workers  int
	preserve bool   // preserve-commit-order
	group    int    // --group-transactions (0: the daemon's default)
	rowApply string // --row-apply ("": the daemon's default)
	pipeline bool   // --pipeline (the daemon's default: true)
}

// label is the mode as reports show it: the group size is part of it when set.
func (m mtConfig) label() string {
	l := m.mode
	if m.group > 0 {
		l += fmt.Sprintf(" group=%d", m.group)
	}
	if m.rowApply != "" {
		l += " rows=" + m.rowApply
	}
	if !m.pipeline {
		l += " no-pipeline"
	}
	return l
}

func (m mtConfig) String() string {
	return fmt.Sprintf("%s/%d/pco=%v", m.label(), m.workers, m.preserve)
}

// Names accepted by the list flags.
var (
	allWorkloads   = []string{"write16", "write1", "insert", "hotspot", "bigtxn", "ddl"}
	allEngines     = []string{"mtreplica", "mariadb"}
	allNativeModes = []string{"conservative", "optimistic", "aggressive", "minimal", "none"}
	allMTModes     = []string{"commit-order", "logical-clock", "writeset", "database"}
)

// quickDefaults are the flag values --quick implies, unless the flag is given explicitly.
var quickDefaults = map[string]string{
	"tables":         "2",
	"table-size":     "10000",
	"txns":           "3000",
	"workloads":      "write16",
	"repeat":         "1",
	"native-threads": "0,16",
	"native-modes":   "optimistic",
	"mt-workers":     "1,4",
	"steady":         "10s",
	"steady-rate":    "300",
	"steady-native":  "0",
	"buffer-pool":    "256M",
	"redo-log":       "96M",
	"json":           "bench-results/quick.json",
	"big-txns":       "3",
	"big-rows":       "10000",
}

const usageText = `go run ./bench [flags]: mtreplica against MariaDB's own replica, side by side.

Starts a source, a target for mtreplica and a target that is a native MariaDB replica (throwaway local servers),
loads the same initial data everywhere, leaves a fixed backlog on the source for each workload and times how long
each replica configuration takes to apply it; then measures replication lag under steady load. Every run is
verified against the source; a run that differs is reported as failed. Output: a markdown table on stdout, and
--json, --md and --svg files.

Flags:
`

// parseFlags parses args (without the program name). Errors name the flag and what it accepts.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	var (
		c                                                                         config
		durability, workloads, engines                                            string
		nativeThreads, nativeModes, mtModes, mtWorkers, pco, mtGroups, mtRowApply string
		mtPipeline                                                                string
		steadyNative                                                              string
	)
	fs.BoolVar(&c.quick, "quick", false, "a small run (2 tables x 10k rows, 3000-transaction backlog, write16 only, 1 repeat, native 0 and 16:optimistic, mtreplica 1 and 4 workers, 10s steady): under 3 minutes")
	fs.StringVar(&durability, "durability", "strict", "strict (innodb_flush_log_at_trx_commit=1, sync_binlog=1) or relaxed (2 and 0), on every server")
	fs.IntVar(&c.tables, "tables", 8, "sysbench tables of initial data")
	fs.IntVar(&c.tableSize, "table-size", 100000, "rows per sysbench table")
	fs.IntVar(&c.txns, "txns", 100000, "backlog size: transactions each workload leaves on the source (bigtxn: see --big-txns)")
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "workloads, comma-separated: "+strings.Join(allWorkloads, ", "))
	fs.IntVar(&c.repeat, "repeat", 2, "runs of every configuration per workload (interleaved)")
	fs.StringVar(&engines, "engines", strings.Join(allEngines, ","), "engines to measure: mtreplica, mariadb (the native replica)")
	fs.StringVar(&nativeThreads, "native-threads", "0,4,16", "slave_parallel_threads values of the native replica")
	fs.StringVar(&nativeModes, "native-modes", "conservative,optimistic,aggressive", "slave_parallel_mode values (used where threads > 0)")
	fs.StringVar(&mtModes, "mt-modes", "logical-clock+writeset", "mtreplica dependency tracking modes (--dependency-tracking): "+
		strings.Join(allMTModes, ", ")+", or several joined by +")
	fs.StringVar(&mtWorkers, "mt-workers", "1,4,16", "mtreplica worker counts")
	fs.StringVar(&mtRowApply, "mt-row-apply", "", "mtreplica --row-apply values: sql, binlog (empty: the daemon's default)")
	fs.StringVar(&mtPipeline, "mt-pipeline", "true", "mtreplica --pipeline values (false, true or both)")
	fs.StringVar(&mtGroups, "mt-group", "0", "mtreplica --group-transactions values (transactions per target transaction; 0: the daemon's default)")
	fs.StringVar(&pco, "mt-preserve-commit-order", "true", "mtreplica preserve-commit-order values (true, false or both)")
	fs.DurationVar(&c.steady, "steady", 30*time.Second, "steady-state phase: source under continuous load this long per configuration (0 skips it)")
	fs.IntVar(&c.steadyRate, "steady-rate", 1000, "steady-state load in transactions/s (sysbench --rate; 0 = as fast as the source goes)")
	fs.StringVar(&c.steadyWorkload, "steady-workload", "write16", "steady-state workload: write16, write1 or insert")
	fs.BoolVar(&c.steadyCold, "steady-cold", false, "start the steady phase with the servers' buffer pools cold (just restarted) instead of warmed by a scan of every table: measures the start-up transient too")
	fs.StringVar(&steadyNative, "steady-native", "0,16:optimistic", "native configurations measured in steady state (threads[:mode])")
	fs.IntVar(&c.bigTxns, "big-txns", 10, "bigtxn workload: number of large transactions")
	fs.IntVar(&c.bigRows, "big-rows", 100000, "bigtxn workload: rows per large transaction")
	fs.StringVar(&c.bufferPool, "buffer-pool", "1G", "innodb_buffer_pool_size of every server")
	fs.StringVar(&c.redoLog, "redo-log", "256M", "innodb_log_file_size of every server")
	fs.StringVar(&c.jsonPath, "json", "bench-results/bench.json", "write one JSON object per run here (\"\" = don't)")
	fs.StringVar(&c.svgPath, "svg", "", "write the chart here (default: the --json path with .svg)")
	fs.StringVar(&c.mdPath, "md", "", "write the markdown report here (default: the --json path with .md)")
	fs.StringVar(&c.mtBin, "mtreplica-bin", "", "use this mtreplica binary instead of building ./cmd/mtreplica (to measure a fixed build)")
	fs.StringVar(&c.fromJSON, "from-json", "", "measure nothing: render the table (stdout, --md) and chart (--svg) of an earlier --json file")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (snapshots, relay logs, engine logs) at the end")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up on one run after this long (reported as failed)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if c.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quickDefaults {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return config{}, fmt.Errorf("quick default -%s=%s: %w", name, v, err)
				}
			}
		}
	}

	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch durability {
	case "strict":
		c.durability = mariadbtest.Strict
	case "relaxed":
		c.durability = mariadbtest.Relaxed
	default:
		bad("-durability %q: use strict or relaxed", durability)
	}
	var err error
	if c.workloads, err = parseNames("workloads", workloads, allWorkloads); err != nil {
		errs = append(errs, err)
	}
	if c.engines, err = parseNames("engines", engines, allEngines); err != nil {
		errs = append(errs, err)
	}
	if c.nativeModes, err = parseNames("native-modes", nativeModes, allNativeModes); err != nil {
		errs = append(errs, err)
	}
	if c.mtModes, err = parseModes("mt-modes", mtModes); err != nil {
		errs = append(errs, err)
	}
	if c.nativeThreads, err = parseInts("native-threads", nativeThreads, 0, 256); err != nil {
		errs = append(errs, err)
	}
	if c.mtWorkers, err = parseInts("mt-workers", mtWorkers, 1, 256); err != nil {
		errs = append(errs, err)
	}
	if c.mtRowApply = splitList(mtRowApply); len(c.mtRowApply) == 0 {
		c.mtRowApply = []string{""}
	}
	for _, v := range c.mtRowApply {
		if v != "" && v != "sql" && v != "binlog" {
			return c, fmt.Errorf("-mt-row-apply: unknown %q; use sql, binlog", v)
		}
	}
	if c.mtPipeline, err = parseBools("mt-pipeline", mtPipeline); err != nil {
		errs = append(errs, err)
	}
	if c.mtGroups, err = parseInts("mt-group", mtGroups, 0, 10000); err != nil {
		return c, err
	}
	if c.mtPreserve, err = parseBools("mt-preserve-commit-order", pco); err != nil {
		errs = append(errs, err)
	}
	if c.steadyNative, err = parseNativeConfigs("steady-native", steadyNative); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains([]string{"write16", "write1", "insert"}, c.steadyWorkload) {
		bad("-steady-workload %q: use write16, write1 or insert", c.steadyWorkload)
	}
	for _, v := range []struct {
		name string
		val  int
		min  int
	}{{"tables", c.tables, 1}, {"table-size", c.tableSize, 100}, {"txns", c.txns, 1}, {"repeat", c.repeat, 1},
		{"big-txns", c.bigTxns, 1}, {"big-rows", c.bigRows, 1}, {"steady-rate", c.steadyRate, 0}} {
		if v.val < v.min {
			bad("-%s %d: must be at least %d", v.name, v.val, v.min)
		}
	}
	if c.steady < 0 {
		bad("-steady %v: must not be negative", c.steady)
	}
	if c.timeout <= 0 {
		bad("-timeout %v: must be positive", c.timeout)
	}
	if c.fromJSON != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["json"] {
			c.jsonPath = c.fromJSON // derive the other outputs from it; it is not rewritten
		}
	}
	if c.jsonPath != "" {
		base := strings.TrimSuffix(c.jsonPath, filepath.Ext(c.jsonPath))
		if c.svgPath == "" {
			c.svgPath = base + ".svg"
		}
		if c.mdPath == "" {
			c.mdPath = base + ".md"
		}
	}
	return c, errors.Join(errs...)
}

// nativeConfigs expands --native-threads x --native-modes; threads 0 is one configuration whatever the modes.
func (c config) nativeConfigs() []nativeConfig {
	var out []nativeConfig
	for _, t := range c.nativeThreads {
		if t == 0 {
			out = append(out, nativeConfig{threads: 0, mode: "serial"})
			continue
		}
		for _, m := range c.nativeModes {
			out = append(out, nativeConfig{threads: t, mode: m})
		}
	}
	return out
}

// mtConfigs expands --mt-modes x --mt-workers x --mt-preserve-commit-order.
func (c config) mtConfigs() []mtConfig {
	var out []mtConfig
	for _, m := range c.mtModes {
		for _, w := range c.mtWorkers {
			for _, p := range c.mtPreserve {
				for _, g := range c.mtGroups {
					for _, ra := range c.mtRowApply {
						for _, pl := range c.mtPipeline {
							out = append(out, mtConfig{mode: m, workers: w, preserve: p, group: g, rowApply: ra, pipeline: pl})
						}
					}
				}
			}
		}
	}
	return out
}

func (c config) has(engine string) bool { return slices.Contains(c.engines, engine) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseNames(flagName, s string, allowed []string) ([]string, error) {
	var out []string
	for _, f := range splitList(s) {
		if !slices.Contains(allowed, f) {
			return nil, fmt.Errorf("-%s: unknown %q; use %s", flagName, f, strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: empty; use %s", flagName, strings.Join(allowed, ", "))
	}
	return out, nil
}

func parseInts(flagName, s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("-%s: %q is not a number from %d to %d", flagName, f, lo, hi)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: empty", flagName)
	}
	return out, nil
}

func parseBools(flagName, s string) ([]bool, error) {
	var out []bool
	for _, f := range splitList(s) {
		var vals []bool
		switch strings.ToLower(f) {
		case "true", "on", "1", "yes":
			vals = []bool{true}
		case "false", "off", "0", "no":
			vals = []bool{false}
		case "both":
			vals = []bool{true, false}
		default:
			return nil, fmt.Errorf("-%s: %q: use true, false or both", flagName, f)
		}
		for _, v := range vals {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: empty", flagName)
	}
	return out, nil
}

// parseModes parses dependency tracking modes: each a name or names joined by "+" ("logical-clock+writeset").
func parseModes(flagName, s string) ([]string, error) {
	var out []string
	for _, f := range splitList(s) {
		parts := strings.Split(f, "+")
		for i, p := range parts {
			parts[i] = strings.ToLower(strings.TrimSpace(p))
			if !slices.Contains(allMTModes, parts[i]) {
				return nil, fmt.Errorf("-%s: unknown mode %q in %q; use %s, or several joined by +",
					flagName, p, f, strings.Join(allMTModes, ", "))
			}
		}
		if m := strings.Join(parts, "+"); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: empty; use %s", flagName, strings.Join(allMTModes, ", "))
	}
	return out, nil
}

// parseNativeConfigs parses "0,16:optimistic,4:conservative".
func parseNativeConfigs(flagName, s string) ([]nativeConfig, error) {
	var out []nativeConfig
	for _, f := range splitList(s) {
		ts, mode, hasMode := strings.Cut(f, ":")
		n, err := strconv.Atoi(ts)
		if err != nil || n < 0 || n > 256 {
			return nil, fmt.Errorf("-%s: %q: want threads[:mode], threads from 0 to 256", flagName, f)
		}
		switch {
		case n == 0:
			mode = "serial"
		case !hasMode:
			mode = "conservative"
		case !slices.Contains(allNativeModes, mode):
			return nil, fmt.Errorf("-%s: %q: unknown mode %q; use %s", flagName, f, mode, strings.Join(allNativeModes, ", "))
		}
		out = append(out, nativeConfig{threads: n, mode: mode})
	}
	return out, nil
}
