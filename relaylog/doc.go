// Package relaylog is mtreplica's durable relay log, like MySQL's: the
// receiver appends every raw event it gets from the source; the applier reads
// them back, following the writer, possibly while they are being written. The
// two sides run independently: either can stop, lag or crash (DESIGN.md §1, §6).
//
// # Files
//
// Options.Dir holds segment files BaseName.000001, BaseName.000002, ...
// (BaseName defaults to "relay-bin"; numbers grow past six digits when
// needed) and an index, BaseName.index. Each segment is a binlog file that
// mariadb-binlog and mysqlbinlog read:
//
//	0xfe 'b' 'i' 'n'                 magic
//	FORMAT_DESCRIPTION_EVENT         the source's, in-use flag cleared, checksum recomputed
//	ROTATE_EVENT (artificial)        the source file and position of the segment's first event
//	events as received               header, body and checksum, byte for byte
//
// The source's own FORMAT_DESCRIPTION and the dump thread's fake ROTATE are not
// stored: they become the next segment's header. A real ROTATE (the last event
// of a source binlog file) is stored, and ends the segment. Heartbeats are not
// stored. Every event's end_log_pos is the source's, so a reader always knows
// the source position of what it reads.
//
// The index lists the segments, oldest first, one per line, with
// tab-separated metadata: the source file:pos of the segment's first event and
// the GTID state retrieved before it (flavor, exact GTID set, MariaDB server
// ids, last GTID), so the retrieved set survives purging:
//
//	relay-bin.000007	source=mysql-bin.000003:1234	flavor=mariadb	retrieved=0:1-17,1:1-4	servers=0:1,1:2	last=0-1-17
//
// It is rewritten durably: tmp file, fsync, rename, fsync of the directory.
//
// # Invariants
//
//   - A transaction is never split across segments. A new segment starts at a
//     transaction boundary once the current one has reached
//     Options.SegmentSize, after the source's ROTATE, or when a
//     FORMAT_DESCRIPTION arrives after data (a new source file, a reconnect).
//   - Readers see only published bytes: up to the end of the last complete
//     transaction, plus the metadata events between transactions. An open
//     transaction may still be discarded (DiscardPartial, a crash) and is
//     never visible.
//   - Every segment a reader can see starts with its header, and a Reader
//     returns those header events, so a consumer feeding events to a
//     binlogfmt.Framer or go-mysql's parser always knows the format and the
//     source file.
//   - A segment file exists, complete with its header, before the index names
//     it; a purged segment leaves the index before its file is deleted.
//
// # Writing
//
// Append takes one whole event (go-mysql's BinlogEvent.RawData) and checks
// its size, its checksum and its place in the transaction stream with a
// binlogfmt.Framer; an invalid event is rejected (ErrInvalidEvent) and the log
// is unchanged. A transaction the source abandons (a new one starts before it
// ends) and an open transaction when a new stream starts (a fake ROTATE) are
// discarded. After losing its connection the receiver calls DiscardPartial,
// then resumes from State: the GTID set Retrieved, or SourceFile/SourcePos
// when the source has no GTIDs. An I/O error is sticky.
//
// Events are buffered and written at each publish (the end of a transaction,
// or a metadata event), then readers blocked in Next are woken through a
// channel closed on publish: no polling. Options.Sync says when segments are
// fsynced: SyncInterval (default; at most every Interval, 50ms, within
// Interval of a write, and on rotation and Close), SyncEveryTxn (before
// publishing: readers only see durable transactions), SyncNever.
//
// # Recovery
//
// Open makes the index and the directory agree (stray files from an
// interrupted rotation or purge are removed; a missing last segment is
// recreated empty; a missing segment in the middle is corruption), then scans
// the last segment, verifying lengths, checksums and framing, and rebuilds the
// state: the retrieved GTID set is the index's set before the segment plus
// the segment's complete transactions. Bytes after the last complete
// transaction are cut when they are a torn tail, that is when no complete
// transaction or metadata event can be found after the first bad event (a
// partial event, zeroes, garbage, or a damaged last transaction); what was cut
// is logged with its segment, offset and size. Damage that sound, complete
// transactions follow is in the middle: Open returns a *CorruptionError
// naming the segment and offset, or with Options.RepairCorruption truncates
// the log there (dropping later segments) and logs it; the receiver fetches
// the rest again. A segment whose header is torn is emptied; its index entry
// keeps the state before it, and the next Append writes its header.
//
// Older segments are not scanned at Open (they were fsynced when the log
// rotated, except with SyncNever); a Reader checks every event's length and
// checksum itself and reports a bad one as a *CorruptionError.
//
// # Purging and reset
//
// Purge(upTo) deletes the oldest segments that lie entirely before upTo,
// never the segment being written and never a segment at or after one an open
// Reader is in. Reset removes everything (RESET REPLICA); no reader may be open.
//
// # Tail cache
//
// The last published bytes of the segment being written (up to 4 MiB) stay in
// memory: a Reader that keeps up with the writer takes them from there instead
// of the file. The cache is append-only (bytes are never changed in place), so
// a reader keeps a slice of it without holding the lock.
//
// # Metrics
//
// With Options.Registerer, under mtreplica_relay_log_: bytes_written_total,
// events_total, transactions_total, heartbeats_total, discarded_bytes_total,
// segments_created_total, segments_purged_total, fsyncs_total,
// fsync_seconds (histogram), tail_cache_hit_bytes_total and
// tail_cache_miss_bytes_total (their ratio is the cache's hit ratio), and the
// gauges segments and bytes.
//
// # Example
//
// The receiver (one goroutine) and the applier (another) share a Log:
//
//	l, err := relaylog.Open(relaylog.Options{Dir: "/var/lib/mtreplica/relay", Registerer: reg, Logger: logger})
//	if err != nil { ... }   // a *relaylog.CorruptionError says where and what to do
//	defer l.Close()
//
//	// Receiver: connect from what the log holds, append, repeat after errors.
//	for ctx.Err() == nil {
//		st := l.State()      // st.Retrieved (GTID mode) or st.SourceFile/st.SourcePos
//		stream := connect(st) // a new BinlogSyncer each time (DESIGN.md §11)
//		for {
//			ev, err := stream.GetEvent(ctx)
//			if err != nil { break }
//			if err := l.Append(ev.RawData); err != nil { ... }
//		}
//		l.DiscardPartial()    // the stream resumes after the last complete transaction
//	}
//
//	// Applier: follow the log from the last applied position.
//	r, err := l.NewReader(savedPos) // relaylog.Position{} = the oldest segment
//	defer r.Close()
//	for {
//		ev, err := r.Next(ctx)  // blocks until published; header FDE/ROTATE included
//		if err != nil { ... }
//		apply(ev.Raw)           // ev.Raw is the caller's; ev.Next is where to resume
//		l.Purge(oldestNeeded)   // from time to time
//	}
//
// The fuzz test FuzzReader runs best with a short minimisation time:
// go test -run X -fuzz FuzzReader -fuzzminimizetime 3s ./relaylog/
package relaylog
