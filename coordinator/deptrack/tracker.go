package deptrack

import (
	"fmt"
	"strings"
)

// DefaultHistorySize is NewTracker's historySize when it is 0 or less: the number of keys the writeset history
// remembers, like MySQL's binlog_transaction_dependency_history_size (whose default is 25000; keys here cost 16
// bytes each, so a larger history is cheap and keeps parallelism across long bursts of unrelated rows).
const DefaultHistorySize = 1 << 20

// Txn is what the tracker needs to know about one source transaction.
type Txn struct {
	// Seq numbers transactions in source order, from 1; it must increase from one Add to the next (gaps are
	// allowed: a transaction the coordinator skips because the target has it needs no waiting for).
	Seq uint64

	// SourceFile, LastCommitted and SequenceNumber are MySQL's logical clock: sequence_number and last_committed
	// of the GTID (or anonymous GTID) event, relative to the binlog file SourceFile; they restart in every file.
	// 0 = absent.
	SourceFile                    string
	LastCommitted, SequenceNumber int64
	// CommitID is MariaDB's group commit id (0 = none): consecutive transactions with the same commit_id
	// group-committed together and may run in parallel; a new group waits for the previous group, all of it.
	CommitID uint64

	// Barrier: DDL, statement-based DML, a transaction the extractor could not key, anything unreadable. A barrier
	// depends on everything before it, and everything after it depends on it, in every mode.
	Barrier bool
	// Schemas are the schemas the transaction writes (Database mode), including those reached through foreign
	// keys (TableSchemas). Compared case-insensitively.
	Schemas []string
	// Keys are the transaction's writeset (WriteSet mode), from an Extractor. A transaction whose rows could not
	// all be keyed must be a Barrier instead: a transaction with no keys depends on nothing in this mode.
	Keys []Key
}

// Key is one element of a writeset. Space identifies what the key is a value of: (schema, table, the columns of a
// unique key or of a foreign key's referenced columns). Two exact keys conflict when their Hash is equal (Hash
// includes the space); a Wide key stands for "any value of this space" and conflicts with every key of its space,
// exact or wide. Hash collisions only add dependencies, never lose one.
type Key struct {
	Hash  uint64
	Space uint64
	Wide  bool
}

// Tracker computes, for each transaction in source order, the highest Seq it must wait for: the transaction may
// start once every transaction with Seq <= dep has committed (the coordinator's low-water mark). dep = Seq-1 is
// serial; everything in (dep, Seq) is independent of it.
//
// Each enabled mode gives a sound dep on its own; the tracker returns the lowest (a transaction runs as early as
// any mode proves safe), except that a Barrier gets Seq-1 and every later transaction gets at least the barrier's
// Seq. A Tracker is a pure state machine: no goroutines, clocks or I/O; it is not safe for concurrent use.
type Tracker struct {
	modes   Mode
	history int

	prevSeq     uint64 // Seq of the previous Add
	lastBarrier uint64

	// WriteSet
	exact   seqTable
	spaces  spaceTable
	wsFloor uint64 // every writeset dep is at least this: the history was forgotten up to here

	// Database
	dbLast  map[string]uint64
	dbFloor uint64

	// LogicalClock
	clock mysqlClock
	group mariadbGroup
}

// NewTracker returns a tracker for modes (0 means CommitOrder). historySize bounds the keys the writeset history
// remembers (and the schemas and sequence numbers the other modes remember); 0 or less means DefaultHistorySize.
// When the history overflows it is forgotten whole, and every later transaction depends on the one that
// overflowed it: the next transaction waits for everything before it, as after a barrier.
func NewTracker(modes Mode, historySize int) *Tracker {
	if modes&allModes == 0 {
		modes = CommitOrder
	}
	if historySize <= 0 {
		historySize = DefaultHistorySize
	}
	return &Tracker{modes: modes & allModes, history: historySize}
}

// Modes returns the enabled modes.
func (t *Tracker) Modes() Mode { return t.modes }

