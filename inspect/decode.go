package inspect

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/klauspost/compress/zstd"

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
	inner   *replication.BinlogParser // for the events of TRANSACTION_PAYLOADs: no checksums
	zstd    *zstd.Decoder
	plain   []byte
	fde     []byte
	extract *deptrack.Extractor
	tables  map[string]*tableschema.Table
	keys    []deptrack.Key
	// the lean rows decoder's state: table maps by id, per-table info, a rows event and row storage to reuse
	tableInfos map[uint64]*tableInfo
	infos      map[*tableschema.Table]*tableInfo
	leanEv     replication.RowsEvent
	rowBuf     []any
	tidLen     int // table id size in rows events: 6, or 4 with old post-header lengths
	// Lean turns the lean rows decoder off (tests compare both).
	noLean bool
	keyBuf []byte
}

func newDecoder() *decoder {
	return &decoder{extract: deptrack.NewExtractor(), tables: map[string]*tableschema.Table{},
		tableInfos: map[uint64]*tableInfo{}, infos: map[*tableschema.Table]*tableInfo{}}
}

func newParser(fde []byte, mariadb bool) (*replication.BinlogParser, error) {
	p := replication.NewBinlogParser()
	p.SetUseDecimal(true)
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	p.SetVerifyChecksum(false) // the reader verified every event
	p.SetFlavor("mysql")
	if mariadb {
		p.SetFlavor("mariadb")
	}
	if _, err := p.Parse(fde); err != nil {
		return nil, fmt.Errorf("format description: %w", err)
	}
	return p, nil
}

// close releases the zstd decoder.
func (d *decoder) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

func (d *decoder) setFormat(fde []byte) error {
	if d.fde != nil && &d.fde[0] == &fde[0] {
		return nil
	}
	fd, err := binlogfmt.ParseFormatDescription(fde)
	if err != nil {
		return err
	}
	if d.parser, err = newParser(fde, fd.MariaDB()); err != nil {
		return err
	}
	// The same description with checksums off, for the events inside compressed payloads.
	off := append([]byte(nil), fde...)
	binlogfmt.ClearInUse(off, false)
	off[len(off)-binlogfmt.ChecksumLen-1] = byte(replication.BINLOG_CHECKSUM_ALG_OFF)
	binlogfmt.FixChecksum(off)
	if d.inner, err = newParser(off, fd.MariaDB()); err != nil {
		return err
	}
	d.fde = fde
	d.tidLen = 6
	if fd.PostHeaderLen(replication.WRITE_ROWS_EVENTv2, 10) == 6 {
		d.tidLen = 4
	}
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
	// A new slice per chunk: the results keep subslices of it.
	d.keys = make([]deptrack.Key, 0, max(cap(d.keys), 1024))
	for i := range c.txns {
		t := &c.txns[i]
		r := &res.res[i]
		start := len(d.keys)
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
				if typ == replication.TRANSACTION_PAYLOAD_EVENT {
					if err := d.payload(ev, r, res); err != nil {
						r.decodeErr = fmt.Sprintf("%s at offset %d: %v", typ, evOff, err)
						r.barrier = true
					}
					continue
				}
				if err := d.event(d.parser, typ, ev, d.checksum(), r); err != nil {
					r.decodeErr = fmt.Sprintf("%s at offset %d: %v", typ, evOff, err)
					r.barrier = true
				}
			}
		}
		r.keys = d.keys[start:len(d.keys):len(d.keys)]
	}
	return res, nil
}

