package rowsql

import (
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

func TestFromTableMap(t *testing.T) {
	tm := tableMap("db", "t", true,
		bcolN("id", bcol{tp: mysql.MYSQL_TYPE_LONGLONG}),
		bcolN("name", tVarchar),
		bcolN("bin", bcol{tp: mysql.MYSQL_TYPE_STRING, meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | 4}),
		bcolN("dt", bcol{tp: mysql.MYSQL_TYPE_DATETIME2, meta: 3}),
		bcolN("e", tEnum),
		bcolN("j", bcol{tp: mysql.MYSQL_TYPE_JSON, meta: 4}),
		bcolN("b", bcol{tp: mysql.MYSQL_TYPE_BLOB, meta: 4}),
		bcolN("tiny", bcol{tp: mysql.MYSQL_TYPE_TINY}),
	)
	tm.SignednessBitmap = []byte{0b10000000} // numeric columns in order: id (unsigned), tiny (signed)
	// Character columns in order: name, bin, b. Default collation 45 (utf8mb4_general_ci); bin is 63 (binary),
	// b is 8 (latin1_swedish_ci).
	tm.DefaultCharset = []uint64{45, 1, 63, 2, 8}
	tm.PrimaryKey = []uint64{0}
	tm.NullBitmap = []byte{0b11111110}
	tm.VisibilityBitmap = []byte{0b11111110} // the last column is invisible

	tbl := FromTableMap(tm)
	type want struct {
		name, dataType, charset string
		unsigned, nullable      bool
	}
	wants := []want{
		{"id", "bigint", "", true, false},
		{"name", "varchar", "utf8mb4", false, true},
		{"bin", "binary", "", false, true},
		{"dt", "datetime", "", false, true},
		{"e", "enum", "", false, true},
		{"j", "json", "utf8mb4", false, true},
		{"b", "longtext", "latin1", false, true},
		{"tiny", "tinyint", "", false, true},
	}
	for i, w := range wants {
		c := tbl.Columns[i]
		got := want{c.Name, c.DataType, c.Charset, c.Unsigned, c.Nullable}
		if got != w {
			t.Errorf("column %d: got %+v, want %+v", i, got, w)
		}
	}
	if tbl.Columns[2].OctetLength != 4 || tbl.Columns[3].FSP != 3 || tbl.Columns[3].ColumnType != "datetime(3)" {
		t.Errorf("details: %+v %+v", tbl.Columns[2], tbl.Columns[3])
	}
	if !tbl.Columns[7].Invisible || tbl.Columns[6].Invisible {
		t.Error("visibility")
	}
	if !reflect.DeepEqual(tbl.PrimaryKey, []int{0}) || tbl.Schema != "db" || tbl.Name != "t" {
		t.Errorf("%+v", tbl)
	}
	if i, ok := tbl.ColumnByName("DT"); !ok || i != 3 {
		t.Error("ColumnByName")
	}

	// Without metadata: positional names, signed, nullable, strings binary.
	bare := FromTableMap(tableMap("db", "t", false, tInt, tVarchar))
	if bare.Columns[0].Name != "col_1" || bare.Columns[1].Name != "col_2" || bare.Columns[1].Charset != "" ||
		!bare.Columns[0].Nullable || bare.PrimaryKey != nil {
		t.Errorf("%+v", bare.Columns)
	}

	// The synthesized table renders a row.
	ev := rowsEvent(tm, []any{uint64(18446744073709551615), "x", "AB", "2020-01-01 00:00:00.123", int64(1), `{}`, []byte{0xe9}, int8(-1)})
	st, err := NewGenerator(Options{}).Append(nil, replication.WRITE_ROWS_EVENTv2, ev, tbl)
	if err != nil {
		t.Fatal(err)
	}
	const wantSQL = "INSERT INTO `db`.`t` (`id`,`name`,`bin`,`dt`,`e`,`j`,`b`,`tiny`) VALUES (18446744073709551615," +
		"_utf8mb4 X'78',_binary X'41420000','2020-01-01 00:00:00.123',1,_utf8mb4 X'7B7D',_latin1 X'E9',-1)"
	if st[0].SQL != wantSQL {
		t.Errorf("got  %s\nwant %s", st[0].SQL, wantSQL)
	}
}
