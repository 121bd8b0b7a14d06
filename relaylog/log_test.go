package relaylog

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// TestRoundTrip appends real binlog streams and reads them back: the events
// come back byte for byte, heartbeats dropped, each segment starting with its
// header, no transaction split across segments; mariadb-binlog reads every
// segment.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    []string
		segSize  int64
		minSegs  int
		mariadb  bool
		retrieve string
	}{
		{"mariadb", mariadbFiles, 16 << 10, 10, true, "0:292194-292206"},
		{"mariadb-one-segment-per-file", mariadbFiles, 0, 4, true, ""},
		{"mysql8", mysql8Files, 1 << 10, 5, false, ""},
		{"mysql57-no-checksum", mysqlNoChecksumFiles, 4 << 10, 5, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := fixtureStream(t, tc.files...)
			dir := t.TempDir()
			reg := prometheus.NewRegistry()
			l := mustOpen(t, Options{Dir: dir, SegmentSize: tc.segSize, Registerer: reg})
			appendAll(t, l, raws(stream))
			st := l.State()
			if len(st.Segments) < tc.minSegs {
				t.Errorf("%d segments, want at least %d", len(st.Segments), tc.minSegs)
			}
			if tc.retrieve != "" && !strings.Contains(st.Retrieved.IntervalString(), "292194-292206") {
				t.Errorf("Retrieved = %s", st.Retrieved.IntervalString())
			}
			r, err := l.NewReader(Position{})
			if err != nil {
				t.Fatal(err)
			}
			got := readAvailable(t, r)
			checkStream(t, stream, got, st)
			r.Close()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			if len(mfs) != 0 {
				t.Errorf("%d metric families still registered after Close", len(mfs))
			}

			// Reopen: same state, same events.
			l = mustOpen(t, Options{Dir: dir, SegmentSize: tc.segSize, Registerer: reg})
			st2 := l.State()
			if !st2.Retrieved.Equal(st.Retrieved) || st2.SourceFile != st.SourceFile || st2.SourcePos != st.SourcePos ||
				st2.LastGTID != st.LastGTID || len(st2.Segments) != len(st.Segments) || st2.Bytes != st.Bytes {
				t.Errorf("state after reopen:\n%+v\nwant\n%+v", st2, st)
			}
			r, _ = l.NewReader(Position{})
			if got2 := readAvailable(t, r); len(got2) != len(got) {
				t.Errorf("after reopen: %d events, want %d", len(got2), len(got))
			}
			r.Close()
			l.Close()

			t.Run("mariadb-binlog", func(t *testing.T) {
				bin, err := exec.LookPath("mariadb-binlog")
				if err != nil {
					t.Skip("mariadb-binlog not installed")
				}
				for _, s := range st.Segments {
					out, err := exec.Command(bin, filepath.Join(dir, s.Name)).CombinedOutput()
					if err != nil {
						t.Errorf("mariadb-binlog %s: %v\n%s", s.Name, err, out)
					}
				}
			})
		})
	}
}

