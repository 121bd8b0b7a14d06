package tableschema

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// fakeServer answers the three information_schema queries from canned rows keyed by schema.table.
type fakeServer struct {
	mu      sync.Mutex
	columns map[string][][]any
	indexes map[string][][]any
	fks     map[string][][]any
	refs    map[string][][]any // referencedByQuery rows
	creates map[string]string  // SHOW CREATE TABLE text, by "schema.table"
	calls   int
	onCall  func() // runs inside Execute (before answering), for race tests
}

func (f *fakeServer) Execute(command string, args ...interface{}) (*mysql.Result, error) {
	f.mu.Lock()
	f.calls++
	hook := f.onCall
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	if create, ok := strings.CutPrefix(command, "SHOW CREATE TABLE "); ok && len(args) == 0 {
		key := strings.ReplaceAll(create, "`", "")
		text, ok := f.creates[key]
		if !ok {
			return nil, fmt.Errorf("no table %s", key)
		}
		return result(2, [][]any{{key, text}}), nil
	}
	if len(args) != 2 {
		return nil, fmt.Errorf("want 2 args, got %d", len(args))
	}
	key := fmt.Sprint(args[0], ".", args[1])
	switch command {
	case columnsQuery:
		return result(10, f.columns[key]), nil
	case indexQuery:
		return result(5, f.indexes[key]), nil
	case fkQuery:
		return result(6, f.fks[key]), nil
	case referencedByQuery:
		return result(6, f.refs[key]), nil
	}
	return nil, fmt.Errorf("unexpected query %q", command)
}

func result(ncols int, rows [][]any) *mysql.Result {
	rs := mysql.NewResultset(ncols)
	for i := range rs.Fields {
		rs.Fields[i] = &mysql.Field{Name: []byte(fmt.Sprint("c", i))}
	}
	for _, row := range rows {
		vals := make([]mysql.FieldValue, ncols)
		for i, v := range row {
			switch v := v.(type) {
			case nil:
				vals[i] = mysql.NewFieldValue(mysql.FieldValueTypeNull, 0, nil)
			case int:
				vals[i] = mysql.NewFieldValue(mysql.FieldValueTypeSigned, uint64(int64(v)), nil)
			case string:
				vals[i] = mysql.NewFieldValue(mysql.FieldValueTypeString, 0, []byte(v))
			default:
				panic(fmt.Sprintf("bad cell %T", v))
			}
		}
		rs.Values = append(rs.Values, vals)
	}
	return mysql.NewResult(rs)
}

// col builds a COLUMNS row: name, ordinal, data type, column type, nullable, charset, collation, extra, octets, fsp.
func col(name string, ord int, dt, ct, null string, cs, coll any, extra string, octets, fsp any) []any {
	return []any{name, ord, dt, ct, null, cs, coll, extra, octets, fsp}
}

func mariadbServer() *fakeServer {
	return &fakeServer{
		columns: map[string][][]any{
			"db.t": {
				col("id", 1, "int", "int(11)", "NO", nil, nil, "", nil, nil),
				col("b", 2, "varbinary", "varbinary(4)", "YES", nil, nil, "", 4, nil),
				col("j", 3, "longtext", "longtext", "YES", "utf8mb4", "utf8mb4_bin", "", 4294967295, nil),
				col("v", 4, "int", "int(11)", "YES", nil, nil, "VIRTUAL GENERATED", nil, nil),
				col("s", 5, "int", "int(11)", "YES", nil, nil, "STORED GENERATED", nil, nil),
				col("i", 6, "int", "int(11)", "YES", nil, nil, "INVISIBLE", nil, nil),
				col("t", 7, "timestamp", "timestamp(3)", "YES", nil, nil, "on update current_timestamp(3)", nil, 3),
				col("c", 8, "char", "char(3)", "YES", "utf8mb3", "utf8mb3_general_ci", "", 9, nil),
				col("u", 9, "int", "int(10) unsigned", "NO", nil, nil, "", nil, nil),
				col("bin", 10, "BINARY", "binary(4)", "NO", "binary", "binary", "", 4, nil),
			},
			"db.nokey": {
				col("a", 1, "float", "float", "YES", nil, nil, "", nil, nil),
				col("x", 2, "int", "int(11)", "NO", nil, nil, "DEFAULT_GENERATED", nil, nil),
				col("p", 3, "int", "int(11)", "YES", nil, nil, "PERSISTENT", nil, nil),
			},
		},
		indexes: map[string][][]any{
			"db.t": {
				{"PRIMARY", 0, 1, "id"},
				{"uk_zz", 0, 1, "u"},
				{"uk_a", 0, 1, "c"},
				{"uk_a", 0, 2, "u"},
				{"uk_fn", 0, 1, nil}, // functional key part (MySQL 8)
				{"uk_b", 0, 1, "U"},  // names are case-insensitive
			},
		},
		fks: map[string][][]any{
			"db.t": {
				{"fk1", "u", 1, "db", "parent", "pid"},
				{"fk2", "c", 1, "db", "p2", "x"},
				{"fk2", "u", 2, "db", "p2", "y"},
			},
		},
	}
}

