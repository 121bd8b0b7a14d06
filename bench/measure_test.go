package main

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{[]float64{5}, 0.5, 5},
		{[]float64{5}, 0.99, 5},
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{1, 2, 3, 4}, 1, 4},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{4, 3, 2, 1}, 0.5, 2.5}, // order does not matter
		{[]float64{1, 2, 3, 4, 5}, 0.5, 3},
		{[]float64{0, 10}, 0.99, 9.9},
		{[]float64{1, 2, 3}, 2, 3},  // q clamped
		{[]float64{1, 2, 3}, -1, 1}, // q clamped
	} {
		if got := percentile(tc.xs, tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(percentile(nil, 0.5)) {
		t.Error("percentile of no samples should be NaN")
	}
	xs := []float64{3, 1, 2}
	percentile(xs, 0.5)
	if xs[0] != 3 || xs[1] != 1 {
		t.Error("percentile sorted its input in place")
	}
}

func TestParseGTIDPos(t *testing.T) {
	p, err := parseGTIDPos("0-1-100,2-7-5")
	if err != nil {
		t.Fatal(err)
	}
	if p[0].seq != 100 || p[2].seq != 5 || p[2].serverID != 7 {
		t.Fatalf("parsed %+v", p)
	}
	if s := p.String(); s != "0-1-100,2-7-5" {
		t.Errorf("String = %q", s)
	}
	if e, err := parseGTIDPos(""); err != nil || len(e) != 0 {
		t.Errorf("empty position: %v %v", e, err)
	}
	for _, bad := range []string{"0-1", "a-b-c", "0-1-2,0-1-3", "0-1-2-3"} {
		if _, err := parseGTIDPos(bad); err == nil {
			t.Errorf("parseGTIDPos(%q) accepted", bad)
		}
	}
}

func TestGTIDPosCoversAndCounts(t *testing.T) {
	base, _ := parseGTIDPos("0-1-100")
	end, _ := parseGTIDPos("0-1-3100,1-1-20")
	mid, _ := parseGTIDPos("0-2-3100") // another server id, same domain: only seq counts
	if !end.covers(base) || base.covers(end) {
		t.Error("covers is wrong for base/end")
	}
	if mid.covers(end) {
		t.Error("a position without domain 1 cannot cover one with it")
	}
	if n := end.txnsSince(base); n != 3000+20 {
		t.Errorf("txnsSince = %d, want 3020", n)
	}
	if n := base.txnsSince(end); n != 0 {
		t.Errorf("txnsSince backwards = %d, want 0", n)
	}
}

func TestParseVmHWM(t *testing.T) {
	status := []byte("Name:\tmtreplica\nVmPeak:\t  900000 kB\nVmHWM:\t   41234 kB\nVmRSS:\t   30000 kB\n")
	n, err := parseVmHWM(status)
	if err != nil || n != 41234<<10 {
		t.Fatalf("parseVmHWM = %d, %v", n, err)
	}
	if _, err := parseVmHWM([]byte("Name:\tx\n")); err == nil {
		t.Error("missing VmHWM accepted")
	}
}

func TestRunFlagsOf(t *testing.T) {
	usage := `Usage of run:
  -config string
    	YAML configuration file
  -idempotent
    	ignore missing rows
  -workers int
    	applier workers (default 1)
`
	f := runFlagsOf(usage)
	for _, name := range []string{"config", "idempotent", "workers"} {
		if !f[name] {
			t.Errorf("flag %s not found", name)
		}
	}
	if f["mode"] || f["YAML"] {
		t.Error("found a flag that is not there")
	}
	e := &engine{flags: f}
	if why := e.unsupported(mtConfig{mode: "commit-order", workers: 4, preserve: true}); why != "" {
		t.Errorf("workers=4 with --workers available: %s", why)
	}
	why := e.unsupported(mtConfig{mode: "writeset", workers: 4, preserve: false})
	if !strings.Contains(why, "--dependency-tracking") || !strings.Contains(why, "--preserve-commit-order") || strings.Contains(why, "--workers") {
		t.Errorf("unsupported = %q", why)
	}
	if why := (&engine{flags: map[string]bool{}}).unsupported(defaultMT); why != "" {
		t.Errorf("the default configuration needs no flag: %s", why)
	}
}

func TestEngineRunArgsPassThrough(t *testing.T) {
	base, _ := parseGTIDPos("0-1-17")
	srv := testServer(40000)
	dst := testServer(40001)
	plain := (&engine{flags: map[string]bool{}}).runArgs(srv, dst, "/relay", base, defaultMT)
	joined := strings.Join(plain, " ")
	for _, want := range []string{"run", "--source repl:replpass@tcp(127.0.0.1:40000)/", "--target root@tcp(127.0.0.1:40001)/",
		"--relay-dir /relay", "--start-gtid 0-1-17"} {
		if !strings.Contains(joined, want) {
			t.Errorf("args %q lack %q", joined, want)
		}
	}
	if strings.Contains(joined, "--workers") {
		t.Errorf("passed --workers to a daemon without it: %q", joined)
	}
	if strings.Contains(joined, "--pipeline") {
		t.Errorf("passed --pipeline to a daemon without it: %q", joined)
	}
	full := (&engine{flags: map[string]bool{"workers": true, "dependency-tracking": true, "preserve-commit-order": true, "pipeline": true}}).
		runArgs(srv, dst, "/relay", base, mtConfig{mode: "logical-clock+writeset", workers: 8, preserve: false})
	joined = strings.Join(full, " ")
	// Pipelining is the daemon's default now: turning it off must be explicit.
	for _, want := range []string{"--workers=8", "--dependency-tracking=logical-clock+writeset", "--preserve-commit-order=false", "--pipeline=false"} {
		if !strings.Contains(joined, want) {
			t.Errorf("args %q lack %q", joined, want)
		}
	}
}

func TestProgressPlainOutput(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf) // not a terminal: no redraws, plain lines every 15 s
	p.start("catch-up write16 native serial x0 #1", 1000)
	p.set(500)
	p.tick(time.Now().Add(20 * time.Second))
	p.logf("hello %d", 1)
	p.finish()
	out := buf.String()
	if !strings.Contains(out, "500/1000 (50%)") || !strings.Contains(out, "bench: hello 1\n") {
		t.Errorf("progress output:\n%s", out)
	}
	if strings.Contains(out, "\r") {
		t.Error("control characters written to a non-terminal")
	}
}

func TestProcessCPU(t *testing.T) {
	a, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++
	}
	b, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b < a || b == 0 {
		t.Fatalf("CPU time went from %v to %v after a busy loop (%d)", a, b, x)
	}
	if _, err := processCPU(-1); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
