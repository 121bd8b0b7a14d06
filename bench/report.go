package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Result is one run, as written to --json (one object per run in an array).
type Result struct {
	Kind                string  `json:"kind"`   // "catch-up" (apply a fixed backlog) or "steady" (lag under load)
	Engine              string  `json:"engine"` // "mtreplica" or "mariadb" (the native replica)
	Mode                string  `json:"mode"`   // mtreplica dependency mode, or slave_parallel_mode ("serial": 0 threads)
	Workers             int     `json:"workers"`
	PreserveCommitOrder bool    `json:"preserve_commit_order"`
	Workload            string  `json:"workload"`
	Durability          string  `json:"durability"`
	Txns                int64   `json:"txns"`
	Seconds             float64 `json:"seconds"`   // catch-up: time to apply the backlog; steady: load duration
	TxnPerS             float64 `json:"txn_per_s"` // catch-up: apply rate; steady: the source's rate
	PeakRSSBytes        int64   `json:"peak_rss_bytes"`
	FirstApplySeconds   float64 `json:"first_apply_s,omitempty"` // catch-up: from the start to the first transaction seen applied
	// Catch-up: CPU time (user + system) the target server used while it applied, and mtreplica's daemon used in
	// all (0 for the native replica, which runs inside the target).
	TargetCPUSeconds  float64 `json:"target_cpu_s,omitempty"`
	ReplicaCPUSeconds float64 `json:"replica_cpu_s,omitempty"`
	// Catch-up: redo log writes on the target while it applied (Innodb_log_writes; with strict durability each
	// is flushed: the commit groups the server made durable together), and its COMMIT statements (Com_commit;
	// mtreplica sends one per target transaction, a group of source transactions).
	TargetLogWrites int64 `json:"target_log_writes,omitempty"`
	TargetCommits   int64 `json:"target_commits,omitempty"`
	// The machine when the run started: median latency of a 4 KiB write + fdatasync next to the servers'
	// datadirs (ms), and the 1-minute load average. On a shared machine these explain most of the noise.
	FsyncMs  float64 `json:"fsync_ms"`
	LoadAvg  float64 `json:"load_avg"`
	Verified bool    `json:"verified"` // the target equals the source after the run
	Repeat   int     `json:"repeat"`
	Error    string  `json:"error,omitempty"` // why the run failed; Seconds and TxnPerS are then 0

	// Steady state only, in seconds.
	LagP50         *float64 `json:"lag_p50_s,omitempty"` // heartbeat lag percentiles
	LagP99         *float64 `json:"lag_p99_s,omitempty"`
	LagMax         *float64 `json:"lag_max_s,omitempty"`
	ReportedLagP50 *float64 `json:"reported_lag_p50_s,omitempty"` // Seconds_Behind_Master / _Source
	ReportedLagMax *float64 `json:"reported_lag_max_s,omitempty"`
	FetchBehindP50 *float64 `json:"fetch_behind_p50_txns,omitempty"` // source transactions not yet in the relay log
	FetchBehindMax *float64 `json:"fetch_behind_max_txns,omitempty"`
	DrainSeconds   float64  `json:"drain_seconds,omitempty"` // from the end of the load to caught up
	// LagSamples are the heartbeat lag samples in order (one per 250 ms), to see when lag builds up.
	LagSamples []float64 `json:"lag_samples_s,omitempty"`
	SteadyRate int       `json:"steady_rate,omitempty"` // the load's target rate (0: unthrottled)

	Tables    int       `json:"tables"`
	TableSize int       `json:"table_size"`
	Started   time.Time `json:"started"`
}

func (r Result) label() string {
	if r.Engine == "mariadb" {
		return fmt.Sprintf("%s %s native %s x%d #%d", r.Kind, r.Workload, r.Mode, r.Workers, r.Repeat)
	}
	return fmt.Sprintf("%s %s mtreplica %s x%d pco=%v #%d", r.Kind, r.Workload, r.Mode, r.Workers, r.PreserveCommitOrder, r.Repeat)
}

// fileName is a name for the run's log file.
func (r Result) fileName() string {
	return strings.NewReplacer(" ", "-", "#", "r", "=", "").Replace(r.label())
}

