package rowsql

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

func TestAppendValue(t *testing.T) {
	intCol := &tableschema.Column{Name: "i", DataType: "int"}
	uintCol := &tableschema.Column{Name: "u", DataType: "int", Unsigned: true}
	latin1 := &tableschema.Column{Name: "l", DataType: "varchar", Charset: "latin1"}
	utf8 := &tableschema.Column{Name: "s", DataType: "varchar", Charset: "utf8mb4"}
	blob := &tableschema.Column{Name: "b", DataType: "blob"}
	bin4 := &tableschema.Column{Name: "b4", DataType: "binary", OctetLength: 4}
	jsonCol := &tableschema.Column{Name: "j", DataType: "json"}
	m := func(tp byte, meta uint16) ColumnMeta { return ColumnMeta{Type: tp, Meta: meta} }
	signed := func(tp byte) ColumnMeta { return ColumnMeta{Type: tp, UnsignedKnown: true} }
	unsigned := func(tp byte) ColumnMeta { return ColumnMeta{Type: tp, UnsignedKnown: true, Unsigned: true} }
	dec := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }

	cases := []struct {
		name string
		v    any
		col  *tableschema.Column
		meta ColumnMeta
		want string
	}{
		{"null", nil, intCol, m(mysql.MYSQL_TYPE_LONG, 0), "NULL"},
		{"null type", "x", intCol, m(mysql.MYSQL_TYPE_NULL, 0), "NULL"},
		// Integers: signed extremes, unsigned from metadata, unsigned from the target when metadata is absent.
		{"tiny min", int8(-128), intCol, m(mysql.MYSQL_TYPE_TINY, 0), "-128"},
		{"tiny unsigned max (meta)", uint8(255), intCol, unsigned(mysql.MYSQL_TYPE_TINY), "255"},
		{"tiny unsigned max (target)", int8(-1), uintCol, m(mysql.MYSQL_TYPE_TINY, 0), "255"},
		{"tiny signed meta beats target", int8(-1), uintCol, signed(mysql.MYSQL_TYPE_TINY), "-1"},
		{"short min", int16(math.MinInt16), intCol, m(mysql.MYSQL_TYPE_SHORT, 0), "-32768"},
		{"short unsigned (target)", int16(-1), uintCol, m(mysql.MYSQL_TYPE_SHORT, 0), "65535"},
		{"int24 min", int32(-8388608), intCol, m(mysql.MYSQL_TYPE_INT24, 0), "-8388608"},
		{"int24 unsigned (target)", int32(-1), uintCol, m(mysql.MYSQL_TYPE_INT24, 0), "16777215"},
		{"int24 unsigned (meta)", uint32(16777215), intCol, unsigned(mysql.MYSQL_TYPE_INT24), "16777215"},
		{"long min", int32(math.MinInt32), intCol, m(mysql.MYSQL_TYPE_LONG, 0), "-2147483648"},
		{"long unsigned (target)", int32(-1), uintCol, m(mysql.MYSQL_TYPE_LONG, 0), "4294967295"},
		{"longlong min", int64(math.MinInt64), intCol, m(mysql.MYSQL_TYPE_LONGLONG, 0), "-9223372036854775808"},
		{"longlong max", int64(math.MaxInt64), intCol, m(mysql.MYSQL_TYPE_LONGLONG, 0), "9223372036854775807"},
		{"longlong unsigned (target)", int64(-1), uintCol, m(mysql.MYSQL_TYPE_LONGLONG, 0), "18446744073709551615"},
		{"longlong unsigned (meta)", uint64(math.MaxUint64), intCol, unsigned(mysql.MYSQL_TYPE_LONGLONG), "18446744073709551615"},
		{"year", 2155, intCol, m(mysql.MYSQL_TYPE_YEAR, 0), "2155"},
		{"year zero", 0, intCol, m(mysql.MYSQL_TYPE_YEAR, 0), "0"},
		// DECIMAL: decimal.Decimal (UseDecimal) or go-mysql's text.
		{"decimal 65,30", dec("-99999999999999999999999999999999999.999999999999999999999999999999"), intCol,
			m(mysql.MYSQL_TYPE_NEWDECIMAL, 65<<8|30), "-99999999999999999999999999999999999.999999999999999999999999999999"},
		{"decimal small", dec("0.000000000000000000000000000001"), intCol, m(mysql.MYSQL_TYPE_NEWDECIMAL, 65<<8|30),
			"0.000000000000000000000000000001"},
		{"decimal text", "-12.50", intCol, m(mysql.MYSQL_TYPE_NEWDECIMAL, 10<<8|2), "-12.50"},
		// FLOAT: the float's exact value as a double; DOUBLE: shortest round-trip.
		{"float", float32(1.1), intCol, m(mysql.MYSQL_TYPE_FLOAT, 4), "1.100000023841858"},
		{"float max", float32(math.MaxFloat32), intCol, m(mysql.MYSQL_TYPE_FLOAT, 4), "3.4028234663852886e+38"},
		{"float tiny", float32(math.SmallestNonzeroFloat32), intCol, m(mysql.MYSQL_TYPE_FLOAT, 4), "1.401298464324817e-45"},
		{"float neg zero", float32(math.Copysign(0, -1)), intCol, m(mysql.MYSQL_TYPE_FLOAT, 4), "-0"},
		{"double", 0.1, intCol, m(mysql.MYSQL_TYPE_DOUBLE, 8), "0.1"},
		{"double max", math.MaxFloat64, intCol, m(mysql.MYSQL_TYPE_DOUBLE, 8), "1.7976931348623157e+308"},
		{"double min", -math.SmallestNonzeroFloat64, intCol, m(mysql.MYSQL_TYPE_DOUBLE, 8), "-5e-324"},
		// BIT as a number, ENUM as its index, SET as its bitmap (64 members: the top bit set).
		{"bit1", int64(1), intCol, m(mysql.MYSQL_TYPE_BIT, 1), "1"},
		{"bit64", int64(-1), intCol, m(mysql.MYSQL_TYPE_BIT, 8<<8), "18446744073709551615"},
		{"enum", int64(2), intCol, m(mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_ENUM)<<8|1), "2"},
		{"enum error value", int64(0), intCol, m(mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_ENUM)<<8|2), "0"},
		{"set64", int64(math.MinInt64), intCol, m(mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_SET)<<8|8), "9223372036854775808"},
		// Temporal values as go-mysql prints them.
		{"date", "2024-02-29", intCol, m(mysql.MYSQL_TYPE_DATE, 0), "'2024-02-29'"},
		{"date zero", "0000-00-00", intCol, m(mysql.MYSQL_TYPE_DATE, 0), "'0000-00-00'"},
		{"datetime6", "9999-12-31 23:59:59.999999", intCol, m(mysql.MYSQL_TYPE_DATETIME2, 6), "'9999-12-31 23:59:59.999999'"},
		{"timestamp6", "2038-01-19 03:14:07.999999", intCol, m(mysql.MYSQL_TYPE_TIMESTAMP2, 6), "'2038-01-19 03:14:07.999999'"},
		{"timestamp zero", "0000-00-00 00:00:00", intCol, m(mysql.MYSQL_TYPE_TIMESTAMP, 0), "'0000-00-00 00:00:00'"},
		{"time2 negative", "-838:59:59.000000", intCol, m(mysql.MYSQL_TYPE_TIME2, 6), "'-838:59:59.000000'"},
		{"time2 frac", "-00:00:00.5", intCol, m(mysql.MYSQL_TYPE_TIME2, 1), "'-00:00:00.5'"},
		{"old time", "12:34:56", intCol, m(mysql.MYSQL_TYPE_TIME, 0), "'12:34:56'"},
		{"old time -1s", "1677:72:15", intCol, m(mysql.MYSQL_TYPE_TIME, 0), "'-00:00:01'"},
		{"old time -838h", "839:12:57", intCol, m(mysql.MYSQL_TYPE_TIME, 0), "'-838:59:59'"},
		{"parsed time", time.Date(2020, 1, 2, 3, 4, 5, 123456000, time.FixedZone("x", 3600)), intCol,
			m(mysql.MYSQL_TYPE_DATETIME2, 3), "'2020-01-02 02:04:05.123'"},
		// Strings: the bytes in hex, labelled with the target column's character set.
		{"latin1", "caf\xe9", latin1, m(mysql.MYSQL_TYPE_VARCHAR, 10), "_latin1 X'636166E9'"},
		{"utf8mb4 4-byte", "a😀", utf8, m(mysql.MYSQL_TYPE_VARCHAR, 40), "_utf8mb4 X'61F09F9880'"},
		{"empty string", "", utf8, m(mysql.MYSQL_TYPE_VARCHAR, 40), "''"},
		{"text bytes", []byte("x'\\"), utf8, m(mysql.MYSQL_TYPE_BLOB, 2), "_utf8mb4 X'78275C'"},
		{"blob NUL FF", []byte{0, 0xff}, blob, m(mysql.MYSQL_TYPE_BLOB, 2), "_binary X'00FF'"},
		{"empty blob", []byte{}, blob, m(mysql.MYSQL_TYPE_BLOB, 2), "_binary ''"},
		{"binary(4) padded", "A", bin4, m(mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_STRING)<<8|4), "_binary X'41000000'"},
		{"binary(4) empty", "", bin4, m(mysql.MYSQL_TYPE_STRING, uint16(mysql.MYSQL_TYPE_STRING)<<8|4), "_binary X'00000000'"},
		{"no column", "A", nil, m(mysql.MYSQL_TYPE_VARCHAR, 10), "_binary X'41'"},
		// JSON: text from go-mysql (MySQL binary JSON) as utf8mb4.
		{"json", `{"a":1}`, jsonCol, m(mysql.MYSQL_TYPE_JSON, 4), "_utf8mb4 X'7B2261223A317D'"},
		{"json empty", []byte{}, jsonCol, m(mysql.MYSQL_TYPE_JSON, 4), "'null'"},
		{"geometry", []byte{0, 0, 0, 0, 1}, blob, m(mysql.MYSQL_TYPE_GEOMETRY, 4), "_binary X'0000000001'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := AppendValue([]byte("pre:"), c.v, c.col, c.meta)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "pre:"+c.want {
				t.Errorf("got %s, want %s", got[4:], c.want)
			}
		})
	}
}

