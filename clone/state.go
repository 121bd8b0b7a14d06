package clone

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
)

// Clone states in mtreplica.clone_state.
const (
	statusCopying    = "copying"
	statusCatchingUp = "catching-up"
	statusDone       = "done"
)

// state is the clone's checkpoint on the target: one clone_state row per channel, one clone_tables row per
// table, one clone_chunks row per chunk.
type state struct {
	schema  string // the progress schema
	channel string
}

func (s state) table(name string) string { return quoteIdent(s.schema) + "." + quoteIdent(name) }

func (s state) ensure(c *client.Conn) error {
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + quoteIdent(s.schema),
		"CREATE TABLE IF NOT EXISTS " + s.table("clone_state") + ` (
  channel VARCHAR(64) NOT NULL PRIMARY KEY,
  status ENUM('copying','catching-up','done') NOT NULL,
  schema_list TEXT NOT NULL,
  first_gtid TEXT NOT NULL, first_file VARCHAR(255) NOT NULL, first_pos BIGINT UNSIGNED NOT NULL,
  last_gtid TEXT NOT NULL, last_file VARCHAR(255) NOT NULL, last_pos BIGINT UNSIGNED NOT NULL,
  snapshots INT UNSIGNED NOT NULL DEFAULT 1,
  started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB COMMENT='mtreplica clone: snapshot positions (do not edit)'`,
		"CREATE TABLE IF NOT EXISTS " + s.table("clone_tables") + ` (
  channel VARCHAR(64) NOT NULL,
  db VARCHAR(64) NOT NULL,
  tbl VARCHAR(64) NOT NULL,
  ord INT UNSIGNED NOT NULL,
  keyless BOOL NOT NULL DEFAULT 0,
  est_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
  deferred_indexes TEXT NOT NULL,
  created BOOL NOT NULL DEFAULT 0,
  planned BOOL NOT NULL DEFAULT 0,
  indexed BOOL NOT NULL DEFAULT 0,
  PRIMARY KEY (channel, db, tbl)
) ENGINE=InnoDB COMMENT='mtreplica clone: tables (do not edit)'`,
		"CREATE TABLE IF NOT EXISTS " + s.table("clone_chunks") + ` (
  channel VARCHAR(64) NOT NULL,
  db VARCHAR(64) NOT NULL,
  tbl VARCHAR(64) NOT NULL,
  chunk INT UNSIGNED NOT NULL,
  lower_bound MEDIUMTEXT NULL,
  upper_bound MEDIUMTEXT NULL,
  done BOOL NOT NULL DEFAULT 0,
  rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
  bytes_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (channel, db, tbl, chunk)
) ENGINE=InnoDB COMMENT='mtreplica clone: chunk checkpoints (do not edit)'`,
	} {
		if _, err := c.Execute(q); err != nil {
			return fmt.Errorf("create clone state tables in %s: %w", s.schema, err)
		}
	}
	return nil
}

// cloneRow is the clone_state row.
type cloneRow struct {
	status      string
	schemas     []string
	first, last Position
	snapshots   int
}

