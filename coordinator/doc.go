// Package coordinator turns the relay log's event stream into transactions and
// hands them to the applier's workers (MySQL's coordinator thread).
//
// # Pipeline
//
//	relaylog.Reader --events--> Assembler --*Txn--> [skip executed] --bounded queue--> worker(s) --> Done
//
// The Assembler is a pure state machine (no goroutines, clocks or I/O): it feeds
// each raw event to a binlogfmt.Framer to find transaction boundaries and to
// go-mysql's BinlogParser to decode it, and returns each transaction once its
// last event has arrived. Transactions the target already holds (the executed
// GTID set read from the progress table at start) are skipped, so a restart
// applies exactly the missing ones.
//
// The Coordinator owns the goroutines (Run): a reader (assembles, skips what
// the target holds, filters, computes dependencies through Options.Dependency,
// queues within Options.QueueBytes), a dispatcher (hands ready transactions to
// idle workers in source order, opens commit turns, advances the low-water
// mark), one goroutine per Worker, and the order-inversion deadlock detector.
// The dispatcher's decisions (which transactions may start, how they group,
// which one commits next, the low-water mark) are made by the pure
// schedule.Scheduler; the dependencies by the pure deptrack.Tracker (through
// Options.Dependency). Both are free of goroutines, clocks and I/O.
//
// # Groups
//
// A GroupWorker (the applier's) is handed a group: a ready transaction and up
// to Options.GroupTxns consecutive ones after it that are ready too (or, for
// the first uncommitted transaction, depend only on earlier members), applied
// as one target transaction with one commit. Only what has been read is
// grouped, so an idle source sees groups of one. The lead stands for its group
// in commit order, aborts and deadlock detection.
//
// # Large transactions
//
// With Options.Reopen, a transaction larger than Options.StreamBytes is not
// held: the Assembler marks it Streamed without keeping (or decoding) its
// events, it runs as a barrier, and its worker reads it again from the relay
// log in bounded batches (Txn.OpenEvents).
//
// Shutdown: cancelling Run's context stops the reader, lets a worker finish or
// abandon (roll back) its current transaction, and returns. The first error of
// any goroutine cancels the rest and is returned.
//
// # Low-water mark
//
// Every transaction carries its relay log span. When a transaction commits,
// the coordinator advances the low-water mark: the relay position before which
// every transaction is applied. The owner purges relay log segments wholly
// before it (Options.OnApplied).
package coordinator
