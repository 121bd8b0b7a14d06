// Package applier applies source transactions to the target server (MySQL's
// applier worker threads).
//
// A Worker owns one target connection (go-mysql client, CLIENT_FOUND_ROWS and
// multi-statements on, READ COMMITTED). For each transaction it renders the row
// events as SQL (package applier/rowsql), or sends them natively in BINLOG
// statements (Options.RowApply), wraps them with BEGIN and the progress record
// and sends them in as few packets as max_allowed_packet and
// Options.MaxPacketBytes allow, then COMMIT in a packet of its own once the
// body's results are checked: two round trips for a typical OLTP transaction,
// or for a group of consecutive transactions applied as one (ApplyGroup).
// Every statement's affected-row count is checked: a row that is missing or a
// duplicate key is divergence, reported as a *DivergenceError naming the table,
// the key and the transaction, and replication stops (unless Idempotent),
// with nothing of the transaction committed.
//
// # Progress table (exactly-once)
//
// The worker records each transaction's identity in the same target transaction
// as its data:
//
//	CREATE TABLE mtreplica.applied_transactions (
//	  channel     VARCHAR(64)     -- replication channel ("" by default)
//	  stream      VARCHAR(100)    -- MariaDB domain id, MySQL source UUID[:tag], or "file" for anonymous transactions
//	  seq         BIGINT UNSIGNED -- seq_no / gno, or (source file number << 32 | end position)
//	  server_id   INT UNSIGNED    -- MariaDB: the server that wrote the GTID
//	  source_file VARCHAR(255), source_pos BIGINT UNSIGNED  -- where the transaction ends on the source
//	  state       ENUM('applied','ddl-pending')
//	  applied_at  TIMESTAMP(6)
//	  first_seq   BIGINT UNSIGNED NULL -- the row stands for first_seq..seq (NULL: seq alone)
//	  PRIMARY KEY (channel, stream, seq))
//	CREATE TABLE mtreplica.low_water (channel, stream, seq, server_id, source_file, source_pos, PRIMARY KEY (channel, stream))
//
// The executed set of a stream is [1, low_water.seq] plus every row of
// applied_transactions. A group (several source transactions applied in one
// target transaction) writes one row per run of consecutive sequence numbers
// in a stream, usually one row for the whole group, so the target's cost of
// progress does not grow with the number of transactions. Rows wholly below
// the low-water mark are pruned now and then, in the same transaction that
// raises the mark. What the target holds is skipped at start (the executed
// set); a progress row that exists already (same stream and last seq) makes
// the whole target transaction fail rather than apply anything twice.
//
// Statements that commit implicitly (DDL) cannot share a transaction with their
// progress row. The worker first commits a 'ddl-pending' row, runs the
// statement, then marks the row applied. After a crash between the two, the
// pending row tells the restarted worker that the statement may already have
// run: it re-runs it and treats "already exists"/"does not exist" errors as done.
//
// # Sessions
//
// Row events run with time_zone '+00:00' (go-mysql renders TIMESTAMP values in
// UTC) and sql_mode NO_AUTO_VALUE_ON_ZERO. Statement events run in their
// default schema with the session the source recorded in the QUERY event
// (sql_mode, character sets and collations, time zone, foreign_key_checks,
// unique_checks), restored the way mysqlbinlog does it.
//
// # Retries
//
// Deadlocks, lock wait timeouts and lost connections roll the transaction back
// and apply it again (up to Options.MaxRetries, with backoff); a lost
// connection is re-established first. Divergence and other errors are not retried.
package applier
