package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// copyBinlogs copies the source's binlog files (as an operator copies them
// for point-in-time recovery) and returns their paths in order.
func copyBinlogs(t *testing.T, src *mariadbtest.Server) []string {
	t.Helper()
	ctx := context.Background()
	if err := src.Exec(ctx, "FLUSH BINARY LOGS"); err != nil {
		t.Fatal(err)
	}
	names, err := src.BinlogFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var out []string
	for _, n := range names {
		if !filepath.IsAbs(n) {
			n = filepath.Join(src.DataDir, n)
		}
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(n))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func checksums(t *testing.T, s *mariadbtest.Server) string {
	t.Helper()
	rows, err := s.QueryRows(context.Background(), "CHECKSUM TABLE pitr.a, pitr.b EXTENDED")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(rows)
}

func workload(t *testing.T, src *mariadbtest.Server, phase, n int) {
	t.Helper()
	var qs []string
	for i := 0; i < n; i++ {
		qs = append(qs,
			fmt.Sprintf("INSERT INTO pitr.a (id, v) VALUES (%d, %d) ON DUPLICATE KEY UPDATE v = v + 1", i%37, phase),
			fmt.Sprintf("INSERT INTO pitr.b (p, note) VALUES (%d, REPEAT('x', %d))", phase, i%50),
			fmt.Sprintf("DELETE FROM pitr.b WHERE id %% 11 = %d", i%11))
	}
	if err := src.Exec(context.Background(), qs...); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, files []string, rng Range, dst *mariadbtest.Server, workers int, rowApply ...string) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{Files: files, Range: rng, Target: applier.TargetOptions{Addr: dst.Addr(), User: "root"},
		Workers: workers, WorkDir: t.TempDir()}
	if len(rowApply) > 0 {
		o.RowApply = rowApply[0]
	}
	st, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("replay: %v (stats %+v)", err, st)
	}
	return st
}

