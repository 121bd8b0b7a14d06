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
	indexQuery = "SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART " +
		"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 " +
		"ORDER BY INDEX_NAME, SEQ_IN_INDEX"
	fkQuery = "SELECT CONSTRAINT_NAME, COLUMN_NAME, ORDINAL_POSITION, REFERENCED_TABLE_SCHEMA, " +
		"REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE " +
		"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL " +
		"ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION"
	// referencedByQuery finds the foreign keys of every table that reference this one, with their rules.
	// Constraint names are unique per schema for foreign keys; the join also matches the child table.
	referencedByQuery = "SELECT k.CONSTRAINT_NAME, k.TABLE_SCHEMA, k.TABLE_NAME, k.REFERENCED_COLUMN_NAME, " +
		"r.UPDATE_RULE, r.DELETE_RULE FROM information_schema.KEY_COLUMN_USAGE k " +
		"JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA " +
		"AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME " +
		"WHERE k.REFERENCED_TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME = ? " +
		"ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"
)

// Load reads the definition of schema.table from the target's information_schema: its columns, its primary and
// unique keys, its foreign keys and the foreign keys of other tables that reference it. A table that does not
// exist gives an error that matches ErrNoTable.
// Load runs four queries (five for a MariaDB table whose unique key may be WITHOUT OVERLAPS) and is not atomic:
// call it where no DDL can run on the table meanwhile (the applier's DDL barrier).
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
	if err := loadReferencedBy(q, t); err != nil {
		return nil, fmt.Errorf("load foreign keys referencing %s.%s: %w", schema, table, err)
	}
	if err := loadWithoutOverlaps(q, t); err != nil {
		return nil, fmt.Errorf("load keys of %s.%s: %w", schema, table, err)
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
		if cur != nil && broken {
			t.FunctionalUniqueKeys = append(t.FunctionalUniqueKeys, cur.Name)
		}
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
		subPart := s.getInt(rs, row, 4) // NULL (whole column) reads as 0
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
		if subPart > 0 {
			for len(cur.Prefix) < len(cur.Columns)-1 {
				cur.Prefix = append(cur.Prefix, 0)
			}
			cur.Prefix = append(cur.Prefix, int(subPart))
		} else if cur.Prefix != nil {
			cur.Prefix = append(cur.Prefix, 0)
		}
	}
	flush()
	for _, k := range keys {
		if k.Primary {
			t.PrimaryKey = k.Columns
			t.PrimaryKeyPrefix = k.Prefix
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

func loadReferencedBy(q Querier, t *Table) error {
	r, err := q.Execute(referencedByQuery, t.Schema, t.Name)
	if err != nil {
		return fmt.Errorf("query information_schema.KEY_COLUMN_USAGE and REFERENTIAL_CONSTRAINTS: %w", err)
	}
	defer r.Close()
	rs := r.Resultset
	for row := 0; rs != nil && row < rs.RowNumber(); row++ {
		var s strs
		name := s.get(rs, row, 0)
		childSchema := s.get(rs, row, 1)
		childTable := s.get(rs, row, 2)
		refCol := s.get(rs, row, 3)
		updateRule := s.get(rs, row, 4)
		deleteRule := s.get(rs, row, 5)
		if s.err != nil {
			return fmt.Errorf("read referencing foreign key row %d: %w", row, s.err)
		}
		ord, ok := t.ColumnByName(refCol)
		if !ok {
			return fmt.Errorf("foreign key %s of %s.%s references column %q that %s.%s does not have",
				name, childSchema, childTable, refCol, t.Schema, t.Name)
		}
		n := len(t.ReferencedBy)
		if n == 0 || t.ReferencedBy[n-1].Name != name || t.ReferencedBy[n-1].ChildTable != childTable ||
			t.ReferencedBy[n-1].ChildSchema != childSchema {
			t.ReferencedBy = append(t.ReferencedBy, IncomingFK{ChildSchema: childSchema, ChildTable: childTable,
				Name: name, DeleteRule: deleteRule, UpdateRule: updateRule})
			n++
		}
		fk := &t.ReferencedBy[n-1]
		fk.Columns = append(fk.Columns, ord)
	}
	return nil
}

// loadWithoutOverlaps marks MariaDB's application-time period keys (UNIQUE (id, p WITHOUT OVERLAPS)), which
// information_schema does not tell from plain unique keys: STATISTICS lists the period's end and start columns as
// the last two key parts. Only a table with a unique key ending in two temporal columns can have one; for those
// the key definitions are read from SHOW CREATE TABLE.
func loadWithoutOverlaps(q Querier, t *Table) error {
	candidate := func(cols []int) bool {
		n := len(cols)
		return n >= 2 && isPeriodType(t.Columns[cols[n-1]].DataType) && isPeriodType(t.Columns[cols[n-2]].DataType)
	}
	found := candidate(t.PrimaryKey)
	for _, k := range t.UniqueKeys {
		found = found || candidate(k.Columns)
	}
	if !found {
		return nil
	}
	r, err := q.Execute("SHOW CREATE TABLE " + quoteIdent(t.Schema) + "." + quoteIdent(t.Name))
	if err != nil {
		return fmt.Errorf("show create table: %w", err)
	}
	defer r.Close()
	var create string
	if rs := r.Resultset; rs != nil && rs.RowNumber() > 0 {
		var s strs
		create = s.get(rs, 0, 1)
		if s.err != nil {
			return fmt.Errorf("read show create table: %w", s.err)
		}
	}
	names, all := withoutOverlapsKeys(create)
	if len(names) == 0 && !all {
		return nil
	}
	// A name that matches no candidate key means SHOW CREATE TABLE was misread: mark every candidate.
	for name := range names {
		ok := name == "PRIMARY" && candidate(t.PrimaryKey)
		for _, k := range t.UniqueKeys {
			ok = ok || (k.Name == name && candidate(k.Columns))
		}
		all = all || !ok
	}
	if candidate(t.PrimaryKey) && (all || names["PRIMARY"]) {
		t.PrimaryKeyWithoutOverlaps = true
	}
	for i := range t.UniqueKeys {
		if candidate(t.UniqueKeys[i].Columns) && (all || names[t.UniqueKeys[i].Name]) {
			t.UniqueKeys[i].WithoutOverlaps = true
		}
	}
	return nil
}

func isPeriodType(dataType string) bool {
	switch dataType {
	case "date", "datetime", "timestamp":
		return true
	}
	return false
}

// withoutOverlapsKeys returns the names of the keys SHOW CREATE TABLE declares WITHOUT OVERLAPS ("PRIMARY" for
// the primary key), or all=true when such a key is there but its name could not be read.
func withoutOverlapsKeys(create string) (names map[string]bool, all bool) {
	for _, line := range strings.Split(create, "\n") {
		if !strings.Contains(line, "WITHOUT OVERLAPS") {
			continue
		}
		line = strings.TrimSpace(line)
		if names == nil {
			names = make(map[string]bool)
		}
		if strings.HasPrefix(line, "PRIMARY KEY") {
			names["PRIMARY"] = true
			continue
		}
		i := strings.Index(line, "KEY `")
		if i < 0 {
			all = true
			continue
		}
		name, ok := readQuoted(line[i+4:])
		if !ok {
			all = true
			continue
		}
		names[name] = true
	}
	return names, all
}

// readQuoted reads a backtick-quoted identifier at the start of s (a doubled backtick inside stands for one).
func readQuoted(s string) (string, bool) {
	if !strings.HasPrefix(s, "`") {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), true
	}
	return "", false
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

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
