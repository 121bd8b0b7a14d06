package relaylog

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"
)

// TestReaderPositions: a reader started at any event boundary returns the
// segment header first, then the events from there, with the same bytes and
// positions as a reader from the start.
func TestReaderPositions(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir(), SegmentSize: 4 << 10, Sync: SyncPolicy{Mode: SyncNever}})
	defer l.Close()
	appendAll(t, l, raws(fixtureStream(t, mariadbFiles[2:]...)))
	r, _ := l.NewReader(Position{})
	all := readAvailable(t, r)
	r.Close()
	for i, from := range all {
		r, err := l.NewReader(from.Pos)
		if err != nil {
			t.Fatalf("NewReader(%v): %v", from.Pos, err)
		}
		got := readAvailable(t, r)
		r.Close()
		want := all[i:]
		if from.Pos.Offset > 4 { // past the segment's start: its header comes first
			var hdr []Event
			for _, e := range all {
				if e.Pos.Segment == from.Pos.Segment && e.Pos.Offset < from.Pos.Offset && len(hdr) < 2 {
					hdr = append(hdr, e)
				}
			}
			for j, h := range hdr {
				if len(got) <= j || !bytes.Equal(got[j].Raw, h.Raw) || got[j].Pos != h.Pos {
					t.Fatalf("from %v: header event %d not returned first", from.Pos, j)
				}
			}
			if got[len(hdr)-1].Next != from.Pos {
				t.Fatalf("from %v: the header's Next is %v", from.Pos, got[len(hdr)-1].Next)
			}
			got = got[len(hdr):]
		}
		if len(got) != len(want) {
			t.Fatalf("from %v: %d events, want %d", from.Pos, len(got), len(want))
		}
		for j := range got {
			if got[j].Pos != want[j].Pos || got[j].Next != want[j].Next || !bytes.Equal(got[j].Raw, want[j].Raw) {
				t.Fatalf("from %v: event %d differs", from.Pos, j)
			}
		}
	}
	last := all[len(all)-1].Next
	for _, bad := range []Position{{last.Segment, last.Offset + 1}, {last.Segment + 1, 4}, {all[0].Pos.Segment, 4 + 30}} {
		if _, err := l.NewReader(bad); !errors.Is(err, ErrInvalidPosition) {
			t.Errorf("NewReader(%v): %v, want ErrInvalidPosition", bad, err)
		}
	}
	r, _ = l.NewReader(last)
	if evs := readAvailable(t, r); len(evs) != 2 || replication.EventType(evs[1].Raw[4]) != replication.ROTATE_EVENT {
		t.Errorf("reader at the end: %d events", len(evs))
	}
	r.Close()
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestSyncInterval: an idle writer's last transaction is fsynced within the interval.
func TestSyncInterval(t *testing.T) {
	s := newSynth(t)
	reg := prometheus.NewRegistry()
	l := mustOpen(t, Options{Dir: t.TempDir(), Sync: SyncPolicy{Interval: 20 * time.Millisecond}, Registerer: reg})
	defer l.Close()
	appendAll(t, l, s.preamble())
	for i := 0; i < 50; i++ {
		appendAll(t, l, s.txn(100))
	}
	n := counter(t, reg, "mtreplica_relay_log_fsyncs_total")
	if n > 10 {
		t.Errorf("%v fsyncs for 50 quick transactions", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.wmu.Lock()
		dirty := l.w.dirty
		l.wmu.Unlock()
		if !dirty {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle writer was not fsynced")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if counter(t, reg, "mtreplica_relay_log_fsync_seconds") < 1 {
		t.Error("fsync_seconds not observed")
	}
}

// TestStickyError: after an I/O error the log refuses writes until reopened;
// what was published survives.
func TestStickyError(t *testing.T) {
	s := newSynth(t)
	o := Options{Dir: t.TempDir()}
	l := mustOpen(t, o)
	appendAll(t, l, s.preamble())
	appendAll(t, l, s.txn(100))
	l.w.f.Close() // the disk goes away
	tx := s.txn(100)
	var err error
	for _, ev := range tx {
		if err = l.Append(ev); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("no error from a closed file")
	}
	if err2 := l.Append(tx[0]); err2 != err {
		t.Errorf("second Append: %v, want the sticky %v", err2, err)
	}
	if err := l.Sync(); err == nil {
		t.Error("Sync after an I/O error succeeded")
	}
	l.Close()
	l = mustOpen(t, o)
	defer l.Close()
	if got := l.State().Retrieved.String(); got != "0-1-1" {
		t.Errorf("after reopen: Retrieved %s", got)
	}
}
