package binlogenc

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Column describes one column of a table map.
type Column struct {
	Name string
	// Type is the binlog type (mysql.MYSQL_TYPE_*). Values are encoded for the
	// integer types, YEAR, FLOAT, DOUBLE, VARCHAR, VAR_STRING, STRING (CHAR),
	// BLOB (and TEXT), DATE, DATETIME2 and TIMESTAMP2.
	Type byte
	// Meta is the table map metadata: VARCHAR's maximum length in bytes, BLOB's
	// length-prefix size (1-4), STRING's (real type << 8 | length), DATETIME2's
	// and TIMESTAMP2's fractional digits, FLOAT 4, DOUBLE 8.
	Meta      uint16
	Unsigned  bool
	Nullable  bool
	Invisible bool // MySQL 8.0.23+ INVISIBLE column (written in the visibility metadata)
}

// TableMap is a TABLE_MAP_EVENT.
type TableMap struct {
	TableID       uint64
	Schema, Table string
	Columns       []Column
	// PrimaryKey lists the primary key's column indexes (optional metadata).
	PrimaryKey []int
	// Metadata writes the optional metadata binlog_row_metadata=FULL gives:
	// signedness, default charset, column names, primary key and (when a
	// column is invisible) visibility. Otherwise only signedness (MINIMAL).
	Metadata bool
	// Charset is the default collation id of character columns (default 255, utf8mb4_0900_ai_ci).
	Charset uint64
}

func numeric(t byte) bool {
	switch t {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
		mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE,
		mysql.MYSQL_TYPE_YEAR:
		return true
	}
	return false
}

func character(c Column) bool {
	switch c.Type {
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return true
	case mysql.MYSQL_TYPE_STRING:
		rt := byte(c.Meta >> 8)
		return rt != mysql.MYSQL_TYPE_ENUM && rt != mysql.MYSQL_TYPE_SET
	}
	return false
}

// TableMap returns a TABLE_MAP_EVENT.
func (e *Encoder) TableMap(tm *TableMap) []byte {
	body := make([]byte, 0, 64+8*len(tm.Columns))
	body = appendTableID(body, tm.TableID)
	body = binary.LittleEndian.AppendUint16(body, 1) // TM_BIT_LEN_EXACT_F
	body = append(append(append(body, byte(len(tm.Schema))), tm.Schema...), 0)
	body = append(append(append(body, byte(len(tm.Table))), tm.Table...), 0)
	body = appendLenEnc(body, uint64(len(tm.Columns)))
	for _, c := range tm.Columns {
		body = append(body, c.Type)
	}
	var meta []byte
	for _, c := range tm.Columns {
		switch c.Type {
		case mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_NEWDECIMAL:
			meta = append(meta, byte(c.Meta>>8), byte(c.Meta))
		case mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_BIT:
			meta = binary.LittleEndian.AppendUint16(meta, c.Meta)
		case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_GEOMETRY,
			mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_TIME2, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIMESTAMP2:
			meta = append(meta, byte(c.Meta))
		}
	}
	body = appendLenEnc(body, uint64(len(meta)))
	body = append(body, meta...)
	nulls := make([]byte, (len(tm.Columns)+7)/8)
	for i, c := range tm.Columns {
		if c.Nullable {
			nulls[i/8] |= 1 << (i % 8)
		}
	}
	body = append(body, nulls...)
	body = e.appendOptionalMeta(body, tm)
	return e.event(replication.TABLE_MAP_EVENT, body)
}

func (e *Encoder) appendOptionalMeta(body []byte, tm *TableMap) []byte {
	tlv := func(t byte, v []byte) {
		body = append(body, t)
		body = appendLenEnc(body, uint64(len(v)))
		body = append(body, v...)
	}
	// Signedness: one bit per numeric column, most significant bit first.
	var sign []byte
	n := 0
	for _, c := range tm.Columns {
		if !numeric(c.Type) {
			continue
		}
		if n%8 == 0 {
			sign = append(sign, 0)
		}
		if c.Unsigned {
			sign[n/8] |= 0x80 >> (n % 8)
		}
		n++
	}
	if n > 0 {
		tlv(replication.TABLE_MAP_OPT_META_SIGNEDNESS, sign)
	}
	if !tm.Metadata {
		return body
	}
	chars := false
	for _, c := range tm.Columns {
		chars = chars || character(c)
	}
	if chars {
		cs := tm.Charset
		if cs == 0 {
			cs = 255
		}
		tlv(replication.TABLE_MAP_OPT_META_DEFAULT_CHARSET, appendLenEnc(nil, cs))
	}
	var names []byte
	for _, c := range tm.Columns {
		names = append(append(names, byte(len(c.Name))), c.Name...)
	}
	tlv(replication.TABLE_MAP_OPT_META_COLUMN_NAME, names)
	if len(tm.PrimaryKey) > 0 {
		var pk []byte
		for _, i := range tm.PrimaryKey {
			pk = appendLenEnc(pk, uint64(i))
		}
		tlv(replication.TABLE_MAP_OPT_META_SIMPLE_PRIMARY_KEY, pk)
	}
	invisible := false
	for _, c := range tm.Columns {
		invisible = invisible || c.Invisible
	}
	if invisible {
		vis := make([]byte, (len(tm.Columns)+7)/8)
		for i, c := range tm.Columns {
			if !c.Invisible {
				vis[i/8] |= 0x80 >> (i % 8)
			}
		}
		tlv(replication.TABLE_MAP_OPT_META_COLUMN_VISIBILITY, vis)
	}
	return body
}

