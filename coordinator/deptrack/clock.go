package deptrack

// mysqlClock maps MySQL's logical clock to Seqs: for the current binlog file, the sequence numbers seen so far
// (increasing) and their Seqs.
//
// T may start once every transaction of its file with sequence_number <= T.last_committed has committed, and
// every transaction of earlier files. So dep = the Seq of the transaction with the greatest sequence_number <=
// last_committed, or base (the last Seq before the file, or before the clock was last found inconsistent) when
// there is none. Transactions the coordinator skipped (the target has them) leave gaps in the sequence numbers:
// the greatest one <= last_committed is still right.
type mysqlClock struct {
	file    string
	base    uint64 // everything <= base comes before this file's clock: every dep is >= base
	seqNums []int64
	seqs    []uint64
}

// reset starts a new epoch in file: everything <= base must commit before any later transaction starts.
func (c *mysqlClock) reset(file string, base uint64) {
	c.file, c.base = file, base
	c.seqNums, c.seqs = c.seqNums[:0], c.seqs[:0]
}

// dep returns tx's dependency under the clock and records tx. Missing or inconsistent values give Seq-1 and start
// a new epoch, so later transactions of the file wait for tx too, as MySQL's coordinator does.
func (c *mysqlClock) dep(tx *Txn, limit int) uint64 {
	seq := tx.Seq
	if tx.SourceFile != c.file {
		c.reset(tx.SourceFile, seq-1) // a new file: nothing of it seen yet; the old one entirely before
	}
	n := len(c.seqNums)
	switch {
	case tx.SourceFile == "", tx.SequenceNumber <= 0, tx.LastCommitted < 0, tx.LastCommitted >= tx.SequenceNumber,
		n > 0 && tx.SequenceNumber <= c.seqNums[n-1]:
		c.reset(tx.SourceFile, seq)
		return seq - 1
	}
	dep := c.base
	if i := c.search(tx.LastCommitted); i >= 0 {
		dep = c.seqs[i]
	}
	if n >= limit {
		// Forget the older half; base moves up to the newest forgotten Seq, which is at least what any forgotten
		// entry would have given.
		h := max(n/2, 1)
		c.base = c.seqs[h-1]
		n = copy(c.seqNums, c.seqNums[h:])
		copy(c.seqs, c.seqs[h:])
		c.seqNums, c.seqs = c.seqNums[:n], c.seqs[:n]
	}
	c.seqNums = append(c.seqNums, tx.SequenceNumber)
	c.seqs = append(c.seqs, seq)
	return dep
}

// search returns the index of the greatest recorded sequence number <= lc, or -1. last_committed mostly points
// at a recent transaction: the newest entries are tried first.
func (c *mysqlClock) search(lc int64) int {
	n := len(c.seqNums)
	if n == 0 || c.seqNums[0] > lc {
		return -1
	}
	if c.seqNums[n-1] <= lc {
		return n - 1
	}
	lo, hi := 0, n-1 // seqNums[lo] <= lc < seqNums[hi]
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if c.seqNums[mid] <= lc {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
