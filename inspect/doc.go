// Package inspect summarises binlog and relay log files without a server:
// the writing server's version and flavor, event counts by type (events
// inside MySQL's compressed TRANSACTION_PAYLOAD events counted apart),
// transactions, the GTID range, rows by kind, the largest transaction, and how
// much parallelism each dependency tracking mode finds.
//
// # Parallelism
//
// Each transaction is given to deptrack.Tracker as the coordinator would give
// it, once per mode (logical-clock; writeset). The tracker answers the highest
// earlier transaction it must wait for. With unlimited workers and every
// transaction taking the same time, transaction i starts at step
// s(i) = max(s(j)+1 for j <= dep(i)), 0 when it depends on nothing; the
// transactions that share a step could run at once. The report gives the
// average (transactions / steps) and the maximum over steps. It is an upper
// bound of what the replica achieves with a finite number of workers.
//
// Writeset keys come from the row images and a table definition. A file has
// no target to read definitions from, so the table map stands in
// (rowsql.FromTableMap): its optional metadata names the primary key when the
// source has binlog_row_metadata=FULL. A table without that metadata gives
// "unknown keys": its transactions count as barriers (they wait for all before
// them and all after wait for them), and the report says how many there were.
// Unique secondary keys and foreign keys are not in a table map: the writeset
// figure may be higher than what a replica reading the target's definitions
// finds.
//
// # Speed
//
// One goroutine reads the file with a large buffer, checks checksums, frames
// transactions (binlogfmt.Framer) and cuts the stream into chunks of whole
// transactions; decoders (one per CPU) decode the rows in parallel with
// go-mysql and compute writesets; the caller's goroutine puts the results back
// in order and runs the trackers. Memory is bounded by the chunks in flight.
package inspect
