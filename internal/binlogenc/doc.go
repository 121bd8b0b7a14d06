// Package binlogenc writes binary log events, for tests: go-mysql decodes
// binlogs but has no encoder. An Encoder produces whole raw events (header,
// body, CRC32) of one binlog file in order, keeping log_pos right: format
// description (MySQL 8 or MariaDB), rotate, previous-GTIDs, MySQL GTID events
// with the logical clock (last_committed, sequence_number) and commit
// timestamps, MariaDB GTID events with commit_id, query events with status
// variables, XID, table maps with optional metadata (column names,
// signedness, primary key, visibility), rows events v1 and v2, and MySQL's
// zstd TRANSACTION_PAYLOAD wrapping a transaction's events.
//
// Everything it writes round-trips through go-mysql's replication.BinlogParser
// (see the tests). The header, checksum and rotate helpers are binlogfmt's.
//
//	enc := binlogenc.New(binlogenc.MySQL8, 1)
//	file := enc.File() // magic + format description + previous-GTIDs
//	file = enc.Append(file, enc.GTID(binlogenc.GTID{SID: sid, GNO: 1, LastCommitted: 0, SequenceNumber: 1}))
//	...
//
// The package does no I/O and is not safe for concurrent use.
package binlogenc
