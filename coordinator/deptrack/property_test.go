package deptrack

import (
	"math/rand/v2"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// The property tests generate transaction streams, let the tracker assign deps, then run every kind of
// execution the deps allow: repeatedly start any transaction whose dep is <= the low-water mark, or commit any
// running one (in source order when commit order is preserved), in random interleavings. Whatever the
// interleaving, every pair that conflicts (by the mode's own definition) must be ordered as in serial execution:
// the earlier one committed before the later one started.

// conflictFunc reports whether transaction i must commit before j (i < j) starts. Indexes are Seq-1.
type conflictFunc func(i, j int) bool

// execution is one run: the step at which each transaction started and committed.
type execution struct{ start, commit []int }

// simulate runs the transactions with deps, choosing among all allowed steps with rng.
func simulate(t *rapid.T, deps []uint64, commitOrder bool, rng *rand.Rand) execution {
	n := len(deps)
	const (
		waiting = iota
		running
		committed
	)
	state := make([]int, n)
	e := execution{start: make([]int, n), commit: make([]int, n)}
	lwm := 0 // every Seq <= lwm committed
	var choices []int
	for step := 1; lwm < n; step++ {
		choices = choices[:0]
		for i := lwm; i < n; i++ { // everything below lwm has committed
			switch state[i] {
			case waiting:
				if deps[i] <= uint64(lwm) {
					choices = append(choices, i)
				}
			case running:
				if !commitOrder || i == lwm {
					choices = append(choices, i)
				}
			}
		}
		if len(choices) == 0 {
			t.Fatalf("no transaction can start or commit: lwm %d, deps %v, states %v", lwm, deps, state)
		}
		i := choices[rng.IntN(len(choices))]
		if state[i] == waiting {
			state[i], e.start[i] = running, step
		} else {
			state[i], e.commit[i] = committed, step
			for lwm < n && state[lwm] == committed {
				lwm++
			}
		}
	}
	return e
}

// checkSerializable runs several random executions and checks every conflicting pair.
func checkSerializable(t *rapid.T, deps []uint64, conflict conflictFunc) {
	rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
	for run := 0; run < 8; run++ {
		e := simulate(t, deps, run%2 == 0, rng)
		for j := range deps {
			for i := 0; i < j; i++ {
				if conflict(i, j) && e.commit[i] >= e.start[j] {
					t.Fatalf("Seq %d (dep %d) started at step %d before Seq %d, which it conflicts with, committed "+
						"at step %d (commit order %v); deps %v", j+1, deps[j], e.start[j], i+1, e.commit[i], run%2 == 0, deps)
				}
			}
		}
	}
}

// genKeys draws a writeset over a few spaces; Hash is unique per (space, value), some keys are wide.
func genKeys(t *rapid.T, label string) []Key {
	n := rapid.IntRange(0, 4).Draw(t, label+"/n")
	keys := make([]Key, 0, n)
	for k := 0; k < n; k++ {
		space := uint64(rapid.IntRange(1, 3).Draw(t, label+"/space"))
		if rapid.IntRange(0, 9).Draw(t, label+"/wide") == 0 {
			keys = append(keys, wide(space))
			continue
		}
		keys = append(keys, ex(space, uint64(rapid.IntRange(0, 5).Draw(t, label+"/value"))))
	}
	return keys
}

func keysConflict(a, b []Key) bool {
	for _, x := range a {
		for _, y := range b {
			if (x.Wide || y.Wide) && x.Space == y.Space || !x.Wide && !y.Wide && x.Hash == y.Hash {
				return true
			}
		}
	}
	return false
}

func schemasConflict(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

func addAll(tr *Tracker, txns []Txn) []uint64 {
	deps := make([]uint64, len(txns))
	for i := range txns {
		txns[i].Seq = uint64(i + 1)
		deps[i] = tr.Add(&txns[i])
	}
	return deps
}

// tightest returns, for each transaction, the highest earlier one it conflicts with (0: none): the dep an exact
// tracker returns.
func tightest(n int, conflict conflictFunc) []uint64 {
	want := make([]uint64, n)
	for j := 0; j < n; j++ {
		for i := j - 1; i >= 0; i-- {
			if conflict(i, j) {
				want[j] = uint64(i + 1)
				break
			}
		}
	}
	return want
}

func TestPropertyWriteSet(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "n")
		txns := make([]Txn, n)
		for i := range txns {
			txns[i].Barrier = rapid.IntRange(0, 19).Draw(t, "barrier") == 0
			txns[i].Keys = genKeys(t, "keys")
		}
		conflict := func(i, j int) bool {
			return txns[i].Barrier || txns[j].Barrier || keysConflict(txns[i].Keys, txns[j].Keys)
		}
		deps := addAll(NewTracker(WriteSet, 0), txns)
		// With an unbounded history the tracker is exact: no dependency it could do without.
		if want := tightest(n, conflict); !equalDeps(deps, want) {
			t.Fatalf("deps %v, want %v", deps, want)
		}
		checkSerializable(t, deps, conflict)

		// A small history overflows: more waiting, still sound.
		small := make([]Txn, n)
		copy(small, txns)
		deps = addAll(NewTracker(WriteSet, rapid.IntRange(1, 8).Draw(t, "history")), small)
		checkSerializable(t, deps, conflict)
	})
}

