// Package replica is the receiver: MySQL's replica I/O thread. It connects to
// the source as a replica (COM_REGISTER_SLAVE, then COM_BINLOG_DUMP or
// COM_BINLOG_DUMP_GTID, through go-mysql's BinlogSyncer), and appends every
// event it receives, raw, to the relay log. It neither decodes rows nor applies
// anything: the applying side reads the relay log independently (DESIGN.md §1).
//
// # What reaches the relay log
//
// Every event exactly as the source sent it (BinlogEvent.RawData: header, body
// and CRC32), one Append per event, in order, with two exceptions:
//
//   - Heartbeats are not appended; they update Status.LastHeartbeat, so lag
//     stays right while the source is idle.
//   - Each dump opens with an artificial ROTATE (timestamp 0, log_pos 0) that the
//     source sends before the format description and, because go-mysql declares
//     @master_binlog_checksum='NONE', without a checksum, while every later event
//     (later artificial ROTATEs included) has one. The receiver holds it until the
//     format description arrives and, when that says CRC32, appends a CRC32, so
//     the relay log gets a stream with uniform checksums, as MySQL's receiver writes it.
//
// Every connection starts again with that ROTATE, the format description and,
// on MariaDB, a GTID_LIST and a binlog checkpoint: the relay log sees them once
// per connection. On MariaDB the receiver asks for ANNOTATE_ROWS events, as
// MariaDB's own replica does (replicate_annotate_row_events).
//
// # Resume semantics
//
// Before every connection, the first one included, Run calls
// relay.DiscardPartial (a transaction whose end never arrived is dropped) and
// then start, which the caller computes from the relay log's last complete
// transaction (or, when the relay log is empty, from the target's executed
// set). The source then sends everything after that point, so the relay log
// holds every transaction exactly once:
//
//   - GTID mode (StartPosition.GTIDs set): MariaDB gets the last GTID of each
//     domain with its server id as @slave_connect_state (a position, not a set:
//     holes cannot be expressed); MySQL gets the executed set in
//     COM_BINLOG_DUMP_GTID. An empty set starts at the beginning of the source's history.
//   - File/position: the source file and the offset of the first event to send;
//     File "" starts at the first binlog file the source still has.
//
// go-mysql's own reconnect is off (DisableRetrySync): in GTID mode it would
// resume from the last GTID event seen, re-sending the second half of a
// partial transaction without its start. A BinlogSyncer is single-use after an
// error, so each connection gets a new one.
//
// # The loop
//
//	c, err := replica.New(replica.Options{Flavor: gtid.MariaDB, Host: "10.0.0.5", User: "repl",
//		Password: pw, Registerer: reg, Logger: log}, relayLog)
//	if err != nil { ... }
//	if _, err := c.Preflight(ctx); err != nil { ... } // optional: Run checks too
//	err = c.Run(ctx, func() (replica.StartPosition, error) {
//		if set, ok := relayLog.LastCompleteGTIDs(); ok { // after the last complete transaction
//			return replica.StartPosition{GTIDs: set}, nil
//		}
//		return replica.StartPosition{GTIDs: target.ExecutedSet()}, nil
//	})
//	// err == nil: ctx was cancelled. Otherwise permanent: see Errors.
//
// Run returns nil when ctx is done, after closing the connection (go-mysql
// kills the source's dump thread over a second connection, which waits up to
// ReadTimeout for a source that stopped answering). Status and Preflight may
// be called at any time from any goroutine; Run must not run twice at once.
//
// # Connection failures and reconnects
//
// A lost connection, a read timeout (nothing, not even a heartbeat, for
// ReadTimeout: a silent partition), a refused connect or a source restart are
// transient: Run waits ConnectRetry, doubling per consecutive failure with
// ±20% jitter up to MaxConnectRetry, and reconnects; a connection that
// delivered a transaction's event or a heartbeat resets the count, and
// MaxReconnects (0 = forever) bounds it. ReadTimeout defaults to twice
// HeartbeatPeriod, so a silent drop is noticed within two heartbeat periods.
// Every connect dials Host again: a name is resolved anew each time, so a
// source that moved to another address after a failover is followed.
// Permanent errors end Run: a *PreflightError; a *FatalError whose Kind is
// ErrAuth, ErrPrivileges, ErrTLS (a required TLS never falls back to
// plaintext), ErrBinlogPurged (the source no longer has what start asked for),
// ErrSourceFatal (any other error 1236: another replica with our server_id, an
// event over max_allowed_packet, a diverged GTID position), ErrBadStart or
// ErrTooManyReconnects; and errors of the relay log (ErrRelayLog) or of start
// (ErrStart). Each says what to change.
//
// # Preflight
//
// Preflight (and Run, on the replication connection itself before every
// dump) reads the source's variables and SHOW GRANTS FOR CURRENT_USER(), and
// fails with a *PreflightError naming the check when:
//
//   - flavor: the source is MariaDB and Flavor is MySQL, or the reverse;
//   - log_bin: the binary log is off;
//   - server_id: ours equals the source's, or the source's is 0;
//   - binlog_format: not ROW (STATEMENT and MIXED pass with AllowStatementFormat);
//   - binlog_row_image: not FULL (unless the format is STATEMENT);
//   - gtid_mode: a MySQL source without gtid_mode=ON and a GTID start (Run only);
//   - privileges: no REPLICATION SLAVE, or no REPLICATION CLIENT (MariaDB 10.5+:
//     BINLOG MONITOR) at the global level; ALL PRIVILEGES counts. The message
//     gives the GRANT statement to run. A user with roles gets a warning instead,
//     since SHOW GRANTS does not always list what roles grant;
//   - start_position: a GTID start of the other flavor (Run only).
//
// It warns (logs once, and lists in SourceInfo.Warnings) when
// binlog_row_metadata is not FULL, and when the source purges binlogs sooner
// than RetentionWarning (binlog_expire_logs_seconds, else expire_logs_days).
// While running, Status.RetentionWarning is set (and logged once) when the
// receiver's position is older than half that retention: the age of the last
// event received, or of the last heartbeat after it, checked on every event
// and before every reconnect.
//
// # go-mysql configuration
//
// Raw mode: only the format description and ROTATE are decoded (the parser
// needs the first to strip and verify checksums, Status the second); rows,
// GTID and query events are not, and RawData is intact and never reused. GTID
// tracking inside go-mysql is not needed, since Run owns resume positions.
// VerifyChecksum is on: a corrupt event ends the connection (transient) before
// it reaches the relay log. Events are handled on go-mysql's reading goroutine
// (SynchronousEventHandler): no event buffer between the socket and the relay
// log (the asynchronous channel holds 10,240 events of any size, and
// BinlogStreamer.GetEvent may report the connection's error before events still
// buffered). HeartbeatPeriod, ReadTimeout, TimestampStringLocation=UTC and
// UseDecimal are set. go-mysql sets @mariadb_slave_capability=4 (GTID-aware)
// and, in MariaDB GTID mode, @slave_gtid_strict_mode=1. Its log records go to
// our Logger at debug level, except the one that prints the whole
// configuration (TLS config included), which is dropped.
//
// # Status and metrics
//
// Status mirrors the receiver's fields of SHOW REPLICA STATUS
// (Replica_IO_Running as IORunning: Yes, Connecting or No; Source_Log_File,
// Read_Source_Log_Pos, Last_IO_Errno (2003/2013 when the client failed without
// a server error), Last_IO_Error and its timestamp, Source_Server_Id,
// Source_UUID) plus event, byte, heartbeat and reconnect counts. Metrics:
// mtreplica_receiver_{events,bytes,heartbeats,reconnects}_total and
// mtreplica_receiver_connected.
package replica
