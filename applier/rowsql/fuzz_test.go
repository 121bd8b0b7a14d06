package rowsql

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// fuzzTypes are the binlog types the fuzzers draw from, with a metadata value go-mysql could have decoded.
var fuzzTypes = []ColumnMeta{
	{Type: mysql.MYSQL_TYPE_TINY}, {Type: mysql.MYSQL_TYPE_SHORT}, {Type: mysql.MYSQL_TYPE_INT24},
	{Type: mysql.MYSQL_TYPE_LONG}, {Type: mysql.MYSQL_TYPE_LONGLONG},
	{Type: mysql.MYSQL_TYPE_NEWDECIMAL, Meta: 65<<8 | 30}, {Type: mysql.MYSQL_TYPE_FLOAT, Meta: 4},
	{Type: mysql.MYSQL_TYPE_DOUBLE, Meta: 8}, {Type: mysql.MYSQL_TYPE_BIT, Meta: 8 << 8},
	{Type: mysql.MYSQL_TYPE_YEAR}, {Type: mysql.MYSQL_TYPE_DATE}, {Type: mysql.MYSQL_TYPE_TIME2, Meta: 6},
	{Type: mysql.MYSQL_TYPE_TIME}, {Type: mysql.MYSQL_TYPE_DATETIME2, Meta: 6}, {Type: mysql.MYSQL_TYPE_TIMESTAMP2, Meta: 6},
	{Type: mysql.MYSQL_TYPE_VARCHAR, Meta: 1000}, {Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | 16},
	{Type: mysql.MYSQL_TYPE_BLOB, Meta: 2}, {Type: mysql.MYSQL_TYPE_JSON, Meta: 4},
	{Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_ENUM)<<8 | 2},
	{Type: mysql.MYSQL_TYPE_STRING, Meta: uint16(mysql.MYSQL_TYPE_SET)<<8 | 8},
	{Type: mysql.MYSQL_TYPE_GEOMETRY, Meta: 4},
}

// fuzzValue makes a value of the Go type go-mysql returns for meta from raw bytes, with the target column it
// would go to. ok is false when data is too short.
func fuzzValue(meta ColumnMeta, unsigned bool, data []byte) (v any, col tableschema.Column, ok bool) {
	var u64 uint64
	if len(data) >= 8 {
		u64 = binary.LittleEndian.Uint64(data)
	} else {
		var b [8]byte
		copy(b[:], data)
		u64 = binary.LittleEndian.Uint64(b[:])
	}
	dt, _ := binlogDataType(meta, false)
	col = tableschema.Column{Name: "c", DataType: dt, Unsigned: unsigned}
	switch meta.RealType() {
	case mysql.MYSQL_TYPE_TINY:
		v = int8(u64)
	case mysql.MYSQL_TYPE_SHORT:
		v = int16(u64)
	case mysql.MYSQL_TYPE_INT24:
		v = mysql.ParseBinaryInt24([]byte{byte(u64), byte(u64 >> 8), byte(u64 >> 16)})
	case mysql.MYSQL_TYPE_LONG:
		v = int32(u64)
	case mysql.MYSQL_TYPE_LONGLONG:
		v = int64(u64)
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		d := decimal.New(int64(u64), -int32(data0(data)%31))
		v = d
	case mysql.MYSQL_TYPE_FLOAT:
		f := math.Float32frombits(uint32(u64))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			f = 0
		}
		v = f
	case mysql.MYSQL_TYPE_DOUBLE:
		f := math.Float64frombits(u64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		v = f
	case mysql.MYSQL_TYPE_BIT, mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
		v = int64(u64)
	case mysql.MYSQL_TYPE_YEAR:
		v = int(u64 % 256)
		if v != 0 {
			v = v.(int) + 1900
		}
	case mysql.MYSQL_TYPE_DATE:
		v = "2024-01-0" + strconv.Itoa(int(u64%9)+1)
	case mysql.MYSQL_TYPE_TIME:
		v = strconv.Itoa(int(u64%1678)) + ":" + strconv.Itoa(int(u64>>16%100)) + ":" + strconv.Itoa(int(u64>>24%100))
	case mysql.MYSQL_TYPE_TIME2:
		v = fmt.Sprintf("-%02d:59:00.%06d", u64%839, u64%1000000)
	case mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP2:
		v = "1000-01-01 00:00:00." + strconv.Itoa(int(u64%1000000))
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_STRING:
		v = string(data)
		col = tableschema.Column{Name: "c", DataType: "varchar", Charset: "utf8mb4"}
		if meta.RealType() == mysql.MYSQL_TYPE_STRING && data0(data)&1 == 1 {
			col = tableschema.Column{Name: "c", DataType: "binary", OctetLength: 16}
			if len(data) > 16 {
				v = string(data[:16])
			}
		}
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY:
		v = data
		col = tableschema.Column{Name: "c", DataType: "blob"}
	case mysql.MYSQL_TYPE_JSON:
		v = string(data)
		col = tableschema.Column{Name: "c", DataType: "json", Charset: "utf8mb4"}
	default:
		return nil, col, false
	}
	return v, col, true
}