// Add computes tx's dependency and records tx. tx.Seq must be greater than the previous Add's (Add panics
// otherwise: the coordinator numbers transactions). The returned dep is < tx.Seq.
func (t *Tracker) Add(tx *Txn) (dep uint64) {
	seq := tx.Seq
	if seq == 0 || seq <= t.prevSeq {
		panic(fmt.Sprintf("deptrack: Add(Seq=%d) after Seq=%d: Seq must increase", seq, t.prevSeq))
	}
	serial := seq - 1
	dep = serial // CommitOrder; every mode's dep is <= Seq-1, so the minimum over the others starts here
	if t.modes&LogicalClock != 0 {
		dep = min(dep, t.logicalClock(tx))
	}
	if t.modes&WriteSet != 0 {
		dep = min(dep, t.writeSet(tx))
	}
	if t.modes&Database != 0 {
		dep = min(dep, t.database(tx))
	}
	t.prevSeq = seq
	if tx.Barrier {
		t.lastBarrier = seq
		return serial
	}
	return max(dep, t.lastBarrier)
}

// writeSet returns the highest Seq of an earlier transaction sharing a key with tx, and records tx's keys.
func (t *Tracker) writeSet(tx *Txn) uint64 {
	seq := tx.Seq
	if tx.Barrier {
		return seq - 1 // nothing to record: everything after depends on the barrier anyway
	}
	dep := t.wsFloor
	for i := range tx.Keys {
		k := &tx.Keys[i]
		e := t.spaces.touch(k.Space, seq)
		if k.Wide {
			dep = max(dep, e.anyPrev)
			e.wide = seq
		} else {
			dep = max(dep, e.widePrev)
			if prev := t.exact.swap(k.Hash, seq); prev != seq {
				dep = max(dep, prev)
			}
		}
		e.any = seq
	}
	if t.exact.n+t.spaces.n > t.history {
		t.exact.reset()
		t.spaces.reset()
		t.wsFloor = seq
	}
	return dep
}

// database returns the highest Seq of an earlier transaction writing one of tx's schemas. A transaction without
// schemas may write anything: it waits for all before it, and all after it wait for it.
func (t *Tracker) database(tx *Txn) uint64 {
	seq := tx.Seq
	if tx.Barrier {
		return seq - 1
	}
	if len(tx.Schemas) == 0 {
		t.dbFloor = seq
		return seq - 1
	}
	if t.dbLast == nil {
		t.dbLast = make(map[string]uint64)
	}
	dep := t.dbFloor
	for _, s := range tx.Schemas {
		s = strings.ToLower(s)
		if prev := t.dbLast[s]; prev != seq {
			dep = max(dep, prev)
		}
		t.dbLast[s] = seq
	}
	if len(t.dbLast) > t.history {
		clear(t.dbLast)
		t.dbFloor = seq
	}
	return dep
}

// logicalClock returns the dependency the source recorded: MySQL's last_committed, else MariaDB's commit_id.
func (t *Tracker) logicalClock(tx *Txn) uint64 {
	if tx.CommitID != 0 && tx.SequenceNumber == 0 && tx.LastCommitted == 0 {
		t.clock.reset(tx.SourceFile, tx.Seq) // a MySQL clock after it must not skip over it
		return t.group.dep(tx, t.prevSeq)
	}
	return t.clock.dep(tx, t.history)
}

// mariadbGroup is the MariaDB group commit state: the current group's commit_id, its first and last Seq.
type mariadbGroup struct {
	id          uint64
	first, last uint64
}

func (g *mariadbGroup) dep(tx *Txn, prevSeq uint64) uint64 {
	if tx.CommitID == g.id && g.last != 0 && g.last == prevSeq {
		g.last = tx.Seq
		return g.first - 1
	}
	*g = mariadbGroup{id: tx.CommitID, first: tx.Seq, last: tx.Seq}
	return tx.Seq - 1
}
