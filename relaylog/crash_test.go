package relaylog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// mark is what the log looked like after one Append.
type mark struct {
	boundary  bool     // the event was stored and ended at a boundary (published)
	pub       Position // published end of the log after it
	retrieved string
	lastGTID  gtid.GTID
	srcFile   string
	srcPos    uint32
}

func buildWithMarks(t *testing.T, o Options, evs [][]byte) []mark {
	t.Helper()
	l := mustOpen(t, o)
	marks := make([]mark, len(evs))
	for i, ev := range evs {
		var seg uint64
		if l.w.seg != nil {
			seg = l.w.seg.num
		}
		off := l.w.off
		if err := l.Append(ev); err != nil {
			t.Fatalf("Append #%d: %v", i, err)
		}
		m := &marks[i]
		if l.w.seg == nil {
			continue
		}
		m.pub = Position{l.w.seg.num, l.w.boundary}
		m.boundary = (l.w.seg.num != seg || l.w.off != off) && l.w.off == l.w.boundary
		st := l.State()
		m.retrieved, m.lastGTID, m.srcFile, m.srcPos = st.Retrieved.IntervalString(), st.LastGTID, st.SourceFile, st.SourcePos
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return marks
}

func readDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func writeDir(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func headerEnd(seg []byte) int64 {
	fde, _ := binlogfmt.ParseHeader(seg[4:])
	rot, _ := binlogfmt.ParseHeader(seg[4+fde.EventSize:])
	return int64(4 + fde.EventSize + rot.EventSize)
}

// TestCrashEveryOffset cuts the last segment of a log at every byte offset,
// opens it, checks that exactly the complete transactions that fit survive
// (with the matching State), then appends the rest of the stream and checks
// that the result is byte for byte the uninterrupted log.
func TestCrashEveryOffset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		seg   int64
	}{
		{"mariadb", mariadbFiles[2:], 1 << 10},
		{"mariadb-rotation", mariadbFiles[2:], 4 << 10},
		{"mysql8", mysql8Files[:2], 1 << 10},
		{"mysql57-no-checksum", mysqlNoChecksumFiles, 2 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := raws(fixtureStream(t, tc.files...))
			base := fastTempDir(t)
			o := Options{Dir: filepath.Join(base, "orig"), SegmentSize: tc.seg, Sync: SyncPolicy{Mode: SyncNever}}
			marks := buildWithMarks(t, o, evs)
			orig := readDir(t, o.Dir)
			var last string
			for name := range orig {
				if strings.HasPrefix(name, "relay-bin.0") && name > last {
					last = name
				}
			}
			lastNum, _ := parseSegmentName("relay-bin", last)
			seg := orig[last]
			hdrEnd := headerEnd(seg)
			t.Logf("%d segments, last %s: %d bytes", len(orig)-1, last, len(seg))
			o.Dir = filepath.Join(base, "crash")
			writeDir(t, o.Dir, orig)
			step := 1
			if testing.Short() {
				step = 7
			}
			for k := 0; k <= len(seg); k += step {
				// Only the last segment and the index change: older segments
				// are sealed (checked in full every 64 cuts).
				for name, b := range map[string][]byte{last: seg[:k], "relay-bin.index": orig["relay-bin.index"]} {
					if err := os.WriteFile(filepath.Join(o.Dir, name), b, 0o640); err != nil {
						t.Fatal(err)
					}
				}
				l, err := Open(o)
				if err != nil {
					t.Fatalf("cut at %d: Open: %v", k, err)
				}
				// The last mark at or before the cut.
				p := -1
				for i, m := range marks {
					if m.boundary && (m.pub.Segment < lastNum || (m.pub.Segment == lastNum && m.pub.Offset <= int64(k))) {
						p = i
					}
				}
				want := int64(0)
				if int64(k) >= hdrEnd {
					want = hdrEnd
				}
				if marks[p].pub.Segment == lastNum {
					want = marks[p].pub.Offset
				}
				if l.w.seg.num != lastNum || l.w.boundary != want || l.w.off != want {
					t.Fatalf("cut at %d: recovered to %s:%d (written %d), want %d", k, l.w.seg.name, l.w.boundary, l.w.off, want)
				}
				st := l.State()
				m := marks[p]
				if got := st.Retrieved.IntervalString(); got != m.retrieved || st.LastGTID != m.lastGTID {
					t.Fatalf("cut at %d: Retrieved %q last %v, want %q %v", k, got, st.LastGTID, m.retrieved, m.lastGTID)
				}
				si := st.Segments[len(st.Segments)-1]
				if m.pub.Segment == lastNum && (st.SourceFile != m.srcFile || st.SourcePos != m.srcPos) ||
					m.pub.Segment != lastNum && (st.SourceFile != si.SourceFile || st.SourcePos != si.SourcePos) {
					t.Fatalf("cut at %d: source %s:%d, want %s:%d (segment %s:%d)", k, st.SourceFile, st.SourcePos, m.srcFile, m.srcPos, si.SourceFile, si.SourcePos)
				}
				for i, ev := range evs[p+1:] {
					if err := l.Append(ev); err != nil {
						t.Fatalf("cut at %d: Append #%d: %v", k, p+1+i, err)
					}
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				got := map[string][]byte{}
				if k%64 == 0 || k == len(seg) {
					got = readDir(t, o.Dir)
					if len(got) != len(orig) {
						t.Fatalf("cut at %d: %d files, want %d", k, len(got), len(orig))
					}
				} else {
					for _, name := range []string{last, "relay-bin.index"} {
						got[name], _ = os.ReadFile(filepath.Join(o.Dir, name))
					}
				}
				for name, b := range got {
					if !bytes.Equal(b, orig[name]) {
						t.Fatalf("cut at %d: %s differs after appending the rest (%d bytes, want %d)", k, name, len(b), len(orig[name]))
					}
				}
			}
		})
	}
}