func appendTableID(b []byte, id uint64) []byte {
	return append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24), byte(id>>32), byte(id>>40))
}

// Rows is a rows event.
type Rows struct {
	// Type is WRITE_ROWS_EVENTv1/v2, UPDATE_ROWS_EVENTv1/v2 or DELETE_ROWS_EVENTv1/v2.
	Type  replication.EventType
	Table *TableMap
	// Flags: replication.RowsEventStmtEndFlag on the statement's last rows event,
	// NO_FOREIGN_KEY_CHECKS_F, RELAXED_UNIQUE_CHECKS_F...
	Flags uint16
	// Present and PresentAfter are the column bitmaps (binlog_row_image MINIMAL
	// or NOBLOB leaves columns out); nil means every column. PresentAfter is
	// for updates' after images.
	Present, PresentAfter []byte
	// Rows are the row images, values in column order (nil = NULL); an update
	// gives before and after images in turn. Values of absent columns are ignored.
	Rows [][]any
}

func isUpdate(t replication.EventType) bool {
	return t == replication.UPDATE_ROWS_EVENTv1 || t == replication.UPDATE_ROWS_EVENTv2
}

// Rows returns a rows event, or an error for a value its column type cannot hold.
func (e *Encoder) Rows(r *Rows) ([]byte, error) {
	switch r.Type {
	case replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
		replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2:
	default:
		return nil, errorf("rows event type %s not supported", r.Type)
	}
	v2 := r.Type >= replication.WRITE_ROWS_EVENTv2
	cols := r.Table.Columns
	all := make([]byte, (len(cols)+7)/8)
	for i := range cols {
		all[i/8] |= 1 << (i % 8)
	}
	bm1, bm2 := r.Present, r.PresentAfter
	if bm1 == nil {
		bm1 = all
	}
	if bm2 == nil {
		bm2 = all
	}
	body := make([]byte, 0, 64)
	body = appendTableID(body, r.Table.TableID)
	body = binary.LittleEndian.AppendUint16(body, r.Flags)
	if v2 {
		body = binary.LittleEndian.AppendUint16(body, 2) // extra data length, itself included: none
	}
	body = appendLenEnc(body, uint64(len(cols)))
	body = append(body, bm1...)
	if isUpdate(r.Type) {
		body = append(body, bm2...)
		if len(r.Rows)%2 != 0 {
			return nil, errorf("update of %s.%s: %d row images, want before/after pairs", r.Table.Schema, r.Table.Table, len(r.Rows))
		}
	}
	var err error
	for i, row := range r.Rows {
		bm := bm1
		if isUpdate(r.Type) && i%2 == 1 {
			bm = bm2
		}
		if body, err = appendImage(body, cols, bm, row); err != nil {
			return nil, fmt.Errorf("binlogenc: %s.%s row image %d: %w", r.Table.Schema, r.Table.Table, i, err)
		}
	}
	return e.event(r.Type, body), nil
}

// MustRows is Rows for test input known to be valid: it panics on error.
func (e *Encoder) MustRows(r *Rows) []byte {
	b, err := e.Rows(r)
	if err != nil {
		panic(err)
	}
	return b
}

func bit(bm []byte, i int) bool { return bm[i/8]&(1<<(i%8)) != 0 }

func appendImage(b []byte, cols []Column, bm []byte, row []any) ([]byte, error) {
	if len(row) != len(cols) {
		return nil, fmt.Errorf("%d values for %d columns", len(row), len(cols))
	}
	present := 0
	for i := range cols {
		if bit(bm, i) {
			present++
		}
	}
	nullAt := len(b)
	b = append(b, make([]byte, (present+7)/8)...)
	j := 0
	var err error
	for i, c := range cols {
		if !bit(bm, i) {
			continue
		}
		if row[i] == nil {
			if !c.Nullable {
				return nil, fmt.Errorf("column %s: NULL in a NOT NULL column", c.Name)
			}
			b[nullAt+j/8] |= 1 << (j % 8)
		} else if b, err = appendValue(b, c, row[i]); err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		j++
	}
	return b, nil
}

