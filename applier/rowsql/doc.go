// Package rowsql turns row events into SQL for the target: the pure core of the applier's row apply. It does no
// I/O and starts no goroutines; a Generator reuses its buffers and belongs to one worker.
//
// Input is a go-mysql *replication.RowsEvent (with its *replication.TableMapEvent), decoded with UseDecimal=true,
// ParseTime=false and TimestampStringLocation=time.UTC, plus the target table's definition (tableschema.Load, or
// FromTableMap where there is no target). Output is one Statement per SQL statement, with the affected-row count
// it must report.
//
// # Statements
//
//	WRITE_ROWS   INSERT INTO `db`.`t` (`c1`,`c2`) VALUES (..),(..)        split at Options.MaxStatementBytes; Expect = rows
//	UPDATE_ROWS  UPDATE `db`.`t` SET <after image> WHERE `k` = v          one per row; Expect 1
//	             ... WHERE `c1` <=> v1 AND ... LIMIT 1                    tables without a usable key
//	DELETE_ROWS  DELETE FROM `db`.`t` WHERE `k` IN (..) / (`k1`,`k2`) IN ((..),(..))   batched; Expect = rows
//	             DELETE FROM `db`.`t` WHERE `c1` <=> v1 AND ... LIMIT 1   one per row without a key; Expect 1
//
// The key is tableschema.Table.KeyColumns (primary key, else a unique key of NOT NULL columns). With
// Options.Idempotent, INSERT becomes INSERT ... ON DUPLICATE KEY UPDATE and nothing is checked (Expect -1).
//
// # What the target session must be
//
// The engine sends a transaction's statements as one multi-statement packet on a connection with
// CLIENT_FOUND_ROWS (an UPDATE then counts matched rows, so Expect holds when the new values equal the old) and
// CLIENT_MULTI_STATEMENTS, with SET SESSION sql_mode='NO_AUTO_VALUE_ON_ZERO' (nothing strict: zero dates and
// ENUM index 0 must load), time_zone='+00:00' (TIMESTAMP literals are UTC) and NAMES utf8mb4. A statement whose
// affected rows differ from Expect is divergence: report it with Statement.Key.
//
// # Invariants
//
//   - Columns map by name when the table map has names (binlog_row_metadata=FULL), else by position; a column an
//     image carries that the target lacks, more binlog columns than target columns, ENUM/SET against anything
//     else, or (by position) a type family change is a *ColumnMismatchError.
//   - Only columns present in an image (ColumnBitmap1/ColumnBitmap2) are written or compared.
//   - Generated columns of the target are never written and never compared.
//   - Identifiers are backtick-quoted with backticks doubled; every value is a literal built here (no string is
//     ever pasted unescaped).
//   - A value whose type is not known exactly is an error (*UnsupportedTypeError), never a guess.
//
// # Exactness
//
//   - Integers: exact at every width; go-mysql's signed values for unsigned columns are reinterpreted using the
//     table map's signedness, else the target column's.
//   - DECIMAL: decimal.Decimal.String(), exact up to DECIMAL(65,30).
//   - FLOAT/DOUBLE: the shortest decimal that parses back to the same double. A FLOAT is written as its exact value
//     widened to double ("1.100000023841858", not "1.1"), which the server stores back as the same float and
//     which, unlike "1.1", compares equal to the stored FLOAT in a WHERE clause.
//   - BIT, ENUM, SET: numbers (BIT's value, ENUM's 1-based index, SET's bitmap); the server takes numbers for
//     ENUM and SET as index and bitmap, so labels and collations do not matter.
//   - DATE, DATETIME(n), TIMESTAMP(n), TIME(n), YEAR: go-mysql's text, checked field by field (a value out of range
//     means a misdecoded image and is refused); TIMESTAMP is UTC; zero dates pass through. The pre-5.6 TIME
//     arrives wrong for negative values and is corrected.
//   - Strings: the raw bytes as _<charset> X'<hex>' with the target column's character set (row-based
//     replication copies bytes; no conversion), binary strings as _binary X'..', BINARY(n) padded with 0x00 to n
//     (the binlog drops the padding, comparisons need it). NUL, 0xFF and 4-byte UTF-8 survive.
//   - Tables without a key are matched on every column with <=>: strings as bytes (CAST(`c` AS BINARY)), so a
//     case- or space-insensitive collation cannot pick another row; floats through their exact double.
//   - JSON from MySQL: go-mysql's text rendering of binary JSON, as utf8mb4. Exact for objects, arrays, strings,
//     integers, doubles, booleans and null; MySQL-only opaque scalars (DECIMAL, DATE, TIME, DATETIME inside JSON)
//     come back as JSON strings and a double 1.0 as 1, which is go-mysql's limit. Partial JSON updates
//     (binlog_row_value_options=PARTIAL_JSON) are refused (ErrPartialJSON). MariaDB's JSON is LONGTEXT and exact.
//   - GEOMETRY and VECTOR: the stored bytes as a binary string.
//   - Not decodable, refused: MariaDB's pre-10.1.2 fractional TIME/DATETIME/TIMESTAMP (detected through the
//     target column's fractional precision and through range checks), the pre-5.0 DECIMAL, UPDATE_ROWS_EVENTv0.
//
// # Example
//
//	g := rowsql.NewGenerator(rowsql.Options{})
//	var stmts []rowsql.Statement
//	for each *replication.BinlogEvent e of a transaction {
//		re, ok := e.Event.(*replication.RowsEvent)
//		if !ok {
//			continue
//		}
//		tbl, err := cache.Get(conn, string(re.Table.Schema), string(re.Table.Table)) // tableschema.Cache
//		if err != nil {
//			return err
//		}
//		if stmts, err = g.Append(stmts, e.Header.EventType, re, tbl); err != nil {
//			return err
//		}
//	}
//	// send "BEGIN;" + the statements joined by ";" + ";COMMIT" and compare each result's AffectedRows with
//	// stmts[i].Expect (when >= 0).
package rowsql
