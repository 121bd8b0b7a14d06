package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

func testServer(port int) *mariadbtest.Server {
	return &mariadbtest.Server{Host: "127.0.0.1", Port: port}
}

// sampleResults: native serial twice, native 16 optimistic twice, mtreplica once ok once failed, a config whose
// only run failed, and one steady run per engine.
func sampleResults() []Result {
	ok := func(engine, mode string, workers int, rate float64, rep int) Result {
		return Result{Kind: "catch-up", Engine: engine, Mode: mode, Workers: workers, PreserveCommitOrder: true,
			Workload: "write16", Durability: "strict", Txns: 100000, Seconds: 100000 / rate, TxnPerS: rate,
			Verified: true, Repeat: rep}
	}
	failed := ok("mtreplica", "commit-order", 1, 0, 2).failed(errors.New("target differs from the source: 1 difference(s)\n  sbtest.sbtest1: checksum differs"))
	lone := ok("mariadb", "aggressive", 4, 0, 1).failed(errors.New("native SQL thread stopped: boom"))
	rss := ok("mtreplica", "commit-order", 1, 1100, 1)
	rss.PeakRSSBytes = 40 << 20
	rss.TargetCPUSeconds, rss.ReplicaCPUSeconds = 30, 9 // per 1k of 100000 txns: 300 and 90 ms
	rss.TargetLogWrites, rss.TargetCommits = 2500, 800  // 25 and 8 per 1k
	p50, p99, mx := 0.08, 0.19, 0.2
	steady := Result{Kind: "steady", Engine: "mariadb", Mode: "serial", Workload: "write16", Durability: "strict",
		Txns: 30000, TxnPerS: 1000, Seconds: 30, Verified: true, LagP50: &p50, LagP99: &p99, LagMax: &mx, DrainSeconds: 0.1}
	steadyFailed := Result{Kind: "steady", Engine: "mtreplica", Mode: "commit-order", Workers: 1, Workload: "write16",
		Durability: "strict"}.failed(errors.New("mtreplica exited"))
	return []Result{
		ok("mariadb", "serial", 0, 2100, 1), ok("mariadb", "optimistic", 16, 5200, 1), rss, lone,
		ok("mariadb", "serial", 0, 2500, 2), ok("mariadb", "optimistic", 16, 6000, 2), failed,
		steady, steadyFailed,
	}
}

func TestMarkdownTable(t *testing.T) {
	var buf bytes.Buffer
	writeMarkdown(&buf, report{title: "T", command: "go run ./bench", notes: []string{"a note"}}, sampleResults())
	out := buf.String()
	for _, want := range []string{
		"## T", "Command: `go run ./bench`",
		"| write16 | strict | 100000 | MariaDB native | serial | 0 | preserved | 2.30k | 2.10k-2.50k | 43.8 | 0.00 |  |  |  | 0.00 | 2/2 |",
		"| write16 | strict | 100000 | MariaDB native | optimistic | 16 | preserved | 5.60k | 5.20k-6.00k |",
		// one verified run and one failed one: the figure is the verified run's, the failure is counted
		"| write16 | strict | 100000 | mtreplica | commit-order | 1 | preserved | 1.10k |  | 90.9 | 0.00 | 300 + 90 | 8 / 25 | 40 MiB | 0.00 | 1/2 |",
		"| write16 | strict | 100000 | MariaDB native | aggressive | 4 | preserved | FAILED |",
		"| write16 | strict | 1.00k | MariaDB native | serial | 0 | 0.08s | 0.19s | 0.20s |",
		"| write16 | strict | | mtreplica | commit-order | 1 | FAILED |",
		"| 0.08s | 0.19s | 0.20s | - / - | - / - | 0.1s |  | yes |",
		"- FAILED catch-up write16 mtreplica commit-order x1 pco=true #2: target differs from the source: 1 difference(s)",
		"- a note",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "checksum differs") {
		t.Error("a multi-line error was not cut to its first line")
	}
}

func TestFailedRunHasNoFigures(t *testing.T) {
	r := Result{Kind: "catch-up", Seconds: 3, TxnPerS: 1000, Verified: true}.failed(errors.New("x"))
	if r.Verified || r.Seconds != 0 || r.TxnPerS != 0 || r.Error != "x" {
		t.Errorf("failed run: %+v", r)
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "r.json")
	if err := writeJSON(path, sampleResults()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sampleResults()) {
		t.Fatalf("%d objects, want %d", len(got), len(sampleResults()))
	}
	for _, k := range []string{"engine", "mode", "workers", "preserve_commit_order", "workload", "durability", "txns",
		"seconds", "txn_per_s", "peak_rss_bytes", "verified"} {
		if _, ok := got[0][k]; !ok {
			t.Errorf("JSON object lacks %q: %v", k, got[0])
		}
	}
	if _, ok := got[0]["lag_p50_s"]; ok {
		t.Error("a catch-up run carries steady-state fields")
	}
	if got[7]["lag_p99_s"] != 0.19 {
		t.Errorf("steady run: %v", got[7])
	}
	if err := writeJSON(filepath.Join(t.TempDir(), "empty.json"), nil); err != nil {
		t.Fatal(err)
	}
}

func TestChartIsWellFormedSVG(t *testing.T) {
	res := sampleResults()
	more := res[0]
	more.Workload, more.TxnPerS = "write1", 1900
	res = append(res, more)
	svg := renderChart("mtreplica & MariaDB <strict>", res)
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
	}
	for _, want := range []string{"<svg", "native serial", "native optimistic", "mtreplica commit-order", "failed",
		"write16: sysbench oltp_write_only, 16 clients", "write1:", "&lt;strict&gt;", "5.60k"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Error("chart has NaN or Inf coordinates")
	}
	if empty := renderChart("none", nil); !strings.Contains(empty, "no catch-up results") {
		t.Error("empty chart says nothing")
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ v, top, step float64 }{
		{6000, 6000, 2000}, {5600, 6000, 2000}, {4530, 5000, 1000}, {1150, 1250, 250}, {0, 1, 0.2}, {7, 8, 2},
	} {
		top, step := niceScale(tc.v)
		if top != tc.top || step != tc.step {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.v, top, step, tc.top, tc.step)
		}
	}
}
