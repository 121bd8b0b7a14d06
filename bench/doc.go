// Command bench measures mtreplica against MariaDB's own replica, side by side, on this machine.
//
//	go run ./bench --quick                       # under 3 minutes: bench-results/quick.{json,md,svg}
//	go run ./bench                               # everything: 6 workloads x 10 configurations x 2 repeats
//	go run ./bench --txns 20000 --workloads write16,write1 --native-threads 0,16 --native-modes optimistic
//
// # What it starts
//
// Three throwaway MariaDB servers on loopback (internal/mariadbtest), with the same settings: durability
// (--durability strict: innodb_flush_log_at_trx_commit=1 and sync_binlog=1; relaxed: 2 and 0), buffer pool
// (--buffer-pool) and redo log (--redo-log):
//
//   - the source, with a binlog (ROW, FULL images);
//   - mtreplica's target;
//   - the peer: a native MariaDB replica of the source (CHANGE MASTER ... MASTER_USE_GTID=slave_pos).
//
// The targets keep no binlog: the native replica would not binlog what it applies (no log_slave_updates), and
// mtreplica's SQL would be binlogged by its target otherwise, so both do the same work per transaction.
// The daemon runs as a child process (`go build ./cmd/mtreplica`, then `mtreplica run`), so its peak RSS is
// its own (VmHWM from /proc/PID/status).
//
// # Initial data and resets
//
// sysbench prepare (--tables x --table-size) runs on the source before any replication, plus a small bench schema
// (heartbeat row, bulk table). The native replica copies it from the binlog, then forgets its source (RESET SLAVE
// ALL) keeping gtid_slave_pos; its datadir, taken after a clean shutdown, is the snapshot both targets start every
// run from, and the source's datadir (with its binlog) is snapshotted too. The source GTID position at that moment
// is the starting point: mtreplica gets it as --start-gtid, the native replica as gtid_slave_pos.
//
// Resetting a server means killing it, replacing its datadir with a copy of the snapshot, and starting it again
// (about a second for the default data). That is exact, whatever a run did, and each run starts with a cold
// buffer pool, the same for both engines.
//
// # Workloads (--workloads)
//
// Each leaves a fixed backlog on the source (--txns transactions; bigtxn: --big-txns of --big-rows rows), written
// while nothing replicates:
//
//	write16  sysbench oltp_write_only, 16 clients
//	write1   sysbench oltp_write_only, 1 client (no group commit: nothing for the native replica to parallelise)
//	insert   sysbench oltp_insert, 16 clients
//	hotspot  16 clients, 2 updates per transaction, 90% of them on 8 rows of sbtest1
//	bigtxn   large transactions on bench.bulk: insert, update, delete of --big-rows rows each
//	ddl      write16 while another client runs a DDL statement every 200 ms (CREATE/ALTER/DROP TABLE, ADD/DROP
//	         COLUMN on the sysbench tables)
//
// # Catch-up runs
//
// For each workload, every configuration applies the identical backlog, --repeat times, interleaved (each round
// runs every configuration once, starting one further along the list):
//
//   - native: slave_parallel_threads x slave_parallel_mode (--native-threads 0,4,16 x --native-modes
//     conservative,optimistic,aggressive; threads 0 is one configuration). The target is restored, START SLAVE
//     IO_THREAD fetches the whole backlog into the relay log (Gtid_IO_Pos reaches the source's position), then the
//     clock runs from START SLAVE SQL_THREAD until @@gtid_slave_pos reaches it.
//   - mtreplica: --mt-modes x --mt-workers x --mt-preserve-commit-order. Its relay log is filled once per workload
//     by the receiver alone (`mtreplica run --no-applier`); each run gets a copy. The clock runs from starting the
//     daemon (its receiver, like the native I/O thread, stays connected and finds nothing new) until the target's
//     progress tables (mtreplica.low_water, mtreplica.applied_transactions) cover the source's position.
//     The harness reads `mtreplica run -h` and passes --workers, --dependency-tracking and
//     --preserve-commit-order when the daemon has them; a configuration a daemon cannot express is skipped with a
//     note. The defaults, --mt-modes logical-clock+writeset x --mt-workers 1,4,16, mirror the native 0,4,16.
//
// Both are polled every 25 ms over a separate connection. After every run the target is compared with the source
// (mariadbtest.Compare: schemas, columns, row counts, CHECKSUM TABLE); a run that does not match, or that errs, is
// reported as FAILED with its reason, never with a figure.
//
// # Steady state (--steady, default 30s)
//
// With the source and target reset (restored and restarted), and their buffer pools warmed by a scan of every
// table and secondary index (--steady-cold skips it: the first seconds then measure how a replica copes with a
// cold target, where parallel I/O matters), replication runs from the start while sysbench (--steady-workload) writes
// at --steady-rate transactions/s for --steady. Lag is measured the same way for both engines: every 100 ms the
// source sets bench.heartbeat.ts = NOW(6), and every 250 ms the harness reads NOW(6) - ts on the target (one
// machine, one clock). p50, p99 and max are reported beside the replica's own figure (Seconds_Behind_Master, or
// Seconds_Behind_Source from the daemon's status.json), how many source transactions its receiver had not yet
// fetched (for mtreplica read from status.json, which is rewritten every second, so up to a second's worth too
// many), and the time to drain after the load stops. The native configurations are --steady-native. The JSON
// output keeps the lag samples in order (lag_samples_s).
//
// # Output
//
// A live progress line on stderr (which run, how far, the current rate); a markdown table on stdout (median
// txn/s over the repeats, min-max, seconds, time to the first applied transaction, peak RSS, verified runs);
// --json (one object per run: engine, mode, workers, preserve_commit_order, workload, durability, txns, seconds,
// txn_per_s, peak_rss_bytes, verified, ...), --md (the same table) and --svg (transactions/s by workers for each
// engine and workload; open it in a browser). Exit status 1 if any run failed.
//
// # Fairness notes
//
// The machine is shared by the servers, sysbench, the harness and the daemon: runs are sequential, the harness
// only polls, and each configuration is interleaved with the others so that drift in the machine's speed spreads
// over all of them. Figures from a machine that runs other work at the same time are noisy: use --repeat.
package main