func TestLoadMariaDB(t *testing.T) {
	srv := mariadbServer()
	tbl, err := Load(srv, "db", "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.Columns) != 10 {
		t.Fatalf("columns: %d", len(tbl.Columns))
	}
	want := []struct {
		name             string
		gen, inv, uns, n bool
		cs               string
	}{
		{"id", false, false, false, false, ""},
		{"b", false, false, false, true, ""},
		{"j", false, false, false, true, "utf8mb4"},
		{"v", true, false, false, true, ""},
		{"s", true, false, false, true, ""},
		{"i", false, true, false, true, ""},
		{"t", false, false, false, true, ""},
		{"c", false, false, false, true, "utf8mb3"},
		{"u", false, false, true, false, ""},
		{"bin", false, false, false, false, ""},
	}
	for i, w := range want {
		c := tbl.Columns[i]
		if c.Name != w.name || c.Ordinal != i || c.Generated != w.gen || c.Invisible != w.inv || c.Unsigned != w.uns ||
			c.Nullable != w.n || c.Charset != w.cs {
			t.Errorf("column %d: got %+v, want %+v", i, c, w)
		}
	}
	if tbl.Columns[9].DataType != "binary" || !tbl.Columns[9].IsBinaryString() || tbl.Columns[9].OctetLength != 4 {
		t.Errorf("binary column: %+v", tbl.Columns[9])
	}
	if tbl.Columns[6].FSP != 3 {
		t.Errorf("fsp: %+v", tbl.Columns[6])
	}
	if !reflect.DeepEqual(tbl.PrimaryKey, []int{0}) {
		t.Errorf("primary key %v", tbl.PrimaryKey)
	}
	var names []string
	for _, k := range tbl.UniqueKeys {
		names = append(names, fmt.Sprint(k.Name, k.Columns))
	}
	if got := strings.Join(names, " "); got != "uk_b[8] uk_zz[8] uk_a[7 8]" {
		t.Errorf("unique keys: %s", got)
	}
	if len(tbl.ForeignKeys) != 2 || !reflect.DeepEqual(tbl.ForeignKeys[1].Columns, []int{7, 8}) ||
		!reflect.DeepEqual(tbl.ForeignKeys[1].RefColumns, []string{"x", "y"}) || tbl.ForeignKeys[0].RefTable != "parent" {
		t.Errorf("foreign keys: %+v", tbl.ForeignKeys)
	}
	if got := tbl.KeyColumns(); !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("KeyColumns %v", got)
	}
	if i, ok := tbl.ColumnByName("BiN"); !ok || i != 9 {
		t.Errorf("ColumnByName: %d %v", i, ok)
	}
	if _, ok := tbl.ColumnByName("nope"); ok {
		t.Error("ColumnByName found a missing column")
	}

	nk, err := Load(srv, "db", "nokey")
	if err != nil {
		t.Fatal(err)
	}
	if nk.KeyColumns() != nil || nk.PrimaryKey != nil {
		t.Errorf("nokey: key %v", nk.KeyColumns())
	}
	if nk.Columns[1].Generated || !nk.Columns[2].Generated {
		t.Errorf("DEFAULT_GENERATED/PERSISTENT: %+v", nk.Columns)
	}
}

func TestLoadMissingTable(t *testing.T) {
	_, err := Load(mariadbServer(), "db", "missing")
	if !errors.Is(err, ErrNoTable) {
		t.Fatalf("want ErrNoTable, got %v", err)
	}
	var nt *NoTableError
	if !errors.As(err, &nt) || nt.Table != "missing" || !strings.Contains(err.Error(), "db.missing") {
		t.Fatalf("error %v", err)
	}
}