func (s state) load(c *client.Conn) (*cloneRow, error) {
	rows, err := queryRows(c, "SELECT status, schema_list, first_gtid, first_file, first_pos, last_gtid, last_file, last_pos, snapshots FROM "+
		s.table("clone_state")+" WHERE channel = "+quoteString(s.channel))
	if err != nil {
		return nil, fmt.Errorf("read clone state: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	r := rows[0]
	cr := &cloneRow{status: r[0]}
	if r[1] != "" {
		cr.schemas = strings.Split(r[1], ",")
	}
	cr.first = Position{GTID: r[2], File: r[3]}
	fmt.Sscan(r[4], &cr.first.Pos)
	cr.last = Position{GTID: r[5], File: r[6]}
	fmt.Sscan(r[7], &cr.last.Pos)
	fmt.Sscan(r[8], &cr.snapshots)
	return cr, nil
}

func (s state) insert(c *client.Conn, schemas []string, p Position) error {
	_, err := c.Execute(fmt.Sprintf("INSERT INTO %s (channel, status, schema_list, first_gtid, first_file, first_pos, last_gtid, last_file, last_pos) VALUES (%s, '%s', %s, %s, %s, %d, %s, %s, %d)",
		s.table("clone_state"), quoteString(s.channel), statusCopying, quoteString(strings.Join(schemas, ",")),
		quoteString(p.GTID), quoteString(p.File), p.Pos, quoteString(p.GTID), quoteString(p.File), p.Pos))
	if err != nil {
		return fmt.Errorf("record clone state: %w", err)
	}
	return nil
}

// setLast records a resumed clone's new snapshot.
func (s state) setLast(c *client.Conn, p Position) error {
	_, err := c.Execute(fmt.Sprintf("UPDATE %s SET last_gtid = %s, last_file = %s, last_pos = %d, snapshots = snapshots + 1 WHERE channel = %s",
		s.table("clone_state"), quoteString(p.GTID), quoteString(p.File), p.Pos, quoteString(s.channel)))
	if err != nil {
		return fmt.Errorf("record clone state: %w", err)
	}
	return nil
}

func (s state) setStatus(c *client.Conn, status string) error {
	_, err := c.Execute(fmt.Sprintf("UPDATE %s SET status = '%s' WHERE channel = %s", s.table("clone_state"), status, quoteString(s.channel)))
	if err != nil {
		return fmt.Errorf("record clone state: %w", err)
	}
	return nil
}

// reset deletes this channel's clone state.
func (s state) reset(c *client.Conn) error {
	for _, t := range []string{"clone_state", "clone_tables", "clone_chunks"} {
		if _, err := c.Execute("DELETE FROM " + s.table(t) + " WHERE channel = " + quoteString(s.channel)); err != nil {
			return fmt.Errorf("reset clone state: %w", err)
		}
	}
	return nil
}

// tableRow is a clone_tables row.
type tableRow struct {
	db, name string
	ord      int
	keyless  bool
	estRows  int64
	deferred []string // ADD ... clauses of the deferred indexes
	created  bool
	planned  bool
	indexed  bool
}

func (t *tableRow) String() string { return t.db + "." + t.name }

func (s state) loadTables(c *client.Conn) ([]*tableRow, error) {
	rows, err := queryRows(c, "SELECT db, tbl, ord, keyless, est_rows, deferred_indexes, created, planned, indexed FROM "+
		s.table("clone_tables")+" WHERE channel = "+quoteString(s.channel)+" ORDER BY ord")
	if err != nil {
		return nil, fmt.Errorf("read clone tables: %w", err)
	}
	out := make([]*tableRow, len(rows))
	for i, r := range rows {
		t := &tableRow{db: r[0], name: r[1], keyless: r[3] == "1", created: r[6] == "1", planned: r[7] == "1", indexed: r[8] == "1"}
		fmt.Sscan(r[2], &t.ord)
		fmt.Sscan(r[4], &t.estRows)
		if err := json.Unmarshal([]byte(r[5]), &t.deferred); err != nil {
			return nil, fmt.Errorf("read clone tables: deferred indexes of %s: %w", t, err)
		}
		out[i] = t
	}
	return out, nil
}

func (s state) insertTable(c *client.Conn, t *tableRow) error {
	d, _ := json.Marshal(t.deferred)
	if t.deferred == nil {
		d = []byte("[]")
	}
	_, err := c.Execute(fmt.Sprintf("INSERT INTO %s (channel, db, tbl, ord, keyless, est_rows, deferred_indexes) VALUES (%s, %s, %s, %d, %d, %d, %s)",
		s.table("clone_tables"), quoteString(s.channel), quoteString(t.db), quoteString(t.name), t.ord, b2i(t.keyless), t.estRows, quoteString(string(d))))
	if err != nil {
		return fmt.Errorf("record table %s: %w", t, err)
	}
	return nil
}

// updateTable sets one column of a clone_tables row (a fixed name from this package) to an SQL literal.
func (s state) updateTable(c *client.Conn, t *tableRow, col, literal string) error {
	_, err := c.Execute(fmt.Sprintf("UPDATE %s SET %s = %s WHERE channel = %s AND db = %s AND tbl = %s",
		s.table("clone_tables"), col, literal, quoteString(s.channel), quoteString(t.db), quoteString(t.name)))
	if err != nil {
		return fmt.Errorf("record table %s: %w", t, err)
	}
	return nil
}

func (s state) updateTableSQL(t *tableRow, col, literal string) string {
	return fmt.Sprintf("UPDATE %s SET %s = %s WHERE channel = %s AND db = %s AND tbl = %s",
		s.table("clone_tables"), col, literal, quoteString(s.channel), quoteString(t.db), quoteString(t.name))
}

// chunk is a key range of a table: lower (inclusive) and upper (exclusive) are key tuples as SQL literals, nil
// for an open end.
type chunk struct {
	table        *tableRow
	n            int
	lower, upper []string
	done         bool
	rows, bytes  int64
}

func (s state) loadChunks(c *client.Conn, tables map[string]*tableRow) ([]*chunk, error) {
	r, err := c.Execute("SELECT db, tbl, chunk, lower_bound, upper_bound, done, rows_copied, bytes_copied FROM " +
		s.table("clone_chunks") + " WHERE channel = " + quoteString(s.channel) + " ORDER BY db, tbl, chunk")
	if err != nil {
		return nil, fmt.Errorf("read clone chunks: %w", err)
	}
	defer r.Close()
	out := make([]*chunk, 0, len(r.Values))
	for i := range r.Values {
		db, _ := r.GetString(i, 0)
		tbl, _ := r.GetString(i, 1)
		t := tables[db+"."+tbl]
		if t == nil {
			return nil, fmt.Errorf("clone chunks: table %s.%s is not in clone_tables", db, tbl)
		}
		ch := &chunk{table: t}
		n, _ := r.GetInt(i, 2)
		ch.n = int(n)
		for j, dst := range []*[]string{&ch.lower, &ch.upper} {
			if null, _ := r.IsNull(i, 3+j); null {
				continue
			}
			v, _ := r.GetString(i, 3+j)
			if err := json.Unmarshal([]byte(v), dst); err != nil {
				return nil, fmt.Errorf("clone chunks: bounds of %s chunk %d: %w", t, ch.n, err)
			}
		}
		d, _ := r.GetInt(i, 5)
		ch.done = d == 1
		ch.rows, _ = r.GetInt(i, 6)
		ch.bytes, _ = r.GetInt(i, 7)
		out = append(out, ch)
	}
	return out, nil
}

func boundLiteral(v []string) string {
	if v == nil {
		return "NULL"
	}
	b, _ := json.Marshal(v)
	return quoteString(string(b))
}

// insertChunksSQL returns INSERTs of chunks' rows, a few hundred per statement.
func (s state) insertChunksSQL(chunks []*chunk) []string {
	var out []string
	var b strings.Builder
	for i, ch := range chunks {
		if i%200 == 0 {
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
			fmt.Fprintf(&b, "INSERT INTO %s (channel, db, tbl, chunk, lower_bound, upper_bound) VALUES ", s.table("clone_chunks"))
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%s, %s, %s, %d, %s, %s)", quoteString(s.channel), quoteString(ch.table.db), quoteString(ch.table.name),
			ch.n, boundLiteral(ch.lower), boundLiteral(ch.upper))
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func (s state) chunkDoneSQL(ch *chunk, rows, bytes int64) string {
	return fmt.Sprintf("UPDATE %s SET done = 1, rows_copied = %d, bytes_copied = %d WHERE channel = %s AND db = %s AND tbl = %s AND chunk = %d",
		s.table("clone_chunks"), rows, bytes, quoteString(s.channel), quoteString(ch.table.db), quoteString(ch.table.name), ch.n)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
