// Package tableschema reads table definitions from the target server: columns with their types, character sets
// and generated/invisible flags, the primary key, unique keys and foreign keys. The applier needs them to map
// binlog row images onto target columns, to skip generated columns, to find rows by key, and to compute writesets.
//
// Definitions come from information_schema.COLUMNS, STATISTICS, KEY_COLUMN_USAGE and REFERENTIAL_CONSTRAINTS, using
// only what MySQL 5.7/8.x and MariaDB 10.2+ both provide; SHOW CREATE TABLE only where a MariaDB key may be
// WITHOUT OVERLAPS, which information_schema does not tell. Besides what the applier needs, a Table carries what
// the writeset extractor (coordinator/deptrack) needs to stay sound: key prefixes (Index.Prefix), WITHOUT OVERLAPS
// keys, unique keys with functional key parts (FunctionalUniqueKeys), and the foreign keys of other tables that
// reference it with their ON DELETE / ON UPDATE rules (ReferencedBy), since cascades are not in the binlog. On MariaDB a JSON column reads as DATA_TYPE "longtext" (it is an alias);
// on MySQL as "json".
//
// Invariants:
//   - Table.Columns[i].Ordinal == i; key and foreign-key column lists (ReferencedBy's too) hold ordinals into Columns.
//   - A Table is immutable once shared: Load builds it, Cache hands the same pointer to every caller.
//   - KeyColumns never returns a key with a nullable or generated column.
//   - Charset and Collation are "" for non-string columns and for binary strings (BINARY, VARBINARY, BLOB).
//
// Example:
//
//	cache := tableschema.NewCache()
//	t, err := cache.Get(conn, "shop", "orders") // conn is a *client.Conn to the target
//	if errors.Is(err, tableschema.ErrNoTable) {
//		return fmt.Errorf("apply rows: %w", err)
//	}
//	key := t.KeyColumns() // e.g. [0] for PRIMARY KEY (id); nil: identify rows by all columns
//	...
//	// after DDL on shop.orders ran behind the applier's barrier:
//	cache.Invalidate("shop", "orders")
package tableschema
