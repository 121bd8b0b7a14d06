package rowsql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// sysbenchTable is sysbench's sbtest: id INT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60), all utf8mb4.
func sysbenchTable() (*replication.TableMapEvent, *tableschema.Table) {
	char := func(n int) bcol {
		return bcol{tp: mysql.MYSQL_TYPE_STRING, meta: uint16(mysql.MYSQL_TYPE_STRING)<<8 | uint16(n*4&0xff) | uint16((n*4>>4)&0x30^0x30)<<8}
	}
	tm := tableMap("sbtest", "sbtest1", true, bcolN("id", tInt), bcolN("k", tInt), bcolN("c", char(120)), bcolN("pad", char(60)))
	tbl := &tableschema.Table{Schema: "sbtest", Name: "sbtest1", Columns: []tableschema.Column{
		{Name: "id", DataType: "int"},
		{Name: "k", DataType: "int"},
		{Name: "c", DataType: "char", Charset: "utf8mb4", OctetLength: 480},
		{Name: "pad", DataType: "char", Charset: "utf8mb4", OctetLength: 240},
	}, PrimaryKey: []int{0}}
	tbl.Init()
	return tm, tbl
}

func sysbenchRow(id int) []any {
	c := strings.Repeat(fmt.Sprintf("%011d-", id*7919%100000000000), 10)[:119]
	pad := strings.Repeat(fmt.Sprintf("%011d-", id*104729%100000000000), 5)[:59]
	return []any{int32(id), int32(id * 31 % 100000), c, pad}
}

func benchmarkEvent(b *testing.B, evType replication.EventType, rowsPerEvent int) {
	tm, tbl := sysbenchTable()
	ev := &replication.RowsEvent{Table: tm, ColumnCount: tm.ColumnCount}
	for i := 0; i < rowsPerEvent; i++ {
		ev.Rows = append(ev.Rows, sysbenchRow(i+1))
		if evType == replication.UPDATE_ROWS_EVENTv1 {
			r := sysbenchRow(i + 1)
			r[1] = int32(i)
			ev.Rows = append(ev.Rows, r)
		}
	}
	g := NewGenerator(Options{})
	var dst []Statement
	var bytes int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		dst, err = g.Append(dst[:0], evType, ev, tbl)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range dst {
			bytes += len(s.SQL)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*rowsPerEvent)/b.Elapsed().Seconds(), "rows/s")
	b.SetBytes(int64(bytes / b.N))
}

// BenchmarkInsertSQL renders sysbench rows as multi-row INSERTs, by rows per WRITE_ROWS event.
func BenchmarkInsertSQL(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) { benchmarkEvent(b, replication.WRITE_ROWS_EVENTv1, n) })
	}
}

// BenchmarkUpdateSQL renders sysbench row updates (full images, key by id), by rows per UPDATE_ROWS event.
func BenchmarkUpdateSQL(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) { benchmarkEvent(b, replication.UPDATE_ROWS_EVENTv1, n) })
	}
}

// BenchmarkDeleteSQL renders sysbench row deletes batched by primary key.
func BenchmarkDeleteSQL(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) { benchmarkEvent(b, replication.DELETE_ROWS_EVENTv1, n) })
	}
}
