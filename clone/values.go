package clone

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// valueKind says how a column's text-protocol value becomes an SQL literal.
type valueKind uint8

const (
	kindNumber  valueKind = iota // integers, DECIMAL, FLOAT, DOUBLE, YEAR: the digits as sent
	kindHex                      // binary strings, BIT, spatial types: X'..'
	kindQuoted                   // temporal types and others in ASCII: '..'
	kindEscaped                  // UTF-8 strings: _utf8mb4'..' with backslash escapes
	kindCharset                  // strings in other character sets: _cs X'..'
)

// column is a copied column: its name and how its values are written.
type column struct {
	name      string
	float     bool // FLOAT: read as CAST(.. AS DOUBLE), since the server's text form of a FLOAT has 6 digits only
	kind      valueKind
	introduce string // kindEscaped/kindCharset: "_utf8mb4" etc.
}

func columnOf(c *tableschema.Column) column {
	col := column{name: c.Name, float: c.DataType == "float"}
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double",
		"real", "year":
		col.kind = kindNumber
	case "bit", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "vector":
		col.kind = kindHex
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json":
		cs := strings.ToLower(c.Charset)
		switch cs {
		case "", "utf8mb4": // MySQL's JSON has no character set: it is utf8mb4
			col.kind, col.introduce = kindEscaped, "_utf8mb4"
		case "utf8mb3", "utf8":
			col.kind, col.introduce = kindEscaped, "_utf8mb3"
		case "binary":
			col.kind = kindHex
		default:
			col.kind, col.introduce = kindCharset, "_"+cs
		}
	default: // date, time, datetime, timestamp, MariaDB's uuid, inet4, inet6: ASCII text
		col.kind = kindQuoted
	}
	return col
}

// appendValue appends v (the raw text-protocol bytes; nil for NULL) as a literal of column c.
func appendValue(b []byte, c *column, v []byte, null bool) []byte {
	if null {
		return append(b, "NULL"...)
	}
	switch c.kind {
	case kindNumber:
		return append(b, v...)
	case kindHex:
		return appendHex(b, v)
	case kindCharset:
		b = append(b, c.introduce...)
		b = append(b, ' ')
		return appendHex(b, v)
	case kindEscaped:
		b = append(b, c.introduce...)
		return appendEscaped(b, v)
	}
	return appendEscaped(b, v)
}

func appendHex(b, v []byte) []byte {
	b = append(b, "X'"...)
	n := len(b)
	b = append(b, make([]byte, hex.EncodedLen(len(v)))...)
	hex.Encode(b[n:], v)
	return append(b, '\'')
}

// appendEscaped appends '..' with backslash escapes (the target session's sql_mode has no NO_BACKSLASH_ESCAPES).
func appendEscaped(b, v []byte) []byte {
	b = append(b, '\'')
	for _, c := range v {
		switch c {
		case 0:
			b = append(b, '\\', '0')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\\':
			b = append(b, '\\', '\\')
		case '\'':
			b = append(b, '\\', '\'')
		case 0x1a:
			b = append(b, '\\', 'Z')
		default:
			b = append(b, c)
		}
	}
	return append(b, '\'')
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteString renders s as a utf8mb4 string literal safe under any sql_mode.
func quoteString(s string) string {
	if s == "" {
		return "''"
	}
	return "_utf8mb4 X'" + hex.EncodeToString([]byte(s)) + "'"
}

// selectExpr is how a column is read: FLOAT as the exact DOUBLE of its value.
func (c *column) selectExpr() string {
	if c.float {
		return "CAST(" + quoteIdent(c.name) + " AS DOUBLE)"
	}
	return quoteIdent(c.name)
}

// appendField appends a text-protocol value as a literal of column c. go-mysql parses integers and floating
// point values: integers are printed back exactly, floating point values in the shortest form that parses back
// to the same float64.
func appendField(b []byte, c *column, v *mysql.FieldValue) []byte {
	switch v.Type {
	case mysql.FieldValueTypeNull:
		return append(b, "NULL"...)
	case mysql.FieldValueTypeSigned:
		if c.kind != kindNumber { // BIT, YEAR and the like are never parsed; stay safe anyway
			return appendValue(b, c, strconv.AppendInt(nil, v.AsInt64(), 10), false)
		}
		return strconv.AppendInt(b, v.AsInt64(), 10)
	case mysql.FieldValueTypeUnsigned:
		if c.kind != kindNumber {
			return appendValue(b, c, strconv.AppendUint(nil, v.AsUint64(), 10), false)
		}
		return strconv.AppendUint(b, v.AsUint64(), 10)
	case mysql.FieldValueTypeFloat:
		return strconv.AppendFloat(b, v.AsFloat64(), 'g', -1, 64)
	}
	return appendValue(b, c, v.AsString(), false)
}

// fieldLen is the size of a value for the byte counts: its text length.
func fieldLen(v *mysql.FieldValue) int64 {
	switch v.Type {
	case mysql.FieldValueTypeNull:
		return 0
	case mysql.FieldValueTypeString:
		return int64(len(v.AsString()))
	}
	return 8
}