func toInt(v any) (uint64, bool) {
	switch x := v.(type) {
	case int:
		return uint64(x), true
	case int8:
		return uint64(x), true
	case int16:
		return uint64(x), true
	case int32:
		return uint64(x), true
	case int64:
		return uint64(x), true
	case uint:
		return uint64(x), true
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	return 0, false
}

func toBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return []byte(x), true
	case []byte:
		return x, true
	}
	return nil, false
}

func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("cannot parse time %q", x)
	}
	return time.Time{}, fmt.Errorf("want time.Time or string, got %T", v)
}

func appendValue(b []byte, c Column, v any) ([]byte, error) {
	switch c.Type {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
		mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_YEAR:
		n, ok := toInt(v)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %T", v)
		}
		switch c.Type {
		case mysql.MYSQL_TYPE_TINY:
			return append(b, byte(n)), nil
		case mysql.MYSQL_TYPE_YEAR:
			if n != 0 {
				n -= 1900
			}
			return append(b, byte(n)), nil
		case mysql.MYSQL_TYPE_SHORT:
			return binary.LittleEndian.AppendUint16(b, uint16(n)), nil
		case mysql.MYSQL_TYPE_INT24:
			return append(b, byte(n), byte(n>>8), byte(n>>16)), nil
		case mysql.MYSQL_TYPE_LONG:
			return binary.LittleEndian.AppendUint32(b, uint32(n)), nil
		}
		return binary.LittleEndian.AppendUint64(b, n), nil
	case mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
		var f float64
		switch x := v.(type) {
		case float32:
			f = float64(x)
		case float64:
			f = x
		default:
			n, ok := toInt(v)
			if !ok {
				return nil, fmt.Errorf("want a number, got %T", v)
			}
			f = float64(int64(n))
		}
		if c.Type == mysql.MYSQL_TYPE_FLOAT {
			return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING:
		s, ok := toBytes(v)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		max := int(c.Meta)
		if c.Type == mysql.MYSQL_TYPE_STRING {
			if rt := byte(c.Meta >> 8); rt != mysql.MYSQL_TYPE_STRING {
				return nil, fmt.Errorf("STRING of real type %d not supported", rt)
			}
			max = int(c.Meta & 0xff)
		}
		if len(s) > max {
			return nil, fmt.Errorf("%d bytes for a column of at most %d", len(s), max)
		}
		if max < 256 {
			b = append(b, byte(len(s)))
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		}
		return append(b, s...), nil
	case mysql.MYSQL_TYPE_BLOB:
		s, ok := toBytes(v)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		pl := int(c.Meta)
		if pl < 1 || pl > 4 || (pl < 4 && len(s) >= 1<<(8*pl)) {
			return nil, fmt.Errorf("%d bytes in a BLOB with a %d-byte length", len(s), pl)
		}
		var l [4]byte
		binary.LittleEndian.PutUint32(l[:], uint32(len(s)))
		return append(append(b, l[:pl]...), s...), nil
	case mysql.MYSQL_TYPE_DATE:
		t, err := toTime(v)
		if err != nil {
			return nil, err
		}
		d := uint32(t.Year())*16*32 + uint32(t.Month())*32 + uint32(t.Day())
		return append(b, byte(d), byte(d>>8), byte(d>>16)), nil
	case mysql.MYSQL_TYPE_DATETIME2:
		t, err := toTime(v)
		if err != nil {
			return nil, err
		}
		ym := uint64(t.Year()*13 + int(t.Month()))
		packed := ym<<22 | uint64(t.Day())<<17 | uint64(t.Hour())<<12 | uint64(t.Minute())<<6 | uint64(t.Second())
		packed += 0x8000000000
		b = append(b, byte(packed>>32), byte(packed>>24), byte(packed>>16), byte(packed>>8), byte(packed))
		return appendFrac(b, t, int(c.Meta))
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		t, err := toTime(v)
		if err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
		return appendFrac(b, t, int(c.Meta))
	}
	return nil, fmt.Errorf("column type %d not supported by the encoder", c.Type)
}

// appendFrac appends the fractional seconds of a DATETIME2/TIMESTAMP2/TIME2 value with fsp digits.
func appendFrac(b []byte, t time.Time, fsp int) ([]byte, error) {
	us := t.Nanosecond() / 1000
	switch fsp {
	case 0:
		return b, nil
	case 1, 2:
		return append(b, byte(us/10000)), nil
	case 3, 4:
		return binary.BigEndian.AppendUint16(b, uint16(us/100)), nil
	case 5, 6:
		return append(b, byte(us>>16), byte(us>>8), byte(us)), nil
	}
	return nil, fmt.Errorf("fractional seconds precision %d", fsp)
}
