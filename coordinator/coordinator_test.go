package coordinator

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/relaylog"
)

// sliceSource serves a fixed list of events, then blocks until ctx is done.
type sliceSource struct {
	evs []relaylog.Event
	i   int
}

func (s *sliceSource) Next(ctx context.Context) (relaylog.Event, error) {
	if s.i < len(s.evs) {
		s.i++
		return s.evs[s.i-1], nil
	}
	<-ctx.Done()
	return relaylog.Event{}, ctx.Err()
}

type recordingWorker struct {
	mu      sync.Mutex
	applied []*Txn
	failAt  int
}

func (w *recordingWorker) ConnectionID() uint32 { return 0 }

func (w *recordingWorker) Apply(ctx context.Context, t *Txn, g Gate) error {
	if err := g.Wait(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failAt > 0 && len(w.applied)+1 == w.failAt {
		return errors.New("boom")
	}
	w.applied = append(w.applied, t)
	return nil
}

func fixtureSource(t *testing.T, name string) *sliceSource {
	t.Helper()
	b, err := readFixture(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	raw, err := splitEvents(b)
	if err != nil {
		t.Fatal(err)
	}
	src := &sliceSource{}
	off := int64(4)
	for _, ev := range raw {
		next := off + int64(len(ev))
		src.evs = append(src.evs, relaylog.Event{Raw: ev, Pos: relaylog.Position{Segment: 1, Offset: off}, Next: relaylog.Position{Segment: 1, Offset: next}})
		off = next
	}
	return src
}

// TestCoordinatorOrderAndLowWater: transactions reach the worker in source
// order, the low-water mark only moves forward and ends after the last one,
// and Skip removes transactions.
func TestCoordinatorOrderAndLowWater(t *testing.T) {
	src := fixtureSource(t, "mariadb-poc/domain_id_0__mariadb-repl-bin.000004")
	w := &recordingWorker{}
	var lows []relaylog.Position
	var mu sync.Mutex
	c, err := New(src, []Worker{w}, Options{
		QueueBytes: 4096, PreserveCommitOrder: true,
		Skip: func(t *Txn) bool {
			return t.Seq%10 == 3
		},
		OnApplied: func(t *Txn, low relaylog.Position) {
			mu.Lock()
			lows = append(lows, low)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.Status().Applied+c.Status().Skipped < 405 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	skipped := int(c.Status().Skipped)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.applied)+skipped != 405 {
		t.Fatalf("applied %d + skipped %d, want 405 transactions", len(w.applied), skipped)
	}
	for i := 1; i < len(w.applied); i++ {
		if w.applied[i].Seq <= w.applied[i-1].Seq || w.applied[i].Start.Less(w.applied[i-1].Next) {
			t.Fatalf("out of order at %d", i)
		}
		if w.applied[i].Info.GTID.Seq <= w.applied[i-1].Info.GTID.Seq {
			t.Fatalf("GTIDs out of order: %s after %s", w.applied[i].ID(), w.applied[i-1].ID())
		}
	}
	for i := 1; i < len(lows); i++ {
		if lows[i].Less(lows[i-1]) {
			t.Fatalf("low-water mark moved back: %v after %v", lows[i], lows[i-1])
		}
	}
	if last := w.applied[len(w.applied)-1]; lows[len(lows)-1] != last.Next {
		t.Fatalf("final low-water %v, want %v", lows[len(lows)-1], last.Next)
	}
}

// TestCoordinatorWorkerError: a worker error stops Run and is reported.
func TestCoordinatorWorkerError(t *testing.T) {
	src := fixtureSource(t, "mariadb-poc/domain_id_0__mariadb-repl-bin.000004")
	w := &recordingWorker{failAt: 7}
	c, err := New(src, []Worker{w}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background())
	if err == nil || err.Error() != "boom" {
		t.Fatalf("Run = %v, want boom", err)
	}
	if st := c.Status(); st.LastError != "boom" || st.Applied != 6 {
		t.Fatalf("status %+v", st)
	}
	if _, err := New(src, nil, Options{PreserveCommitOrder: true}); err == nil {
		t.Fatal("New with no workers succeeded")
	}
}

func BenchmarkAssemble(b *testing.B) {
	bb, err := readFixture(filepath.Join(fixturesDir, "mariadb-poc/domain_id_0__mariadb-repl-bin.000002"))
	if err != nil {
		b.Skip(err)
	}
	raw, _ := splitEvents(bb)
	var bytes int64
	for _, ev := range raw {
		bytes += int64(len(ev))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a := NewAssembler()
		n := 0
		for _, ev := range raw {
			t, err := a.Add(relaylog.Event{Raw: ev})
			if err != nil {
				b.Fatal(err)
			}
			if t != nil {
				n++
			}
		}
		if n == 0 {
			b.Fatal("no transactions")
		}
	}
}