func data0(d []byte) byte {
	if len(d) == 0 {
		return 0
	}
	return d[0]
}

// checkLiteral parses a literal AppendValue produced and compares it with the value it stands for.
func checkLiteral(t *testing.T, lit string, v any, col *tableschema.Column, meta ColumnMeta) {
	t.Helper()
	switch x := v.(type) {
	case int8, int16, int32, int64:
		if meta.RealType() == mysql.MYSQL_TYPE_BIT || meta.RealType() == mysql.MYSQL_TYPE_ENUM || meta.RealType() == mysql.MYSQL_TYPE_SET {
			u, err := strconv.ParseUint(lit, 10, 64)
			if err != nil || u != uint64(x.(int64)) {
				t.Fatalf("%v -> %s", v, lit)
			}
			return
		}
		if _, err := strconv.ParseInt(lit, 10, 64); err != nil {
			if u, err := strconv.ParseUint(lit, 10, 64); err != nil || !col.Unsigned {
				t.Fatalf("%v -> %s (%v)", v, lit, err)
			} else if bitsOf(meta.RealType()) < 64 && u>>bitsOf(meta.RealType()) != 0 {
				t.Fatalf("%v -> %s: wider than the column", v, lit)
			}
		}
	case float32:
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil || float32(f) != x || float64(x) != f {
			t.Fatalf("%v -> %s", v, lit)
		}
	case float64:
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil || f != x {
			t.Fatalf("%v -> %s", v, lit)
		}
	case decimal.Decimal:
		d, err := decimal.NewFromString(lit)
		if err != nil || !d.Equal(x) {
			t.Fatalf("%v -> %s", v, lit)
		}
	case string:
		checkBytes(t, lit, []byte(x), col, meta)
	case []byte:
		checkBytes(t, lit, x, col, meta)
	}
}

func bitsOf(rt byte) uint {
	switch rt {
	case mysql.MYSQL_TYPE_TINY:
		return 8
	case mysql.MYSQL_TYPE_SHORT:
		return 16
	case mysql.MYSQL_TYPE_INT24:
		return 24
	case mysql.MYSQL_TYPE_LONG:
		return 32
	}
	return 64
}

func checkBytes(t *testing.T, lit string, want []byte, col *tableschema.Column, meta ColumnMeta) {
	t.Helper()
	switch binlogFamily(meta.RealType()) {
	case famTemporal:
		if lit[0] != '\'' || lit[len(lit)-1] != '\'' || strings.ContainsAny(lit[1:len(lit)-1], "'\\") {
			t.Fatalf("temporal %q -> %s", want, lit)
		}
		return
	case famString:
	default:
		return
	}
	if lit == "''" || lit == "_binary ''" || lit == "'null'" {
		if len(want) != 0 {
			t.Fatalf("%q -> %s", want, lit)
		}
		return
	}
	i := strings.Index(lit, "X'")
	if i < 0 || !strings.HasSuffix(lit, "'") {
		t.Fatalf("%q -> %s: not a hex literal", want, lit)
	}
	got, err := hex.DecodeString(lit[i+2 : len(lit)-1])
	if err != nil {
		t.Fatalf("%s: %v", lit, err)
	}
	if col.DataType == "binary" {
		for len(got) > len(want) && got[len(got)-1] == 0 {
			got = got[:len(got)-1]
		}
		for len(want) > 0 && want[len(want)-1] == 0 && len(got) < len(want) {
			want = want[:len(want)-1]
		}
	}
	if string(got) != string(want) {
		t.Fatalf("%q -> %s", want, lit)
	}
}

