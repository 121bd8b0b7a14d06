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
// The Coordinator owns the goroutines: Run reads, assembles and dispatches on
// one goroutine and runs each worker on its own. The queue between them is
// bounded in bytes (Options.QueueBytes), not only in transactions. This issue's
// engine runs one worker (serial apply, commit order trivially preserved); the
// seam for the parallel scheduler is the dispatch step (see dispatch in
// coordinator.go), which decides when a transaction may start.
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