// synthLog builds a one-segment log of n synthetic transactions and returns
// its directory, the segment bytes and the offset of each transaction.
func synthLog(t testing.TB, n int) (o Options, seg []byte, txnAt []int64) {
	s := newSynth(t)
	o = Options{Dir: t.TempDir(), Sync: SyncPolicy{Mode: SyncNever}}
	l := mustOpen(t, o)
	appendAll(t, l, s.preamble())
	for i := 0; i < n; i++ {
		txnAt = append(txnAt, l.w.off)
		appendAll(t, l, s.txn(200))
	}
	if l.w.headerEnd != txnAt[0] {
		txnAt[0] = l.w.headerEnd
	}
	txnAt = append(txnAt, l.w.off)
	l.Close()
	seg, _ = os.ReadFile(filepath.Join(o.Dir, "relay-bin.000001"))
	return o, seg, txnAt
}

func TestDamagedTail(t *testing.T) {
	o, seg, txnAt := synthLog(t, 10)
	path := filepath.Join(o.Dir, "relay-bin.000001")
	evOff := func(txn, ev int) int64 { // offset of event ev of transaction txn
		off := txnAt[txn]
		for i := 0; i < ev; i++ {
			h, _ := binlogfmt.ParseHeader(seg[off:])
			off += int64(h.EventSize)
		}
		return off
	}
	var logBuf bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
		want   int64 // recovered size; -1: CorruptionError
		errOff int64
		repair int64 // recovered size with RepairCorruption
	}{
		{"flip-last-xid", flip(evOff(9, 4) + 25), txnAt[9], 0, 0},
		{"flip-last-gtid", flip(evOff(9, 0) + 21), txnAt[9], 0, 0},
		{"flip-last-rows", flip(evOff(9, 3) + 100), txnAt[9], 0, 0},
		{"flip-last-size", flip(evOff(9, 3) + 11), txnAt[9], 0, 0},
		{"zeros-after-end", func(b []byte) []byte { return append(b, make([]byte, 5000)...) }, txnAt[10], 0, 0},
		{"garbage-after-end", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xa5}, 3000)...) }, txnAt[10], 0, 0},
		{"flip-middle-rows", flip(evOff(4, 3) + 100), -1, evOff(4, 3), txnAt[4]},
		{"flip-middle-size", flip(evOff(4, 2) + 10), -1, evOff(4, 2), txnAt[4]},
		{"flip-middle-gtid", flip(evOff(7, 0) + 20), -1, evOff(7, 0), txnAt[7]},
		{"flip-header-fde", flip(40), -1, 4, 0},
		{"bad-magic", flip(1), -1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logBuf.Reset()
			if err := os.WriteFile(path, tc.mutate(bytes.Clone(seg)), 0o640); err != nil {
				t.Fatal(err)
			}
			l, err := Open(o)
			if tc.want >= 0 {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if l.w.boundary != tc.want {
					t.Errorf("recovered to %d, want %d", l.w.boundary, tc.want)
				}
				if tc.want < int64(len(seg)) && !strings.Contains(logBuf.String(), "truncating torn tail") {
					t.Errorf("nothing logged: %s", logBuf.String())
				}
				l.Close()
				return
			}
			var cerr *CorruptionError
			if !errors.As(err, &cerr) || cerr.Segment != "relay-bin.000001" || cerr.Offset != tc.errOff {
				t.Fatalf("Open: %v, want CorruptionError at relay-bin.000001:%d", err, tc.errOff)
			}
			ro := o
			ro.RepairCorruption = true
			l, err = Open(ro)
			if err != nil {
				t.Fatalf("Open with RepairCorruption: %v", err)
			}
			if l.w.boundary != tc.repair {
				t.Errorf("repaired to %d, want %d", l.w.boundary, tc.repair)
			}
			if !strings.Contains(logBuf.String(), "repairing") {
				t.Errorf("repair not logged: %s", logBuf.String())
			}
			wantTxns := 0
			for i, at := range txnAt {
				if at == tc.repair {
					wantTxns = i
				}
			}
			if got := l.State().Retrieved; tc.repair > 0 && got.String() != fmt.Sprintf("0-1-%d", wantTxns) {
				t.Errorf("Retrieved after repair %s, want %d transactions", got, wantTxns)
			}
			l.Close()
		})
	}
}

