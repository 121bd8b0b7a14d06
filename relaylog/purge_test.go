package relaylog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestPurge(t *testing.T) {
	s := newSynth(t)
	reg := prometheus.NewRegistry()
	o := Options{Dir: t.TempDir(), SegmentSize: 1000, Sync: SyncPolicy{Mode: SyncNever}, Registerer: reg}
	l := mustOpen(t, o)
	appendAll(t, l, s.preamble())
	for i := 0; i < 20; i++ {
		appendAll(t, l, s.txn(300))
	}
	st := l.State()
	segs := st.Segments
	if len(segs) < 10 {
		t.Fatalf("%d segments", len(segs))
	}
	if got := gauge(t, reg, "mtreplica_relay_log_segments"); got != float64(len(segs)) {
		t.Errorf("segments gauge %v, want %d", got, len(segs))
	}
	r, err := l.NewReader(Position{segs[3].Number, 0})
	if err != nil {
		t.Fatal(err)
	}
	// The reader in segment 3 holds back a purge up to segment 6.
	if n, err := l.Purge(Position{segs[6].Number, 4}); err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v; want 3", n, err)
	}
	for _, si := range segs[:3] {
		if _, err := os.Stat(filepath.Join(o.Dir, si.Name)); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", si.Name, err)
		}
	}
	if _, err := l.NewReader(Position{segs[1].Number, 4}); !errors.Is(err, ErrPurged) {
		t.Errorf("NewReader in a purged segment: %v", err)
	}
	evs := readAvailable(t, r)
	if last := evs[len(evs)-1]; last.Next.Segment != segs[len(segs)-1].Number {
		t.Fatalf("reader stopped at %v", last.Next)
	}
	if n, err := l.Purge(Position{segs[6].Number, 4}); err != nil || n != 3 {
		t.Fatalf("second Purge = %d, %v; want 3", n, err)
	}
	// A position at the end of a sealed segment purges that segment too.
	if n, err := l.Purge(Position{segs[6].Number, segs[6].Size}); err != nil || n != 1 {
		t.Fatalf("Purge at the end of a segment = %d, %v; want 1", n, err)
	}
	// Never the segment being written.
	if _, err := l.Purge(Position{Segment: 1 << 60}); err != nil {
		t.Fatal(err)
	}
	st2 := l.State()
	if len(st2.Segments) != 1 || !st2.Retrieved.Equal(st.Retrieved) || st2.SourcePos != st.SourcePos {
		t.Errorf("after purging: %d segments, Retrieved %s", len(st2.Segments), st2.Retrieved)
	}
	if got := gauge(t, reg, "mtreplica_relay_log_segments"); got != 1 {
		t.Errorf("segments gauge %v, want 1", got)
	}
	if got := gauge(t, reg, "mtreplica_relay_log_bytes"); got != float64(st2.Bytes) {
		t.Errorf("bytes gauge %v, want %d", got, st2.Bytes)
	}
	r.Close()
	l.Close()

	// The retrieved set survives in the index.
	l = mustOpen(t, o)
	defer l.Close()
	st3 := l.State()
	if !st3.Retrieved.Equal(st.Retrieved) || st3.Retrieved.String() != "0-1-20" || st3.LastGTID != st.LastGTID || len(st3.Segments) != 1 {
		t.Errorf("after reopen: Retrieved %s, last %v, %d segments", st3.Retrieved, st3.LastGTID, len(st3.Segments))
	}
	r, _ = l.NewReader(Position{})
	defer r.Close()
	if evs := readAvailable(t, r); len(evs) < 7 || evs[0].Pos != (Position{st3.Segments[0].Number, 4}) {
		t.Errorf("reading the remaining segment: %d events", len(evs))
	}
}

func TestReset(t *testing.T) {
	s := newSynth(t)
	o := Options{Dir: t.TempDir(), SegmentSize: 1000}
	l := mustOpen(t, o)
	defer l.Close()
	appendAll(t, l, s.preamble())
	for i := 0; i < 5; i++ {
		appendAll(t, l, s.txn(300))
	}
	appendAll(t, l, s.txn(300)[:2]) // an open transaction
	r, _ := l.NewReader(Position{})
	if err := l.Reset(); !errors.Is(err, ErrReadersOpen) {
		t.Fatalf("Reset with a reader open: %v", err)
	}
	r.Close()
	if err := l.Reset(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(o.Dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "relay-bin") && e.Name() != "relay-bin.lock" { // the lock stays while open
			t.Errorf("%s left after Reset", e.Name())
		}
	}
	if st := l.State(); !st.Empty || len(st.Segments) != 0 || !st.Retrieved.Empty() {
		t.Errorf("state after Reset: %+v", st)
	}
	s.seq = 100
	appendAll(t, l, s.preamble())
	appendAll(t, l, s.txn(10))
	st := l.State()
	if len(st.Segments) != 1 || st.Segments[0].Name != "relay-bin.000001" || st.Retrieved.IntervalString() != "0:101" {
		t.Errorf("after Reset and Append: %+v", st)
	}
}
