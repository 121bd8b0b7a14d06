// Package deptrack decides which source transactions the applier may run side by side: the dependency tracker
// (Tracker) and the writeset extractor (Extractor). Both are pure: no goroutines, clocks or I/O; neither is safe
// for concurrent use. The coordinator owns one of each.
//
// # Dependencies
//
// The coordinator numbers transactions Seq = 1, 2, 3, ... in source order and calls Tracker.Add for each. The
// returned dep means: the transaction may start once every transaction with Seq <= dep has committed, that is
// once the coordinator's low-water mark (the highest Seq such that all Seqs <= it have committed) reaches dep.
// dep = Seq-1 is serial apply; every transaction in (dep, Seq) is independent of this one.
//
// # Modes
//
//   - CommitOrder: dep = Seq-1. The reference for correctness.
//   - LogicalClock, MySQL: the GTID event's last_committed and sequence_number, relative to the binlog file (they
//     restart in every file). The transaction depends on the one of its file whose sequence_number is the
//     greatest <= last_committed (gaps left by skipped transactions are fine), and on every transaction of
//     earlier files. Missing or inconsistent values (no values, last_committed >= sequence_number, a sequence
//     number that does not increase, an unknown file, the first transaction of a new file) give Seq-1 and start a
//     new epoch that later transactions of the file wait for, as MySQL's coordinator does.
//   - LogicalClock, MariaDB: consecutive transactions with the same commit_id group-committed together and may run
//     in parallel; the first of a group waits for all of the previous group. No commit_id gives Seq-1.
//   - WriteSet: dep = the highest Seq of an earlier transaction sharing a key (Key): exact keys when their Hash
//     is equal, a wide key with every key of its space. A transaction with no keys depends on nothing here: the
//     caller must make any transaction it could not key completely a Barrier (statements, rows of a table the
//     extractor gave up on, events it could not read, an error from the Extractor).
//   - Database: dep = the highest Seq of an earlier transaction writing one of the same schemas (compared
//     case-insensitively; TableSchemas adds those reached through foreign keys). A transaction without schemas
//     may write anything: it waits for all before it and all after it wait for it.
//
// Enabled modes combine as the minimum of their deps: a transaction runs as early as any mode proves safe. A
// Barrier (DDL, statement-based DML, anything unreadable) gets Seq-1 in every mode and every later transaction
// gets at least the barrier's Seq. The writeset history is bounded (NewTracker's historySize, like
// binlog_transaction_dependency_history_size): when it overflows it is forgotten and every later writeset dep is
// at least the Seq of the transaction that overflowed it, so the next one waits for everything before it.
// Memory: 16 bytes per slot, at most twice historySize slots (32 MiB at DefaultHistorySize).
//
// # Why WriteSet is sound
//
// Two transactions conflict when running them concurrently, or the later one first, could leave the target
// different from serial apply: they change a common row, or one takes a unique value the other gives up or
// takes, or one changes a parent row the other's child row references (or the reverse).
//
//  1. Every row image yields the key of each unique key (primary key, UNIQUE keys) it has no NULL in. Two
//     successive changes of one row meet in those keys: the later change's before image holds the row as the
//     earlier change's after image left it. A row that no unique key identifies (no primary key, NULLs in every
//     unique key) yields the table's wide key instead, so all such changes of the table are ordered. Changes
//     further apart are ordered through the changes in between (ordering is transitive: i commits before j
//     starts, j before k's commit, so i before k).
//  2. A unique value one transaction takes and another gives up or takes is in both's images: same key, as long
//     as values the server compares as equal always normalise to equal bytes (next section) and a value that
//     cannot be normalised soundly gives the wide key of its space.
//  3. A child row's images yield a key in its parent's space with the child's foreign key values; the parent's
//     images yield keys in the same space (its incoming foreign keys, tableschema.Table.ReferencedBy) with its
//     referenced values. Equal values normalise equally on both sides. Cascades are not in the binlog (DESIGN
//     §12) and chain through grandchildren: a DELETE on a table referenced with ON DELETE CASCADE / SET NULL /
//     SET DEFAULT, and an UPDATE changing a value referenced with such an ON UPDATE rule, are barriers.
//  4. The tracker returns at least the Seq of every earlier transaction sharing a key (exactly the highest one
//     while the history holds it, the overflow floor after), and the coordinator starts a transaction only when
//     the low-water mark reaches dep: everything it conflicts with has committed.
//
// What the keys cannot see must be a barrier: a key column missing from an image (binlog_row_image=MINIMAL or
// NOBLOB), rows of tables without a definition, statement events, DDL. Table definitions come from the target
// and must be current: after DDL, invalidate the changed table and the tables its foreign keys reference (a new
// foreign key changes the parent's ReferencedBy), or everything. Triggers on the target are not modelled: a
// table with triggers that write elsewhere must be treated as a barrier by the caller.
//
// # Key normalisation
//
// A key is hash(space, each column's normalised bytes and length). Space is hash(schema, table, the lowercased
// column names of the key in key order), schema and table lowercased too (merging names that differ only in
// case only adds conflicts). Hash collisions only add conflicts.
//
//   - Integers: the numeric value with signedness applied (go-mysql returns an unsigned column as a negative
//     signed value without signedness metadata; rowsql.AppendValue fixes it up), so INT 5 and BIGINT UNSIGNED 5
//     are equal. DECIMAL, FLOAT, DOUBLE: canonical text (no trailing fraction zeros, -0 as 0). BIT, ENUM, SET:
//     their number. Temporal values: their canonical text (no trailing fraction zeros).
//   - Binary strings: exact bytes; BINARY(n) padded with 0x00 to n as the server stores it. In foreign key spaces
//     trailing 0x00 are dropped instead, so BINARY and VARBINARY sides meet.
//   - Non-binary strings: trailing spaces dropped unless the collation is NO PAD (MariaDB's *_nopad_*; MySQL's
//     NO PAD _0900_ collations are trimmed too, which only adds conflicts). Then, with a _bin collation, the
//     exact bytes. Otherwise, under a collation that equates printable-ASCII strings only when they differ in
//     letter case (general, unicode, 0900, uca1400 root collations, latin1_swedish_ci, the CJK defaults), a value
//     of only printable ASCII (0x20-0x7E) is lowercased; any other value, any other collation (language
//     tailorings: utf8mb4_lithuanian_ci sorts y as i), any character set that is not ASCII-compatible (ucs2,
//     utf16, utf32, swe7) or an unknown one gives the wide key of the space.
//   - Prefix key parts (UNIQUE (c(10))): the first n characters, for ASCII values; other values give the wide key.
//   - MariaDB WITHOUT OVERLAPS keys: the key without its period columns (rows with equal other columns may
//     collide whatever their periods); a key of the period alone, and MySQL functional unique keys, give their
//     wide key for every row.
//   - Generated columns are used as any column: MariaDB logs their values.
//   - NULL in any column of a unique or foreign key: no key (NULLs never collide; a NULL foreign key is not
//     checked).
//
// Column mapping follows rowsql: by name when the table map has names (binlog_row_metadata=FULL), else by
// position; images that cannot be mapped are errors.
//
// # The coordinator's loop
//
//	tr := deptrack.NewTracker(deptrack.LogicalClock|deptrack.WriteSet, 0)
//	x := deptrack.NewExtractor()
//	for each assembled transaction t, in source order (t.Seq = 1, 2, ...) {
//		d := deptrack.Txn{Seq: t.Seq, SourceFile: t.Info.SourceFile, LastCommitted: t.Info.LastCommitted,
//			SequenceNumber: t.Info.SequenceNumber, CommitID: t.Info.CommitID, Barrier: t.Statement}
//		for each event e of t, while !d.Barrier {
//			re, ok := e.Event.(*replication.RowsEvent)
//			if !ok {
//				if e is a QUERY_EVENT other than BEGIN/COMMIT/SAVEPOINT: d.Barrier = true
//				continue
//			}
//			tbl, err := cache.Get(conn, string(re.Table.Schema), string(re.Table.Table))
//			if err != nil { d.Barrier = true; break }
//			var barrier bool
//			if d.Keys, barrier, err = x.Add(d.Keys, e.Header.EventType, re, tbl); err != nil || barrier {
//				d.Barrier = true
//			}
//			d.Schemas = deptrack.TableSchemas(d.Schemas, tbl)
//		}
//		if len(d.Keys) == 0 { d.Barrier = true } // nothing keyed: nothing proves it independent
//		t.Dep = tr.Add(&d)
//		hand t to the scheduler: it starts t once the low-water mark >= t.Dep;
//		after a barrier, read the next definitions only once it committed (its DDL changed them).
//	}
//
// For example, five transactions on t (id PRIMARY KEY, email UNIQUE utf8mb4_general_ci), WriteSet mode:
//
//	Seq  change                                  keys                        dep
//	1    INSERT (1, 'a@x')                       id=1, email=a@x             0
//	2    INSERT (2, 'b@x')                       id=2, email=b@x             0  runs beside 1
//	3    UPDATE SET email='c@x ' WHERE id=1      id=1, email=a@x, email=c@x  1  waits for 1 (row 1)
//	4    INSERT (3, 'A@X')                       id=3, email=a@x             3  'A@X' = 'a@x', which 3 gave up
//	5    ALTER TABLE t ...                       barrier                     4  waits for all
//	6    INSERT (4, 'C@X')                       id=4, email=c@x             5  'C@X' = 'c@x ' (PAD SPACE); after 5
//
// (TestDocExample runs it.)
package deptrack