func flip(off int64) func([]byte) []byte {
	return func(b []byte) []byte { b[off] ^= 0x40; return b }
}

func TestMissingSegmentFile(t *testing.T) {
	s := newSynth(t)
	o := Options{Dir: t.TempDir(), SegmentSize: 1000, Sync: SyncPolicy{Mode: SyncNever}}
	l := mustOpen(t, o)
	appendAll(t, l, s.preamble())
	for i := 0; i < 12; i++ {
		appendAll(t, l, s.txn(300))
	}
	st := l.State()
	l.Close()
	if len(st.Segments) < 4 {
		t.Fatalf("%d segments", len(st.Segments))
	}
	os.Remove(filepath.Join(o.Dir, st.Segments[1].Name))
	_, err := Open(o)
	var cerr *CorruptionError
	if !errors.As(err, &cerr) || !errors.Is(err, ErrMissingSegment) || cerr.Segment != st.Segments[1].Name {
		t.Fatalf("Open: %v", err)
	}
	o.RepairCorruption = true
	l = mustOpen(t, o)
	defer l.Close()
	got := l.State()
	if len(got.Segments) != 2 || got.Retrieved.IntervalString() != st.Segments[1].Retrieved {
		t.Errorf("after repair: %d segments, Retrieved %s, want 2 and %s", len(got.Segments), got.Retrieved.IntervalString(), st.Segments[1].Retrieved)
	}
	// The receiver resumes from Retrieved; appending works.
	appendAll(t, l, s.preamble())
	appendAll(t, l, s.txn(10))
}

// TestStrayFiles: a segment file the index does not list (an interrupted
// rotation or purge) is removed; a lost index is rebuilt from the files.
func TestStrayFiles(t *testing.T) {
	s := newSynth(t)
	o := Options{Dir: t.TempDir(), SegmentSize: 1000, Sync: SyncPolicy{Mode: SyncNever}}
	l := mustOpen(t, o)
	appendAll(t, l, s.preamble())
	for i := 0; i < 8; i++ {
		appendAll(t, l, s.txn(300))
	}
	st := l.State()
	l.Close()
	stray := filepath.Join(o.Dir, SegmentName("relay-bin", st.Segments[len(st.Segments)-1].Number+1))
	os.WriteFile(stray, binlogfmt.Magic, 0o640)
	l = mustOpen(t, o)
	l.Close()
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("stray segment still there: %v", err)
	}
	os.Remove(filepath.Join(o.Dir, "relay-bin.index"))
	l = mustOpen(t, o)
	defer l.Close()
	if got := l.State(); !got.Retrieved.Equal(st.Retrieved) || len(got.Segments) != len(st.Segments) {
		t.Errorf("rebuilt index: %d segments, Retrieved %s; want %d, %s", len(got.Segments), got.Retrieved, len(st.Segments), st.Retrieved)
	}
}