// failed marks r as failed with err: no figures are reported for it.
func (r Result) failed(err error) Result {
	r.Verified = false
	r.Error = err.Error()
	r.Seconds, r.TxnPerS = 0, 0
	r.LagP50, r.LagP99, r.LagMax, r.ReportedLagP50, r.ReportedLagMax = nil, nil, nil, nil, nil
	r.FetchBehindP50, r.FetchBehindMax, r.LagSamples = nil, nil, nil
	return r
}

func (r *Result) applySteady(sr *steadyResult) {
	f := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	r.LagP50, r.LagP99, r.LagMax = f(percentile(sr.lag, 0.5)), f(percentile(sr.lag, 0.99)), f(percentile(sr.lag, 1))
	r.ReportedLagP50, r.ReportedLagMax = f(percentile(sr.reported, 0.5)), f(percentile(sr.reported, 1))
	r.FetchBehindP50, r.FetchBehindMax = f(percentile(sr.fetch, 0.5)), f(percentile(sr.fetch, 1))
	r.LagSamples = make([]float64, len(sr.lag))
	for i, v := range sr.lag {
		r.LagSamples[i] = math.Round(v*1000) / 1000
	}
	r.Txns = sr.txns
	r.TxnPerS = float64(sr.txns) / sr.seconds
}

// seriesKey groups the runs of one configuration on one workload.
type seriesKey struct {
	kind, workload, engine, mode string
	workers                      int
	preserve                     bool
}

func keyOf(r Result) seriesKey {
	return seriesKey{r.Kind, r.Workload, r.Engine, r.Mode, r.Workers, r.PreserveCommitOrder}
}

// configName names a configuration in tables and the chart legend.
func configName(engine, mode string, preserve bool) string {
	if engine == "mariadb" {
		if mode == "serial" {
			return "native serial"
		}
		return "native " + mode
	}
	s := "mtreplica " + mode
	if !preserve {
		s += " (unordered)"
	}
	return s
}

// group is the runs of one configuration.
type group struct {
	key  seriesKey
	runs []Result
}

func (g group) ok() []Result {
	var ok []Result
	for _, r := range g.runs {
		if r.Verified && r.Error == "" {
			ok = append(ok, r)
		}
	}
	return ok
}

func (g group) rates() []float64 {
	var xs []float64
	for _, r := range g.ok() {
		xs = append(xs, r.TxnPerS)
	}
	return xs
}

// groupResults groups results by configuration, in order of first appearance.
func groupResults(results []Result, kind string) []group {
	var out []group
	idx := map[seriesKey]int{}
	for _, r := range results {
		if r.Kind != kind {
			continue
		}
		k := keyOf(r)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, group{key: k})
		}
		out[i].runs = append(out[i].runs, r)
	}
	return out
}

// report is what the markdown output says besides the results.
type report struct {
	title   string
	command string
	machine string
	notes   []string
}

