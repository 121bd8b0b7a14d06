package deptrack

import (
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values for the parser

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// TableRef names a table a statement reads or writes.
type TableRef struct{ Schema, Name string }

// parsers are tidb parsers, which are not safe for concurrent use.
var parsers = sync.Pool{New: func() any { return parser.New() }}

// StatementTables returns every table a statement-based DML statement reads or writes (schema-qualified, the
// unqualified ones in defaultSchema), when the statement's effects are bounded by those tables: one INSERT,
// REPLACE, UPDATE or DELETE (single or multi-table, with subqueries, INSERT ... SELECT, ON DUPLICATE KEY
// UPDATE) that calls no function outside a list of built-ins (a stored function or a sequence could write
// anywhere). ok is false for anything else, and whenever the tidb parser fails (it cannot parse much of
// MariaDB's syntax): the caller must then make the transaction a barrier. The statement is only analysed,
// never rewritten: the applier runs the original text.
//
// A name the target does not know as a table with a primary key (a temporary table, a CTE, a view) must make
// the transaction a barrier too: Extractor.TableKeys reports it.
func StatementTables(sql, defaultSchema string) (tables []TableRef, ok bool) {
	p := parsers.Get().(*parser.Parser)
	defer parsers.Put(p)
	stmts, _, err := p.Parse(sql, "", "")
	if err != nil || len(stmts) != 1 {
		return nil, false
	}
	switch stmts[0].(type) {
	case *ast.InsertStmt, *ast.UpdateStmt, *ast.DeleteStmt:
	default:
		return nil, false
	}
	v := &tableVisitor{schema: defaultSchema, ok: true}
	stmts[0].Accept(v)
	if !v.ok || len(v.tables) == 0 {
		return nil, false
	}
	return v.tables, true
}

type tableVisitor struct {
	schema string
	tables []TableRef
	ok     bool
}

func (v *tableVisitor) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.TableName:
		s := x.Schema.O
		if s == "" {
			s = v.schema
		}
		if s == "" {
			v.ok = false // no default schema: the name cannot be resolved
			return n, true
		}
		t := TableRef{Schema: s, Name: x.Name.O}
		for _, e := range v.tables {
			if strings.EqualFold(e.Schema, t.Schema) && strings.EqualFold(e.Name, t.Name) {
				return n, false
			}
		}
		v.tables = append(v.tables, t)
	case *ast.FuncCallExpr:
		if x.Schema.O != "" || !builtinFuncs[x.FnName.L] {
			v.ok = false
			return n, true
		}
	case *ast.WithClause, *ast.TableOptimizerHint, *ast.SetOprStmt:
		v.ok = false // CTEs (names that are no tables), set operations: keep it simple
		return n, true
	}
	return n, false
}

func (v *tableVisitor) Leave(n ast.Node) (ast.Node, bool) { return n, v.ok }

// builtinFuncs are functions that read and write nothing but their arguments (or the session state the
// binlog restores: time, RAND seeds, LAST_INSERT_ID).
var builtinFuncs = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`now current_timestamp localtime localtimestamp sysdate utc_timestamp utc_date utc_time
		curdate current_date curtime current_time unix_timestamp from_unixtime date time year month day dayofmonth
		dayofweek dayofyear hour minute second microsecond week weekday yearweek quarter monthname dayname
		date_add date_sub adddate subdate addtime subtime datediff timediff timestampdiff timestampadd
		date_format time_format str_to_date makedate maketime last_day to_days from_days to_seconds sec_to_time time_to_sec
		rand last_insert_id connection_id uuid uuid_short
		concat concat_ws if ifnull nullif coalesce greatest least isnull interval field elt find_in_set
		abs floor ceil ceiling round truncate mod sign pow power sqrt exp ln log log2 log10 pi sin cos tan
		lower upper lcase ucase substring substr substring_index left right length char_length character_length
		octet_length bit_length trim ltrim rtrim replace repeat reverse lpad rpad space insert locate instr position
		strcmp hex unhex conv bin oct ascii ord char format md5 sha sha1 sha2 crc32 to_base64 from_base64
		inet_aton inet_ntoa inet6_aton inet6_ntoa convert cast`) {
		builtinFuncs[f] = true
	}
}

// TableKeys appends to keys the keys that order a statement reading or writing tbl against every change of
// it: the wide key of each of its key spaces (unique keys, the table's own, foreign keys both ways). barrier
// reports a table the statement cannot be bounded on: no primary key (temporary tables, views and tables
// unknown to the target give no definition, and a view has no keys), or a referencing foreign key whose
// ON DELETE / ON UPDATE rule changes rows of other tables.
func (x *Extractor) TableKeys(keys []Key, tbl *tableschema.Table) (out []Key, barrier bool) {
	if tbl == nil || len(tbl.PrimaryKey) == 0 {
		return keys, true
	}
	p := x.plan(tbl)
	if p.cascadeDelete {
		return keys, true
	}
	for i := range p.foreign {
		if p.foreign[i].cascadeUpdate {
			return keys, true
		}
	}
	out = keys
	wide := func(s uint64) { out = append(out, Key{Hash: s, Space: s, Wide: true}) }
	for i := range p.unique {
		wide(p.unique[i].space)
	}
	for _, s := range p.alwaysWide {
		wide(s)
	}
	wide(p.star)
	for i := range p.foreign {
		wide(p.foreign[i].space)
	}
	return out, false
}
