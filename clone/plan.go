package clone

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// tableInfo is what the copy needs of a table: its columns and its key.
type tableInfo struct {
	row    *tableRow
	cols   []column // the written columns (not generated), in ordinal order
	key    []column // the chunking key; nil for a table without one
	keyInt bool     // a single integer key column
	// transactional: the target table's engine rolls back a killed chunk (InnoDB); others keep partial chunks.
	transactional bool
	// selectCols is "`a`,`b`" for cols; insertHead is "INSERT INTO `db`.`t` (`a`,`b`) VALUES ".
	selectCols, insertHead string
}

func (t *tableInfo) quoted() string { return quoteIdent(t.row.db) + "." + quoteIdent(t.row.name) }

func loadTableInfo(q tableschema.Querier, row *tableRow) (*tableInfo, error) {
	ts, err := tableschema.Load(q, row.db, row.name)
	if err != nil {
		return nil, fmt.Errorf("read definition of %s: %w", row, err)
	}
	ti := &tableInfo{row: row}
	names := make([]string, 0, len(ts.Columns))
	exprs := make([]string, 0, len(ts.Columns))
	for i := range ts.Columns {
		c := &ts.Columns[i]
		if c.Generated {
			continue
		}
		col := columnOf(c)
		ti.cols = append(ti.cols, col)
		names = append(names, quoteIdent(c.Name))
		exprs = append(exprs, col.selectExpr())
	}
	if len(ti.cols) == 0 {
		return nil, fmt.Errorf("table %s has no column to copy", row)
	}
	ti.selectCols = strings.Join(exprs, ",")
	ti.insertHead = "INSERT INTO " + ti.quoted() + " (" + strings.Join(names, ",") + ") VALUES "
	for _, k := range ts.KeyColumns() {
		ti.key = append(ti.key, columnOf(&ts.Columns[k]))
	}
	if len(ti.key) == 1 {
		switch ts.Columns[ts.KeyColumns()[0]].DataType {
		case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
			ti.keyInt = true
		}
	}
	return ti, nil
}

func (t *tableInfo) keyList() string {
	names := make([]string, len(t.key))
	for i, k := range t.key {
		names[i] = quoteIdent(k.name)
	}
	return strings.Join(names, ",")
}

// rangeWhere returns the condition selecting key >= lower AND key < upper (as tuples), "" for the whole table.
func (t *tableInfo) rangeWhere(lower, upper []string) string {
	var parts []string
	if lower != nil {
		parts = append(parts, "(("+t.tupleCmp(lower, ">", ">=")+"))")
	}
	if upper != nil {
		parts = append(parts, "(("+t.tupleCmp(upper, "<", "<")+"))")
	}
	return strings.Join(parts, " AND ")
}

// tupleCmp expands (k1,..,kn) op (v1,..,vn) into a disjunction the range optimizer reads: strict compares the
// leading columns, last compares the final one (>= or < so the bound's own row is in exactly one chunk).
func (t *tableInfo) tupleCmp(vals []string, strict, last string) string {
	var ors []string
	for i := range t.key {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, quoteIdent(t.key[j].name)+" = "+vals[j])
		}
		op := strict
		if i == len(t.key)-1 {
			op = last
		}
		ands = append(ands, quoteIdent(t.key[i].name)+" "+op+" "+vals[i])
		ors = append(ors, strings.Join(ands, " AND "))
	}
	return strings.Join(ors, ") OR (")
}

// plan cuts a table into chunks of at most chunkRows rows, reading on a snapshot connection.
func plan(c *client.Conn, t *tableInfo, chunkRows int) ([]*chunk, error) {
	if t.key == nil {
		return []*chunk{{table: t.row}}, nil
	}
	if t.keyInt {
		chunks, ok, err := planByValue(c, t, chunkRows)
		if err != nil || ok {
			return chunks, err
		}
	}
	return planByWalk(c, t, chunkRows)
}

// planByValue cuts a single integer key into ranges of chunkRows values (so at most chunkRows rows each) when the
// values are dense enough that few chunks are empty; ok is false otherwise.
func planByValue(c *client.Conn, t *tableInfo, chunkRows int) (_ []*chunk, ok bool, err error) {
	k := quoteIdent(t.key[0].name)
	rows, err := queryRows(c, fmt.Sprintf("SELECT MIN(%s), MAX(%s), COUNT(*) > 0 FROM %s", k, k, t.quoted()))
	if err != nil {
		return nil, false, fmt.Errorf("plan %s: %w", t.row, err)
	}
	if len(rows) != 1 || rows[0][2] != "1" {
		return []*chunk{{table: t.row}}, true, nil // empty
	}
	lo, ok1 := new(big.Int).SetString(rows[0][0], 10)
	hi, ok2 := new(big.Int).SetString(rows[0][1], 10)
	if !ok1 || !ok2 {
		return nil, false, nil
	}
	step := big.NewInt(int64(chunkRows))
	span := new(big.Int).Sub(hi, lo)
	span.Add(span, big.NewInt(1))
	n := new(big.Int).Div(new(big.Int).Add(span, new(big.Int).Sub(step, big.NewInt(1))), step)
	estChunks := t.row.estRows/int64(chunkRows) + 1
	if !n.IsInt64() || n.Int64() > 4*estChunks+16 {
		return nil, false, nil // sparse: walk the key instead
	}
	nc := int(n.Int64())
	out := make([]*chunk, nc)
	for i := range out {
		ch := &chunk{table: t.row, n: i}
		if i > 0 {
			v := new(big.Int).Add(lo, new(big.Int).Mul(step, big.NewInt(int64(i))))
			ch.lower = []string{v.String()}
		}
		if i < nc-1 {
			v := new(big.Int).Add(lo, new(big.Int).Mul(step, big.NewInt(int64(i+1))))
			ch.upper = []string{v.String()}
		}
		out[i] = ch
	}
	return out, true, nil
}

// planByWalk finds every chunkRows-th key in key order.
func planByWalk(c *client.Conn, t *tableInfo, chunkRows int) ([]*chunk, error) {
	keys := t.keyList()
	var bounds [][]string
	var prev []string
	for {
		q := "SELECT " + keys + " FROM " + t.quoted()
		if prev != nil {
			q += " WHERE " + t.rangeWhere(prev, nil)
		}
		q += fmt.Sprintf(" ORDER BY %s LIMIT 1 OFFSET %d", keys, chunkRows)
		r, err := c.Execute(q)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", t.row, err)
		}
		if len(r.Values) == 0 {
			r.Close()
			break
		}
		b := make([]string, len(t.key))
		for i := range t.key {
			b[i] = string(appendField(nil, &t.key[i], &r.Values[0][i]))
		}
		r.Close()
		bounds = append(bounds, b)
		prev = b
	}
	out := make([]*chunk, len(bounds)+1)
	for i := range out {
		ch := &chunk{table: t.row, n: i}
		if i > 0 {
			ch.lower = bounds[i-1]
		}
		if i < len(bounds) {
			ch.upper = bounds[i]
		}
		out[i] = ch
	}
	return out, nil
}
