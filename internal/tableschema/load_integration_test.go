package tableschema_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

func TestLoadFromMariaDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := mariadbtest.Start(t, mariadbtest.Options{NoBinlog: true})
	if err := srv.Exec(ctx,
		"CREATE DATABASE s",
		"CREATE TABLE s.parent (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b))",
		`CREATE TABLE s.child (
			id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
			pa INT NOT NULL, pb VARCHAR(10) NOT NULL,
			Name VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_general_cs,
			code CHAR(3) CHARACTER SET ascii NOT NULL,
			alt INT NULL,
			j JSON,
			bin BINARY(16) NOT NULL,
			ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
			v INT AS (pa * 2) VIRTUAL,
			st VARCHAR(40) AS (CONCAT(pb, pa)) PERSISTENT,
			hid INT INVISIBLE DEFAULT 1,
			PRIMARY KEY (id),
			UNIQUE KEY u_code (code),
			UNIQUE KEY u_alt (alt),
			UNIQUE KEY u_two (pa, code),
			UNIQUE KEY u_virt (v),
			KEY k_name (Name),
			CONSTRAINT fk_parent FOREIGN KEY (pa, pb) REFERENCES s.parent (a, b)
		)`,
		"CREATE TABLE s.nokey (a INT, b TEXT)",
		"CREATE TABLE s.uonly (a INT NULL, b INT NOT NULL, UNIQUE KEY ua (a), UNIQUE KEY ub (b))",
	); err != nil {
		t.Fatal(err)
	}
	c, err := srv.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	tbl, err := tableschema.Load(c, "s", "child")
	if err != nil {
		t.Fatal(err)
	}
	type colWant struct {
		name, dataType, charset string
		unsigned, nullable      bool
		generated, invisible    bool
	}
	want := []colWant{
		{"id", "bigint", "", true, false, false, false},
		{"pa", "int", "", false, false, false, false},
		{"pb", "varchar", "utf8mb4", false, false, false, false},
		{"Name", "varchar", "latin1", false, true, false, false},
		{"code", "char", "ascii", false, false, false, false},
		{"alt", "int", "", false, true, false, false},
		{"j", "longtext", "utf8mb4", false, true, false, false}, // MariaDB: JSON is LONGTEXT
		{"bin", "binary", "", false, false, false, false},
		{"ts", "timestamp", "", false, false, false, false},
		{"v", "int", "", false, true, true, false},
		{"st", "varchar", "utf8mb4", false, true, true, false},
		{"hid", "int", "", false, true, false, true},
	}
	if len(tbl.Columns) != len(want) {
		t.Fatalf("%d columns: %+v", len(tbl.Columns), tbl.Columns)
	}
	for i, w := range want {
		c := tbl.Columns[i]
		got := colWant{c.Name, c.DataType, c.Charset, c.Unsigned, c.Nullable, c.Generated, c.Invisible}
		if got != w || c.Ordinal != i {
			t.Errorf("column %d: got %+v, want %+v", i, got, w)
		}
	}
	if tbl.Columns[7].OctetLength != 16 || tbl.Columns[8].FSP != 3 || tbl.Columns[3].Collation != "latin1_general_cs" {
		t.Errorf("details: %+v %+v %+v", tbl.Columns[7], tbl.Columns[8], tbl.Columns[3])
	}
	if !reflect.DeepEqual(tbl.PrimaryKey, []int{0}) {
		t.Errorf("primary key %v", tbl.PrimaryKey)
	}
	var uks []string
	for _, k := range tbl.UniqueKeys {
		uks = append(uks, k.Name)
	}
	if !reflect.DeepEqual(uks, []string{"u_alt", "u_code", "u_virt", "u_two"}) {
		t.Errorf("unique keys %v", uks)
	}
	if len(tbl.ForeignKeys) != 1 {
		t.Fatalf("foreign keys %+v", tbl.ForeignKeys)
	}
	fk := tbl.ForeignKeys[0]
	if fk.Name != "fk_parent" || !reflect.DeepEqual(fk.Columns, []int{1, 2}) || fk.RefSchema != "s" ||
		fk.RefTable != "parent" || !reflect.DeepEqual(fk.RefColumns, []string{"a", "b"}) {
		t.Errorf("foreign key %+v", fk)
	}
	if i, ok := tbl.ColumnByName("NAME"); !ok || i != 3 {
		t.Errorf("ColumnByName(NAME) = %d %v", i, ok)
	}

	nk, err := tableschema.Load(c, "s", "nokey")
	if err != nil || nk.KeyColumns() != nil {
		t.Fatalf("nokey: %v %v", err, nk)
	}
	uo, err := tableschema.Load(c, "s", "uonly")
	if err != nil {
		t.Fatal(err)
	}
	if got := uo.KeyColumns(); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("uonly key %v (the nullable unique key must be skipped)", got)
	}
	if _, err := tableschema.Load(c, "s", "missing"); !errors.Is(err, tableschema.ErrNoTable) {
		t.Fatalf("missing table: %v", err)
	}
	if _, err := tableschema.Load(c, "nodb", "child"); !errors.Is(err, tableschema.ErrNoTable) {
		t.Fatalf("missing schema: %v", err)
	}

	// Foreign keys referencing a table, with their rules; prefix keys; WITHOUT OVERLAPS.
	if err := srv.Exec(ctx,
		"CREATE DATABASE s2",
		"CREATE TABLE s.p2 (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, t TEXT, KEY k_code (code, id), "+
			"UNIQUE KEY u_pfx (code(4)), UNIQUE KEY u_t (t))",
		"CREATE TABLE s2.c2 (id INT PRIMARY KEY, pcode VARCHAR(20), pid INT, "+
			"CONSTRAINT fk_c2 FOREIGN KEY (pcode, pid) REFERENCES s.p2 (code, id) ON DELETE CASCADE)",
		"CREATE TABLE s.c3 (id INT PRIMARY KEY, p INT, "+
			"CONSTRAINT fk_c3 FOREIGN KEY (p) REFERENCES s.p2 (id) ON UPDATE CASCADE ON DELETE SET NULL)",
		"CREATE TABLE s.per (id INT NOT NULL, s DATE NOT NULL, e DATE NOT NULL, PERIOD FOR pp (s, e), "+
			"UNIQUE KEY uo (id, pp WITHOUT OVERLAPS), UNIQUE KEY plain (id, e, s))",
	); err != nil {
		t.Fatal(err)
	}
	par, err := tableschema.Load(c, "s", "parent")
	if err != nil {
		t.Fatal(err)
	}
	if want := []tableschema.IncomingFK{{ChildSchema: "s", ChildTable: "child", Name: "fk_parent", Columns: []int{0, 1},
		DeleteRule: "RESTRICT", UpdateRule: "RESTRICT"}}; !reflect.DeepEqual(par.ReferencedBy, want) {
		t.Errorf("parent referenced by %+v", par.ReferencedBy)
	}
	pk2, err := tableschema.Load(c, "s", "p2")
	if err != nil {
		t.Fatal(err)
	}
	if want := []tableschema.IncomingFK{
		{ChildSchema: "s", ChildTable: "c3", Name: "fk_c3", Columns: []int{0}, DeleteRule: "SET NULL", UpdateRule: "CASCADE"},
		{ChildSchema: "s2", ChildTable: "c2", Name: "fk_c2", Columns: []int{1, 0}, DeleteRule: "CASCADE", UpdateRule: "RESTRICT"},
	}; !reflect.DeepEqual(pk2.ReferencedBy, want) {
		t.Errorf("p2 referenced by %+v", pk2.ReferencedBy)
	}
	prefixes := map[string][]int{}
	for _, k := range pk2.UniqueKeys {
		prefixes[k.Name] = k.Prefix
	}
	if !reflect.DeepEqual(prefixes, map[string][]int{"u_pfx": {4}, "u_t": nil}) || pk2.PrimaryKeyPrefix != nil {
		t.Errorf("prefixes %v, primary %v", prefixes, pk2.PrimaryKeyPrefix)
	}
	per, err := tableschema.Load(c, "s", "per")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range per.UniqueKeys {
		if k.WithoutOverlaps != (k.Name == "uo") || len(k.Columns) != 3 {
			t.Errorf("key %+v", k)
		}
	}

	// The cache reloads after invalidation and sees DDL.
	cache := tableschema.NewCache()
	p1, err := cache.Get(c, "s", "parent")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, "ALTER TABLE s.parent ADD COLUMN extra INT"); err != nil {
		t.Fatal(err)
	}
	if p, _ := cache.Get(c, "s", "parent"); p != p1 || len(p.Columns) != 2 {
		t.Fatal("cache should still hold the old definition")
	}
	cache.Invalidate("s", "parent")
	p2, err := cache.Get(c, "s", "parent")
	if err != nil || len(p2.Columns) != 3 {
		t.Fatalf("after invalidate: %v %+v", err, p2)
	}
}
