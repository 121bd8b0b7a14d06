package deptrack

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func ex(space, h uint64) Key { return Key{Hash: space<<32 | h, Space: space} }
func wide(space uint64) Key  { return Key{Hash: space, Space: space, Wide: true} }

// run adds txns (Seq 1, 2, ... unless set) and compares the deps.
func run(t *testing.T, tr *Tracker, txns []Txn, want []uint64) {
	t.Helper()
	var got []uint64
	for i := range txns {
		if txns[i].Seq == 0 {
			txns[i].Seq = uint64(i + 1)
		}
		got = append(got, tr.Add(&txns[i]))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deps %v, want %v", got, want)
	}
}

func TestParseMode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Mode
	}{
		{"commit-order", CommitOrder},
		{"logical-clock", LogicalClock},
		{"writeset", WriteSet},
		{"Database", Database},
		{"logical-clock+writeset", LogicalClock | WriteSet},
		{" writeset + database ", WriteSet | Database},
	} {
		got, err := ParseMode(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if again, err := ParseMode(got.String()); err != nil || again != got {
			t.Errorf("round trip of %v: %v %v", got, again, err)
		}
	}
	for _, bad := range []string{"", "writeset+", "serial", "writeset+bogus"} {
		if _, err := ParseMode(bad); !errors.Is(err, ErrBadMode) {
			t.Errorf("ParseMode(%q): %v", bad, err)
		}
	}
	if s := Mode(0).String(); s != "none" {
		t.Error(s)
	}
	if s := (WriteSet | 0x80).String(); !strings.Contains(s, "writeset+Mode(0x80)") {
		t.Error(s)
	}
}

func TestCommitOrder(t *testing.T) {
	run(t, NewTracker(CommitOrder, 0), []Txn{{Keys: []Key{ex(1, 1)}}, {Keys: []Key{ex(1, 2)}}, {}}, []uint64{0, 1, 2})
	run(t, NewTracker(0, 0), []Txn{{}, {}}, []uint64{0, 1}) // no mode: commit order
}

func TestWriteSet(t *testing.T) {
	cases := []struct {
		name string
		txns []Txn
		want []uint64
	}{
		{"independent", []Txn{{Keys: []Key{ex(1, 1)}}, {Keys: []Key{ex(1, 2)}}, {Keys: []Key{ex(2, 1)}}}, []uint64{0, 0, 0}},
		{"same key", []Txn{{Keys: []Key{ex(1, 1)}}, {Keys: []Key{ex(1, 2)}}, {Keys: []Key{ex(1, 1)}}}, []uint64{0, 0, 1}},
		{"latest of several", []Txn{{Keys: []Key{ex(1, 1)}}, {Keys: []Key{ex(1, 2)}}, {Keys: []Key{ex(1, 2), ex(1, 1)}}}, []uint64{0, 0, 2}},
		{"wide after exact", []Txn{{Keys: []Key{ex(1, 1)}}, {Keys: []Key{ex(2, 1)}}, {Keys: []Key{wide(1)}}}, []uint64{0, 0, 1}},
		{"exact after wide", []Txn{{Keys: []Key{wide(1)}}, {Keys: []Key{ex(2, 1)}}, {Keys: []Key{ex(1, 9)}}}, []uint64{0, 0, 1}},
		{"wide after wide", []Txn{{Keys: []Key{wide(1)}}, {Keys: []Key{wide(2)}}, {Keys: []Key{wide(1)}}}, []uint64{0, 0, 1}},
		{"wide sees exacts after a wide", []Txn{{Keys: []Key{wide(1)}}, {Keys: []Key{ex(1, 5)}}, {Keys: []Key{wide(1)}}}, []uint64{0, 1, 2}},
		// A transaction's own keys never make it depend on itself, whatever their order.
		{"own keys", []Txn{{Keys: []Key{ex(1, 1), ex(1, 1), wide(1), ex(1, 2), wide(1)}}, {Keys: []Key{ex(3, 3)}}}, []uint64{0, 0}},
		// exact then wide in one transaction: the wide key still sees an earlier exact key of another value.
		{"exact then wide", []Txn{{Keys: []Key{ex(1, 7)}}, {Keys: []Key{ex(2, 2)}}, {Keys: []Key{ex(1, 1), wide(1)}}}, []uint64{0, 0, 1}},
		{"wide then exact", []Txn{{Keys: []Key{wide(1)}}, {Keys: []Key{ex(2, 2)}}, {Keys: []Key{wide(1), ex(1, 1)}}}, []uint64{0, 0, 1}},
		{"no keys", []Txn{{Keys: []Key{ex(1, 1)}}, {}, {Keys: []Key{ex(1, 1)}}}, []uint64{0, 0, 1}},
		{"barrier", []Txn{{Keys: []Key{ex(1, 1)}}, {Keys: []Key{ex(1, 2)}}, {Barrier: true, Keys: []Key{ex(1, 9)}},
			{Keys: []Key{ex(2, 1)}}, {Keys: []Key{ex(1, 9)}}, {Keys: []Key{ex(1, 1)}}}, []uint64{0, 0, 2, 3, 3, 3}},
		{"barrier first", []Txn{{Barrier: true}, {}, {Barrier: true}, {Barrier: true}, {}}, []uint64{0, 1, 2, 3, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, NewTracker(WriteSet, 0), c.txns, c.want) })
	}
}

