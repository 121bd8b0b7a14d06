package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

func TestParseFlagsDefaults(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.durability != mariadbtest.Strict || c.tables != 8 || c.tableSize != 100000 || c.txns != 100000 || c.repeat != 2 {
		t.Errorf("defaults: %+v", c)
	}
	if !slices.Equal(c.workloads, allWorkloads) || !slices.Equal(c.engines, allEngines) {
		t.Errorf("workloads %v, engines %v", c.workloads, c.engines)
	}
	if c.steady != 30*time.Second {
		t.Errorf("steady = %v", c.steady)
	}
	// 0 once, then 4 and 16 with each of the three modes.
	if n := len(c.nativeConfigs()); n != 7 {
		t.Errorf("%d native configurations, want 7: %v", n, c.nativeConfigs())
	}
	wantMT := []mtConfig{{"logical-clock+writeset", 1, true, 0, "", true}, {"logical-clock+writeset", 4, true, 0, "", true}, {"logical-clock+writeset", 16, true, 0, "", true}}
	if got := c.mtConfigs(); !slices.Equal(got, wantMT) {
		t.Errorf("mtreplica configurations %v, want %v", got, wantMT)
	}
	if c.svgPath != "bench-results/bench.svg" || c.mdPath != "bench-results/bench.md" {
		t.Errorf("derived paths %q %q", c.svgPath, c.mdPath)
	}
}

func TestParseFlagsQuick(t *testing.T) {
	c, err := parseFlags([]string{"--quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.tables != 2 || c.tableSize != 10000 || c.txns != 3000 || c.repeat != 1 || !slices.Equal(c.workloads, []string{"write16"}) {
		t.Errorf("quick: %+v", c)
	}
	if c.jsonPath != "bench-results/quick.json" || c.svgPath != "bench-results/quick.svg" {
		t.Errorf("quick outputs %q %q", c.jsonPath, c.svgPath)
	}
	want := []nativeConfig{{0, "serial"}, {16, "optimistic"}}
	if got := c.nativeConfigs(); !slices.Equal(got, want) {
		t.Errorf("quick native configurations %v, want %v", got, want)
	}
	// Explicit flags win over what --quick implies, in either order.
	c, err = parseFlags([]string{"--txns", "500", "--quick", "--json", "x/out.json", "--durability=relaxed"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.txns != 500 || c.tables != 2 || c.jsonPath != "x/out.json" || c.svgPath != "x/out.svg" || c.durability != mariadbtest.Relaxed {
		t.Errorf("quick with overrides: %+v", c)
	}
}

func TestParseFlagsLists(t *testing.T) {
	c, err := parseFlags([]string{"--native-threads", "0, 4,4", "--native-modes", "aggressive", "--mt-workers", "1,4",
		"--mt-modes", "commit-order, Writeset+logical-clock", "--mt-preserve-commit-order", "both", "--steady-native", "0,16:optimistic,8"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []nativeConfig{{0, "serial"}, {4, "aggressive"}}; !slices.Equal(c.nativeConfigs(), want) {
		t.Errorf("native %v, want %v", c.nativeConfigs(), want)
	}
	if n := len(c.mtConfigs()); n != 2*2*2 {
		t.Errorf("%d mtreplica configurations, want 8", n)
	}
	if !slices.Equal(c.mtModes, []string{"commit-order", "writeset+logical-clock"}) {
		t.Errorf("modes %q", c.mtModes)
	}
	if want := []nativeConfig{{0, "serial"}, {16, "optimistic"}, {8, "conservative"}}; !slices.Equal(c.steadyNative, want) {
		t.Errorf("steady native %v, want %v", c.steadyNative, want)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--durability", "paranoid"}, "strict or relaxed"},
		{[]string{"--workloads", "write16,oltp"}, `unknown "oltp"`},
		{[]string{"--engines", ""}, "-engines: empty"},
		{[]string{"--native-threads", "-1"}, "native-threads"},
		{[]string{"--native-modes", "fast"}, `unknown "fast"`},
		{[]string{"--mt-workers", "0"}, "mt-workers"},
		{[]string{"--mt-preserve-commit-order", "maybe"}, "true, false or both"},
		{[]string{"--steady-native", "16:fast"}, `unknown mode "fast"`},
		{[]string{"--mt-modes", "writeset+fast"}, `unknown mode "fast"`},
		{[]string{"--repeat", "0"}, "-repeat 0"},
		{[]string{"--steady-workload", "hotspot"}, "steady-workload"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--no-such-flag"}, "not defined"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestParseFlagsFromJSON(t *testing.T) {
	c, err := parseFlags([]string{"--from-json", "r/medium.json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.svgPath != "r/medium.svg" || c.mdPath != "r/medium.md" {
		t.Errorf("outputs %q %q", c.svgPath, c.mdPath)
	}
	c, err = parseFlags([]string{"--from-json", "r/medium.json", "--svg", "docs/x.svg", "--md", ""}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.svgPath != "docs/x.svg" || c.mdPath != "r/medium.md" {
		t.Errorf("explicit outputs %q %q", c.svgPath, c.mdPath)
	}
}
