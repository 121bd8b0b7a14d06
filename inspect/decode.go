package inspect

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/applier/rowsql"
	"github.com/mtreplica/mtreplica/coordinator/deptrack"
	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// maxTables bounds a decoder's cache of table definitions synthesised from table maps.
const maxTables = 4096

// decoder decodes the rows of chunks and computes writesets. One per goroutine.
type decoder struct {
	parser  *replication.BinlogParser
	fde     []byte
	extract *deptrack.Extractor
	tables  map[string]*tableschema.Table
	keyBuf  []byte
}

func newDecoder() *decoder {
	return &decoder{extract: deptrack.NewExtractor(), tables: map[string]*tableschema.Table{}}
}

func (d *decoder) setFormat(fde []byte) error {
	if d.fde != nil && &d.fde[0] == &fde[0] {
		return nil
	}
	p := replication.NewBinlogParser()
	p.SetUseDecimal(true)
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	p.SetVerifyChecksum(false) // the reader verified every event
	if fd, err := binlogfmt.ParseFormatDescription(fde); err == nil && fd.MariaDB() {
		p.SetFlavor("mariadb")
	} else {
		p.SetFlavor("mysql")
	}
	if _, err := p.Parse(fde); err != nil {
		return fmt.Errorf("format description: %w", err)
	}
	d.parser, d.fde = p, fde
	return nil
}

func (d *decoder) decodeChunk(c *chunk) (res *chunkResult, err error) {
	if c.fde == nil {
		return nil, fmt.Errorf("events at offset %d before any format description", c.txns[0].pos)
	}
	if err := d.setFormat(c.fde); err != nil {
		return nil, err
	}
	res = &chunkResult{c: c, res: make([]txnResult, len(c.txns))}
	var keys []deptrack.Key
	for i := range c.txns {
		t := &c.txns[i]
		r := &res.res[i]
		start := len(keys)
		for off := t.start; off < t.end; {
			size := int(uint32(c.buf[off+9]) | uint32(c.buf[off+10])<<8 | uint32(c.buf[off+11])<<16 | uint32(c.buf[off+12])<<24)
			ev := c.buf[off : off+size]
			evOff := t.pos + int64(off-t.start)
			off += size
			switch typ := replication.EventType(ev[4]); {
			case typ == replication.TABLE_MAP_EVENT || isRows(typ) || typ == replication.TRANSACTION_PAYLOAD_EVENT:
				if r.decodeErr != "" {
					continue
				}
				e, err := d.parse(ev)
				if err != nil {
					r.decodeErr = fmt.Sprintf("%s at offset %d: %v", typ, evOff, err)
					r.barrier = true
					continue
				}
				if tp, ok := e.Event.(*replication.TransactionPayloadEvent); ok {
					for _, in := range tp.Events {
						res.payloadTypes[in.Header.EventType]++
						if re, ok := in.Event.(*replication.RowsEvent); ok {
							keys = d.rows(keys, r, in.Header.EventType, re)
						}
					}
				} else if re, ok := e.Event.(*replication.RowsEvent); ok {
					keys = d.rows(keys, r, typ, re)
				}
			}
		}
		r.keys = keys[start:len(keys):len(keys)]
	}
	return res, nil
}

func (d *decoder) parse(ev []byte) (e *replication.BinlogEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("malformed event: %v", r)
		}
	}()
	e, err = d.parser.Parse(ev)
	if err != nil && len(err.Error()) > 300 {
		err = fmt.Errorf("%.300s...", err.Error()) // go-mysql's errors dump the event
	}
	return e, err
}

func isRows(t replication.EventType) bool {
	_, ok := rowsql.KindOf(t)
	return ok
}

// rows counts one rows event's rows and appends its writeset keys.
func (d *decoder) rows(keys []deptrack.Key, r *txnResult, t replication.EventType, re *replication.RowsEvent) []deptrack.Key {
	r.rows.Events++
	kind, _ := rowsql.KindOf(t)
	switch kind {
	case rowsql.Insert:
		r.rows.Written += int64(len(re.Rows))
	case rowsql.Update:
		r.rows.Updated += int64(len(re.Rows) / 2)
	case rowsql.Delete:
		r.rows.Deleted += int64(len(re.Rows))
	}
	if r.barrier || r.unknown {
		return keys
	}
	tm := re.Table
	if tm == nil {
		r.barrier = true
		return keys
	}
	if len(tm.PrimaryKey) == 0 {
		r.unknown = true
		r.unknownTable = string(tm.Schema) + "." + string(tm.Table)
		return keys
	}
	out, barrier, err := d.extract.Add(keys, t, re, d.table(tm))
	if err != nil || barrier {
		r.barrier = true
		return keys
	}
	return out
}

// table returns the definition synthesised from a table map, cached by its
// schema, name, column types, names and primary key, so the extractor's
// per-table plans are reused.
func (d *decoder) table(tm *replication.TableMapEvent) *tableschema.Table {
	k := d.keyBuf[:0]
	k = append(append(append(k, tm.Schema...), 0), tm.Table...)
	k = append(append(k, 0), tm.ColumnType...)
	for _, n := range tm.ColumnName {
		k = append(append(k, 0), n...)
	}
	for _, c := range tm.PrimaryKey {
		k = append(k, 1, byte(c), byte(c>>8))
	}
	for _, m := range tm.ColumnMeta {
		k = append(k, byte(m), byte(m>>8))
	}
	d.keyBuf = k
	if t, ok := d.tables[string(k)]; ok {
		return t
	}
	if len(d.tables) >= maxTables {
		clear(d.tables)
	}
	t := rowsql.FromTableMap(tm)
	d.tables[strings.Clone(string(k))] = t
	return t
}