func TestPropertyDatabase(t *testing.T) {
	names := []string{"a", "b", "c", "A"}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "n")
		txns := make([]Txn, n)
		for i := range txns {
			txns[i].Barrier = rapid.IntRange(0, 19).Draw(t, "barrier") == 0
			txns[i].Schemas = rapid.SliceOfN(rapid.SampledFrom(names), 0, 2).Draw(t, "schemas")
		}
		conflict := func(i, j int) bool {
			return txns[i].Barrier || txns[j].Barrier || schemasConflict(txns[i].Schemas, txns[j].Schemas)
		}
		deps := addAll(NewTracker(Database, 0), txns)
		if want := tightest(n, conflict); !equalDeps(deps, want) {
			t.Fatalf("deps %v, want %v", deps, want)
		}
		checkSerializable(t, deps, conflict)
	})
}

// genClock draws a MySQL logical clock stream: files in order, increasing sequence numbers with gaps,
// last_committed below them, now and then an inconsistent or missing value.
func genClock(t *rapid.T, txns []Txn) {
	files := []string{"bin.000001", "bin.000002", "bin.000003", ""}
	f, seqNo := 0, int64(0)
	for i := range txns {
		if rapid.IntRange(0, 9).Draw(t, "rotate") == 0 && f < len(files)-1 {
			f, seqNo = f+1, 0
		}
		seqNo += int64(rapid.IntRange(1, 2).Draw(t, "gap"))
		tx := &txns[i]
		tx.SourceFile, tx.SequenceNumber = files[f], seqNo
		tx.LastCommitted = int64(rapid.IntRange(0, int(seqNo-1)).Draw(t, "last"))
		switch rapid.IntRange(0, 19).Draw(t, "broken") {
		case 0:
			tx.LastCommitted = seqNo
		case 1:
			tx.SequenceNumber, tx.LastCommitted = 0, 0
		case 2:
			tx.SequenceNumber = seqNo - 1 // not increasing
		}
	}
}

func clockValid(tx *Txn) bool {
	return tx.SourceFile != "" && tx.SequenceNumber > 0 && tx.LastCommitted >= 0 && tx.LastCommitted < tx.SequenceNumber
}

func TestPropertyLogicalClockMySQL(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "n")
		txns := make([]Txn, n)
		for i := range txns {
			txns[i].Barrier = rapid.IntRange(0, 19).Draw(t, "barrier") == 0
		}
		genClock(t, txns)
		conflict := func(i, j int) bool {
			a, b := &txns[i], &txns[j]
			if a.Barrier || b.Barrier || !clockValid(a) || !clockValid(b) || a.SourceFile != b.SourceFile {
				return true
			}
			for k := i + 1; k <= j; k++ { // a broken sequence in between: MySQL falls back to serial
				if txns[k].SequenceNumber <= txns[k-1].SequenceNumber && txns[k].SourceFile == txns[k-1].SourceFile {
					return true
				}
			}
			return a.SequenceNumber <= b.LastCommitted
		}
		deps := addAll(NewTracker(LogicalClock, rapid.IntRange(1, 50).Draw(t, "history")), txns)
		checkSerializable(t, deps, conflict)
	})
}

func TestPropertyLogicalClockMariaDB(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "n")
		txns := make([]Txn, n)
		for i := range txns {
			txns[i].Barrier = rapid.IntRange(0, 19).Draw(t, "barrier") == 0
			txns[i].CommitID = uint64(rapid.IntRange(0, 3).Draw(t, "commit_id"))
		}
		// Transactions may run together only inside a run of consecutive equal, non-zero commit ids.
		conflict := func(i, j int) bool {
			if txns[i].Barrier || txns[j].Barrier || txns[j].CommitID == 0 {
				return true
			}
			for k := i; k <= j; k++ {
				if txns[k].CommitID != txns[j].CommitID {
					return true
				}
			}
			return false
		}
		deps := addAll(NewTracker(LogicalClock, 0), txns)
		if want := tightest(n, conflict); !equalDeps(deps, want) {
			t.Fatalf("deps %v, want %v", deps, want)
		}
		checkSerializable(t, deps, conflict)
	})
}

// Combined modes give the minimum of the modes alone (each of which is sound), barriers excepted.
func TestPropertyCombined(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 30).Draw(t, "n")
		txns := make([]Txn, n)
		for i := range txns {
			txns[i].Barrier = rapid.IntRange(0, 19).Draw(t, "barrier") == 0
			txns[i].Keys = genKeys(t, "keys")
			txns[i].Schemas = rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b"}), 0, 2).Draw(t, "schemas")
		}
		genClock(t, txns)
		modes := Mode(rapid.IntRange(1, int(allModes)).Draw(t, "modes"))
		history := rapid.IntRange(1, 20).Draw(t, "history")
		got := addAll(NewTracker(modes, history), append([]Txn(nil), txns...))
		want := make([]uint64, n)
		for i := range want {
			want[i] = ^uint64(0)
		}
		for _, m := range []Mode{CommitOrder, LogicalClock, WriteSet, Database} {
			if modes&m == 0 {
				continue
			}
			alone := addAll(NewTracker(m, history), append([]Txn(nil), txns...))
			for i := range want {
				want[i] = min(want[i], alone[i])
			}
		}
		if !equalDeps(got, want) {
			t.Fatalf("%v: deps %v, want the minimum of the modes alone %v", modes, got, want)
		}
		for i, d := range got {
			if d >= uint64(i+1) {
				t.Fatalf("Seq %d got dep %d", i+1, d)
			}
		}
	})
}

func equalDeps(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
