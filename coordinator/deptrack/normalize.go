package deptrack

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/mtreplica/mtreplica/applier/rowsql"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// seed keys every hash of this process. Keys are never stored or compared across processes.
var seed = maphash.MakeSeed()

// spaceOf names a key space: schema, table and parts (column names, or a marker such as "*"), each lowercased and
// length-prefixed. Lowercasing schema and table names merges names that differ only by case, which can only add
// dependencies, and lets a child's foreign key (whose REFERENCED_TABLE_NAME a lower_case_table_names target may
// spell in lowercase) meet its parent's rows.
func spaceOf(schema, table string, parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var n [4]byte
	write := func(s string) {
		s = strings.ToLower(s)
		binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.WriteString(s)
	}
	write(schema)
	write(table)
	for _, p := range parts {
		write(p)
	}
	return h.Sum64()
}

// colRule says how the values of one target column become key bytes.
type colRule struct {
	binary bool // a binary string (BINARY, VARBINARY, BLOB): bytes
	binPad int  // BINARY(n): the server pads to n bytes with 0x00 (the binlog image drops the padding)

	// Non-binary strings, by character set and collation.
	asciiCompat bool // printable ASCII bytes are those characters, one byte each, in this character set
	bin         bool // a _bin collation: equal means the same bytes (after the pad rule)
	trim        bool // PAD SPACE: trailing spaces do not count
	fold        bool // the collation equates two printable-ASCII strings only when they differ in letter case
}

func ruleFor(c *tableschema.Column) colRule {
	if c.IsBinaryString() {
		r := colRule{binary: true}
		if c.DataType == "binary" && c.OctetLength > 0 && c.OctetLength <= 255 {
			r.binPad = int(c.OctetLength)
		}
		return r
	}
	cs, coll := strings.ToLower(c.Charset), strings.ToLower(c.Collation)
	if cs == "" || coll == "" {
		return colRule{} // unknown (a non-string target column, a definition without collations): wide keys
	}
	r := colRule{asciiCompat: asciiCompatible[cs], trim: !strings.Contains(coll, "_nopad_")}
	if strings.HasSuffix(coll, "_bin") {
		r.bin = true
		return r
	}
	r.fold = foldsOnlyCase(cs, coll)
	return r
}

// asciiCompatible lists the character sets in which every printable ASCII byte is that ASCII character (and no
// multi-byte character contains a byte 0x20, so trailing 0x20 bytes are spaces). ucs2, utf16, utf16le and utf32
// are not; swe7 maps some ASCII positions to letters.
var asciiCompatible = map[string]bool{
	"ascii": true, "latin1": true, "latin2": true, "latin5": true, "latin7": true, "utf8": true, "utf8mb3": true,
	"utf8mb4": true, "cp1250": true, "cp1251": true, "cp1256": true, "cp1257": true, "cp850": true, "cp852": true,
	"cp866": true, "dec8": true, "hp8": true, "koi8r": true, "koi8u": true, "greek": true, "hebrew": true,
	"armscii8": true, "geostd8": true, "keybcs2": true, "macce": true, "macroman": true, "tis620": true,
	"big5": true, "gbk": true, "gb2312": true, "gb18030": true, "sjis": true, "cp932": true, "ujis": true,
	"eucjpms": true, "euckr": true,
}

// foldsOnlyCase reports whether collation coll of character set cs equates two different printable-ASCII strings
// only when they differ in ASCII letter case (after the pad rule). That holds for the general, unicode (UCA
// 4.0.0, 5.2.0, 9.0.0, 14.0.0 root) and the CJK default collations. Language tailorings may equate ASCII
// sequences (utf8mb4_lithuanian_ci sorts y as i, Danish aa as å, ...): their values always get wide keys.
func foldsOnlyCase(cs, coll string) bool {
	rest, ok := strings.CutPrefix(coll, cs+"_")
	if !ok && cs == "utf8mb3" {
		rest, ok = strings.CutPrefix(coll, "utf8_")
	}
	if !ok {
		return false
	}
	rest = strings.Replace(rest, "nopad_", "", 1)
	switch rest {
	case "general_ci", "general_cs", "general_mysql500_ci", "unicode_ci", "unicode_520_ci",
		"0900_ai_ci", "0900_as_ci", "0900_as_cs", "chinese_ci", "japanese_ci", "korean_ci":
		return true
	case "uca1400_ai_ci", "uca1400_ai_cs", "uca1400_as_ci", "uca1400_as_cs":
		return true
	case "swedish_ci":
		return cs == "latin1" // latin1_swedish_ci, the latin1 default, is a simple collation; utf8mb4_swedish_ci a tailoring
	}
	return false
}

