// Package replay applies binlog or relay log files from disk to a target with
// mtreplica's parallel workers: point-in-time recovery, like
// `mysqlbinlog FILE... | mysql`, but with the dependency tracking, commit
// ordering and exactly-once progress of a replica.
//
// Run reads the files in the order given (each must start with the binlog
// magic and a FORMAT_DESCRIPTION event), frames their events into
// transactions (internal/binlogfmt), keeps the transactions inside the
// Range, and appends their raw events to a relay log in a work directory
// (package relaylog, as the receiver does). Then it runs a mtreplica.Replica
// without receiver on that relay log until every selected transaction is
// applied or skipped (already recorded in the target's progress table under
// the channel: replaying the same files twice applies them once), and
// removes the work directory.
//
// # Range
//
// Selection is by whole transactions, never part of one:
//
//   - StartGTID: a GTID set already present on the target; its transactions
//     are skipped (exclusive, like mariadb-binlog --start-position=GTID).
//   - StopGTID: the last GTIDs to apply (inclusive); a transaction of a
//     stream named there with a higher sequence number is not applied.
//     Streams it does not name are not limited.
//   - StartPosition: transactions starting before it in the first file are
//     skipped. StopPosition: reading stops at the first transaction of the
//     last file starting at or after it (both like mysqlbinlog).
//   - StartTime: transactions whose first event is older are skipped.
//     StopTime: reading stops at the first transaction at or after it.
//
// Anonymous transactions (no GTID) are recorded by source file and position,
// so the files must keep their source names (mysql-bin.000042): the progress
// key orders them by file number.
package replay
