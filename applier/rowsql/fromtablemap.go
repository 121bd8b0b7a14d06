package rowsql

import (
	"fmt"
	"strconv"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/pingcap/tidb/pkg/parser/charset"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// FromTableMap synthesizes a table definition from a table map event alone, for when no target schema is at hand
// (tests, tools that only print SQL). Column names come from the optional metadata (binlog_row_metadata=FULL),
// else they are col_1, col_2, ...; types from the binlog types; signedness, character sets, nullability, the
// primary key and visibility from the metadata where present.
//
// What a table map cannot tell: generated columns (all columns look written), unique keys, foreign keys, and the
// character set of string columns without metadata (their values then render as binary strings). Prefer
// tableschema.Load from the target whenever there is one.
func FromTableMap(tm *replication.TableMapEvent) *tableschema.Table {
	t := &tableschema.Table{Schema: string(tm.Schema), Name: string(tm.Table)}
	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	visible := tm.VisibilityMap()
	named := len(tm.ColumnName) == len(tm.ColumnType)
	t.Columns = make([]tableschema.Column, len(tm.ColumnType))
	for i := range tm.ColumnType {
		m := ColumnMeta{Type: tm.ColumnType[i]}
		if i < len(tm.ColumnMeta) {
			m.Meta = tm.ColumnMeta[i]
		}
		c := &t.Columns[i]
		c.Ordinal = i
		if named {
			c.Name = string(tm.ColumnName[i])
		} else {
			c.Name = "col_" + strconv.Itoa(i+1)
		}
		c.Unsigned = unsigned[i]
		if avail, null := tm.Nullable(i); avail {
			c.Nullable = null
		} else {
			c.Nullable = true
		}
		if visible != nil {
			c.Invisible = !visible[i]
		}
		binaryCS := false
		if id, ok := collations[i]; ok {
			if id == 63 {
				binaryCS = true
			} else if id < 1024 { // MariaDB numbers its UCA 14.0 collations from 2048 with another scheme
				if co, err := charset.GetCollationByID(int(id)); err == nil {
					c.Charset, c.Collation = co.CharsetName, co.Name
					if c.Charset == "utf8" {
						c.Charset = "utf8mb3"
					}
				}
			}
		}
		c.DataType, c.ColumnType = binlogDataType(m, binaryCS)
		if c.DataType == "json" {
			c.Charset, c.Collation = "utf8mb4", "utf8mb4_bin"
		}
		if c.IsBinaryString() {
			c.Charset, c.Collation = "", ""
		}
		if c.DataType == "binary" || c.DataType == "char" {
			c.OctetLength = int64(m.stringLength())
		}
		if c.Unsigned {
			c.ColumnType += " unsigned"
		}
		c.FSP = m.fsp()
	}
	for _, k := range tm.PrimaryKey {
		if int(k) < len(t.Columns) {
			t.PrimaryKey = append(t.PrimaryKey, int(k))
		}
	}
	if len(t.PrimaryKey) != len(tm.PrimaryKey) {
		t.PrimaryKey = nil
	}
	t.Init()
	return t
}

// binlogDataType names the SQL type of a binlog column (information_schema DATA_TYPE style) and a COLUMN_TYPE.
func binlogDataType(m ColumnMeta, binaryCS bool) (dataType, columnType string) {
	switch rt := m.RealType(); rt {
	case mysql.MYSQL_TYPE_TINY:
		return "tinyint", "tinyint"
	case mysql.MYSQL_TYPE_SHORT:
		return "smallint", "smallint"
	case mysql.MYSQL_TYPE_INT24:
		return "mediumint", "mediumint"
	case mysql.MYSQL_TYPE_LONG:
		return "int", "int"
	case mysql.MYSQL_TYPE_LONGLONG:
		return "bigint", "bigint"
	case mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DECIMAL:
		return "decimal", fmt.Sprintf("decimal(%d,%d)", m.Meta>>8, m.Meta&0xFF)
	case mysql.MYSQL_TYPE_FLOAT:
		return "float", "float"
	case mysql.MYSQL_TYPE_DOUBLE:
		return "double", "double"
	case mysql.MYSQL_TYPE_BIT:
		return "bit", fmt.Sprintf("bit(%d)", (m.Meta>>8)*8+m.Meta&0xFF)
	case mysql.MYSQL_TYPE_YEAR:
		return "year", "year(4)"
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		return "date", "date"
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		return "time", withFSP("time", m.fsp())
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		return "datetime", withFSP("datetime", m.fsp())
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return "timestamp", withFSP("timestamp", m.fsp())
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		if binaryCS {
			return "varbinary", "varbinary"
		}
		return "varchar", "varchar"
	case mysql.MYSQL_TYPE_STRING:
		n := m.stringLength()
		if binaryCS {
			return "binary", fmt.Sprintf("binary(%d)", n)
		}
		return "char", "char"
	case mysql.MYSQL_TYPE_ENUM:
		return "enum", "enum"
	case mysql.MYSQL_TYPE_SET:
		return "set", "set"
	case mysql.MYSQL_TYPE_BLOB:
		size := [...]string{"tiny", "", "medium", "long"}
		p := ""
		if m.Meta >= 1 && m.Meta <= 4 {
			p = size[m.Meta-1]
		}
		if binaryCS {
			return p + "blob", p + "blob"
		}
		return p + "text", p + "text"
	case mysql.MYSQL_TYPE_JSON:
		return "json", "json"
	case mysql.MYSQL_TYPE_GEOMETRY:
		return "geometry", "geometry"
	case mysql.MYSQL_TYPE_VECTOR:
		return "vector", "vector"
	default:
		return "", typeName(rt)
	}
}

func withFSP(t string, fsp int) string {
	if fsp == 0 {
		return t
	}
	return t + "(" + strconv.Itoa(fsp) + ")"
}