// checkStream compares what a reader returned with the appended stream.
func checkStream(t *testing.T, stream []streamEvent, got []Event, st State) {
	t.Helper()
	var want [][]byte
	var fdes [][]byte // the source FDE in force before each stored event
	var fde []byte
	for _, e := range stream {
		h, _ := binlogfmt.ParseHeader(e.raw)
		if h.Type == replication.FORMAT_DESCRIPTION_EVENT {
			fde = bytes.Clone(e.raw)
			fd, _ := binlogfmt.ParseFormatDescription(fde)
			binlogfmt.ClearInUse(fde, fd.Checksum)
		}
		if e.stored {
			want = append(want, e.raw)
			fdes = append(fdes, fde)
		}
	}
	var fr binlogfmt.Framer
	fr.VerifyChecksums = true
	seg, n, next := uint64(0), 0, Position{}
	for i, ev := range got {
		if ev.Pos != next && ev.Pos.Segment == next.Segment {
			t.Fatalf("event %d at %v, previous ended at %v", i, ev.Pos, next)
		}
		next = ev.Next
		if ev.Next.Offset != ev.Pos.Offset+int64(len(ev.Raw)) {
			t.Fatalf("event %d: Next %v, Pos %v, %d bytes", i, ev.Next, ev.Pos, len(ev.Raw))
		}
		f, err := fr.Next(ev.Raw)
		if err != nil {
			t.Fatalf("event %d at %v: framer: %v", i, ev.Pos, err)
		}
		if ev.Pos.Segment != seg { // a segment header: FDE, then ROTATE
			seg = ev.Pos.Segment
			if ev.Pos.Offset != 4 || f.Abandoned {
				t.Fatalf("segment %d starts at %v (abandoned %v)", seg, ev.Pos, f.Abandoned)
			}
			if n < len(fdes) && !bytes.Equal(ev.Raw, fdes[n]) {
				t.Errorf("segment %d header FDE differs from the source's", seg)
			}
			continue
		}
		if ev.Pos.Offset == 4+int64(len(got[i-1].Raw)) {
			h, _ := binlogfmt.ParseHeader(ev.Raw)
			if h.Type != replication.ROTATE_EVENT || h.LogPos != 0 {
				t.Fatalf("segment %d: second event is %s", seg, h.Type)
			}
			for _, si := range st.Segments {
				if si.Number == seg && (fr.SourceFile() != si.SourceFile || fr.SourcePos() != si.SourcePos) {
					t.Errorf("segment %d header ROTATE %s:%d, index %s:%d", seg, fr.SourceFile(), fr.SourcePos(), si.SourceFile, si.SourcePos)
				}
			}
			continue
		}
		if n >= len(want) {
			t.Fatalf("event %d at %v: more events than appended", i, ev.Pos)
		}
		if !bytes.Equal(ev.Raw, want[n]) {
			t.Fatalf("event %d at %v differs from stored event %d", i, ev.Pos, n)
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("read %d stored events, want %d", n, len(want))
	}
	// No transaction is split: every segment but the header starts idle.
	fr = binlogfmt.Framer{}
	for i, ev := range got {
		if ev.Pos.Offset == 4 && fr.InTxn() {
			t.Fatalf("segment %d starts inside a transaction (event %d)", ev.Pos.Segment, i)
		}
		if _, err := fr.Next(ev.Raw); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOptionsAndPositions(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if _, err := Open(Options{Dir: t.TempDir(), BaseName: "a/b"}); err == nil {
		t.Error("Open with a path as BaseName succeeded")
	}
	p := Position{Segment: 3, Offset: 4711}
	if p.String() != "relay-bin.000003:4711" {
		t.Errorf("String = %q", p)
	}
	q, err := ParsePosition("foo-relay.000003:4711")
	if err != nil || q != p {
		t.Errorf("ParsePosition = %v, %v", q, err)
	}
	if !(Position{2, 9000}).Less(p) || !(Position{3, 4}).Less(p) || p.Less(p) {
		t.Error("Less")
	}
	if n, ok := parseSegmentName("relay-bin", "relay-bin.1234567"); !ok || n != 1234567 {
		t.Error("parseSegmentName beyond 6 digits")
	}
	if _, ok := parseSegmentName("relay-bin", "relay-bin.index"); ok {
		t.Error("parseSegmentName accepted the index")
	}
}

func TestAppendValidates(t *testing.T) {
	s := newSynth(t)
	l := mustOpen(t, Options{Dir: t.TempDir()})
	defer l.Close()
	tx := s.txn(100)
	if err := l.Append(tx[0]); err == nil || !strings.Contains(err.Error(), ErrNoFormatDescription.Error()) {
		t.Fatalf("event before FDE: %v", err)
	}
	appendAll(t, l, s.preamble())
	bad := bytes.Clone(tx[0])
	bad[25] ^= 1
	for name, ev := range map[string][]byte{"checksum": bad, "short": tx[0][:10], "size": tx[0][:30], "xid-outside-txn": tx[4]} {
		if err := l.Append(ev); err == nil || !errorsIs(err, ErrInvalidEvent) {
			t.Errorf("%s: %v, want ErrInvalidEvent", name, err)
		}
	}
	appendAll(t, l, tx) // still usable
	if st := l.State(); st.Flavor != gtid.MariaDB || st.Retrieved.String() != "0-1-1" || st.LastGTID.Seq != 1 {
		t.Errorf("state %+v", st)
	}
}
