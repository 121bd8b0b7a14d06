package clone

import (
	"math"
	"strconv"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

func TestSplitSecondaryIndexes(t *testing.T) {
	create := "CREATE TABLE `t` (\n" +
		"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
		"  `k` int(11) NOT NULL DEFAULT 0,\n" +
		"  `c` char(120) NOT NULL DEFAULT '',\n" +
		"  PRIMARY KEY (`id`),\n" +
		"  UNIQUE KEY `u_c` (`c`),\n" +
		"  KEY `k_1` (`k`),\n" +
		"  KEY `k``odd` (`k`,`c`),\n" +
		"  CONSTRAINT `fk` FOREIGN KEY (`k`) REFERENCES `p` (`id`)\n" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	got, deferred := splitSecondaryIndexes(create)
	want := "CREATE TABLE `t` (\n" +
		"  `id` int(11) NOT NULL AUTO_INCREMENT,\n" +
		"  `k` int(11) NOT NULL DEFAULT 0,\n" +
		"  `c` char(120) NOT NULL DEFAULT '',\n" +
		"  PRIMARY KEY (`id`),\n" +
		"  CONSTRAINT `fk` FOREIGN KEY (`k`) REFERENCES `p` (`id`)\n" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	if got != want {
		t.Errorf("table without secondary indexes:\n%s\nwant\n%s", got, want)
	}
	wantDeferred := []string{"ADD UNIQUE KEY `u_c` (`c`)", "ADD KEY `k_1` (`k`)", "ADD KEY `k``odd` (`k`,`c`)"}
	if len(deferred) != len(wantDeferred) {
		t.Fatalf("deferred = %q, want %q", deferred, wantDeferred)
	}
	for i := range deferred {
		if deferred[i] != wantDeferred[i] {
			t.Errorf("deferred[%d] = %q, want %q", i, deferred[i], wantDeferred[i])
		}
	}
	if n := indexName(deferred[2]); n != "k`odd" {
		t.Errorf("indexName = %q", n)
	}

	// The key an AUTO_INCREMENT column needs stays; so does the only line when nothing is deferred.
	auto := "CREATE TABLE `t` (\n  `a` int NOT NULL,\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`a`,`id`),\n  KEY `id` (`id`)\n) ENGINE=InnoDB"
	if got, d := splitSecondaryIndexes(auto); got != auto || d != nil {
		t.Errorf("auto-increment key deferred: %q %q", got, d)
	}
}

func TestAppendValue(t *testing.T) {
	col := func(dataType, charset string) column {
		return columnOf(&tableschema.Column{Name: "c", DataType: dataType, Charset: charset})
	}
	cases := []struct {
		c    column
		v    string
		null bool
		want string
	}{
		{col("varchar", "utf8mb4"), "it's \\ \x00\n\r\x1a ✓", false, `_utf8mb4'it\'s \\ \0\n\r\Z ✓'`},
		{col("varchar", "utf8mb4"), "", false, `_utf8mb4''`},
		{col("varchar", "utf8mb4"), "", true, `NULL`},
		{col("char", "latin1"), "caf\xe9", false, `_latin1 X'636166e9'`},
		{col("blob", ""), "\x00\xff'", false, `X'00ff27'`},
		{col("varbinary", ""), "", false, `X''`},
		{col("bit", ""), "\x01\x00", false, `X'0100'`},
		{col("decimal", ""), "-12.500", false, `-12.500`},
		{col("datetime", ""), "2024-02-29 23:59:59.000001", false, `'2024-02-29 23:59:59.000001'`},
		{col("json", ""), `{"a": "'"}`, false, `_utf8mb4'{"a": "\'"}'`},
		{col("point", ""), "\x00\x01", false, `X'0001'`},
	}
	for _, c := range cases {
		if got := string(appendValue(nil, &c.c, []byte(c.v), c.null)); got != c.want {
			t.Errorf("appendValue(%s, %q) = %s, want %s", c.c.introduce, c.v, got, c.want)
		}
	}
}

// TestAppendFieldFloat: go-mysql parses DOUBLE text into a float64; it is written back in the shortest form that
// parses to the same float64, for every kind of value.
func TestAppendFieldFloat(t *testing.T) {
	c := columnOf(&tableschema.Column{Name: "d", DataType: "double"})
	for _, f := range []float64{0.1 + 0.2, 1.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, 2.2250738585072014e-308,
		-1.5e-10, 123456789.12345679, 0, math.Copysign(0, -1), float64(float32(1.0 / 3))} {
		v := mysql.NewFieldValue(mysql.FieldValueTypeFloat, math.Float64bits(f), nil)
		s := string(appendField(nil, &c, &v))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(back) != math.Float64bits(f) {
			t.Errorf("%v written as %s, read back as %v (%v)", f, s, back, err)
		}
	}
	u := columnOf(&tableschema.Column{Name: "u", DataType: "bigint", Unsigned: true})
	v := mysql.NewFieldValue(mysql.FieldValueTypeUnsigned, math.MaxUint64, nil)
	if s := string(appendField(nil, &u, &v)); s != "18446744073709551615" {
		t.Errorf("max BIGINT UNSIGNED written as %s", s)
	}
	if f := columnOf(&tableschema.Column{Name: "f", DataType: "float"}); f.selectExpr() != "CAST(`f` AS DOUBLE)" {
		t.Errorf("FLOAT read as %s", f.selectExpr())
	}
}

func TestRangeWhere(t *testing.T) {
	ti := &tableInfo{key: []column{{name: "a"}, {name: "b"}}}
	got := ti.rangeWhere([]string{"1", "'x'"}, []string{"2", "'y'"})
	want := "((`a` > 1) OR (`a` = 1 AND `b` >= 'x')) AND ((`a` < 2) OR (`a` = 2 AND `b` < 'y'))"
	if got != want {
		t.Errorf("rangeWhere =\n%s\nwant\n%s", got, want)
	}
	one := &tableInfo{key: []column{{name: "id"}}}
	if got := one.rangeWhere(nil, []string{"10"}); got != "((`id` < 10))" {
		t.Errorf("open lower bound: %s", got)
	}
	if got := one.rangeWhere(nil, nil); got != "" {
		t.Errorf("whole table: %q", got)
	}
}

func TestCovers(t *testing.T) {
	have, _ := gtid.ParseSet(gtid.MariaDB, "0-1-100,1-2-5")
	for s, want := range map[string]bool{"0-1-100": true, "0-1-101": false, "0-1-50,1-2-5": true, "2-1-1": false, "": true} {
		w, _ := gtid.ParseSet(gtid.MariaDB, s)
		if got := covers(have, w); got != want {
			t.Errorf("covers(%s, %s) = %v", have, s, got)
		}
	}
}
