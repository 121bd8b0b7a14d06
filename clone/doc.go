// Package clone starts a replica from nothing: it copies the selected schemas of a source server into a target
// server from one consistent snapshot, records the snapshot's GTID position in the target's progress tables, and so
// hands over to streaming replication (package mtreplica) with no gap and no duplicate.
//
// # Steps
//
//  1. Snapshot. N source connections share one snapshot. On MariaDB each runs START TRANSACTION WITH CONSISTENT
//     SNAPSHOT and reads binlog_snapshot_file/binlog_snapshot_pos; when all N report the same binlog position they
//     see the same transactions (the snapshot and the binlog position are taken under the same commit-order lock,
//     and equal positions mean no binlogged commit in between), so no lock is needed. When a commit slips in
//     between (a busy source), after a few tries a brief FLUSH TABLES WITH READ LOCK is held while the N
//     transactions start (Options.SnapshotLock forces it). The GTID position is BINLOG_GTID_POS(file, pos). MySQL:
//     always the brief lock, and @@GLOBAL.gtid_executed read under it.
//  2. Schema. Schemas and tables are created on the target from SHOW CREATE TABLE (foreign keys included, created
//     with foreign_key_checks=0). The secondary indexes are left out and added with one ALTER TABLE per table once
//     its rows are loaded (unless Options.IndexesDuringLoad).
//  3. Plan. Each table with a key (the primary key, else a unique key of NOT NULL columns) is cut into chunks of at
//     most Options.ChunkRows rows by key ranges: by value for a single integer key that is dense enough, else by
//     walking the key (ORDER BY key LIMIT 1 OFFSET ChunkRows). A table without such a key is one chunk. The plan is
//     stored on the target (mtreplica.clone_chunks).
//  4. Copy. Options.Workers workers take chunks; each reads its chunk with a streaming SELECT on its snapshot
//     connection and writes it with multi-row INSERTs of at most Options.InsertBytes in one target transaction,
//     which also marks the chunk done in mtreplica.clone_chunks: a chunk is loaded exactly once. Memory is bounded
//     by one INSERT buffer per worker. Progress (rows, bytes, rows/s, ETA per table and in total) is logged every
//     Options.ProgressInterval.
//  5. Hand-over. In one target transaction the snapshot position becomes the progress tables' low-water mark
//     (applier.Progress.SetLowWater) and the clone is marked done; mtreplica.Replica.Run on this target then
//     starts exactly after the snapshot.
//
// # Values
//
// Source sessions use character_set_results=binary and time_zone='+00:00', so every value arrives as the server
// stores it: strings in their column's character set (written back with that character set's introducer),
// binary strings, BIT and spatial values as hex literals, DECIMAL, temporal values with their fractions and floating
// point numbers in the server's text form (round-trip exact: checked by the tests), NULL as NULL.
//
// # Resuming
//
// A clone that is killed continues from its checkpoints: tables already created and chunks already loaded are not
// touched again. The snapshot cannot survive the kill, so the remaining chunks are read from a new snapshot S2,
// later than the first snapshot S1. The hand-over then records S1 and replays the source's binlog from S1 to S2 in
// idempotent mode (INSERT becomes an upsert, missing rows are ignored), which brings the chunks read at S1 forward to
// S2 and leaves those read at S2 as they are; only then is the position exact and the clone done. A table without a
// key cannot be replayed idempotently (its rows have no identity): if one is unfinished when the clone resumes, the
// clone starts over.
package clone
