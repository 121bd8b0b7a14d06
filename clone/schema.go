package clone

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
)

// listSchemas returns the source's schemas to clone: every user schema when want is empty, else want (each must exist).
func listSchemas(c *client.Conn, want []string, progressSchema string) ([]string, error) {
	rows, err := queryRows(c, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, fmt.Errorf("list source schemas: %w", err)
	}
	var all []string
	for _, r := range rows {
		if !isSystemSchema(r[0], progressSchema) {
			all = append(all, r[0])
		}
	}
	if len(want) == 0 {
		return all, nil
	}
	for _, w := range want {
		if !slices.Contains(all, w) {
			return nil, fmt.Errorf("schema %q does not exist on the source", w)
		}
	}
	return want, nil
}

// sourceTable is a base table of the source.
type sourceTable struct {
	db, name string
	estRows  int64
}

// listTables returns the base tables of the schemas, largest first (by the statistics' row estimate), so the
// long tables start early.
func listTables(c *client.Conn, schemas []string) ([]sourceTable, error) {
	if len(schemas) == 0 {
		return nil, nil
	}
	lits := make([]string, len(schemas))
	for i, s := range schemas {
		lits[i] = quoteString(s)
	}
	rows, err := queryRows(c, "SELECT TABLE_SCHEMA, TABLE_NAME, IFNULL(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN ("+
		strings.Join(lits, ",")+") ORDER BY TABLE_ROWS DESC, TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, fmt.Errorf("list source tables: %w", err)
	}
	out := make([]sourceTable, len(rows))
	for i, r := range rows {
		out[i] = sourceTable{db: r[0], name: r[1]}
		fmt.Sscan(r[2], &out[i].estRows)
	}
	return out, nil
}

func showCreateDatabase(c *client.Conn, db string) (string, error) {
	rows, err := queryRows(c, "SHOW CREATE DATABASE "+quoteIdent(db))
	if err != nil || len(rows) != 1 || len(rows[0]) < 2 {
		return "", fmt.Errorf("SHOW CREATE DATABASE %s: %v", db, err)
	}
	return strings.Replace(rows[0][1], "CREATE DATABASE", "CREATE DATABASE IF NOT EXISTS", 1), nil
}

func showCreateTable(c *client.Conn, db, name string) (string, error) {
	rows, err := queryRows(c, "SHOW CREATE TABLE "+quoteIdent(db)+"."+quoteIdent(name))
	if err != nil {
		return "", fmt.Errorf("SHOW CREATE TABLE %s.%s: %w", db, name, err)
	}
	if len(rows) != 1 || len(rows[0]) < 2 {
		return "", fmt.Errorf("SHOW CREATE TABLE %s.%s: no result", db, name)
	}
	return rows[0][1], nil
}

var (
	secondaryKeyLine = regexp.MustCompile("^\\s*(UNIQUE KEY|KEY|FULLTEXT KEY|SPATIAL KEY|VECTOR KEY|UNIQUE INDEX|INDEX) ")
	autoIncColumn    = regexp.MustCompile("^\\s*(`(?:[^`]|``)+`) .* AUTO_INCREMENT")
)

// splitSecondaryIndexes returns create without its secondary indexes and the ADD clauses that add them back. A
// key that starts with the AUTO_INCREMENT column stays (the table needs one to exist), and so does a key with a
// WITHOUT OVERLAPS period.
func splitSecondaryIndexes(create string) (string, []string) {
	lines := strings.Split(create, "\n")
	if len(lines) < 3 {
		return create, nil
	}
	end := -1
	for i := len(lines) - 1; i > 0; i-- {
		if strings.HasPrefix(lines[i], ")") {
			end = i
			break
		}
	}
	if end < 0 {
		return create, nil
	}
	var auto string
	body := make([]string, 0, end-1)
	for _, l := range lines[1:end] {
		l = strings.TrimSuffix(l, ",")
		if m := autoIncColumn.FindStringSubmatch(l); m != nil && !secondaryKeyLine.MatchString(l) {
			auto = m[1]
		}
		body = append(body, l)
	}
	var kept, deferred []string
	for _, l := range body {
		if secondaryKeyLine.MatchString(l) && !strings.Contains(l, "WITHOUT OVERLAPS") &&
			(auto == "" || !strings.Contains(l, "("+auto)) {
			deferred = append(deferred, "ADD "+strings.TrimSpace(l))
			continue
		}
		kept = append(kept, l)
	}
	if len(deferred) == 0 {
		return create, nil
	}
	out := append([]string{lines[0]}, strings.Join(kept, ",\n"))
	out = append(out, lines[end:]...)
	return strings.Join(out, "\n"), deferred
}

// indexName returns the name of the index an ADD clause adds ("" if unnamed).
func indexName(add string) string {
	i := strings.IndexByte(add, '`')
	if i < 0 {
		return ""
	}
	rest := add[i+1:]
	var b strings.Builder
	for j := 0; j < len(rest); j++ {
		if rest[j] == '`' {
			if j+1 < len(rest) && rest[j+1] == '`' {
				b.WriteByte('`')
				j++
				continue
			}
			return b.String()
		}
		b.WriteByte(rest[j])
	}
	return ""
}

// existingTables returns which of the tables exist on the target.
func existingTables(c *client.Conn, tables []sourceTable) ([]string, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	dbs := map[string]bool{}
	for _, t := range tables {
		dbs[t.db] = true
	}
	lits := make([]string, 0, len(dbs))
	for d := range dbs {
		lits = append(lits, quoteString(d))
	}
	rows, err := queryRows(c, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ("+strings.Join(lits, ",")+")")
	if err != nil {
		return nil, fmt.Errorf("list target tables: %w", err)
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r[0]+"."+r[1]] = true
	}
	var out []string
	for _, t := range tables {
		if have[t.db+"."+t.name] {
			out = append(out, t.db+"."+t.name)
		}
	}
	return out, nil
}

// missingIndexes returns the deferred ADD clauses whose index the target table does not have yet.
func missingIndexes(c *client.Conn, t *tableRow) ([]string, error) {
	rows, err := queryRows(c, "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "+
		quoteString(t.db)+" AND TABLE_NAME = "+quoteString(t.name))
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s: %w", t, err)
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[strings.ToLower(r[0])] = true
	}
	var out []string
	for _, add := range t.deferred {
		if n := indexName(add); n == "" || !have[strings.ToLower(n)] {
			out = append(out, add)
		}
	}
	return out, nil
}
