package applier

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/coordinator"
)

// Row apply modes (Options.RowApply).
const (
	// RowApplySQL turns row events into INSERT/UPDATE/DELETE statements
	// (applier/rowsql): columns are matched by name, each statement's affected
	// rows are checked, and any MySQL-compatible target works.
	RowApplySQL = "sql"
	// RowApplyBinlog sends the row events themselves in BINLOG statements, as
	// mysqlbinlog output does: the target applies them like its own replica
	// applier would, without parsing SQL. The target table must have the
	// source's columns in the source's order (as for a native replica), the
	// target user needs the BINLOG REPLAY privilege (or SUPER), and the source
	// must be MariaDB (a MariaDB target does not read MySQL 8 row events).
	// Divergence shows as the server's error (1032 record not found, 1062
	// duplicate key) instead of the affected-row check. Transactions from a
	// MySQL source, streamed (large) transactions and idempotent mode use SQL.
	RowApplyBinlog = "binlog"
)

// native reports whether t's row events are applied in BINLOG statements.
func (w *Worker) native(t *coordinator.Txn) bool {
	if w.opts.RowApply != RowApplyBinlog || w.opts.Idempotent || t.Streamed {
		return false
	}
	fde, mariadb := t.FormatDescription()
	return mariadb && len(fde) > 0
}

// binlogRows holds the raw table map and rows events not yet sent. MariaDB
// answers a BINLOG statement that applies row events without the "more
// results" flag, so nothing may follow it in a multi-statement packet: the
// events of a whole group go in one BINLOG statement, last in its packet
// (after the progress rows), and the COMMIT follows in the next packet. A
// statement event in between (MIXED) sends what is pending first.
type binlogRows struct {
	raw     []byte
	tables  []*replication.TableMapEvent // tables of the pending rows events, named only in the statement's description
	fdeConn *client.Conn
	fde     []byte // the format description last sent on fdeConn
}

func (w *Worker) addBinlogTableMap(ev *replication.BinlogEvent) {
	w.bin.raw = append(w.bin.raw, ev.RawData...)
}

// addBinlogRows queues a rows event; a pending batch past the packet budget
// is sent at the end of its statement (a BINLOG statement never splits one).
func (w *Worker) addBinlogRows(t *coordinator.Txn, ev *replication.BinlogEvent, e *replication.RowsEvent) error {
	w.bin.raw = append(w.bin.raw, ev.RawData...)
	if e.Table != nil && (len(w.bin.tables) == 0 || w.bin.tables[len(w.bin.tables)-1] != e.Table) {
		w.bin.tables = append(w.bin.tables, e.Table)
	}
	if e.Flags&replication.RowsEventStmtEndFlag != 0 && len(w.bin.raw) >= w.opts.MaxPacketBytes*3/4 {
		return w.sendBinlogRows(t)
	}
	return nil
}

// sendBinlogRows sends the packet built so far ending with the pending row
// events as a BINLOG statement (preceded by the format description when this
// connection has not seen it).
func (w *Worker) sendBinlogRows(t *coordinator.Txn) error {
	if len(w.bin.raw) == 0 {
		return nil
	}
	if fde, _ := t.FormatDescription(); w.bin.fdeConn != w.conn || !bytes.Equal(w.bin.fde, fde) {
		w.addBinlog(fde, "format description (BINLOG)")
		w.bin.fdeConn, w.bin.fde = w.conn, fde
	}
	var named []string // once per BINLOG statement, not per event
	for _, tm := range w.bin.tables {
		if name := fmt.Sprintf("`%s`.`%s`", tm.Schema, tm.Table); !slices.Contains(named, name) {
			named = append(named, name)
		}
	}
	w.addBinlog(w.bin.raw, "row events on "+strings.Join(named, ", ")+" (BINLOG)")
	w.bin.raw, w.bin.tables = w.bin.raw[:0], w.bin.tables[:0]
	return w.flush(t)
}

func (w *Worker) addBinlog(raw []byte, what string) {
	w.sep()
	w.buf.WriteString("BINLOG '")
	w.buf.b = base64.StdEncoding.AppendEncode(w.buf.b, raw) // in place: no copy of the encoding
	w.buf.WriteByte('\'')
	w.expect = append(w.expect, expectation{sql: what, kind: "binlog", txn: w.cur})
}

// forgetBinlogSession is called when the session state is unknown (a failed
// packet, a new connection): the format description is sent again.
func (w *Worker) forgetBinlogSession() {
	w.bin.raw, w.bin.tables = w.bin.raw[:0], w.bin.tables[:0]
	w.bin.fdeConn, w.bin.fde = nil, nil
}
