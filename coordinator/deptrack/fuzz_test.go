package deptrack

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// fuzzTable has a key of every kind over columns of many types.
func fuzzTable() rel {
	tbl := table("db", "fz",
		tableschema.Column{Name: "id", DataType: "bigint", Unsigned: true},
		textCol("ci", "utf8mb4", "utf8mb4_general_ci"),
		textCol("cb", "latin1", "latin1_bin"),
		tableschema.Column{Name: "bin", DataType: "binary", OctetLength: 4, Nullable: true},
		tableschema.Column{Name: "d", DataType: "decimal", Nullable: true},
		tableschema.Column{Name: "dt", DataType: "datetime", FSP: 3, Nullable: true},
		tableschema.Column{Name: "f", DataType: "double", Nullable: true},
		tableschema.Column{Name: "pid", DataType: "int", Nullable: true},
		tableschema.Column{Name: "e", DataType: "enum", Nullable: true},
	)
	tbl.PrimaryKey = []int{0}
	tbl.UniqueKeys = []tableschema.Index{
		{Name: "u_ci", Columns: []int{1}}, {Name: "u_cb", Columns: []int{2, 3}, Prefix: []int{5, 0}},
		{Name: "u_d", Columns: []int{4, 5}}, {Name: "u_f", Columns: []int{6, 8}},
	}
	tbl.ForeignKeys = []tableschema.ForeignKey{{Name: "fk", Columns: []int{7}, RefSchema: "db", RefTable: "fz", RefColumns: []string{"id"}}}
	tbl.ReferencedBy = []tableschema.IncomingFK{{ChildSchema: "db", ChildTable: "fz", Name: "fk", Columns: []int{0},
		DeleteRule: "RESTRICT", UpdateRule: "RESTRICT"}}
	tm := tableMap("db", "fz", bBig, bVarchar, bVarchar, bBinary4, bDecimal, bDT3, bDouble, bInt,
		bcol{tp: mysql.MYSQL_TYPE_STRING, meta: uint16(mysql.MYSQL_TYPE_ENUM)<<8 | 1})
	return rel{tbl, tm}
}

// fuzzValue picks a value (of a plausible or implausible Go type) from the input.
func fuzzValue(in *fuzzInput) any {
	switch in.byte() % 16 {
	case 0:
		return nil
	case 1:
		return int8(in.byte())
	case 2:
		return int16(in.u64())
	case 3:
		return int32(in.u64())
	case 4:
		return int64(in.u64())
	case 5:
		return in.u64()
	case 6:
		return in.str()
	case 7:
		return []byte(in.str())
	case 8:
		return float64(int64(in.u64())) / 7
	case 9:
		return float32(in.byte())
	case 10:
		return decimal.New(int64(in.u64()), -int32(in.byte()%8))
	case 11:
		return "2024-01-0" + string('1'+in.byte()%9) + " 10:00:00.1" + string('0'+in.byte()%10)
	case 12:
		return time.Unix(int64(in.u64()%1e10), 0)
	case 13:
		return struct{}{}
	case 14:
		return in.byte() < 128
	}
	return int(in.byte())
}

type fuzzInput struct{ data []byte }

func (in *fuzzInput) byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[0]
	in.data = in.data[1:]
	return b
}

func (in *fuzzInput) u64() uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v = v<<8 | uint64(in.byte())
	}
	return v
}

func (in *fuzzInput) str() string {
	n := int(in.byte() % 12)
	if n > len(in.data) {
		n = len(in.data)
	}
	s := string(in.data[:n])
	in.data = in.data[n:]
	return s
}

var fuzzEventTypes = []replication.EventType{ins, upd, del, replication.WRITE_ROWS_EVENTv1,
	replication.UPDATE_ROWS_EVENTv1, replication.PARTIAL_UPDATE_ROWS_EVENT, replication.UPDATE_ROWS_EVENTv0,
	replication.QUERY_EVENT}

func FuzzExtract(f *testing.F) {
	f.Add([]byte{0, 2, 4, 1, 6, 3, 'a', 'b', 'C', 7, 2, 'x', 'y'})
	f.Add([]byte{1, 1, 9, 5, 0, 0, 0, 0, 0, 0, 0, 1, 6, 4, 'A', 'B', 'C', ' ', 6, 4, 'a', 'b', 'c', 0xc3})
	f.Add(bytes.Repeat([]byte{2, 3, 4, 5, 6, 7, 8, 10, 11, 12}, 20))
	f.Add([]byte{7, 0xff, 0xff, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzTable()
		in := &fuzzInput{data}
		evType := fuzzEventTypes[int(in.byte())%len(fuzzEventTypes)]
		ncols := int(r.tm.ColumnCount)
		switch in.byte() % 8 {
		case 0:
			ncols-- // fewer binlog columns than the target
		case 1:
			ncols++ // more than the table map: an error
		}
		ev := &replication.RowsEvent{Table: r.tm, ColumnCount: uint64(max(ncols, 0))}
		if in.byte()%4 == 0 {
			ev.ColumnBitmap1 = []byte{in.byte(), in.byte()}
			ev.ColumnBitmap2 = []byte{in.byte(), in.byte()}
		}
		nrows := int(in.byte() % 5)
		for i := 0; i < nrows; i++ {
			row := make([]any, int(in.byte()%3)+ncols-1)
			for j := range row {
				row[j] = fuzzValue(in)
			}
			ev.Rows = append(ev.Rows, row)
		}
		k1, b1, err1 := NewExtractor().Add(nil, evType, ev, r.tbl)
		x := NewExtractor()
		x.Add(nil, ins, r.ev(), r.tbl) // warm the caches with another event
		k2, b2, err2 := x.Add(nil, evType, ev, r.tbl)
		if !reflect.DeepEqual(k1, k2) || b1 != b2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %v %v %v / %v %v %v", k1, b1, err1, k2, b2, err2)
		}
		if err1 != nil && len(k1) != 0 {
			t.Fatalf("keys %v with error %v", k1, err1)
		}
		for _, k := range k1 {
			if k.Wide && k.Hash != k.Space {
				t.Fatalf("wide key %v", k)
			}
		}
	})
}

// Flipping the case of printable-ASCII values under a _ci collation never changes the keys.
func FuzzExtractCaseFold(f *testing.F) {
	f.Add("Hello World", "bin")
	f.Add("abc  ", "x")
	f.Fuzz(func(t *testing.T, ci, cb string) {
		r := fuzzTable()
		flip := func(s string) string {
			b := []byte(s)
			for i, c := range b {
				switch {
				case c >= 'a' && c <= 'z':
					b[i] = c - 32
				case c >= 'A' && c <= 'Z':
					b[i] = c + 32
				}
			}
			return string(b)
		}
		mk := func(ci string) []Key {
			k, barrier, err := NewExtractor().Add(nil, ins, r.ev(row(uint64(1), ci, cb, nil, nil, nil, nil, nil, nil)), r.tbl)
			if err != nil || barrier {
				t.Fatalf("%v %v", barrier, err)
			}
			return k
		}
		if a, b := mk(ci), mk(flip(ci)); !reflect.DeepEqual(a, b) {
			t.Fatalf("%q and %q: %v %v", ci, flip(ci), a, b)
		}
	})
}
