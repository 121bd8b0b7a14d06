// Package schedule is the coordinator's dispatch core: the window of
// transactions read and not yet committed, which of them may start, how they
// are grouped, and the low-water mark. It is deterministic and free of
// goroutines, clocks and I/O (the coordinator package runs it under its lock,
// with the channels, workers and timers around it), so every interleaving can
// be tested directly.
//
// # Rules
//
// Transactions (slots) are added in source order, Seq 1, 2, 3... Each carries
// Dep, computed by the dependency tracker (coordinator/deptrack): it may start
// once every Seq <= Dep has committed. Next hands out slots strictly in Seq
// order and never passes one that may not start yet, so a transaction blocked
// by a dependency holds back those after it (as MySQL's coordinator does: the
// window, bounded by the caller's queue, is what lets independent work run
// ahead of commits).
//
// A group is a ready slot and up to Config.GroupTxns consecutive slots after
// it, within Config.GroupBytes, that are ready too, or that depend only on the
// members before them when the lead is the first uncommitted slot (all of
// them run in order on one connection). The worker applies the group as one
// target transaction with one commit, so the target's state stays a prefix of
// the source's history. Alone slots (statements that commit implicitly,
// streamed transactions) are never grouped.
//
// With Config.Pipeline, a Pipelined slot (one that changes only rows) may
// also start once every slot before it has executed (Executed: its body is
// applied and it waits only for its commit), whatever its Dep: anything it
// conflicts with is row-locked by an earlier transaction that waits for
// nothing but its turn, so the target makes it wait. Such a group may take
// Pipelined members that depend on anything before them, as the first
// uncommitted slot's group may.
//
// Committing is the caller's business: with commit order preserved it lets a
// group commit only when its lead is Head. Committed retires the committed
// prefix of the window and advances Low; Aborted (an order-inversion deadlock,
// resolved by rolling the later transaction back) puts the group back and
// makes its lead wait for everything before it.
package schedule