// TestReplayPointInTime: a source writes two phases; replaying its binlog
// files up to the GTID (or the binlog position) between them gives the
// state at that point, and continuing from there gives the source's final
// state. Replaying the same files again applies nothing twice.
func TestReplayPointInTime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	ctx := context.Background()
	src := mariadbtest.Start(t, mariadbtest.Options{})
	if err := src.Exec(ctx, "CREATE DATABASE pitr",
		"CREATE TABLE pitr.a (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE pitr.b (id INT AUTO_INCREMENT PRIMARY KEY, p INT, note TEXT)"); err != nil {
		t.Fatal(err)
	}
	workload(t, src, 1, 200)
	midGTID, err := src.GTIDPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := src.QueryRows(ctx, "SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	midFile, midPos := st[0][0], st[0][1]
	mid := checksums(t, src)
	workload(t, src, 2, 200)
	final := checksums(t, src)
	files := copyBinlogs(t, src)

	t.Run("gtid", func(t *testing.T) {
		dst := mariadbtest.Start(t, mariadbtest.Options{})
		stop, err := gtid.ParseSet(gtid.MariaDB, midGTID)
		if err != nil {
			t.Fatal(err)
		}
		s := run(t, files, Range{StopGTID: stop}, dst, 4)
		if got := checksums(t, dst); got != mid {
			t.Fatalf("after --stop-gtid=%s: %s, want %s", midGTID, got, mid)
		}
		t.Logf("up to %s: %+v", midGTID, s)
		s = run(t, files, Range{StartGTID: stop}, dst, 4)
		if got := checksums(t, dst); got != final {
			t.Fatalf("after --start-gtid=%s: %s, want %s", midGTID, got, final)
		}
		if err := mariadbtest.Compare(ctx, src, dst, "pitr"); err != nil {
			t.Fatal(err)
		}
		// Everything is recorded: a full replay skips all.
		s = run(t, files, Range{}, dst, 4)
		if s.Applied != 0 || s.Skipped != uint64(s.Selected) {
			t.Fatalf("second full replay: %+v, want everything skipped", s)
		}
	})
	t.Run("relay-log", func(t *testing.T) {
		// Replay writes a relay log; its segments are binlog files too: replay them into another target.
		work := t.TempDir()
		first := mariadbtest.Start(t, mariadbtest.Options{})
		if _, err := Run(ctx, Options{Files: files, Target: applier.TargetOptions{Addr: first.Addr(), User: "root"},
			Workers: 4, WorkDir: work, KeepRelayLog: true}); err != nil {
			t.Fatal(err)
		}
		segs, _ := filepath.Glob(filepath.Join(work, "relay", "relay-bin.[0-9]*"))
		if len(segs) == 0 {
			t.Fatal("no relay log segments kept")
		}
		dst := mariadbtest.Start(t, mariadbtest.Options{})
		s := run(t, segs, Range{}, dst, 4)
		if err := mariadbtest.Compare(ctx, src, dst, "pitr"); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d relay log segments: %+v", len(segs), s)
	})
	t.Run("position", func(t *testing.T) {
		dst := mariadbtest.Start(t, mariadbtest.Options{})
		pos, _ := strconv.ParseUint(midPos, 10, 32)
		var upTo, from []string
		for i, f := range files {
			if filepath.Base(f) <= midFile {
				upTo = append(upTo, f)
			}
			if filepath.Base(f) >= midFile {
				from = append(from, files[i])
			}
		}
		run(t, upTo, Range{StopPosition: uint32(pos)}, dst, 1)
		if got := checksums(t, dst); got != mid {
			t.Fatalf("after --stop-position=%d: %s, want %s", pos, got, mid)
		}
		run(t, from, Range{StartPosition: uint32(pos)}, dst, 16, applier.RowApplyBinlog) // rows applied natively
		if err := mariadbtest.Compare(ctx, src, dst, "pitr"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSelectFixtures: selection by GTID and time over the MariaDB fixture
// files (several consecutive files, two domains) keeps exactly the
// transactions in range, whole.
func TestSelectFixtures(t *testing.T) {
	files, _ := filepath.Glob("../../shared/fixtures/mariadb-poc/*-bin.0*")
	if len(files) == 0 {
		t.Skip("no mariadb-poc fixtures")
	}
	type txn struct {
		g  gtid.GTID
		ts uint32
	}
	selectTxns := func(rng Range) []txn {
		var st Stats
		var fr binlogfmt.Framer
		var out []txn
		err := Select(files, rng, &st, func(ev []byte) error {
			f, err := fr.Next(ev)
			if err != nil {
				return err
			}
			if f.Start {
				h, _ := binlogfmt.ParseHeader(ev)
				out = append(out, txn{fr.Txn().GTID, h.Timestamp})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(out)) != st.Selected {
			t.Fatalf("%d transactions passed on, %d counted", len(out), st.Selected)
		}
		return out
	}
	all := selectTxns(Range{})
	if len(all) < 4 {
		t.Fatalf("only %d transactions in the fixtures", len(all))
	}
	mid := all[len(all)/2]
	if mid.g.IsZero() {
		t.Fatal("fixture transaction without GTID")
	}
	set := gtid.NewSet(gtid.MariaDB)
	set.Add(mid.g)
	set.AddInterval(mid.g.Stream, gtid.Interval{Start: 1, End: mid.g.Seq})
	var wantStop, wantStart, wantAfter, wantFrom []txn
	stopped := false
	for _, x := range all {
		if x.g.Stream != mid.g.Stream || x.g.Seq <= mid.g.Seq {
			wantStop = append(wantStop, x)
		}
		if !set.Contains(x.g) {
			wantStart = append(wantStart, x)
		}
		if x.ts >= mid.ts {
			stopped = true
			wantFrom = append(wantFrom, x)
		}
		if !stopped {
			wantAfter = append(wantAfter, x)
		}
	}
	for _, c := range []struct {
		name string
		rng  Range
		want []txn
	}{
		{"stop-gtid", Range{StopGTID: set}, wantStop},
		{"start-gtid", Range{StartGTID: set}, wantStart},
		{"stop-datetime", Range{StopTime: time.Unix(int64(mid.ts), 0)}, wantAfter},
		{"start-datetime", Range{StartTime: time.Unix(int64(mid.ts), 0)}, wantFrom},
	} {
		got := selectTxns(c.rng)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: selected %d transactions, want %d", c.name, len(got), len(c.want))
		}
		if len(c.want) == 0 || len(c.want) == len(all) {
			t.Errorf("%s: the case selects %d of %d: not a test", c.name, len(c.want), len(all))
		}
	}
	t.Logf("fixtures: %d files, %d transactions, split at %s", len(files), len(all), mid.g)
}
