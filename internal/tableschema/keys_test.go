package tableschema

import (
	"reflect"
	"strings"
	"testing"
)

// keysServer has prefix keys, a functional key, incoming foreign keys and a WITHOUT OVERLAPS key.
func keysServer() *fakeServer {
	return &fakeServer{
		columns: map[string][][]any{
			"db.p": {
				col("id", 1, "int", "int(11)", "NO", nil, nil, "", nil, nil),
				col("name", 2, "varchar", "varchar(40)", "NO", "utf8mb4", "utf8mb4_general_ci", "", 160, nil),
				col("code", 3, "varbinary", "varbinary(16)", "YES", nil, nil, "", 16, nil),
				col("s", 4, "date", "date", "NO", nil, nil, "", nil, nil),
				col("e", 5, "date", "date", "NO", nil, nil, "", nil, nil),
			},
		},
		indexes: map[string][][]any{
			"db.p": {
				{"PRIMARY", 0, 1, "id"},
				{"PRIMARY", 0, 2, "name", 8},
				{"u_code", 0, 1, "code", 4},
				{"u_fn", 0, 1, nil},
				{"u_name", 0, 1, "name"},
				{"u_period", 0, 1, "id"},
				{"u_period", 0, 2, "e"},
				{"u_period", 0, 3, "s"},
			},
		},
		refs: map[string][][]any{
			"db.p": {
				{"fk_a", "db", "c1", "name", "CASCADE", "RESTRICT"},
				{"fk_a", "db", "c1", "id", "CASCADE", "RESTRICT"},
				{"fk_a", "other", "c1", "id", "NO ACTION", "SET NULL"}, // same name, other schema
				{"fk_b", "db", "c2", "code", "RESTRICT", "NO ACTION"},
			},
		},
		creates: map[string]string{
			"db.p": "CREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  PERIOD FOR `pp` (`s`, `e`),\n" +
				"  PRIMARY KEY (`id`,`name`(8)),\n  UNIQUE KEY `u_period` (`id`,`pp` WITHOUT OVERLAPS)\n) ENGINE=InnoDB",
		},
	}
}

func TestLoadKeysAndReferences(t *testing.T) {
	srv := keysServer()
	tbl, err := Load(srv, "db", "p")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tbl.PrimaryKey, []int{0, 1}) || !reflect.DeepEqual(tbl.PrimaryKeyPrefix, []int{0, 8}) ||
		tbl.PrimaryKeyWithoutOverlaps {
		t.Errorf("primary key %v prefix %v overlaps %v", tbl.PrimaryKey, tbl.PrimaryKeyPrefix, tbl.PrimaryKeyWithoutOverlaps)
	}
	byName := map[string]Index{}
	for _, k := range tbl.UniqueKeys {
		byName[k.Name] = k
	}
	if k := byName["u_code"]; !reflect.DeepEqual(k.Prefix, []int{4}) || k.WithoutOverlaps {
		t.Errorf("u_code %+v", k)
	}
	if k := byName["u_name"]; k.Prefix != nil || k.WithoutOverlaps {
		t.Errorf("u_name %+v", k)
	}
	if k := byName["u_period"]; !reflect.DeepEqual(k.Columns, []int{0, 4, 3}) || !k.WithoutOverlaps {
		t.Errorf("u_period %+v", k)
	}
	if !reflect.DeepEqual(tbl.FunctionalUniqueKeys, []string{"u_fn"}) {
		t.Errorf("functional keys %v", tbl.FunctionalUniqueKeys)
	}
	want := []IncomingFK{
		{ChildSchema: "db", ChildTable: "c1", Name: "fk_a", Columns: []int{1, 0}, UpdateRule: "CASCADE", DeleteRule: "RESTRICT"},
		{ChildSchema: "other", ChildTable: "c1", Name: "fk_a", Columns: []int{0}, UpdateRule: "NO ACTION", DeleteRule: "SET NULL"},
		{ChildSchema: "db", ChildTable: "c2", Name: "fk_b", Columns: []int{2}, UpdateRule: "RESTRICT", DeleteRule: "NO ACTION"},
	}
	if !reflect.DeepEqual(tbl.ReferencedBy, want) {
		t.Errorf("referenced by\n got %+v\nwant %+v", tbl.ReferencedBy, want)
	}
	casc := func(fk IncomingFK) [2]bool { return [2]bool{fk.CascadesDelete(), fk.CascadesUpdate()} }
	if got := [3][2]bool{casc(want[0]), casc(want[1]), casc(want[2])}; got != [3][2]bool{{false, true}, {true, false}, {false, false}} {
		t.Errorf("cascades %v", got)
	}
	if (&IncomingFK{DeleteRule: "set default"}).CascadesDelete() != true || (&IncomingFK{UpdateRule: "weird"}).CascadesUpdate() != true {
		t.Error("SET DEFAULT and unknown rules must count as cascading")
	}

	// A referencing key naming a column the parent lacks is an error.
	srv.refs["db.p"] = append(srv.refs["db.p"], []any{"fk_c", "db", "c3", "nope", "RESTRICT", "RESTRICT"})
	if _, err := Load(srv, "db", "p"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("got %v", err)
	}
}