// writeMarkdown renders the catch-up table (median over repeats, min-max, failures), the steady-state table and
// the notes.
func writeMarkdown(w io.Writer, rep report, results []Result) {
	if rep.title != "" {
		fmt.Fprintf(w, "## %s\n\n", rep.title)
	}
	if rep.command != "" {
		fmt.Fprintf(w, "Command: `%s`\n\n", rep.command)
	}
	if rep.machine != "" {
		fmt.Fprintf(w, "Machine: %s\n\n", rep.machine)
	}
	if gs := groupResults(results, "catch-up"); len(gs) > 0 {
		fmt.Fprintln(w, "### Catch-up: applying a fixed backlog")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| workload | durability | txns | engine | mode | workers | commit order | txn/s (median) | min-max | seconds | first txn | CPU ms/1k txn target + replica | target COMMITs / log writes per 1k txn | peak RSS | fsync ms | verified |")
		fmt.Fprintln(w, "|---|---|---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, g := range gs {
			r0 := g.runs[0]
			ok := g.ok()
			order := "preserved"
			if !g.key.preserve {
				order = "not preserved"
			}
			rate, span, secs, first, rss, cpu, fsy := "FAILED", "", "", "", "", "", ""
			var fsyncs []float64
			for _, r := range g.runs {
				fsyncs = append(fsyncs, r.FsyncMs)
			}
			if len(ok) > 0 {
				xs := g.rates()
				rate = fmtRate(median(xs))
				if len(xs) > 1 {
					span = fmtRate(slices.Min(xs)) + "-" + fmtRate(slices.Max(xs))
				}
				var ss, fs, tc, rc, fy, fc []float64
				var peak int64
				for _, r := range ok {
					ss = append(ss, r.Seconds)
					fs = append(fs, r.FirstApplySeconds)
					peak = max(peak, r.PeakRSSBytes)
					if r.TargetCPUSeconds > 0 && r.Txns > 0 {
						tc = append(tc, r.TargetCPUSeconds/float64(r.Txns)*1e6)
						rc = append(rc, r.ReplicaCPUSeconds/float64(r.Txns)*1e6)
					}
					if r.TargetLogWrites > 0 && r.Txns > 0 {
						fy = append(fy, float64(r.TargetLogWrites)/float64(r.Txns)*1000)
						fc = append(fc, float64(r.TargetCommits)/float64(r.Txns)*1000)
					}
				}
				if len(tc) > 0 {
					cpu = fmt.Sprintf("%.0f + %.0f", median(tc), median(rc))
				}
				if len(fy) > 0 {
					fsy = fmt.Sprintf("%.0f / %.0f", median(fc), median(fy))
				}
				secs = fmt.Sprintf("%.1f", median(ss))
				first = fmt.Sprintf("%.2f", median(fs))
				if peak > 0 {
					rss = fmtBytes(peak)
				}
			}
			engine := "mtreplica"
			if g.key.engine == "mariadb" {
				engine = "MariaDB native"
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %d/%d |\n",
				g.key.workload, r0.Durability, r0.Txns, engine, g.key.mode, g.key.workers, order, rate, span, secs, first, cpu, fsy, rss,
				median(fsyncs),
				len(ok), len(g.runs))
		}
		fmt.Fprintln(w)
	}
	if gs := groupResults(results, "steady"); len(gs) > 0 {
		fmt.Fprintln(w, "### Steady state: replication lag under continuous load")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| workload | durability | source txn/s | engine | mode | workers | lag p50 | lag p99 | lag max | reported lag p50 / max | fetch backlog p50 / max | drain | peak RSS | verified |")
		fmt.Fprintln(w, "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, g := range gs {
			for _, r := range g.runs {
				engine := "mtreplica"
				if r.Engine == "mariadb" {
					engine = "MariaDB native"
				}
				if r.Error != "" || !r.Verified {
					fmt.Fprintf(w, "| %s | %s | | %s | %s | %d | FAILED | | | | | | | no |\n", r.Workload, r.Durability, engine, r.Mode, r.Workers)
					continue
				}
				rss := ""
				if r.PeakRSSBytes > 0 {
					rss = fmtBytes(r.PeakRSSBytes)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s / %s | %s / %s | %.1fs | %s | yes |\n",
					r.Workload, r.Durability, fmtRate(r.TxnPerS), engine, r.Mode, r.Workers,
					fmtSecs(r.LagP50), fmtSecs(r.LagP99), fmtSecs(r.LagMax), fmtSecs(r.ReportedLagP50), fmtSecs(r.ReportedLagMax),
					fmtCount(r.FetchBehindP50), fmtCount(r.FetchBehindMax), r.DrainSeconds, rss)
			}
		}
		fmt.Fprintln(w)
	}
	var failures []string
	for _, r := range results {
		if r.Error != "" {
			failures = append(failures, fmt.Sprintf("- FAILED %s: %s", r.label(), firstLine(r.Error)))
		}
	}
	if len(failures) > 0 {
		fmt.Fprintln(w, "Failed runs (no figures are reported for them):")
		fmt.Fprintln(w)
		for _, f := range failures {
			fmt.Fprintln(w, f)
		}
		fmt.Fprintln(w)
	}
	if len(rep.notes) > 0 {
		fmt.Fprintln(w, "Notes:")
		fmt.Fprintln(w)
		for _, n := range rep.notes {
			fmt.Fprintln(w, "- "+n)
		}
		fmt.Fprintln(w)
	}
}

// writeJSON writes results as an indented JSON array.
func writeJSON(path string, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case v >= 10000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2fk", v/1000)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func fmtSecs(v *float64) string {
	if v == nil {
		return "-"
	}
	if *v < 10 {
		return fmt.Sprintf("%.2fs", *v)
	}
	return fmt.Sprintf("%.1fs", *v)
}

func fmtCount(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", *v)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