// appendValue appends the normalised key bytes of one non-NULL value: two values the server could see as equal in
// this column give the same bytes. wide reports a value that cannot be normalised soundly (a non-ASCII string
// under a case-insensitive collation, ...): the caller uses a wide key for the whole space. fk selects the
// foreign key rules (binary strings compare without trailing 0x00, so BINARY and VARBINARY sides meet).
func appendValue(buf []byte, v any, r *colRule, col *tableschema.Column, meta rowsql.ColumnMeta, prefix int,
	fk bool) (out []byte, wide bool, err error) {
	switch meta.RealType() {
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB:
		switch s := v.(type) {
		case string:
			out, wide = appendString(buf, s, r, prefix, fk)
			return out, wide, nil
		case []byte:
			out, wide = appendString(buf, s, r, prefix, fk)
			return out, wide, nil
		}
	case mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_VECTOR:
		// Never a key part of their own (only through a generated column); compare as bytes.
		switch s := v.(type) {
		case string:
			return append(buf, s...), false, nil
		case []byte:
			return append(buf, s...), false, nil
		}
	case mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
		// -0 and 0 are equal in an index.
		switch f := v.(type) {
		case float32:
			if f == 0 {
				return append(buf, '0'), false, nil
			}
		case float64:
			if f == 0 {
				return append(buf, '0'), false, nil
			}
		}
		fallthrough
	default:
		// Numbers (signedness fixed up), decimals, BIT/ENUM/SET, YEAR and temporal values as rowsql renders them
		// for SQL, then made canonical.
		start := len(buf)
		out, err = rowsql.AppendValue(buf, v, col, meta)
		if err != nil {
			return buf[:start], false, err
		}
		return canonical(out, start), false, nil
	}
	return buf, false, fmt.Errorf("column %s: binlog type %d with a value of Go type %T: %w", col.Name, meta.RealType(),
		v, ErrUnsupportedValue)
}

// canonical rewrites the literal at buf[start:] in place: without quotes, fractions without trailing zeros
// ("1.50" and "1.5", "12:00:00.000" and "12:00:00" are the same value), "-0" as "0".
func canonical(buf []byte, start int) []byte {
	s := buf[start:]
	if n := len(s); n >= 2 && s[0] == '\'' && s[n-1] == '\'' {
		copy(s, s[1:n-1])
		s = s[:n-2]
	}
	dot, exp := false, false
	for _, c := range s {
		switch c {
		case '.':
			dot = true
		case 'e', 'E':
			exp = true
		}
	}
	if dot && !exp {
		for len(s) > 0 && s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		if len(s) > 0 && s[len(s)-1] == '.' {
			s = s[:len(s)-1]
		}
	}
	if len(s) == 2 && s[0] == '-' && s[1] == '0' {
		s[0], s = '0', s[:1]
	}
	return buf[:start+len(s)]
}

// appendString normalises a string value under rule r; prefix > 0 keeps only that many characters (a prefix key
// part).
func appendString[T string | []byte](buf []byte, s T, r *colRule, prefix int, fk bool) ([]byte, bool) {
	if r.binary {
		if fk {
			for len(s) > 0 && s[len(s)-1] == 0 {
				s = s[:len(s)-1]
			}
			return append(buf, s...), false
		}
		start := len(buf)
		buf = append(buf, s...)
		for len(buf)-start < r.binPad {
			buf = append(buf, 0)
		}
		if prefix > 0 && len(buf)-start > prefix {
			buf = buf[:start+prefix]
		}
		return buf, false
	}
	if !r.asciiCompat {
		return buf, true
	}
	if prefix > 0 {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return buf, true // characters of several bytes: cannot count them here
			}
		}
		if len(s) > prefix {
			s = s[:prefix]
		}
	}
	if r.trim {
		for len(s) > 0 && s[len(s)-1] == ' ' {
			s = s[:len(s)-1]
		}
	}
	if r.bin {
		return append(buf, s...), false
	}
	if !r.fold {
		return buf, true
	}
	start := len(buf)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7E {
			return buf[:start], true
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf, false
}

// sameValue reports whether two values of one column are certainly the same (the same bytes, numbers or
// times). Anything it cannot tell counts as different.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case []byte:
			return x == string(y)
		}
	case []byte:
		switch y := b.(type) {
		case string:
			return string(x) == y
		case []byte:
			return string(x) == string(y)
		}
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return a == b
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case decimal.Decimal:
		y, ok := b.(decimal.Decimal)
		return ok && x.String() == y.String()
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case *replication.JsonDiff:
		return false
	}
	return false
}
