package rowsql

import (
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// family groups types whose values convert into each other without changing meaning. ENUM and SET are families of
// their own: their binlog values are indexes and bitmaps, which mean something else in any other column.
type family uint8

const (
	famUnknown family = iota
	famNumber
	famTemporal
	famString
	famEnum
	famSet
	famYear // both a number and a temporal
)

func binlogFamily(rt byte) family {
	switch rt {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
		mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DECIMAL, mysql.MYSQL_TYPE_FLOAT,
		mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_BIT:
		return famNumber
	case mysql.MYSQL_TYPE_YEAR:
		return famYear
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE, mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2,
		mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return famTemporal
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB,
		mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_VECTOR:
		return famString
	case mysql.MYSQL_TYPE_ENUM:
		return famEnum
	case mysql.MYSQL_TYPE_SET:
		return famSet
	}
	return famUnknown
}

func targetFamily(dataType string) family {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double",
		"real", "bit", "bool", "boolean":
		return famNumber
	case "year":
		return famYear
	case "date", "time", "datetime", "timestamp":
		return famTemporal
	case "enum":
		return famEnum
	case "set":
		return famSet
	case "":
		return famUnknown
	}
	return famString // char, varchar, text types, blob types, binary, json, geometry types, vector, uuid, inet6...
}

// compatible reports whether a binlog value of family b may be written to a target column of family t. Strict
// says the mapping is positional, where a family change most likely means the columns have shifted.
func compatible(b, t family, strict bool) bool {
	if b == famUnknown || t == famUnknown || b == t {
		return true
	}
	if b == famEnum || b == famSet || t == famEnum || t == famSet {
		return false
	}
	if b == famYear || t == famYear {
		other := t
		if t == famYear {
			other = b
		}
		return !strict || other == famNumber || other == famTemporal
	}
	return !strict
}

// HiddenColumnPrefix starts the names of the hidden generated columns MySQL 8.0.13+ adds for functional key parts
// (INDEX ((a+1)) is backed by a hidden column "!hidden!<index>!<part>!<n>"). The source computes them and writes them
// in row images; a target has no such column (MariaDB has no functional indexes, and a MySQL target computes its
// own), so they are left out when the binlog names its columns.
const HiddenColumnPrefix = "!hidden!"

// IsHiddenColumn reports whether a binlog column name is one of MySQL's hidden functional-index columns.
func IsHiddenColumn(name []byte) bool { return strings.HasPrefix(string(name), HiddenColumnPrefix) }

