package tableschema

import (
	"fmt"
	"strings"
)

// Column is one column of a table as the target server defines it.
type Column struct {
	Name       string
	Ordinal    int    // 0-based position in the table (ORDINAL_POSITION - 1)
	DataType   string // information_schema DATA_TYPE lowercased: "int", "varchar", "decimal", "json", ...
	ColumnType string // full COLUMN_TYPE, e.g. "int(10) unsigned", "enum('a','b')"
	Unsigned   bool
	Nullable   bool
	Charset    string // CHARACTER_SET_NAME; "" for non-string columns (and "binary" never: binary strings have "")
	Collation  string // COLLATION_NAME; "" for non-string columns
	Generated  bool   // VIRTUAL or STORED (PERSISTENT) generated: must never be written
	Invisible  bool   // INVISIBLE (MySQL 8.0.23+, MariaDB 10.3+)

	// OctetLength is CHARACTER_OCTET_LENGTH (the maximum length in bytes) for string columns, 0 otherwise.
	// For BINARY(n) it is n: the server pads stored values with 0x00 up to it.
	OctetLength int64
	// FSP is DATETIME_PRECISION for TIME, DATETIME and TIMESTAMP columns (0-6), 0 otherwise.
	FSP int
}

// IsBinaryString reports whether the column holds bytes without a character set (BINARY, VARBINARY, BLOB types).
func (c *Column) IsBinaryString() bool {
	switch c.DataType {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return true
	}
	return false
}

// Index is a key of a table: the primary key or a unique key.
type Index struct {
	Name    string
	Columns []int // ordinals, in key order
	Primary bool
	Unique  bool
	// Prefix[i] is the prefix length of key part i (information_schema.STATISTICS.SUB_PART: characters, bytes for
	// binary strings), 0 when the whole column is indexed; nil when no key part is a prefix. Uniqueness then holds
	// for the prefixes only: values that differ after the prefix still collide.
	Prefix []int
	// WithoutOverlaps marks a MariaDB application-time period key (UNIQUE (id, p WITHOUT OVERLAPS)): its last two
	// columns are the period's end and start (in that order, as STATISTICS lists them), and two rows collide when
	// the other columns are equal and the periods overlap, not only when they are equal.
	WithoutOverlaps bool
}

// IncomingFK is a foreign key of another table (the child) that references this table (the parent).
type IncomingFK struct {
	ChildSchema, ChildTable, Name string
	Columns                       []int // ordinals in this (parent) table, in constraint order
	// DeleteRule and UpdateRule are information_schema.REFERENTIAL_CONSTRAINTS' rules: CASCADE, SET NULL,
	// RESTRICT, NO ACTION or SET DEFAULT.
	DeleteRule, UpdateRule string
}

// CascadesDelete reports whether deleting a parent row may change child rows (CASCADE, SET NULL, SET DEFAULT).
// Such changes are not written to the binlog.
func (fk *IncomingFK) CascadesDelete() bool { return cascadingRule(fk.DeleteRule) }

// CascadesUpdate reports whether changing a referenced value may change child rows (CASCADE, SET NULL,
// SET DEFAULT). Such changes are not written to the binlog.
func (fk *IncomingFK) CascadesUpdate() bool { return cascadingRule(fk.UpdateRule) }

// cascadingRule reports whether a referential action changes child rows. An unknown rule counts as cascading.
func cascadingRule(rule string) bool {
	switch strings.ToUpper(rule) {
	case "RESTRICT", "NO ACTION":
		return false
	}
	return true
}

// ForeignKey is a foreign key of a table, pointing at its parent.
type ForeignKey struct {
	Name       string
	Columns    []int // ordinals in this (child) table, in constraint order
	RefSchema  string
	RefTable   string
	RefColumns []string // parent columns, in constraint order
}