func FuzzAppendValue(f *testing.F) {
	f.Add(byte(0), false, []byte{0xff})
	f.Add(byte(4), true, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(byte(6), false, []byte{0xcd, 0xcc, 0x8c, 0x3f})
	f.Add(byte(15), false, []byte("caf\xc3\xa9\x00\xff"))
	f.Add(byte(16), false, []byte{1, 'A'})
	f.Fuzz(func(t *testing.T, sel byte, unsigned bool, data []byte) {
		meta := fuzzTypes[int(sel)%len(fuzzTypes)]
		v, col, ok := fuzzValue(meta, unsigned, data)
		if !ok {
			return
		}
		out, err := AppendValue(nil, v, &col, meta)
		if err != nil {
			if meta.RealType() == mysql.MYSQL_TYPE_TIME && errors.Is(err, ErrBadValue) {
				return // fuzzValue can print times go-mysql never would
			}
			t.Fatalf("%T %v: %v", v, v, err)
		}
		checkLiteral(t, string(out), v, &col, meta)
		// Whatever the value, the literal never contains an unescaped quote outside its delimiters.
		if strings.Count(string(out), "'")%2 != 0 {
			t.Fatalf("unbalanced quotes: %s", out)
		}
	})
}

// FuzzAppend builds a random rows event over a random table and checks Append's invariants: no panic, statements
// cover every row once, Expect matches Rows (or -1), no generated column is written, and statements respect the
// size bound when they hold more than one row.
func FuzzAppend(f *testing.F) {
	f.Add([]byte{3, 1, 2, 0, 5, 9, 200, 13, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, uint16(200), false)
	f.Add([]byte{6, 0, 0, 1, 2, 3, 4, 5, 0xff, 0xfe, 0, 1}, uint16(64), true)
	f.Fuzz(func(t *testing.T, data []byte, maxBytes uint16, idempotent bool) {
		if len(data) < 4 {
			return
		}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		ncols := int(next()%8) + 1
		evType := []replication.EventType{replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2,
			replication.DELETE_ROWS_EVENTv2}[next()%3]
		keyMode := next() % 3 // 0: no key, 1: primary key on col 0, 2: unique not-null key on the last two
		tm := &replication.TableMapEvent{Schema: []byte("d`b"), Table: []byte("t"), ColumnCount: uint64(ncols)}
		tbl := &tableschema.Table{Schema: "d`b", Name: "t"}
		metas := make([]ColumnMeta, ncols)
		for i := 0; i < ncols; i++ {
			m := fuzzTypes[int(next())%len(fuzzTypes)]
			metas[i] = m
			tm.ColumnType = append(tm.ColumnType, m.Type)
			tm.ColumnMeta = append(tm.ColumnMeta, m.Meta)
			_, col, _ := fuzzValue(m, false, nil)
			col.Name = "c" + strconv.Itoa(i)
			col.Generated = next()%5 == 0
			tbl.Columns = append(tbl.Columns, col)
		}
		switch keyMode {
		case 1:
			tbl.PrimaryKey = []int{0}
		case 2:
			if ncols >= 2 {
				tbl.UniqueKeys = []tableschema.Index{{Name: "u", Columns: []int{ncols - 2, ncols - 1}, Unique: true}}
			}
		}
		tbl.Init()
		nimg := int(next()%6) + 1
		if evType == replication.UPDATE_ROWS_EVENTv2 {
			nimg *= 2
		}
		ev := &replication.RowsEvent{Table: tm, ColumnCount: uint64(ncols)}
		for r := 0; r < nimg; r++ {
			row := make([]any, ncols)
			for i := range row {
				if next()%7 == 0 {
					continue // NULL
				}
				n := int(next() % 12)
				chunk := make([]byte, n)
				for j := range chunk {
					chunk[j] = next()
				}
				row[i], _, _ = fuzzValue(metas[i], false, chunk)
			}
			ev.Rows = append(ev.Rows, row)
		}
		g := NewGenerator(Options{MaxStatementBytes: int(maxBytes), Idempotent: idempotent})
		st, err := g.Append(nil, evType, ev, tbl)
		if err != nil {
			// Allowed: a key with a generated column gone missing is impossible here; values may be refused.
			if errors.Is(err, ErrKeyNotInImage) || errors.Is(err, ErrUnsupportedType) || errors.Is(err, ErrBadValue) {
				return
			}
			t.Fatal(err)
		}
		covered := 0
		for _, s := range st {
			covered += s.Rows
			if idempotent && s.Expect != -1 || !idempotent && s.Expect != int64(s.Rows) {
				t.Fatalf("expect %d for %d rows: %s", s.Expect, s.Rows, s.SQL)
			}
			if s.Rows > 1 && maxBytes > 0 && len(s.SQL) > int(maxBytes) {
				t.Fatalf("%d bytes > %d with %d rows: %s", len(s.SQL), maxBytes, s.Rows, s.SQL)
			}
			for _, c := range tbl.Columns {
				if c.Generated && strings.Contains(s.SQL, "`"+c.Name+"`") {
					t.Fatalf("generated column %s used: %s", c.Name, s.SQL)
				}
			}
		}
		want := len(ev.Rows)
		if evType == replication.UPDATE_ROWS_EVENTv2 {
			want /= 2
		}
		if covered != want {
			t.Fatalf("statements cover %d rows of %d", covered, want)
		}
	})
}
