package filter

import (
	"errors"
	"fmt"
	"strings"
)

// Rules are the filter options, named after MySQL's --replicate-* options and
// CHANGE REPLICATION FILTER. The zero value replicates everything except the
// `mysql` system schema and account management statements.
type Rules struct {
	DoDB            []string // replicate-do-db: database names
	IgnoreDB        []string // replicate-ignore-db: database names
	DoTable         []string // replicate-do-table: "db.table"
	IgnoreTable     []string // replicate-ignore-table: "db.table"
	WildDoTable     []string // replicate-wild-do-table: "db_pattern.table_pattern" with % and _
	WildIgnoreTable []string // replicate-wild-ignore-table: "db_pattern.table_pattern"
	RewriteDB       []string // replicate-rewrite-db: "from_db->to_db"
	// ReplicateSystemSchema replicates the `mysql` schema and account
	// management statements (CREATE USER, GRANT, ...). Off by default.
	ReplicateSystemSchema bool
}

// Empty reports whether the rules filter nothing but the system schema.
func (r Rules) Empty() bool {
	return len(r.DoDB)+len(r.IgnoreDB)+len(r.DoTable)+len(r.IgnoreTable)+len(r.WildDoTable)+
		len(r.WildIgnoreTable)+len(r.RewriteDB) == 0
}

// SystemSchema is the schema kept out unless Rules.ReplicateSystemSchema.
const SystemSchema = "mysql"

type tableName struct{ db, table string }

// compiled is the checked form of Rules.
type compiled struct {
	doDB, ignoreDB       map[string]bool
	doTable, ignoreTable map[tableName]bool
	wildDo, wildIgnore   []wildPattern
	rewrite              map[string]string
	system               bool
	anyTable, anyDoTable bool
}

// compile checks every rule and reports all problems at once.
func compile(r Rules) (*compiled, error) {
	var errs []error
	bad := func(option, v, why string) {
		errs = append(errs, fmt.Errorf("%w: %s=%q: %s", ErrRule, option, v, why))
	}
	c := &compiled{doDB: map[string]bool{}, ignoreDB: map[string]bool{}, doTable: map[tableName]bool{},
		ignoreTable: map[tableName]bool{}, rewrite: map[string]string{}, system: r.ReplicateSystemSchema}
	for _, l := range []struct {
		option string
		in     []string
		out    map[string]bool
	}{{"replicate_do_db", r.DoDB, c.doDB}, {"replicate_ignore_db", r.IgnoreDB, c.ignoreDB}} {
		for _, v := range l.in {
			if strings.TrimSpace(v) == "" {
				bad(l.option, v, "give a database name")
				continue
			}
			if strings.Contains(v, ",") {
				bad(l.option, v, "one database per entry (MySQL does not split on commas either): list each database separately")
				continue
			}
			l.out[v] = true
		}
	}
	for _, l := range []struct {
		option string
		in     []string
		out    map[tableName]bool
	}{{"replicate_do_table", r.DoTable, c.doTable}, {"replicate_ignore_table", r.IgnoreTable, c.ignoreTable}} {
		for _, v := range l.in {
			db, tbl, ok := strings.Cut(v, ".")
			if !ok || db == "" || tbl == "" || strings.Contains(tbl, ".") {
				bad(l.option, v, "write db_name.table_name")
				continue
			}
			l.out[tableName{db, tbl}] = true
		}
	}
	for _, l := range []struct {
		option string
		in     []string
		out    *[]wildPattern
	}{{"replicate_wild_do_table", r.WildDoTable, &c.wildDo}, {"replicate_wild_ignore_table", r.WildIgnoreTable, &c.wildIgnore}} {
		for _, v := range l.in {
			p, err := parseWild(v)
			if err != nil {
				bad(l.option, v, err.Error())
				continue
			}
			*l.out = append(*l.out, p)
		}
	}
	for _, v := range r.RewriteDB {
		from, to, ok := strings.Cut(v, "->")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		switch {
		case !ok || from == "" || to == "":
			bad("replicate_rewrite_db", v, "write from_db->to_db")
		case c.rewrite[from] != "" && c.rewrite[from] != to:
			bad("replicate_rewrite_db", v, fmt.Sprintf("%s is already rewritten to %s: keep one rule per database", from, c.rewrite[from]))
		default:
			c.rewrite[from] = to
		}
	}
	c.anyDoTable = len(c.doTable)+len(c.wildDo) > 0
	c.anyTable = c.anyDoTable || len(c.ignoreTable)+len(c.wildIgnore) > 0
	return c, errors.Join(errs...)
}

// rewriteDB applies replicate-rewrite-db.
func (c *compiled) rewriteDB(db string) string {
	if to, ok := c.rewrite[db]; ok {
		return to
	}
	return db
}

// dbAllowed is the database-level rule (step 2), on an already rewritten name.
func (c *compiled) dbAllowed(db string) bool {
	if !c.system && db == SystemSchema {
		return false
	}
	if len(c.doDB) > 0 {
		return c.doDB[db]
	}
	return !c.ignoreDB[db]
}

// tableAllowed is the whole row-based decision (steps 2 and 3) on a rewritten name.
func (c *compiled) tableAllowed(db, table string) bool {
	if !c.dbAllowed(db) {
		return false
	}
	if !c.anyTable {
		return true
	}
	t := tableName{db, table}
	if c.doTable[t] {
		return true
	}
	if c.ignoreTable[t] {
		return false
	}
	for _, p := range c.wildDo {
		if p.match(db, table) {
			return true
		}
	}
	for _, p := range c.wildIgnore {
		if p.match(db, table) {
			return false
		}
	}
	return !c.anyDoTable
}

// wildPattern is a replicate-wild-*-table pattern, split at its first
// unescaped dot.
type wildPattern struct{ db, table []rune }

func parseWild(v string) (wildPattern, error) {
	rs := []rune(v)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '\\':
			i++
		case '.':
			if i == 0 || i == len(rs)-1 {
				return wildPattern{}, errors.New("write db_pattern.table_pattern, e.g. app%.% or app.log\\_%")
			}
			return wildPattern{db: rs[:i], table: rs[i+1:]}, nil
		}
	}
	return wildPattern{}, errors.New("no dot: write db_pattern.table_pattern, e.g. app%.%")
}

func (p wildPattern) match(db, table string) bool {
	return wildMatch(p.db, []rune(db)) && wildMatch(p.table, []rune(table))
}

// wildMatch matches s against a LIKE-style pattern: % any sequence, _ one
// character, \ escapes the next character; letters compare case-insensitively.
func wildMatch(p, s []rune) bool {
	// Iterative matching with backtracking to the last %.
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			c, esc := p[pi], false
			if c == '\\' && pi+1 < len(p) {
				c, esc = p[pi+1], true
			}
			switch {
			case !esc && c == '%':
				starP, starS = pi, si
				pi++
				continue
			case (!esc && c == '_') || foldEq(c, s[si]):
				si++
				if esc {
					pi += 2
				} else {
					pi++
				}
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		si, pi = starS, starP+1
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

func foldEq(a, b rune) bool {
	return a == b || strings.EqualFold(string(a), string(b))
}
