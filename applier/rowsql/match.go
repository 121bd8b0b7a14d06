package rowsql

import (
	"strconv"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// appendIdent appends a backtick-quoted identifier, doubling backticks inside it.
func appendIdent(buf []byte, name string) []byte {
	buf = append(buf, '`')
	for i := 0; i < len(name); i++ {
		if name[i] == '`' {
			buf = append(buf, '`')
		}
		buf = append(buf, name[i])
	}
	return append(buf, '`')
}

// appendExactMatch renders `c` <=> v so that it holds for exactly the stored value of the image, for finding a
// row of a table without a key:
//   - character strings compare as bytes (CAST(`c` AS BINARY)), not under the column's collation, which could
//     match 'A' for 'a' or 'a ' for 'a' and so pick a different row than the source changed;
//   - FLOAT and DOUBLE compare with the exact double (see appendFloat), which the stored value equals;
//   - JSON on MySQL compares as JSON (CAST(v AS JSON)); on MariaDB JSON is text and compares as bytes;
//   - GEOMETRY compares its stored bytes.
func appendExactMatch(buf []byte, v any, col *tableschema.Column, meta ColumnMeta) ([]byte, error) {
	rt := meta.RealType()
	fam := binlogFamily(rt)
	castCol := fam == famString && col.DataType != "json" && !col.IsBinaryString() &&
		(col.Charset != "" || rt == mysql.MYSQL_TYPE_GEOMETRY)
	if castCol {
		buf = append(buf, "CAST("...)
		buf = appendIdent(buf, col.Name)
		buf = append(buf, " AS BINARY) <=> "...)
		if v == nil {
			return append(buf, "NULL"...), nil
		}
		// The same bytes, as a binary string (the target charset label is irrelevant for a byte comparison).
		bin := *col
		bin.Charset, bin.Collation = "", ""
		return AppendValue(buf, v, &bin, meta)
	}
	buf = appendIdent(buf, col.Name)
	buf = append(buf, " <=> "...)
	if v != nil && rt == mysql.MYSQL_TYPE_JSON && col.DataType == "json" {
		buf = append(buf, "CAST("...)
		var err error
		if buf, err = AppendValue(buf, v, col, meta); err != nil {
			return buf, err
		}
		return append(buf, " AS JSON)"...), nil
	}
	return AppendValue(buf, v, col, meta)
}

const (
	maxLabelValue = 64  // bytes of one value in Statement.Key
	maxLabel      = 256 // bytes of a whole Statement.Key
	maxLabelCols  = 8   // columns named in a Statement.Key
)

// keyForLabel picks the columns that name a row in Statement.Key for an INSERT: the target key when the image
// has it, else the written columns.
func (g *Generator) keyForLabel(bitmap []byte, tbl *tableschema.Table) []int {
	key := tbl.KeyColumns()
	if key == nil {
		return g.cols
	}
	g.where = g.where[:0]
	for _, ord := range key {
		if ord >= len(g.binOf) || g.binOf[ord] < 0 || !bitSet(bitmap, g.binOf[ord]) {
			return g.cols
		}
		g.where = append(g.where, g.binOf[ord])
	}
	return g.where
}

// label renders "(c1,c2)=(v1,v2)" for the row, readable: strings quoted when they are printable UTF-8, values
// and the whole label truncated.
func (g *Generator) label(cols []int, row []any, tbl *tableschema.Table) string {
	more := len(cols) > maxLabelCols
	if more {
		cols = cols[:maxLabelCols]
	}
	k := append(g.key[:0], '(')
	for j, b := range cols {
		if j > 0 {
			k = append(k, ',')
		}
		k = append(k, tbl.Columns[g.tgtOf[b]].Name...)
	}
	if more {
		k = append(k, ",..."...)
	}
	k = append(k, ")=("...)
	for j, b := range cols {
		if j > 0 {
			k = append(k, ',')
		}
		if len(k) > maxLabel {
			k = append(k, "..."...)
			more = false
			break
		}
		k = g.appendReadable(k, row[b], &tbl.Columns[g.tgtOf[b]], g.metas[b])
	}
	if more {
		k = append(k, ",..."...)
	}
	k = append(k, ')')
	g.key = k
	return string(k)
}

func (g *Generator) appendReadable(k []byte, v any, col *tableschema.Column, meta ColumnMeta) []byte {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	}
	if binlogFamily(meta.RealType()) != famString || (s == "" && v != nil && !isStringValue(v)) {
		start := len(k)
		out, err := AppendValue(k, v, col, meta)
		if err != nil {
			return append(k[:start], '?')
		}
		if len(out)-start > maxLabelValue {
			out = append(out[:start+maxLabelValue], "..."...)
		}
		return out
	}
	if v == nil {
		return append(k, "NULL"...)
	}
	if printable(s) {
		trunc := false
		if len(s) > maxLabelValue {
			s, trunc = s[:maxLabelValue], true
			for len(s) > 0 && !utf8.ValidString(s) {
				s = s[:len(s)-1]
			}
		}
		k = append(k, strconv.Quote(s)...)
		if trunc {
			k = append(k, "..."...)
		}
		return k
	}
	if len(s) > maxLabelValue/2 {
		return append(appendHex(k, s[:maxLabelValue/2]), "..."...)
	}
	return appendHex(k, s)
}

func isStringValue(v any) bool {
	switch v.(type) {
	case string, []byte:
		return true
	}
	return false
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