// event decodes a table map or rows event: rows with the lean decoder when it
// can, else with go-mysql.
func (d *decoder) event(p *replication.BinlogParser, typ replication.EventType, ev []byte, checksum bool, r *txnResult) error {
	if !d.noLean && typ >= replication.WRITE_ROWS_EVENTv1 && typ <= replication.DELETE_ROWS_EVENTv2 &&
		typ != replication.UPDATE_ROWS_EVENTv0 {
		end := len(ev)
		if checksum {
			end -= binlogfmt.ChecksumLen
		}
		if d.leanRows(typ, ev[binlogfmt.HeaderLen:end], d.tidLen, &d.leanEv) {
			d.keys = d.rows(d.keys, r, typ, &d.leanEv, d.tableInfos[d.leanEv.TableID].tbl)
			return nil
		}
	}
	e, err := d.parse(p, ev)
	if err != nil {
		return err
	}
	switch x := e.Event.(type) {
	case *replication.TableMapEvent:
		if len(d.tableInfos) >= maxTables {
			clear(d.tableInfos)
		}
		tbl := d.table(x)
		ti := d.infos[tbl]
		if ti == nil {
			if len(d.infos) >= maxTables {
				clear(d.infos)
			}
			// go-mysql's table map points into the event, whose buffer is
			// reused: the cached one is decoded from a copy.
			own, err := d.parse(p, append([]byte(nil), ev...))
			if err != nil {
				return err
			}
			ti = newTableInfo(own.Event.(*replication.TableMapEvent), tbl)
			d.infos[tbl] = ti
		}
		d.tableInfos[x.TableID] = ti
	case *replication.RowsEvent:
		if ti := d.tableInfos[x.TableID]; ti != nil {
			x.Table = ti.tm // the same columns, in memory that stays
		}
		d.keys = d.rows(d.keys, r, typ, x, nil)
	}
	return nil
}

func (d *decoder) parse(p *replication.BinlogParser, ev []byte) (e *replication.BinlogEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("malformed event: %v", r)
		}
	}()
	e, err = p.Parse(ev)
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
func (d *decoder) rows(keys []deptrack.Key, r *txnResult, t replication.EventType, re *replication.RowsEvent,
	tbl *tableschema.Table) []deptrack.Key {
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
	if tbl == nil {
		tbl = d.table(tm)
	}
	out, barrier, err := d.extract.Add(keys, t, re, tbl)
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

// Transaction payload header fields (MySQL Transaction_payload_event).
const (
	payloadEndMark     = 0
	payloadSize        = 1
	payloadCompression = 2
	payloadUncompSize  = 3
	compressionZSTD    = 0
	compressionNone    = 255
)

// payload decompresses a TRANSACTION_PAYLOAD_EVENT with the decoder's own
// zstd reader (go-mysql makes a new one per event) and decodes its events.
func (d *decoder) payload(ev []byte, r *txnResult, res *chunkResult) error {
	body := ev[binlogfmt.HeaderLen : len(ev)-binlogfmt.ChecksumLen]
	if d.parser != nil && !d.checksum() {
		body = ev[binlogfmt.HeaderLen:]
	}
	comp, usize := uint64(compressionZSTD), uint64(0)
	for {
		t, n := binlogfmt.ReadLenEnc(body)
		if n == 0 {
			return fmt.Errorf("payload header truncated")
		}
		body = body[n:]
		if t == payloadEndMark {
			break
		}
		l, n := binlogfmt.ReadLenEnc(body)
		if n == 0 || uint64(len(body)-n) < l {
			return fmt.Errorf("payload header field %d truncated", t)
		}
		v, _ := binlogfmt.ReadLenEnc(body[n : n+int(l)])
		switch t {
		case payloadCompression:
			comp = v
		case payloadUncompSize:
			usize = v
		}
		body = body[n+int(l):]
	}
	plain := body
	switch comp {
	case compressionZSTD:
		if d.zstd == nil {
			z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<31))
			if err != nil {
				return err
			}
			d.zstd = z
		}
		if uint64(cap(d.plain)) < usize && usize < 1<<31 {
			d.plain = make([]byte, 0, usize)
		}
		var err error
		if d.plain, err = d.zstd.DecodeAll(body, d.plain[:0]); err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		plain = d.plain
	case compressionNone:
	default:
		return fmt.Errorf("compression type %d unknown", comp)
	}
	for off := 0; off < len(plain); {
		h, err := binlogfmt.ParseHeader(plain[off:])
		if err != nil || off+int(h.EventSize) > len(plain) {
			return fmt.Errorf("event at offset %d of the payload: truncated or malformed", off)
		}
		in := plain[off : off+int(h.EventSize)]
		off += int(h.EventSize)
		res.payloadTypes[h.Type]++
		if h.Type != replication.TABLE_MAP_EVENT && !isRows(h.Type) {
			continue
		}
		if err := d.event(d.inner, h.Type, in, false, r); err != nil {
			return fmt.Errorf("%s in the payload: %w", h.Type, err)
		}
	}
	return nil
}

func (d *decoder) checksum() bool {
	return len(d.fde) > binlogfmt.ChecksumLen && d.fde[len(d.fde)-binlogfmt.ChecksumLen-1] == byte(replication.BINLOG_CHECKSUM_ALG_CRC32)
}
