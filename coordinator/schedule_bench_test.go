package coordinator

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/relaylog"
)

// cycleSource serves a fixture's events again and again, n transactions'
// worth, then io.EOF.
type cycleSource struct {
	evs      []relaylog.Event
	i, left  int
	perCycle int
}

func (s *cycleSource) Next(ctx context.Context) (relaylog.Event, error) {
	if s.i == len(s.evs) {
		s.i = 0
		if s.left -= s.perCycle; s.left <= 0 {
			return relaylog.Event{}, io.EOF
		}
	}
	s.i++
	return s.evs[s.i-1], nil
}

type noopWorker struct{}

func (noopWorker) ConnectionID() uint32 { return 0 }
func (noopWorker) Apply(ctx context.Context, t *Txn, g Gate) error {
	return g.Wait(ctx)
}
func (noopWorker) ApplyGroup(ctx context.Context, ts []*Txn, g Gate) error {
	return g.Wait(ctx)
}

// BenchmarkScheduleNoop runs the whole coordinator (assembly and decoding of
// the relay log events, dependencies, dispatch, commit-order gates, low-water
// mark) with workers that apply nothing, on a MariaDB fixture of 405
// transactions repeated. Reported: transactions/s. Run with -cpu 1 for one core.
//
//	go test -run '^$' -bench ScheduleNoop -cpu 1 ./coordinator/
func BenchmarkScheduleNoop(b *testing.B) {
	bb, err := readFixture(filepath.Join(fixturesDir, "mariadb-poc/domain_id_0__mariadb-repl-bin.000004"))
	if err != nil {
		b.Skip(err)
	}
	raw, err := splitEvents(bb)
	if err != nil {
		b.Fatal(err)
	}
	var evs []relaylog.Event
	off := int64(4)
	for _, ev := range raw {
		evs = append(evs, relaylog.Event{Raw: ev, Pos: relaylog.Position{Segment: 1, Offset: off}, Next: relaylog.Position{Segment: 1, Offset: off + int64(len(ev))}})
		off += int64(len(ev))
	}
	const perCycle = 405
	for _, bc := range []struct {
		name  string
		group int
		dep   func(*Txn) (uint64, bool, error)
	}{
		{"independent/group=1", 1, func(*Txn) (uint64, bool, error) { return 0, false, nil }},
		{"independent/group=32", 32, func(*Txn) (uint64, bool, error) { return 0, false, nil }},
		{"serial/group=32", 32, func(t *Txn) (uint64, bool, error) { return t.Seq - 1, false, nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			workers := []Worker{noopWorker{}, noopWorker{}, noopWorker{}, noopWorker{}}
			src := &cycleSource{evs: evs, left: b.N, perCycle: perCycle}
			c, err := New(src, workers, Options{PreserveCommitOrder: true, GroupTxns: bc.group, Dependency: bc.dep})
			if err != nil {
				b.Fatal(err)
			}
			want := uint64((b.N + perCycle - 1) / perCycle * perCycle)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ResetTimer()
			go func() { done <- c.Run(ctx) }()
			for c.Status().Applied < want {
				select {
				case err := <-done:
					b.Fatalf("Run returned %v after %d of %d", err, c.Status().Applied, want)
				case <-time.After(100 * time.Microsecond):
				}
			}
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(c.Status().Applied)/b.Elapsed().Seconds(), "txn/s")
		})
	}
}