func TestLoadBadOrdinal(t *testing.T) {
	srv := &fakeServer{columns: map[string][][]any{"db.t": {col("a", 2, "int", "int", "NO", nil, nil, "", nil, nil)}}}
	if _, err := Load(srv, "db", "t"); err == nil || !strings.Contains(err.Error(), "ORDINAL_POSITION") {
		t.Fatalf("got %v", err)
	}
	srv = &fakeServer{
		columns: map[string][][]any{"db.t": {col("a", 1, "int", "int", "NO", nil, nil, "", nil, nil)}},
		indexes: map[string][][]any{"db.t": {{"PRIMARY", 0, 1, "b"}}},
	}
	if _, err := Load(srv, "db", "t"); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("got %v", err)
	}
}

func TestKeyColumns(t *testing.T) {
	cols := func(nullable ...bool) []Column {
		var cs []Column
		for i, n := range nullable {
			cs = append(cs, Column{Name: fmt.Sprint("c", i), Nullable: n})
		}
		return cs
	}
	cases := []struct {
		name string
		t    Table
		want []int
	}{
		{"pk", Table{Columns: cols(false, false), PrimaryKey: []int{1}, UniqueKeys: []Index{{Columns: []int{0}, Unique: true}}}, []int{1}},
		{"unique not null", Table{Columns: cols(true, false), UniqueKeys: []Index{{Columns: []int{0}}, {Columns: []int{1}}}}, []int{1}},
		{"only nullable unique", Table{Columns: cols(true, true), UniqueKeys: []Index{{Columns: []int{0, 1}}}}, nil},
		{"none", Table{Columns: cols(false)}, nil},
		{"generated pk", Table{Columns: []Column{{Name: "a"}, {Name: "g", Generated: true}}, PrimaryKey: []int{1},
			UniqueKeys: []Index{{Columns: []int{0}}}}, []int{0}},
		{"bad ordinal", Table{Columns: cols(false), UniqueKeys: []Index{{Columns: []int{5}}}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.t.KeyColumns(); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestInitAndColumnByName(t *testing.T) {
	tb := &Table{Columns: []Column{{Name: "Id"}, {Name: "ÄBC"}}}
	if i, ok := tb.ColumnByName("äbc"); !ok || i != 1 {
		t.Fatalf("scan: %d %v", i, ok)
	}
	tb.Init()
	if i, ok := tb.ColumnByName("ID"); !ok || i != 0 {
		t.Fatalf("index: %d %v", i, ok)
	}
	if tb.Columns[1].Ordinal != 1 {
		t.Fatal("ordinal not set")
	}
	if tb.String() != "." {
		t.Fatal(tb.String())
	}
}

func TestCache(t *testing.T) {
	srv := mariadbServer()
	var c Cache
	t1, err := c.Get(srv, "db", "t")
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.calls
	t2, err := c.Get(srv, "db", "t")
	if err != nil || t1 != t2 || srv.calls != calls {
		t.Fatalf("second Get should hit: %v %v %d/%d", err, t1 == t2, srv.calls, calls)
	}
	if _, err := c.Get(srv, "db", "missing"); !errors.Is(err, ErrNoTable) {
		t.Fatal(err)
	}
	if _, err := c.Get(srv, "db", "nokey"); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Fatalf("len %d", c.Len())
	}
	c.Invalidate("db", "t")
	if c.Len() != 1 {
		t.Fatalf("len %d", c.Len())
	}
	t3, _ := c.Get(srv, "db", "t")
	if t3 == t1 {
		t.Fatal("Invalidate did not reload")
	}
	c.InvalidateSchema("other")
	if c.Len() != 2 {
		t.Fatalf("len %d", c.Len())
	}
	c.InvalidateSchema("db")
	if c.Len() != 0 {
		t.Fatalf("len %d", c.Len())
	}
	c.Put(t3)
	c.InvalidateAll()
	if c.Len() != 0 {
		t.Fatalf("len %d", c.Len())
	}
}

// An invalidation while a load is in flight must keep the loaded (possibly stale) definition out of the cache.
func TestCacheInvalidateDuringLoad(t *testing.T) {
	srv := mariadbServer()
	c := NewCache()
	once := sync.Once{}
	srv.onCall = func() { once.Do(func() { c.Invalidate("db", "t") }) }
	if _, err := c.Get(srv, "db", "t"); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatal("stale definition cached")
	}
	srv.onCall = nil
	if _, err := c.Get(srv, "db", "t"); err != nil || c.Len() != 1 {
		t.Fatalf("%v %d", err, c.Len())
	}
}

func TestCacheConcurrent(t *testing.T) {
	srv := mariadbServer()
	c := NewCache()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if _, err := c.Get(srv, "db", "t"); err != nil {
					t.Error(err)
					return
				}
				if j%10 == i {
					c.InvalidateAll()
				}
			}
		}(i)
	}
	wg.Wait()
}