func TestAppendValueErrors(t *testing.T) {
	col := &tableschema.Column{Name: "c", DataType: "int"}
	cases := []struct {
		name string
		v    any
		meta ColumnMeta
		want error
	}{
		{"old decimal", "1", ColumnMeta{Type: mysql.MYSQL_TYPE_DECIMAL}, ErrUnsupportedType},
		{"unknown type", "1", ColumnMeta{Type: 0xe0}, ErrUnsupportedType},
		{"wrong go type", "1", ColumnMeta{Type: mysql.MYSQL_TYPE_LONG}, ErrUnsupportedType},
		{"float as double", float64(1), ColumnMeta{Type: mysql.MYSQL_TYPE_FLOAT}, ErrUnsupportedType},
		{"nan", math.NaN(), ColumnMeta{Type: mysql.MYSQL_TYPE_DOUBLE}, ErrBadValue},
		{"inf", float32(math.Inf(1)), ColumnMeta{Type: mysql.MYSQL_TYPE_FLOAT}, ErrBadValue},
		{"bad decimal text", "1e5", ColumnMeta{Type: mysql.MYSQL_TYPE_NEWDECIMAL}, ErrUnsupportedType},
		{"bad temporal text", "2020'", ColumnMeta{Type: mysql.MYSQL_TYPE_DATE}, ErrBadValue},
		{"bad old time", "12:3x:00", ColumnMeta{Type: mysql.MYSQL_TYPE_TIME}, ErrBadValue},
		{"old time out of range", "900:00:00", ColumnMeta{Type: mysql.MYSQL_TYPE_TIME}, ErrBadValue},
		{"misdecoded datetime", "1162405782-38-93 15:91:70", ColumnMeta{Type: mysql.MYSQL_TYPE_DATETIME}, ErrBadValue},
		{"month 13", "2020-13-01 00:00:00", ColumnMeta{Type: mysql.MYSQL_TYPE_DATETIME2, Meta: 0}, ErrBadValue},
		{"hour 24", "2020-12-01 24:00:00", ColumnMeta{Type: mysql.MYSQL_TYPE_TIMESTAMP2, Meta: 0}, ErrBadValue},
		{"seven digits", "2020-12-01 00:00:00.1234567", ColumnMeta{Type: mysql.MYSQL_TYPE_DATETIME2, Meta: 6}, ErrBadValue},
		{"time2 hours", "1023:00:00", ColumnMeta{Type: mysql.MYSQL_TYPE_TIME2}, ErrBadValue},
		{"time2 minutes", "-10:60:00", ColumnMeta{Type: mysql.MYSQL_TYPE_TIME2}, ErrBadValue},
		{"date as int", 5, ColumnMeta{Type: mysql.MYSQL_TYPE_DATE}, ErrUnsupportedType},
		{"json diff", &replication.JsonDiff{}, ColumnMeta{Type: mysql.MYSQL_TYPE_JSON}, ErrPartialJSON},
		{"negative year", -1, ColumnMeta{Type: mysql.MYSQL_TYPE_YEAR}, ErrUnsupportedType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := AppendValue(nil, c.v, col, c.meta)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	bad := &tableschema.Column{Name: "c", DataType: "varchar", Charset: "utf8mb4' OR 1"}
	if _, err := AppendValue(nil, "x", bad, ColumnMeta{Type: mysql.MYSQL_TYPE_VARCHAR}); !errors.Is(err, ErrBadValue) {
		t.Fatalf("charset injection: %v", err)
	}
	var ute *UnsupportedTypeError
	_, err := AppendValue(nil, "1", col, ColumnMeta{Type: 0xe0})
	if !errors.As(err, &ute) || ute.Column != "c" || ute.Type != 0xe0 {
		t.Fatalf("error does not name the column and type: %v", err)
	}
}

func TestRealTypeAndLength(t *testing.T) {
	cases := []struct {
		meta   ColumnMeta
		rt     byte
		length int
	}{
		{ColumnMeta{Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | 10}, mysql.MYSQL_TYPE_STRING, 10},
		{ColumnMeta{Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_ENUM)<<8 | 1}, mysql.MYSQL_TYPE_ENUM, 1},
		{ColumnMeta{Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_SET)<<8 | 8}, mysql.MYSQL_TYPE_SET, 8},
		// CHAR(255) in utf8mb4 = 1020 bytes: length's high bits folded into the type byte.
		{ColumnMeta{Type: mysql.MYSQL_TYPE_STRING, Meta: 0xcefc}, mysql.MYSQL_TYPE_STRING, 1020},
		{ColumnMeta{Type: mysql.MYSQL_TYPE_STRING, Meta: 20}, mysql.MYSQL_TYPE_STRING, 20},
	}
	for _, c := range cases {
		if rt := c.meta.RealType(); rt != c.rt {
			t.Errorf("%#x: real type %d, want %d", c.meta.Meta, rt, c.rt)
		}
		if n := c.meta.stringLength(); n != c.length {
			t.Errorf("%#x: length %d, want %d", c.meta.Meta, n, c.length)
		}
	}
}
