// Package binlogfmt is the framing core shared by the relay log, the receiver
// and the coordinator: the binary log's event header, checksums, the format
// description event, and a transaction framer that says where each transaction
// of a raw event stream begins and ends. It does no I/O and starts no goroutines.
//
// # The binary log format (v4)
//
// A binlog file starts with the 4 magic bytes 0xfe 'b' 'i' 'n', then events.
// Every event starts with a 19-byte header, little-endian:
//
//	timestamp  uint32   seconds since the epoch, when the statement began
//	type       uint8    event type (go-mysql's replication.EventType)
//	server_id  uint32   the server that wrote the event originally
//	event_size uint32   header + body + checksum
//	log_pos    uint32   end position of this event in the source's binlog file (0 on fake events)
//	flags      uint16   LOG_EVENT_BINLOG_IN_USE_F (0x1) on a file still open, ...
//
// The first event is the FORMAT_DESCRIPTION_EVENT; it names the server version and
// the checksum algorithm. With CRC32 every event ends in a 4-byte CRC32 (IEEE) of
// everything before it. The server computes the format description's checksum
// with the in-use flag cleared, so ClearInUse makes a copied event verifiable again.
//
// # Transactions
//
// The Framer feeds on events one at a time and classifies each as metadata
// (format description, rotate, previous-GTIDs/GTID list, heartbeat, binlog
// checkpoint, stop), the start of a transaction, a part of one, or its end.
// A transaction is
//
//	MySQL:   GTID|ANONYMOUS_GTID|GTID_TAGGED, then QUERY "BEGIN" ... XID | QUERY "COMMIT"/"ROLLBACK" | XA_PREPARE,
//	         or a GTID event followed by one statement (DDL) or one TRANSACTION_PAYLOAD.
//	MariaDB: GTID (flags: standalone = one statement follows), then BEGIN ... XID | COMMIT | XA PREPARE.
//	No GTIDs (old servers): QUERY "BEGIN" ... end, or a lone statement with its INTVAR/RAND/USER_VAR events.
//
// Callers use the framer to truncate a torn tail back to the last complete
// transaction (relay log), to resume the receiver after the last complete
// transaction, and to group events (coordinator).
package binlogfmt
