// Package fakesource is a fake MySQL source for tests, built on go-mysql's
// server package: it answers the replica's preflight queries (global
// variables, CURRENT_USER(), SHOW GRANTS) and serves binlog files over the
// replication protocol (COM_BINLOG_DUMP_GTID and COM_BINLOG_DUMP). No MySQL
// server is installable here; with internal/binlogenc it lets the MySQL flavor
// path (GTIDs, logical clock, compressed transactions) be tested end to end.
//
// A GTID dump skips the transactions whose GTID the replica already has, as a
// real server does, so a replica that reconnects resumes where it stopped.
// The stream stays open after the last event (the replica waits for more),
// until the test ends.
package fakesource