// When the history overflows it is forgotten, and the transaction after depends on everything before it.
func TestWriteSetHistoryOverflow(t *testing.T) {
	tr := NewTracker(WriteSet, 4)
	run(t, tr, []Txn{
		{Keys: []Key{ex(1, 1), ex(1, 2)}}, // 2 keys + 1 space
		{Keys: []Key{ex(1, 3)}},           // 3 keys + 1 space = 4
		{Keys: []Key{ex(1, 1)}},           // dep 1; still 4
		{Keys: []Key{ex(1, 4)}},           // 5 > 4: forgotten, floor 4
		{Keys: []Key{ex(2, 1)}},           // unrelated, but after the overflow: 4
		{Keys: []Key{ex(1, 1)}},           // 3 is forgotten; the floor is 4
		{Keys: []Key{ex(2, 1)}},           // 5 is remembered
	}, []uint64{0, 0, 1, 0, 4, 4, 5})
	// One transaction bigger than the whole history.
	tr = NewTracker(WriteSet, 2)
	run(t, tr, []Txn{{Keys: []Key{ex(1, 1), ex(1, 2), ex(1, 3)}}, {Keys: []Key{ex(2, 2)}}, {Keys: []Key{ex(3, 3)}}}, []uint64{0, 1, 1})
}

func TestDatabase(t *testing.T) {
	tr := NewTracker(Database, 0)
	run(t, tr, []Txn{
		{Schemas: []string{"a"}},
		{Schemas: []string{"b"}},
		{Schemas: []string{"A"}}, // case-insensitive
		{Schemas: []string{"c", "b"}},
		{},                       // no schemas: may write anything: serial, and later ones wait for it
		{Schemas: []string{"d"}}, // 5
		{Barrier: true, Schemas: []string{"e"}},
		{Schemas: []string{"a"}},
	}, []uint64{0, 0, 1, 2, 4, 5, 6, 7})

	tr = NewTracker(Database, 2)
	run(t, tr, []Txn{{Schemas: []string{"a"}}, {Schemas: []string{"b"}}, {Schemas: []string{"c"}}, {Schemas: []string{"d"}},
		{Schemas: []string{"b"}}}, []uint64{0, 0, 0, 3, 3})
}

func TestLogicalClockMySQL(t *testing.T) {
	f1, f2 := "bin.000001", "bin.000002"
	lc := func(file string, last, seq int64) Txn {
		return Txn{SourceFile: file, LastCommitted: last, SequenceNumber: seq}
	}
	run(t, NewTracker(LogicalClock, 0), []Txn{
		lc(f1, 0, 1), // 1: the first of a file: serial (0)
		lc(f1, 0, 2), // 2: last_committed 0: nothing of the file; the file began after Seq 0
		lc(f1, 1, 3), // 3: waits for seq_no 1 = Seq 1
		lc(f1, 1, 4), // 4: same
		lc(f1, 4, 5), // 5: Seq 4
		lc(f2, 0, 1), // 6: a new file: serial
		lc(f2, 0, 2), // 7: nothing of f2: everything of f1 (5)
		lc(f2, 1, 3), // 8: Seq 6
		lc(f2, 3, 3), // 9: last_committed >= sequence_number: serial; the epoch restarts after 9
		lc(f2, 3, 4), // 10: seq_no 3 was Seq 8, but the epoch restarted at 9: 9
		lc(f2, 4, 5), // 11: Seq 10
		lc(f2, 0, 0), // 12: no clock: serial
		lc(f2, 5, 6), // 13: 12
		lc(f2, 6, 6), // 14: not increasing: serial
		{SourceFile: "", LastCommitted: 1, SequenceNumber: 2}, // 15: unknown file: serial
		lc(f2, 7, 8), // 16: back in f2 (a new epoch): 15
		lc(f2, 8, 9), // 17: 16
		lc(f2, -1, 10),
	}, []uint64{0, 0, 1, 1, 4, 5, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17})
}

// The first transaction of a new file whose last_committed points into the old file: serial, and the next ones
// of the file never skip the old file.
func TestLogicalClockRotation(t *testing.T) {
	run(t, NewTracker(LogicalClock, 0), []Txn{
		{SourceFile: "a.1", LastCommitted: 5, SequenceNumber: 10},
		{SourceFile: "a.1", LastCommitted: 5, SequenceNumber: 11},
		{SourceFile: "a.2", LastCommitted: 9, SequenceNumber: 12},
		{SourceFile: "a.2", LastCommitted: 11, SequenceNumber: 13},
		{SourceFile: "a.2", LastCommitted: 12, SequenceNumber: 14},
	}, []uint64{0, 0, 2, 2, 3})
}

