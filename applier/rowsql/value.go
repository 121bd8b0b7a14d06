package rowsql

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// ColumnMeta is what the table map says about one binlog column: everything AppendValue needs besides the value
// and the target column.
type ColumnMeta struct {
	Type byte   // TableMapEvent.ColumnType[i]: the binlog type (mysql.MYSQL_TYPE_*)
	Meta uint16 // TableMapEvent.ColumnMeta[i]
	// UnsignedKnown says the table map carried signedness (binlog_row_metadata MINIMAL or FULL, MySQL 8.0.1+,
	// MariaDB 10.5+); Unsigned is then the source column's signedness. Without it the target column decides.
	UnsignedKnown bool
	Unsigned      bool
}

// MetasFromTableMap returns the ColumnMeta of every column of a table map, appended to dst.
func MetasFromTableMap(dst []ColumnMeta, tm *replication.TableMapEvent) []ColumnMeta {
	unsigned := tm.UnsignedMap() // nil when the table map has no signedness
	for i := range tm.ColumnType {
		m := ColumnMeta{Type: tm.ColumnType[i]}
		if i < len(tm.ColumnMeta) {
			m.Meta = tm.ColumnMeta[i]
		}
		if unsigned != nil {
			m.Unsigned, m.UnsignedKnown = unsigned[i], true
		}
		dst = append(dst, m)
	}
	return dst
}

// RealType resolves the binlog type as go-mysql's decoder does: MYSQL_TYPE_STRING carries the real type (ENUM,
// SET, STRING) in its metadata, and MYSQL_TYPE_DATE is NEWDATE on disk but decodes the same.
func (m ColumnMeta) RealType() byte {
	if m.Type == mysql.MYSQL_TYPE_STRING && m.Meta >= 256 {
		b0 := byte(m.Meta >> 8)
		if b0&0x30 != 0x30 {
			return b0 | 0x30
		}
		return b0
	}
	return m.Type
}