// mapColumns fills g.tgtOf (binlog column -> target ordinal, -1 when the target lacks it) and g.binOf (target
// ordinal -> binlog column, -1) for the event's table map. present1/present2 say which binlog columns appear in
// the images; a binlog column the target lacks is an error only when an image carries it.
func (g *Generator) mapColumns(ev *replication.RowsEvent, tbl *tableschema.Table, ncols int) error {
	tm := ev.Table
	g.tgtOf = resizeInts(g.tgtOf, ncols, -1)
	g.binOf = resizeInts(g.binOf, len(tbl.Columns), -1)
	byName := len(tm.ColumnName) >= ncols
	mismatch := func(col, reason string) error {
		return &ColumnMismatchError{Schema: tbl.Schema, Table: tbl.Name, BinlogColumns: ncols,
			TargetColumns: len(tbl.Columns), Column: col, Reason: reason, ByName: byName}
	}
	inImage := func(i int) bool {
		return bitSet(ev.ColumnBitmap1, i) || (ev.ColumnBitmap2 != nil && bitSet(ev.ColumnBitmap2, i))
	}
	if byName {
		for i := 0; i < ncols; i++ {
			name := string(tm.ColumnName[i])
			ord, ok := tbl.ColumnByName(name)
			if !ok {
				if inImage(i) && !IsHiddenColumn(tm.ColumnName[i]) {
					return mismatch(name, "the target table has no such column")
				}
				continue
			}
			if g.binOf[ord] >= 0 {
				return mismatch(name, "two binlog columns have this name")
			}
			g.tgtOf[i], g.binOf[ord] = ord, i
		}
	} else {
		if ncols > len(tbl.Columns) {
			return mismatch("", "the binlog has more columns than the target and no column names "+
				"(set binlog_row_metadata=FULL on the source to map by name; a MySQL functional index adds a "+
				"hidden column the target does not have)")
		}
		for i := 0; i < ncols; i++ {
			g.tgtOf[i], g.binOf[i] = i, i
		}
	}
	for i := 0; i < ncols; i++ {
		ord := g.tgtOf[i]
		if ord < 0 {
			continue
		}
		c := &tbl.Columns[ord]
		switch m := g.metas[i]; m.Type {
		case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_TIMESTAMP:
			// The pre-5.6 types have no fractional seconds. With a fractional target column the image is
			// MariaDB's own pre-10.1.2 hires format, which go-mysql decodes as garbage.
			if c.FSP > 0 {
				return &UnsupportedTypeError{Column: c.Name, Type: m.Type, RealType: m.RealType(),
					Reason: "MariaDB's pre-10.1.2 fractional temporal format (the target column has " +
						"fractional seconds) cannot be decoded; run ALTER TABLE ... FORCE on the source to convert it"}
			}
		}
		if !compatible(binlogFamily(g.metas[i].RealType()), targetFamily(strings.ToLower(c.DataType)), !byName) {
			return mismatch(c.Name, "binlog type "+typeName(g.metas[i].RealType())+" cannot be written to a "+
				c.DataType+" column")
		}
	}
	return nil
}

func resizeInts(s []int, n, fill int) []int {
	if cap(s) < n {
		s = make([]int, n)
	}
	s = s[:n]
	for i := range s {
		s[i] = fill
	}
	return s
}

// bitSet reads a column bitmap; a nil bitmap means every column is present.
func bitSet(bitmap []byte, i int) bool {
	if bitmap == nil {
		return true
	}
	if i>>3 >= len(bitmap) {
		return false
	}
	return bitmap[i>>3]&(1<<(uint(i)&7)) != 0
}

func typeName(t byte) string {
	switch t {
	case mysql.MYSQL_TYPE_DECIMAL:
		return "DECIMAL(old)"
	case mysql.MYSQL_TYPE_TINY:
		return "TINYINT"
	case mysql.MYSQL_TYPE_SHORT:
		return "SMALLINT"
	case mysql.MYSQL_TYPE_LONG:
		return "INT"
	case mysql.MYSQL_TYPE_FLOAT:
		return "FLOAT"
	case mysql.MYSQL_TYPE_DOUBLE:
		return "DOUBLE"
	case mysql.MYSQL_TYPE_NULL:
		return "NULL"
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return "TIMESTAMP"
	case mysql.MYSQL_TYPE_LONGLONG:
		return "BIGINT"
	case mysql.MYSQL_TYPE_INT24:
		return "MEDIUMINT"
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		return "DATE"
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		return "TIME"
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		return "DATETIME"
	case mysql.MYSQL_TYPE_YEAR:
		return "YEAR"
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return "VARCHAR"
	case mysql.MYSQL_TYPE_BIT:
		return "BIT"
	case mysql.MYSQL_TYPE_JSON:
		return "JSON"
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return "DECIMAL"
	case mysql.MYSQL_TYPE_ENUM:
		return "ENUM"
	case mysql.MYSQL_TYPE_SET:
		return "SET"
	case mysql.MYSQL_TYPE_BLOB:
		return "BLOB"
	case mysql.MYSQL_TYPE_STRING:
		return "CHAR"
	case mysql.MYSQL_TYPE_GEOMETRY:
		return "GEOMETRY"
	case mysql.MYSQL_TYPE_VECTOR:
		return "VECTOR"
	}
	return "type " + strconv.Itoa(int(t))
}
