package tableschema

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Querier runs one statement on the target. *client.Conn of go-mysql satisfies it; with args it prepares the
// statement, without it sends text.
type Querier interface {
	Execute(command string, args ...interface{}) (*mysql.Result, error)
}

// The queries below use only columns that both MySQL 5.7/8.x and MariaDB 10.2+ have. Generated columns are told by
// EXTRA ("VIRTUAL GENERATED"/"STORED GENERATED" on both, "VIRTUAL"/"PERSISTENT" on MariaDB before 10.2), not by
// MariaDB's IS_GENERATED, which MySQL lacks; MySQL's "DEFAULT_GENERATED" (an expression default) is not generated.
const (
	columnsQuery = "SELECT COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, " +
		"CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, CHARACTER_OCTET_LENGTH, DATETIME_PRECISION " +
		"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION"
	indexQuery = "SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME " +
		"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 " +
		"ORDER BY INDEX_NAME, SEQ_IN_INDEX"
	fkQuery = "SELECT CONSTRAINT_NAME, COLUMN_NAME, ORDINAL_POSITION, REFERENCED_TABLE_SCHEMA, " +
		"REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE " +
		"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL " +
		"ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION"
)

// Load reads the definition of schema.table from the target's information_schema: its columns, its primary and
// unique keys and its foreign keys. A table that does not exist gives an error that matches ErrNoTable.
// Load runs three queries and is not atomic: call it where no DDL can run on the table meanwhile (the applier's
// DDL barrier).
func Load(q Querier, schema, table string) (*Table, error) {
	t := &Table{Schema: schema, Name: table}
	if err := loadColumns(q, t); err != nil {
		return nil, fmt.Errorf("load table %s.%s: %w", schema, table, err)
	}
	if err := loadIndexes(q, t); err != nil {
		return nil, fmt.Errorf("load keys of %s.%s: %w", schema, table, err)
	}
	if err := loadForeignKeys(q, t); err != nil {
		return nil, fmt.Errorf("load foreign keys of %s.%s: %w", schema, table, err)
	}
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("load table %s.%s: %w", schema, table, err)
	}
	return t, nil
}

func loadColumns(q Querier, t *Table) error {
	r, err := q.Execute(columnsQuery, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("query information_schema.COLUMNS: %w", err)
	}
	defer r.Close()
	rs := r.Resultset
	if rs == nil || rs.RowNumber() == 0 {
		return &NoTableError{Schema: t.Schema, Table: t.Name}
	}
	t.Columns = make([]Column, 0, rs.RowNumber())
	for row := 0; row < rs.RowNumber(); row++ {
		var c Column
		var s strs
		c.Name = s.get(rs, row, 0)
		ord := s.getInt(rs, row, 1)
		c.DataType = strings.ToLower(s.get(rs, row, 2))
		c.ColumnType = s.get(rs, row, 3)
		c.Nullable = s.get(rs, row, 4) == "YES"
		c.Charset = s.get(rs, row, 5)
		c.Collation = s.get(rs, row, 6)
		extra := strings.ToUpper(s.get(rs, row, 7))
		c.OctetLength = s.getInt(rs, row, 8)
		c.FSP = int(s.getInt(rs, row, 9))
		if s.err != nil {
			return fmt.Errorf("read information_schema.COLUMNS row %d: %w", row, s.err)
		}
		if c.Charset == "binary" {
			c.Charset, c.Collation = "", ""
		}
		c.Unsigned = strings.Contains(strings.ToLower(c.ColumnType), "unsigned")
		c.Generated = isGeneratedExtra(extra)
		c.Invisible = strings.Contains(extra, "INVISIBLE")
		if int(ord) != len(t.Columns)+1 {
			return fmt.Errorf("column %q has ORDINAL_POSITION %d, expected %d", c.Name, ord, len(t.Columns)+1)
		}
		t.Columns = append(t.Columns, c)
	}
	t.Init()
	return nil
}

// isGeneratedExtra tells a generated column from information_schema.COLUMNS.EXTRA (upper-cased).
func isGeneratedExtra(extra string) bool {
	for _, w := range strings.Fields(extra) {
		switch w {
		case "VIRTUAL", "PERSISTENT":
			return true
		case "GENERATED":
			// "VIRTUAL GENERATED" / "STORED GENERATED"; "DEFAULT_GENERATED" is one word and not matched here.
			return true
		}
	}
	return false
}