func TestWithoutOverlapsParsing(t *testing.T) {
	cases := []struct {
		create string
		names  []string
		all    bool
	}{
		{"CREATE TABLE `t` (\n  UNIQUE KEY `a``b` (`id`,`p` WITHOUT OVERLAPS)\n)", []string{"a`b"}, false},
		{"CREATE TABLE `t` (\n  PRIMARY KEY (`id`,`p` WITHOUT OVERLAPS),\n  KEY `x` (`id`)\n)", []string{"PRIMARY"}, false},
		{"CREATE TABLE `t` (\n  UNIQUE KEY broken (`id`,`p` WITHOUT OVERLAPS)\n)", nil, true},
		{"CREATE TABLE `t` (\n  UNIQUE KEY `u` (`id`,`s`,`e`)\n)", nil, false},
	}
	for _, c := range cases {
		names, all := withoutOverlapsKeys(c.create)
		var got []string
		for n := range names {
			got = append(got, n)
		}
		if all != c.all || (len(c.names) > 0 && !reflect.DeepEqual(got, c.names)) || (len(c.names) == 0 && len(got) > 0 && !all) {
			t.Errorf("%q: got %v %v, want %v %v", c.create, got, all, c.names, c.all)
		}
	}
}

// Without a WITHOUT OVERLAPS in SHOW CREATE TABLE, a key ending in two dates stays a plain unique key; with a
// SHOW CREATE TABLE that fails, Load fails (it cannot tell).
func TestWithoutOverlapsPlainKey(t *testing.T) {
	srv := keysServer()
	srv.creates["db.p"] = "CREATE TABLE `p` (\n  UNIQUE KEY `u_period` (`id`,`e`,`s`)\n)"
	tbl, err := Load(srv, "db", "p")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range tbl.UniqueKeys {
		if k.WithoutOverlaps {
			t.Errorf("%s marked WITHOUT OVERLAPS", k.Name)
		}
	}
	// A WITHOUT OVERLAPS key whose name matches no key: every candidate is marked.
	srv.creates["db.p"] = "CREATE TABLE `p` (\n  UNIQUE KEY `other` (`id`,`pp` WITHOUT OVERLAPS)\n)"
	if tbl, err = Load(srv, "db", "p"); err != nil {
		t.Fatal(err)
	}
	for _, k := range tbl.UniqueKeys {
		if k.WithoutOverlaps != (k.Name == "u_period") {
			t.Errorf("%s: WithoutOverlaps=%v", k.Name, k.WithoutOverlaps)
		}
	}
	delete(srv.creates, "db.p")
	if _, err := Load(srv, "db", "p"); err == nil {
		t.Fatal("want an error when SHOW CREATE TABLE fails")
	}
}

func TestValidateReferencedBy(t *testing.T) {
	tb := &Table{Columns: []Column{{Name: "a"}}, ReferencedBy: []IncomingFK{{Name: "f", Columns: []int{3}}}}
	tb.Init()
	if err := tb.validate(); err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Fatalf("got %v", err)
	}
}
