package mariadbtest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/client"
)

// systemSchemas are never compared when Compare is given no schemas. "mtreplica" is the engine's own schema on the
// target (progress table), which the source does not have.
var systemSchemas = []string{"mysql", "information_schema", "performance_schema", "sys", "mtreplica"}

// DiffError lists the differences Compare found, one per line, sorted, each starting with schema or schema.table.
type DiffError struct {
	Diffs []string
}

func (e *DiffError) Error() string {
	return fmt.Sprintf("%d difference(s) between source and target:\n  %s", len(e.Diffs), strings.Join(e.Diffs, "\n  "))
}

// tableState is what Compare checks of one table.
type tableState struct {
	columns  string // name type [collation] [NOT NULL], in ordinal order
	rows     string // COUNT(*)
	checksum string // CHECKSUM TABLE ... EXTENDED: a sum over rows, so row order and duplicates are handled
}

// Compare verifies that target holds the same data as source in every base table of the given schemas (every
// non-system schema of either server when none are given): the same schemas and tables, the same columns, the same
// row counts and the same CHECKSUM TABLE ... EXTENDED. Both servers should be quiescent. The returned error is a
// *DiffError listing every difference, or a query error.
func Compare(ctx context.Context, source, target *Server, schemas ...string) error {
	if len(schemas) == 0 {
		var err error
		if schemas, err = userSchemas(ctx, source, target); err != nil {
			return err
		}
	}
	var (
		wg      sync.WaitGroup
		states  [2]map[string]map[string]tableState // schema -> table -> state; a missing schema is absent
		errs    [2]error
		servers = [2]*Server{source, target}
	)
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i], errs[i] = snapshot(ctx, servers[i], schemas)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("compare: read %s: %w", [2]string{"source", "target"}[i], err)
		}
	}
	if diffs := diffStates(schemas, states[0], states[1]); len(diffs) > 0 {
		return &DiffError{Diffs: diffs}
	}
	return nil
}

func diffStates(schemas []string, src, dst map[string]map[string]tableState) []string {
	var diffs []string
	for _, db := range schemas {
		st, sok := src[db]
		tt, tok := dst[db]
		switch {
		case !sok && !tok:
			continue
		case !tok:
			diffs = append(diffs, fmt.Sprintf("%s: schema missing on target", db))
			continue
		case !sok:
			diffs = append(diffs, fmt.Sprintf("%s: schema exists only on target", db))
			continue
		}
		for _, tbl := range unionKeys(st, tt) {
			name := db + "." + tbl
			s, sok := st[tbl]
			t, tok := tt[tbl]
			switch {
			case !tok:
				diffs = append(diffs, fmt.Sprintf("%s: table missing on target", name))
			case !sok:
				diffs = append(diffs, fmt.Sprintf("%s: table exists only on target", name))
			default:
				if s.columns != t.columns {
					diffs = append(diffs, fmt.Sprintf("%s: columns differ: source (%s), target (%s)", name, s.columns, t.columns))
				}
				if s.rows != t.rows {
					diffs = append(diffs, fmt.Sprintf("%s: row count differs: source %s, target %s", name, s.rows, t.rows))
				}
				if s.checksum != t.checksum {
					diffs = append(diffs, fmt.Sprintf("%s: checksum differs: source %s, target %s", name, s.checksum, t.checksum))
				}
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// userSchemas returns the union of both servers' schemas, without the system ones.
func userSchemas(ctx context.Context, servers ...*Server) ([]string, error) {
	set := map[string]bool{}
	for _, s := range servers {
		rows, err := s.QueryRows(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
		if err != nil {
			return nil, fmt.Errorf("compare: list schemas: %w", err)
		}
		for _, r := range rows {
			if !slices.Contains(systemSchemas, strings.ToLower(r[0])) {
				set[r[0]] = true
			}
		}
	}
	return unionKeys(set, nil), nil
}

// snapshot reads the state of every base table of the schemas that exist on s.
func snapshot(ctx context.Context, s *Server, schemas []string) (map[string]map[string]tableState, error) {
	out := map[string]map[string]tableState{}
	err := s.withConn(ctx, func(c *client.Conn) error {
		for _, db := range schemas {
			rows, err := queryRows(c, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db)
			if err != nil {
				return fmt.Errorf("schema %s: %w", db, err)
			}
			if rows[0][0] == "0" {
				continue
			}
			tables, err := snapshotSchema(c, db)
			if err != nil {
				return err
			}
			out[db] = tables
		}
		return nil
	})
	return out, err
}

func snapshotSchema(c *client.Conn, db string) (map[string]tableState, error) {
	rows, err := queryRows(c, `SELECT t.TABLE_NAME,
		GROUP_CONCAT(CONCAT(c.COLUMN_NAME, ' ', c.COLUMN_TYPE,
			IFNULL(CONCAT(' COLLATE ', c.COLLATION_NAME), ''), IF(c.IS_NULLABLE = 'NO', ' NOT NULL', ''))
			ORDER BY c.ORDINAL_POSITION SEPARATOR ', ')
		FROM information_schema.TABLES t JOIN information_schema.COLUMNS c
			ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
		WHERE t.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE'
		GROUP BY t.TABLE_NAME`, db)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	tables := make(map[string]tableState, len(rows))
	for _, r := range rows {
		name := quoteIdent(db) + "." + quoteIdent(r[0])
		count, err := queryRows(c, "SELECT COUNT(*) FROM "+name)
		if err != nil {
			return nil, fmt.Errorf("count %s.%s: %w", db, r[0], err)
		}
		sum, err := queryRows(c, "CHECKSUM TABLE "+name+" EXTENDED")
		if err != nil {
			return nil, fmt.Errorf("checksum %s.%s: %w", db, r[0], err)
		}
		tables[r[0]] = tableState{columns: r[1], rows: count[0][0], checksum: sum[0][1]}
	}
	return tables, nil
}

// quoteIdent quotes a MariaDB identifier with backticks.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