func loadIndexes(q Querier, t *Table) error {
	r, err := q.Execute(indexQuery, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("query information_schema.STATISTICS: %w", err)
	}
	defer r.Close()
	rs := r.Resultset
	var (
		cur    *Index
		broken bool // the current index has a key part without a column (a functional key part)
		keys   []Index
	)
	flush := func() {
		if cur != nil && !broken {
			keys = append(keys, *cur)
		}
		cur, broken = nil, false
	}
	for row := 0; rs != nil && row < rs.RowNumber(); row++ {
		var s strs
		name := s.get(rs, row, 0)
		nonUnique := s.getInt(rs, row, 1)
		colName := s.get(rs, row, 3)
		colNull := s.isNull(rs, row, 3)
		if s.err != nil {
			return fmt.Errorf("read information_schema.STATISTICS row %d: %w", row, s.err)
		}
		if nonUnique != 0 {
			continue
		}
		if cur == nil || cur.Name != name {
			flush()
			cur = &Index{Name: name, Primary: name == "PRIMARY", Unique: true}
		}
		if colNull {
			broken = true
			continue
		}
		ord, ok := t.ColumnByName(colName)
		if !ok {
			return fmt.Errorf("index %s names column %q that %s.%s does not have", name, colName, t.Schema, t.Name)
		}
		cur.Columns = append(cur.Columns, ord)
	}
	flush()
	for _, k := range keys {
		if k.Primary {
			t.PrimaryKey = k.Columns
		} else {
			t.UniqueKeys = append(t.UniqueKeys, k)
		}
	}
	sort.SliceStable(t.UniqueKeys, func(i, j int) bool {
		a, b := t.UniqueKeys[i], t.UniqueKeys[j]
		if len(a.Columns) != len(b.Columns) {
			return len(a.Columns) < len(b.Columns)
		}
		return a.Name < b.Name
	})
	return nil
}

func loadForeignKeys(q Querier, t *Table) error {
	r, err := q.Execute(fkQuery, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("query information_schema.KEY_COLUMN_USAGE: %w", err)
	}
	defer r.Close()
	rs := r.Resultset
	for row := 0; rs != nil && row < rs.RowNumber(); row++ {
		var s strs
		name := s.get(rs, row, 0)
		colName := s.get(rs, row, 1)
		refSchema := s.get(rs, row, 3)
		refTable := s.get(rs, row, 4)
		refCol := s.get(rs, row, 5)
		if s.err != nil {
			return fmt.Errorf("read information_schema.KEY_COLUMN_USAGE row %d: %w", row, s.err)
		}
		ord, ok := t.ColumnByName(colName)
		if !ok {
			return fmt.Errorf("foreign key %s names column %q that %s.%s does not have", name, colName, t.Schema, t.Name)
		}
		n := len(t.ForeignKeys)
		if n == 0 || t.ForeignKeys[n-1].Name != name {
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Name: name, RefSchema: refSchema, RefTable: refTable})
			n++
		}
		fk := &t.ForeignKeys[n-1]
		fk.Columns = append(fk.Columns, ord)
		fk.RefColumns = append(fk.RefColumns, refCol)
	}
	return nil
}

// strs reads result cells with a sticky error.
type strs struct{ err error }

func (s *strs) get(rs *mysql.Resultset, row, col int) string {
	if s.err != nil {
		return ""
	}
	v, err := rs.GetString(row, col)
	if err != nil {
		s.err = fmt.Errorf("column %d: %w", col, err)
	}
	// GetString may alias the result's buffers, which Close returns to a pool: copy.
	return strings.Clone(v)
}

func (s *strs) getInt(rs *mysql.Resultset, row, col int) int64 {
	if s.err != nil {
		return 0
	}
	if null, err := rs.IsNull(row, col); err != nil || null {
		if err != nil {
			s.err = fmt.Errorf("column %d: %w", col, err)
		}
		return 0
	}
	v, err := rs.GetInt(row, col)
	if err != nil {
		s.err = fmt.Errorf("column %d: %w", col, err)
	}
	return v
}

func (s *strs) isNull(rs *mysql.Resultset, row, col int) bool {
	if s.err != nil {
		return false
	}
	null, err := rs.IsNull(row, col)
	if err != nil {
		s.err = fmt.Errorf("column %d: %w", col, err)
	}
	return null
}