// Table is the definition of one table. A Table is immutable once built: a Cache hands the same *Table to every
// caller, so nobody may modify one they did not build.
type Table struct {
	Schema, Name string
	Columns      []Column     // in ordinal order: Columns[i].Ordinal == i
	PrimaryKey   []int        // ordinals of the primary key; nil if the table has none
	UniqueKeys   []Index      // non-primary unique keys, fewest columns first, then by name
	ForeignKeys  []ForeignKey // by constraint name

	// PrimaryKeyPrefix and PrimaryKeyWithoutOverlaps are Index.Prefix and Index.WithoutOverlaps of the primary key.
	PrimaryKeyPrefix          []int
	PrimaryKeyWithoutOverlaps bool
	// FunctionalUniqueKeys names the unique keys left out of UniqueKeys because a key part is an expression (MySQL
	// 8.0.13+ functional key parts): no row image carries their values.
	FunctionalUniqueKeys []string
	// ReferencedBy lists the foreign keys of other tables (and of this one) that reference this table, by child
	// schema, child table and constraint name.
	ReferencedBy []IncomingFK

	// byName maps lowercased column names to ordinals; built by Load and Init, nil on a hand-built Table
	// (ColumnByName then scans).
	byName map[string]int
}

// Init finishes a hand-built Table: it sets each column's Ordinal from its position and builds the name index
// used by ColumnByName. Load calls it; call it on a Table built by hand before sharing it between goroutines.
func (t *Table) Init() {
	t.byName = make(map[string]int, len(t.Columns))
	for i := range t.Columns {
		t.Columns[i].Ordinal = i
		k := strings.ToLower(t.Columns[i].Name)
		if _, dup := t.byName[k]; !dup {
			t.byName[k] = i
		}
	}
}

// String returns `schema`.`table` for messages.
func (t *Table) String() string { return t.Schema + "." + t.Name }

// ColumnByName returns the ordinal of the named column. MySQL column names are case-insensitive, and so is this.
func (t *Table) ColumnByName(name string) (int, bool) {
	if t.byName != nil {
		i, ok := t.byName[strings.ToLower(name)]
		return i, ok
	}
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i, true
		}
	}
	return -1, false
}

// KeyColumns returns the columns that identify a row: the primary key, else the first unique key (in UniqueKeys
// order) whose columns are all NOT NULL, else nil (identify a row by all its non-generated columns). A key that
// contains a generated column is skipped, since generated columns are never used to find rows.
func (t *Table) KeyColumns() []int {
	if len(t.PrimaryKey) > 0 && !t.anyGenerated(t.PrimaryKey) {
		return t.PrimaryKey
	}
	for _, k := range t.UniqueKeys {
		if len(k.Columns) == 0 || t.anyGenerated(k.Columns) {
			continue
		}
		ok := true
		for _, c := range k.Columns {
			if c < 0 || c >= len(t.Columns) || t.Columns[c].Nullable {
				ok = false
				break
			}
		}
		if ok {
			return k.Columns
		}
	}
	return nil
}

func (t *Table) anyGenerated(cols []int) bool {
	for _, c := range cols {
		if c < 0 || c >= len(t.Columns) || t.Columns[c].Generated {
			return true
		}
	}
	return false
}

// validate checks the invariants a Table built by Load must hold.
func (t *Table) validate() error {
	for i := range t.Columns {
		if t.Columns[i].Ordinal != i {
			return fmt.Errorf("column %q has ordinal %d at position %d", t.Columns[i].Name, t.Columns[i].Ordinal, i)
		}
	}
	check := func(what string, cols []int) error {
		for _, c := range cols {
			if c < 0 || c >= len(t.Columns) {
				return fmt.Errorf("%s refers to column %d of %d", what, c, len(t.Columns))
			}
		}
		return nil
	}
	if err := check("primary key", t.PrimaryKey); err != nil {
		return err
	}
	for _, k := range t.UniqueKeys {
		if err := check("unique key "+k.Name, k.Columns); err != nil {
			return err
		}
	}
	for _, fk := range t.ForeignKeys {
		if err := check("foreign key "+fk.Name, fk.Columns); err != nil {
			return err
		}
	}
	for _, fk := range t.ReferencedBy {
		if err := check("foreign key "+fk.ChildSchema+"."+fk.ChildTable+"."+fk.Name, fk.Columns); err != nil {
			return err
		}
	}
	return nil
}