// Skipped transactions leave gaps in the sequence numbers (and in Seq); the greatest seq_no <= last_committed
// still bounds the wait.
func TestLogicalClockGaps(t *testing.T) {
	run(t, NewTracker(LogicalClock, 0), []Txn{
		{Seq: 1, SourceFile: "f", LastCommitted: 0, SequenceNumber: 1},
		{Seq: 2, SourceFile: "f", LastCommitted: 1, SequenceNumber: 2},
		{Seq: 5, SourceFile: "f", LastCommitted: 2, SequenceNumber: 5},
		{Seq: 6, SourceFile: "f", LastCommitted: 4, SequenceNumber: 6},
		{Seq: 7, SourceFile: "f", LastCommitted: 1, SequenceNumber: 7},
	}, []uint64{0, 1, 2, 2, 1})
}

func TestLogicalClockBounded(t *testing.T) {
	tr := NewTracker(LogicalClock, 4)
	var txns []Txn
	for i := int64(1); i <= 10; i++ {
		txns = append(txns, Txn{SourceFile: "f", LastCommitted: 1, SequenceNumber: i})
	}
	txns[0].LastCommitted = 0
	// Entries 1..4 are kept; after 5 the older half goes and base becomes 2, which then answers seq_no 1: more
	// waiting than needed, never less.
	run(t, tr, txns, []uint64{0, 1, 1, 1, 1, 2, 2, 4, 4, 6})
}

func TestLogicalClockMariaDB(t *testing.T) {
	run(t, NewTracker(LogicalClock, 0), []Txn{
		{CommitID: 100}, // 1: a group's first: serial
		{CommitID: 100}, // 2: with 1
		{CommitID: 100}, // 3: with 1 and 2
		{CommitID: 105}, // 4: a new group waits for all of the previous one
		{CommitID: 105}, // 5
		{},              // 6: no commit id: serial
		{CommitID: 105}, // 7: not consecutive with its group: a new group
		{CommitID: 105}, // 8
		{CommitID: 107, Barrier: true},
		{CommitID: 107}, // 10: would join 9's group, but 9 is a barrier
		{CommitID: 108},
	}, []uint64{0, 0, 0, 3, 3, 5, 6, 6, 8, 9, 10})
}

func TestCombinedModes(t *testing.T) {
	// Each mode proves something different; the earliest wins.
	txns := []Txn{
		{SourceFile: "f", LastCommitted: 0, SequenceNumber: 1, Keys: []Key{ex(1, 1)}, Schemas: []string{"a"}},
		{SourceFile: "f", LastCommitted: 1, SequenceNumber: 2, Keys: []Key{ex(1, 2)}, Schemas: []string{"a"}},
		{SourceFile: "f", LastCommitted: 1, SequenceNumber: 3, Keys: []Key{ex(1, 2)}, Schemas: []string{"b"}},
		{SourceFile: "f", LastCommitted: 3, SequenceNumber: 4, Keys: []Key{ex(1, 3)}, Schemas: []string{"b"}},
		{Barrier: true, SourceFile: "f", LastCommitted: 3, SequenceNumber: 5},
		{SourceFile: "f", LastCommitted: 3, SequenceNumber: 6, Keys: []Key{ex(1, 4)}, Schemas: []string{"c"}},
	}
	for _, c := range []struct {
		modes Mode
		want  []uint64
	}{
		{LogicalClock, []uint64{0, 1, 1, 3, 4, 5}},
		{WriteSet, []uint64{0, 0, 2, 0, 4, 5}},
		{Database, []uint64{0, 1, 0, 3, 4, 5}},
		{LogicalClock | WriteSet, []uint64{0, 0, 1, 0, 4, 5}},
		{WriteSet | Database, []uint64{0, 0, 0, 0, 4, 5}},
		{CommitOrder | WriteSet, []uint64{0, 0, 2, 0, 4, 5}},
		{CommitOrder | LogicalClock | WriteSet | Database, []uint64{0, 0, 0, 0, 4, 5}},
	} {
		t.Run(c.modes.String(), func(t *testing.T) {
			cp := append([]Txn(nil), txns...)
			run(t, NewTracker(c.modes, 0), cp, c.want)
		})
	}
}

func TestAddPanicsOnOrder(t *testing.T) {
	tr := NewTracker(WriteSet, 0)
	tr.Add(&Txn{Seq: 5})
	for _, seq := range []uint64{5, 4, 0} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(Seq=%d) after 5 did not panic", seq)
				}
			}()
			tr.Add(&Txn{Seq: seq})
		}()
	}
	if tr.Modes() != WriteSet {
		t.Error(tr.Modes())
	}
}