// stringLength is the declared length of a MYSQL_TYPE_STRING column (CHAR/BINARY), decoded as go-mysql does.
func (m ColumnMeta) stringLength() int {
	if m.Type != mysql.MYSQL_TYPE_STRING {
		return 0
	}
	if m.Meta < 256 {
		return int(m.Meta)
	}
	b0, b1 := byte(m.Meta>>8), byte(m.Meta)
	if b0&0x30 != 0x30 {
		return int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return int(b1)
}

// fsp is the fractional seconds precision of a TIME2/DATETIME2/TIMESTAMP2 column.
func (m ColumnMeta) fsp() int {
	switch m.Type {
	case mysql.MYSQL_TYPE_TIME2, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP2:
		if m.Meta <= 6 {
			return int(m.Meta)
		}
	}
	return 0
}

// AppendValue appends the SQL literal for one row value decoded by go-mysql (with UseDecimal=true, ParseTime=false,
// TimestampStringLocation=time.UTC; ParseTime=true values are accepted too) to buf. col is the target column the
// value goes to (its character set labels string bytes; nil means a binary string) and meta describes the binlog
// column. The literal is exact: reading it back on a session with time_zone='+00:00' gives the source's value.
// A value of a type this package does not know gives an *UnsupportedTypeError, never a guess.
func AppendValue(buf []byte, v any, col *tableschema.Column, meta ColumnMeta) ([]byte, error) {
	if v == nil {
		return append(buf, "NULL"...), nil
	}
	switch rt := meta.RealType(); rt {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
		mysql.MYSQL_TYPE_LONGLONG:
		return appendInt(buf, v, col, meta, rt)
	case mysql.MYSQL_TYPE_YEAR:
		if n, ok := v.(int); ok && n >= 0 {
			return strconv.AppendInt(buf, int64(n), 10), nil
		}
	case mysql.MYSQL_TYPE_BIT, mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
		// BIT as its number; ENUM as its 1-based index (0: the '' error value); SET as its member bitmap.
		// MySQL and MariaDB store a number given for an ENUM or SET column as the index or bitmap.
		if n, ok := v.(int64); ok {
			return strconv.AppendUint(buf, uint64(n), 10), nil
		}
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		switch d := v.(type) {
		case decimal.Decimal:
			return append(buf, d.String()...), nil
		case string:
			if isDecimalText(d) {
				return append(buf, d...), nil
			}
		}
	case mysql.MYSQL_TYPE_FLOAT:
		if f, ok := v.(float32); ok {
			return appendFloat(buf, float64(f))
		}
	case mysql.MYSQL_TYPE_DOUBLE:
		if f, ok := v.(float64); ok {
			return appendFloat(buf, f)
		}
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		if t, ok := v.(string); ok && validDate(t) {
			return appendQuotedASCII(buf, t), nil
		}
		return buf, badTemporal(col, meta, v)
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		switch t := v.(type) {
		case string:
			if validDateTime(t) {
				return appendQuotedASCII(buf, t), nil
			}
		case time.Time:
			return appendTime(buf, t, meta.fsp()), nil
		}
		return buf, badTemporal(col, meta, v)
	case mysql.MYSQL_TYPE_TIME2:
		if t, ok := v.(string); ok && validTime(t) {
			return appendQuotedASCII(buf, t), nil
		}
		return buf, badTemporal(col, meta, v)
	case mysql.MYSQL_TYPE_TIME:
		if s, ok := v.(string); ok {
			if out, ok := appendOldTime(buf, s); ok {
				return out, nil
			}
		}
		return buf, badTemporal(col, meta, v)
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB:
		switch s := v.(type) {
		case string:
			return appendString(buf, s, col)
		case []byte:
			return appendString(buf, s, col)
		}
	case mysql.MYSQL_TYPE_JSON:
		switch s := v.(type) {
		case string:
			return appendCharset(buf, "utf8mb4", s), nil
		case []byte:
			if len(s) == 0 {
				// MySQL reads an empty binary JSON value as the JSON null literal.
				return append(buf, "'null'"...), nil
			}
			return appendCharset(buf, "utf8mb4", s), nil
		case *replication.JsonDiff:
			return buf, fmt.Errorf("column %s: %w", colName(col), ErrPartialJSON)
		}
	case mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_VECTOR:
		// GEOMETRY: the server's own format (SRID + WKB), which it accepts back as a binary string.
		if s, ok := v.([]byte); ok {
			return appendBinary(buf, s, 0), nil
		}
	case mysql.MYSQL_TYPE_NULL:
		return append(buf, "NULL"...), nil
	}
	return buf, &UnsupportedTypeError{Column: colName(col), Type: meta.Type, RealType: meta.RealType(), Value: fmt.Sprintf("%T", v)}
}

func colName(col *tableschema.Column) string {
	if col == nil {
		return "?"
	}
	return col.Name
}

// appendInt renders an integer of the binlog integer type rt. go-mysql returns signed Go integers unless the table
// map said the column is unsigned; then the target column's signedness decides, reinterpreting the bits at the
// column's width.
func appendInt(buf []byte, v any, col *tableschema.Column, meta ColumnMeta, rt byte) ([]byte, error) {
	unsigned := meta.Unsigned
	if !meta.UnsignedKnown && col != nil {
		unsigned = col.Unsigned
	}
	var s int64
	switch n := v.(type) {
	case uint8:
		return strconv.AppendUint(buf, uint64(n), 10), nil
	case uint16:
		return strconv.AppendUint(buf, uint64(n), 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(n), 10), nil
	case uint64:
		return strconv.AppendUint(buf, n, 10), nil
	case int8:
		s = int64(n)
	case int16:
		s = int64(n)
	case int32:
		s = int64(n)
	case int64:
		s = n
	case int:
		s = int64(n)
	default:
		return buf, &UnsupportedTypeError{Column: colName(col), Type: meta.Type, RealType: rt, Value: fmt.Sprintf("%T", v)}
	}
	if !unsigned || s >= 0 {
		return strconv.AppendInt(buf, s, 10), nil
	}
	var u uint64
	switch rt {
	case mysql.MYSQL_TYPE_TINY:
		u = uint64(uint8(s))
	case mysql.MYSQL_TYPE_SHORT:
		u = uint64(uint16(s))
	case mysql.MYSQL_TYPE_INT24:
		u = uint64(uint32(s) & 0xFFFFFF)
	case mysql.MYSQL_TYPE_LONG:
		u = uint64(uint32(s))
	default:
		u = uint64(s)
	}
	return strconv.AppendUint(buf, u, 10), nil
}

// appendFloat renders a FLOAT or DOUBLE value as the shortest decimal that parses back to exactly the same
// double. A FLOAT arrives widened to float64 (exactly), so the literal is the float's exact value as a double:
// "1.100000023841858", not "1.1". The server stores it back as the same float and, unlike "1.1", it also compares
// equal to the stored FLOAT column in a WHERE clause. MySQL cannot store NaN or infinities.
func appendFloat(buf []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return buf, fmt.Errorf("float value %v: %w", f, ErrBadValue)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, 64), nil
}

func isDecimalText(s string) bool {
	if s == "" {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '-' && i == 0, c == '.':
		default:
			return false
		}
	}
	return digits > 0
}

// badTemporal is the error for a temporal value that is not a well-formed, in-range value of its type.
func badTemporal(col *tableschema.Column, meta ColumnMeta, v any) error {
	if _, ok := v.(string); !ok {
		return &UnsupportedTypeError{Column: colName(col), Type: meta.Type, RealType: meta.RealType(), Value: fmt.Sprintf("%T", v)}
	}
	return fmt.Errorf("column %s: binlog %s value %.40q is out of range: the image was not decoded right "+
		"(a MariaDB table with pre-10.1.2 fractional temporal columns? run ALTER TABLE ... FORCE on the source): %w",
		colName(col), typeName(meta.RealType()), v, ErrBadValue)
}

