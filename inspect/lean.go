package inspect

import (
	"encoding/binary"
	"math/bits"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// A lean rows decoder: go-mysql decodes every value of every row image into
// an interface (and builds a map per image); the inspector only needs to count
// rows and to read primary key values. leanRows walks the images computing
// each column's size and decodes only the key columns, into the Go types
// go-mysql would give them, for the common types; any other case falls back
// to go-mysql (ok false).

// tableInfo is what the lean decoder derived from one table map.
type tableInfo struct {
	tm       *replication.TableMapEvent
	tbl      *tableschema.Table
	unsigned []bool
	key      []bool // primary key columns
	lean     bool   // every column's size is computable and every key column decodable
}

func newTableInfo(tm *replication.TableMapEvent, tbl *tableschema.Table) *tableInfo {
	n := int(tm.ColumnCount)
	ti := &tableInfo{tm: tm, tbl: tbl, unsigned: make([]bool, n), key: make([]bool, n), lean: len(tm.ColumnMeta) == n}
	for i, u := range tm.UnsignedMap() {
		if i < n {
			ti.unsigned[i] = u
		}
	}
	for _, k := range tm.PrimaryKey {
		if int(k) < n {
			ti.key[k] = true
		}
	}
	for i := 0; ti.lean && i < n; i++ {
		tp, _, ok := realType(tm.ColumnType[i], tm.ColumnMeta[i])
		switch {
		case !ok:
			ti.lean = false
		case ti.key[i]:
			switch tp {
			case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG,
				mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING:
			default:
				ti.lean = false
			}
		}
	}
	return ti
}

// realType resolves a STRING column's real type and length as go-mysql does;
// ok is false for a type whose size leanRows cannot compute.
func realType(tp byte, meta uint16) (byte, int, bool) {
	length := 0
	if tp == mysql.MYSQL_TYPE_STRING {
		if meta >= 256 {
			b0, b1 := uint8(meta>>8), uint8(meta&0xff)
			if b0&0x30 != 0x30 {
				length = int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
				tp = b0 | 0x30
			} else {
				length = int(meta & 0xff)
				tp = b0
			}
		} else {
			length = int(meta)
		}
	}
	switch tp {
	case mysql.MYSQL_TYPE_NULL, mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24,
		mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE,
		mysql.MYSQL_TYPE_YEAR, mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIMESTAMP,
		mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_BIT, mysql.MYSQL_TYPE_TIMESTAMP2,
		mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIME2, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING,
		mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_JSON,
		mysql.MYSQL_TYPE_VECTOR:
		return tp, length, true
	case mysql.MYSQL_TYPE_ENUM:
		l := meta & 0xff
		return tp, length, l == 1 || l == 2
	case mysql.MYSQL_TYPE_SET:
		return tp, length, true
	}
	return tp, length, false
}

var decimalBytes = [...]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// valueSize returns the size of one encoded value at data, or -1.
func valueSize(data []byte, tp byte, meta uint16) int {
	tp, length, _ := realType(tp, meta)
	fixed := -1
	switch tp {
	case mysql.MYSQL_TYPE_NULL:
		fixed = 0
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_YEAR:
		fixed = 1
	case mysql.MYSQL_TYPE_SHORT:
		fixed = 2
	case mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_TIME:
		fixed = 3
	case mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_TIMESTAMP:
		fixed = 4
	case mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_DATETIME:
		fixed = 8
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		fixed = 4 + int(meta+1)/2
	case mysql.MYSQL_TYPE_DATETIME2:
		fixed = 5 + int(meta+1)/2
	case mysql.MYSQL_TYPE_TIME2:
		fixed = 3 + int(meta+1)/2
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		prec, scale := int(meta>>8), int(meta&0xff)
		intg := prec - scale
		if intg < 0 {
			return -1
		}
		fixed = intg/9*4 + decimalBytes[intg%9] + scale/9*4 + decimalBytes[scale%9]
	case mysql.MYSQL_TYPE_BIT:
		nbits := int(meta>>8)*8 + int(meta&0xff)
		fixed = (nbits + 7) / 8
	case mysql.MYSQL_TYPE_ENUM:
		fixed = int(meta & 0xff)
	case mysql.MYSQL_TYPE_SET:
		fixed = int(meta & 0xff)
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING:
		if tp != mysql.MYSQL_TYPE_STRING {
			length = int(meta)
		}
		if length < 256 {
			if len(data) < 1 {
				return -1
			}
			return 1 + int(data[0])
		}
		if len(data) < 2 {
			return -1
		}
		return 2 + int(binary.LittleEndian.Uint16(data))
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_VECTOR:
		pl := int(meta)
		if pl < 1 || pl > 4 || len(data) < pl {
			return -1
		}
		var b [4]byte
		copy(b[:], data[:pl])
		return pl + int(binary.LittleEndian.Uint32(b[:]))
	}
	if fixed > len(data) {
		return -1
	}
	return fixed
}

// keyValue decodes a key column's value as go-mysql would.
func keyValue(data []byte, tp byte, meta uint16, unsigned bool) any {
	tp, _, _ = realType(tp, meta)
	switch tp {
	case mysql.MYSQL_TYPE_TINY:
		if unsigned {
			return data[0]
		}
		return int8(data[0])
	case mysql.MYSQL_TYPE_SHORT:
		v := binary.LittleEndian.Uint16(data)
		if unsigned {
			return v
		}
		return int16(v)
	case mysql.MYSQL_TYPE_INT24:
		v := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16
		if unsigned {
			return v
		}
		if v&0x800000 != 0 {
			v |= 0xff000000
		}
		return int32(v)
	case mysql.MYSQL_TYPE_LONG:
		v := binary.LittleEndian.Uint32(data)
		if unsigned {
			return v
		}
		return int32(v)
	case mysql.MYSQL_TYPE_LONGLONG:
		v := binary.LittleEndian.Uint64(data)
		if unsigned {
			return v
		}
		return int64(v)
	}
	// VARCHAR, VAR_STRING, STRING: the length prefix then the bytes.
	if (tp == mysql.MYSQL_TYPE_STRING && realLen(meta) >= 256) || (tp != mysql.MYSQL_TYPE_STRING && meta >= 256) {
		return string(data[2 : 2+int(binary.LittleEndian.Uint16(data))])
	}
	return string(data[1 : 1+int(data[0])])
}

func realLen(meta uint16) int {
	_, l, _ := realType(mysql.MYSQL_TYPE_STRING, meta)
	return l
}

// leanRows counts the row images of a rows event body (header and checksum
// stripped) and fills ev with the key columns' values. ok is false when the
// event needs go-mysql (an unsupported type, a malformed body).
func (d *decoder) leanRows(t replication.EventType, body []byte, tidLen int, ev *replication.RowsEvent) (ok bool) {
	if len(body) < tidLen+2 {
		return false
	}
	var tid uint64
	for i := 0; i < tidLen; i++ {
		tid |= uint64(body[i]) << (8 * i)
	}
	ti := d.tableInfos[tid]
	if ti == nil || !ti.lean {
		return false
	}
	pos := tidLen
	ev.TableID, ev.Flags = tid, binary.LittleEndian.Uint16(body[pos:])
	pos += 2
	if t >= replication.WRITE_ROWS_EVENTv2 {
		if len(body) < pos+2 {
			return false
		}
		extra := int(binary.LittleEndian.Uint16(body[pos:]))
		if extra < 2 || len(body) < pos+extra {
			return false
		}
		pos += extra
	}
	ncols, _, n := mysql.LengthEncodedInt(body[pos:])
	pos += n
	if n == 0 || int(ncols) != len(ti.key) {
		return false
	}
	bl := (int(ncols) + 7) / 8
	update := t == replication.UPDATE_ROWS_EVENTv1 || t == replication.UPDATE_ROWS_EVENTv2
	if len(body) < pos+bl {
		return false
	}
	ev.ColumnBitmap1, ev.ColumnBitmap2 = body[pos:pos+bl], nil
	pos += bl
	if update {
		if len(body) < pos+bl {
			return false
		}
		ev.ColumnBitmap2 = body[pos : pos+bl]
		pos += bl
	}
	ev.Table, ev.ColumnCount = ti.tm, ncols
	ev.Rows = ev.Rows[:0]
	d.rowBuf = d.rowBuf[:0]
	tm := ti.tm
	for img := 0; pos < len(body); img++ {
		bm := ev.ColumnBitmap1
		if update && img%2 == 1 {
			bm = ev.ColumnBitmap2
		}
		present := 0
		for _, b := range bm {
			present += bits.OnesCount8(b)
		}
		nl := (present + 7) / 8
		if len(body) < pos+nl {
			return false
		}
		nulls := body[pos : pos+nl]
		pos += nl
		row := d.row(int(ncols))
		j := 0
		for i := 0; i < int(ncols); i++ {
			if bm[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			null := nulls[j/8]&(1<<(j%8)) != 0
			j++
			if null {
				continue
			}
			sz := valueSize(body[pos:], tm.ColumnType[i], tm.ColumnMeta[i])
			if sz < 0 || pos+sz > len(body) {
				return false
			}
			if ti.key[i] {
				row[i] = keyValue(body[pos:pos+sz], tm.ColumnType[i], tm.ColumnMeta[i], ti.unsigned[i])
			}
			pos += sz
		}
		ev.Rows = append(ev.Rows, row)
	}
	return !update || len(ev.Rows)%2 == 0
}

// row returns a cleared row of n values from the decoder's buffer (reset per event).
func (d *decoder) row(n int) []any {
	start := len(d.rowBuf)
	if cap(d.rowBuf)-start < n {
		nb := make([]any, start, 2*cap(d.rowBuf)+n)
		copy(nb, d.rowBuf)
		d.rowBuf = nb
	}
	d.rowBuf = d.rowBuf[:start+n]
	r := d.rowBuf[start : start+n : start+n]
	clear(r)
	return r
}
