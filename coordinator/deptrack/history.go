package deptrack

// The writeset history: two open-addressing hash tables keyed by 64-bit hashes, with linear probing and no
// deletion (the history is only ever forgotten whole). A Go map would need two hash operations for the
// read-then-write every key costs; these need one probe.
//
// Slot 0 of the value (Seq 0) means empty: Seq numbers start at 1. Two different keys are never merged here (the
// full 64-bit key is compared); the extractor's hashes may collide, which only adds dependencies.

const (
	minTableSlots = 1 << 10
	fibMul        = 0x9E3779B97F4A7C15 // spreads keys that are not random (tests use small numbers)
)

// seqTable maps an exact key hash to the Seq of the last transaction that had the key.
type seqTable struct {
	slots []seqSlot
	n     int
	shift uint // 64 - log2(len(slots))
}

type seqSlot struct{ key, seq uint64 }

// swap records seq for key and returns the Seq recorded before (0: none).
func (t *seqTable) swap(key, seq uint64) uint64 {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := (key * fibMul) >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.seq == 0 {
			s.key, s.seq = key, seq
			t.n++
			return 0
		}
		if s.key == key {
			prev := s.seq
			s.seq = seq
			return prev
		}
	}
}

func (t *seqTable) grow() {
	old := t.slots
	size := 2 * len(old)
	if size < minTableSlots {
		size = minTableSlots
	}
	t.slots = make([]seqSlot, size)
	t.shift = 64 - log2(size)
	t.n = 0
	mask := uint64(size - 1)
	for _, s := range old {
		if s.seq == 0 {
			continue
		}
		i := (s.key * fibMul) >> t.shift
		for t.slots[i].seq != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		t.n++
	}
}

// reset forgets everything, keeping the memory.
func (t *seqTable) reset() {
	clear(t.slots)
	t.n = 0
}

// spaceTable maps a key space to the last transactions that wrote into it.
type spaceTable struct {
	slots []spaceEntry
	n     int
	shift uint
}

// spaceEntry is the history of one key space. any is the last transaction with any key of the space, wide the
// last one with a wide key. The prev fields hold their values from before the transaction touched (the one being
// added): a transaction reads what was there before it, whatever the order of its own keys.
type spaceEntry struct {
	space             uint64
	any, wide         uint64
	anyPrev, widePrev uint64
	touched           uint64 // Seq of the transaction that set the prev fields; 0: empty slot
}

// begin makes the prev fields hold the state before transaction seq.
func (e *spaceEntry) begin(seq uint64) {
	if e.touched != seq {
		e.anyPrev, e.widePrev, e.touched = e.any, e.wide, seq
	}
}

// touch returns the entry of space, created if needed, with its prev fields holding the state before transaction
// seq (seq > 0). The pointer is valid until the next call.
func (t *spaceTable) touch(space, seq uint64) *spaceEntry {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := (space * fibMul) >> t.shift; ; i = (i + 1) & mask {
		e := &t.slots[i]
		if e.touched == 0 {
			e.space = space
			e.touched = seq
			t.n++
			return e
		}
		if e.space == space {
			e.begin(seq)
			return e
		}
	}
}

func (t *spaceTable) grow() {
	old := t.slots
	size := 2 * len(old)
	if size < 64 {
		size = 64
	}
	t.slots = make([]spaceEntry, size)
	t.shift = 64 - log2(size)
	t.n = 0
	mask := uint64(size - 1)
	for _, e := range old {
		if e.touched == 0 {
			continue
		}
		i := (e.space * fibMul) >> t.shift
		for t.slots[i].touched != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = e
		t.n++
	}
}

func (t *spaceTable) reset() {
	clear(t.slots)
	t.n = 0
}

func log2(n int) uint {
	var b uint
	for 1<<b < n {
		b++
	}
	return b
}