func appendQuotedASCII(buf []byte, s string) []byte {
	buf = append(buf, '\'')
	buf = append(buf, s...)
	return append(buf, '\'')
}

var fracLayouts = [7]string{
	"2006-01-02 15:04:05", "2006-01-02 15:04:05.0", "2006-01-02 15:04:05.00", "2006-01-02 15:04:05.000",
	"2006-01-02 15:04:05.0000", "2006-01-02 15:04:05.00000", "2006-01-02 15:04:05.000000",
}

// appendTime renders a time.Time (ParseTime=true) in UTC, the session time zone the applier uses.
func appendTime(buf []byte, t time.Time, fsp int) []byte {
	buf = append(buf, '\'')
	buf = t.UTC().AppendFormat(buf, fracLayouts[fsp])
	return append(buf, '\'')
}

// appendOldTime renders the pre-5.6 MYSQL_TYPE_TIME. go-mysql reads its 3 bytes unsigned and prints
// "HH:MM:SS" of value/10000, value/100%100, value%100, so a negative TIME arrives as the two's complement
// ("1677:72:15" for -00:00:01). The printing is reversible: rebuild the 24-bit value and sign-extend it.
func appendOldTime(buf []byte, s string) ([]byte, bool) {
	var parts [3]uint64
	p, n := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			parts[p] = parts[p]*10 + uint64(c-'0')
			n++
			if parts[p] > 1<<24 {
				return buf, false
			}
		case c == ':' && p < 2 && n > 0:
			p, n = p+1, 0
		default:
			return buf, false
		}
	}
	if p != 2 || n == 0 {
		return buf, false
	}
	v := parts[0]*10000 + parts[1]*100 + parts[2]
	if v >= 1<<24 {
		return buf, false
	}
	neg := v >= 0x800000
	if neg {
		v = 0x1000000 - v
	}
	if v/10000 > 838 || v/100%100 > 59 || v%100 > 59 {
		return buf, false
	}
	buf = append(buf, '\'')
	if neg {
		buf = append(buf, '-')
	}
	buf = appendPad2(buf, v/10000)
	buf = append(buf, ':')
	buf = appendPad2(buf, v/100%100)
	buf = append(buf, ':')
	buf = appendPad2(buf, v%100)
	return append(buf, '\''), true
}

func appendPad2(buf []byte, v uint64) []byte {
	if v < 10 {
		buf = append(buf, '0')
	}
	return strconv.AppendUint(buf, v, 10)
}

// appendString renders the raw bytes of a CHAR/VARCHAR/TEXT/BLOB value. The bytes are in the source column's
// character set; they are labelled with the target column's (as native row-based replication copies bytes
// without conversion), as a hex literal so NUL, 0xFF and invalid sequences survive. Binary strings get _binary.
func appendString[T string | []byte](buf []byte, s T, col *tableschema.Column) ([]byte, error) {
	if col == nil || col.Charset == "" || col.IsBinaryString() {
		pad := 0
		if col != nil && col.DataType == "binary" && col.OctetLength > 0 && col.OctetLength <= 255 {
			pad = int(col.OctetLength)
		}
		return appendBinary(buf, s, pad), nil
	}
	if !validCharsetName(col.Charset) {
		return buf, fmt.Errorf("column %s: character set %q: %w", col.Name, col.Charset, ErrBadValue)
	}
	return appendCharset(buf, col.Charset, s), nil
}

func validCharsetName(cs string) bool {
	if cs == "" || len(cs) > 32 {
		return false
	}
	for i := 0; i < len(cs); i++ {
		c := cs[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789ABCDEF"

func appendHex[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, "X'"...)
	for i := 0; i < len(s); i++ {
		buf = append(buf, hexDigits[s[i]>>4], hexDigits[s[i]&15])
	}
	return append(buf, '\'')
}

// appendCharset renders _cs X'..' (or ” for the empty string, which needs no character set).
func appendCharset[T string | []byte](buf []byte, cs string, s T) []byte {
	if len(s) == 0 {
		return append(buf, "''"...)
	}
	buf = append(buf, '_')
	buf = append(buf, cs...)
	buf = append(buf, ' ')
	return appendHex(buf, s)
}

// appendBinary renders _binary X'..', padded with 0x00 to pad bytes: the server strips the trailing 0x00 of a
// BINARY(n) value from the binlog image but keeps them in the row, and binary strings compare without padding.
func appendBinary[T string | []byte](buf []byte, s T, pad int) []byte {
	if len(s) == 0 && pad == 0 {
		return append(buf, "_binary ''"...)
	}
	buf = append(buf, "_binary X'"...)
	for i := 0; i < len(s); i++ {
		buf = append(buf, hexDigits[s[i]>>4], hexDigits[s[i]&15])
	}
	for i := len(s); i < pad; i++ {
		buf = append(buf, '0', '0')
	}
	return append(buf, '\'')
}
