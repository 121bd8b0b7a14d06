package applier

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/coordinator"
)

// statementSession is the one target connection on which every transaction
// carrying statement events (statement-based DML, DDL, INTVAR/RAND/USER_VAR,
// LOAD DATA) runs, in source order (docs/design-decisions.md, "Statement-based binlogs and replay").
// The workers of one coordinator share it through their PendingSet.
type statementSession struct {
	mu     sync.Mutex
	conn   *client.Conn
	holder atomic.Pointer[Worker] // the worker running a transaction on it
	lost   bool                   // a connection was lost: its temporary tables are gone
	// noThread: the target user may not set pseudo_thread_id (SUPER or
	// BINLOG REPLAY): statements run without it, and temporary tables of
	// different source sessions share one namespace.
	noThread bool
	// LOAD DATA blocks of the transaction being applied, by file id.
	blocks map[uint32][]byte
	// collation id -> character set and collation names, read from the target.
	names map[uint32][2]string
}

// NeedsSession reports whether one of ts carries statement events and so must
// run on the statement session, after every transaction before it committed.
func NeedsSession(ts []*coordinator.Txn) bool {
	for _, t := range ts {
		if t.Statement {
			return true
		}
		for _, ev := range t.Events {
			switch e := ev.Event.(type) {
			case *replication.QueryEvent:
				if !sessionFree(e.Query) {
					return true
				}
			case *replication.IntVarEvent, *replication.BeginLoadQueryEvent, *replication.ExecuteLoadQueryEvent:
				return true
			case *replication.GenericEvent:
				switch ev.Header.EventType {
				case replication.USER_VAR_EVENT, replication.RAND_EVENT, replication.APPEND_BLOCK_EVENT:
					return true
				}
			}
		}
	}
	return false
}

// sessionFree reports the query events of row transactions that need no
// source session: BEGIN, COMMIT and savepoints.
func sessionFree(q []byte) bool {
	q = bytes.TrimSpace(q)
	for _, p := range []string{"BEGIN", "COMMIT", "SAVEPOINT ", "ROLLBACK TO ", "RELEASE SAVEPOINT "} {
		if len(q) >= len(p) && bytes.EqualFold(q[:len(p)], []byte(p)) && (p[len(p)-1] == ' ' || len(q) == len(p)) {
			return true
		}
	}
	return false
}

// onSession reports whether w is running a transaction on the statement session.
func (w *Worker) onSession() bool { return w.opts.Pending.session.holder.Load() == w }

// applyOnSession runs run (which applies a transaction through w.conn) with
// the statement session as w's connection. The caller has waited for the
// transaction's commit turn: the session is used by one transaction at a time
// and never waits for a later one, so sharing it cannot deadlock.
func (w *Worker) applyOnSession(ctx context.Context, run func() error) error {
	s := &w.opts.Pending.session
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := Dial(ctx, w.opts.Target)
		if err != nil {
			return err
		}
		if s.lost {
			w.opts.Logger.Warn("statement session reconnected: temporary tables of source sessions are lost",
				"worker", w.opts.Name)
		}
		if _, err := c.Execute("SET @@session.pseudo_thread_id=@@session.pseudo_thread_id"); err != nil {
			if !s.noThread {
				w.opts.Logger.Warn("the target user may not set pseudo_thread_id (needs SUPER or BINLOG REPLAY): "+
					"temporary tables of different source sessions will share one namespace", "err", err)
			}
			s.noThread = true
		} else {
			s.noThread = false
		}
		s.conn = c
	}
	s.holder.Store(w)
	defer s.holder.Store(nil)
	clear(s.blocks)
	own, ownRow := w.conn, w.rowSession
	w.conn, w.rowSession = s.conn, false
	w.connID.Store(s.conn.GetConnectionID())
	err := run()
	s.conn = w.conn // nil when a failed rollback closed it
	w.conn, w.rowSession = own, ownRow
	if own != nil {
		w.connID.Store(own.GetConnectionID())
	} else {
		w.connID.Store(0)
	}
	clear(s.blocks)
	if ctx.Err() != nil {
		// Apply's cancellation closed the session connection and will forget
		// w's own: close both.
		if s.conn != nil {
			s.conn.Close()
		}
		if own != nil {
			own.Close()
		}
		s.conn, s.lost = nil, true
	} else if err != nil && isConnError(err) && s.conn != nil {
		s.conn.Close()
		s.conn, s.lost = nil, true
	}
	if s.conn == nil {
		s.lost = true
	}
	return err
}

// closeSession closes the statement session (Worker.Close: the workers sharing
// it stop together). It waits for a worker running on it.
func (p *PendingSet) closeSession() {
	s := &p.session
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// addQuery adds a statement event of a transaction: its default schema, its
// source session, the statement itself.
func (w *Worker) addQuery(ev *replication.BinlogEvent, e *replication.QueryEvent) error {
	q := bytes.TrimSpace(e.Query)
	if bytes.EqualFold(q, []byte("BEGIN")) || bytes.EqualFold(q, []byte("COMMIT")) {
		return nil
	}
	if sessionFree(q) { // a savepoint: no session needed
		w.add(string(e.Query), "statement")
		return nil
	}
	if len(e.Schema) > 0 {
		w.add("USE "+quoteIdent(string(e.Schema)), "control")
	}
	w.add(w.sessionSQL(ev.Header.Timestamp, e.SlaveProxyID, e.StatusVars), "control")
	w.add(string(e.Query), "statement")
	w.rowSession = false
	return nil
}

// addStatementEvent adds the statement-context events of a transaction
// (USER_VAR, RAND, LOAD DATA blocks and EXECUTE_LOAD_QUERY); any other event
// type is refused.
func (w *Worker) addStatementEvent(t *coordinator.Txn, ev *replication.BinlogEvent) error {
	sql, load, err := w.contextSQL(ev)
	switch {
	case err != nil:
		return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: ev.Header.LogPos,
			Statement: ev.Header.EventType.String(), Err: err}
	case load != nil:
		// LOAD DATA LOCAL runs alone: send what precedes it first.
		for _, q := range load.setup {
			w.add(q, "control")
		}
		if err := w.flush(t); err != nil {
			return err
		}
		if err := w.loadData(load); err != nil {
			w.rollback()
			return w.statementError(t, expectation{sql: load.query}, err)
		}
		w.rowSession = false
	case sql != "":
		w.add(sql, "control")
	}
	return nil
}

// sessionSQL is statementSessionSQL, with pseudo_thread_id when the target user may set it.
func (w *Worker) sessionSQL(timestamp, threadID uint32, statusVars []byte) string {
	return statementSessionSQL(timestamp, threadID, statusVars, !w.opts.Pending.session.noThread)
}

// loadStatement is an EXECUTE_LOAD_QUERY rewritten to LOAD DATA LOCAL INFILE.
type loadStatement struct {
	setup      []string // USE and the session, run first
	statusVars []byte
	query      string
	data       []byte
}

// contextSQL renders a statement-context event: the SET restoring a user
// variable or the RAND seeds, nothing for a LOAD DATA block (kept for its
// EXECUTE_LOAD_QUERY), or the LOAD DATA to run.
func (w *Worker) contextSQL(ev *replication.BinlogEvent) (string, *loadStatement, error) {
	s := &w.opts.Pending.session
	switch e := ev.Event.(type) {
	case *replication.IntVarEvent:
		if e.Type == replication.LAST_INSERT_ID {
			return fmt.Sprintf("SET LAST_INSERT_ID=%d", e.Value), nil, nil
		}
		return fmt.Sprintf("SET INSERT_ID=%d", e.Value), nil, nil
	case *replication.BeginLoadQueryEvent:
		if s.blocks == nil {
			s.blocks = map[uint32][]byte{}
		}
		s.blocks[e.FileID] = append([]byte(nil), e.BlockData...)
		return "", nil, nil
	case *replication.ExecuteLoadQueryEvent:
		data, ok := s.blocks[e.FileID]
		if !ok {
			return "", nil, fmt.Errorf("EXECUTE_LOAD_QUERY_EVENT: file id %d has no BEGIN_LOAD_QUERY_EVENT in this transaction", e.FileID)
		}
		delete(s.blocks, e.FileID)
		l, err := LoadDataSQL(ev, e)
		if err != nil {
			return "", nil, err
		}
		if s.noThread {
			l.setup[len(l.setup)-1] = statementSessionSQL(ev.Header.Timestamp, e.SlaveProxyID, l.statusVars, false)
		}
		l.data = data
		return "", l, nil
	case *replication.GenericEvent:
		switch ev.Header.EventType {
		case replication.USER_VAR_EVENT:
			u, err := ParseUserVar(e.Data)
			if err != nil {
				return "", nil, err
			}
			q, err := u.SQL(w.collationName)
			return q, nil, err
		case replication.RAND_EVENT:
			q, err := randSQL(e.Data)
			return q, nil, err
		case replication.APPEND_BLOCK_EVENT:
			if len(e.Data) < 4 {
				return "", nil, errors.New("APPEND_BLOCK_EVENT truncated")
			}
			id := binary.LittleEndian.Uint32(e.Data)
			b, ok := s.blocks[id]
			if !ok {
				return "", nil, fmt.Errorf("APPEND_BLOCK_EVENT: file id %d has no BEGIN_LOAD_QUERY_EVENT in this transaction", id)
			}
			s.blocks[id] = append(b, e.Data[4:]...)
			return "", nil, nil
		}
	}
	return "", nil, fmt.Errorf("event type %s is not supported", ev.Header.EventType)
}

// collationName resolves a collation id on the target (cached).
func (w *Worker) collationName(id uint32) (string, string, error) {
	s := &w.opts.Pending.session
	if n, ok := s.names[id]; ok {
		return n[0], n[1], nil
	}
	if id == 63 {
		return "binary", "binary", nil
	}
	r, err := w.conn.Execute("SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATIONS WHERE ID = ?", id)
	if err != nil {
		return "", "", err
	}
	defer r.Close()
	if len(r.Values) == 0 {
		return "", "", fmt.Errorf("the target has no collation with id %d", id)
	}
	cs, _ := r.GetString(0, 0)
	coll, _ := r.GetString(0, 1)
	if s.names == nil {
		s.names = map[uint32][2]string{}
	}
	s.names[id] = [2]string{strings.Clone(cs), strings.Clone(coll)}
	return cs, coll, nil
}

// Duplicate handling of an EXECUTE_LOAD_QUERY (enum_load_dup_handling).
const (
	loadDupError   = 0
	loadDupIgnore  = 1
	loadDupReplace = 2
)

// LoadDataSQL rewrites an EXECUTE_LOAD_QUERY event into the LOAD DATA LOCAL
// INFILE statement that loads its blocks (as mysqlbinlog prints it: the file
// name between the event's start and end positions becomes LOCAL INFILE
// '<name>'), with the USE and session SET to run first. go-mysql decodes only
// the event's fixed part: the status variables, schema and query are read from
// the raw event.
func LoadDataSQL(ev *replication.BinlogEvent, e *replication.ExecuteLoadQueryEvent) (*loadStatement, error) {
	const postHeader = 13 + 13 // QUERY_EVENT's, then file id, start, end, dup handling
	raw := ev.RawData
	if len(raw) < replication.EventHeaderSize+postHeader {
		return nil, errors.New("EXECUTE_LOAD_QUERY_EVENT truncated")
	}
	body := raw[replication.EventHeaderSize:]
	if n := len(raw); n >= replication.EventHeaderSize+postHeader+4 &&
		crc32.ChecksumIEEE(raw[:n-4]) == binary.LittleEndian.Uint32(raw[n-4:]) {
		body = body[:len(body)-4]
	}
	pos := postHeader
	status := int(e.StatusVars)
	schemaLen := int(e.SchemaLength)
	if pos+status+schemaLen+1 > len(body) {
		return nil, errors.New("EXECUTE_LOAD_QUERY_EVENT: status variables or schema truncated")
	}
	statusVars := body[pos : pos+status]
	schema := string(body[pos+status : pos+status+schemaLen])
	q := body[pos+status+schemaLen+1:]
	start, end := int(e.StartPos), int(e.EndPos)
	if start > end || end > len(q) {
		return nil, fmt.Errorf("EXECUTE_LOAD_QUERY_EVENT: file name at %d-%d outside the %d-byte statement", start, end, len(q))
	}
	var b strings.Builder
	b.Write(q[:start])
	fmt.Fprintf(&b, " LOCAL INFILE 'mtreplica-load-%d'", e.FileID)
	switch e.DupHandlingFlags {
	case loadDupReplace:
		b.WriteString(" REPLACE")
	case loadDupIgnore:
		b.WriteString(" IGNORE")
	}
	b.WriteString(" INTO")
	b.Write(q[end:])
	l := &loadStatement{query: b.String(), statusVars: statusVars}
	if schema != "" {
		l.setup = append(l.setup, "USE "+quoteIdent(schema))
	}
	l.setup = append(l.setup, statementSessionSQL(ev.Header.Timestamp, e.SlaveProxyID, statusVars, true))
	return l, nil
}

// loadData runs a LOAD DATA LOCAL INFILE, answering the server's file request
// with the blocks from the binlog. The target must allow local_infile.
func (w *Worker) loadData(l *loadStatement) error {
	_, err := w.conn.ExecQueryRelayLocalInfile(l.query, func([]byte) (io.Reader, error) {
		return bytes.NewReader(l.data), nil
	})
	return err
}

// applyStatement applies a transaction that is one implicitly committing
// statement (DDL, or a statement on a non-transactional table): see
// "Statements that commit implicitly" in the package doc.
func (w *Worker) applyStatement(t *coordinator.Txn) error {
	stream, seq := t.ProgressKey()
	key := PendingKey(stream, seq)
	p := w.opts.Progress
	pending := w.opts.Pending.Has(key)
	if !pending {
		var b strings.Builder
		p.appendRecord(&b, stream, seq, t.Info.GTID.ServerID, t.Info.SourceFile, t.Info.EndPos, "ddl-pending")
		if _, err := w.conn.Execute(b.String()); err != nil {
			return w.statementError(t, expectation{kind: "progress", sql: "record pending statement"}, err)
		}
		w.opts.Pending.Add(key)
	}
	w.rowSession = false
	exec := func(q string) error {
		if _, err := w.conn.Execute(q); err != nil {
			return w.statementError(t, expectation{sql: q}, err)
		}
		return nil
	}
	use := func(schema string) error {
		if schema == "" {
			return nil
		}
		if _, err := w.conn.Execute("USE " + quoteIdent(schema)); err != nil {
			// CREATE/DROP DATABASE name their own schema as the default
			// one (for replicate-do-db), and it may not exist yet (or any
			// more): run them from the progress schema instead.
			if serverCode(err) != erBadDB {
				return w.statementError(t, expectation{sql: "USE " + schema}, err)
			}
			return exec("USE " + quoteIdent(p.Schema))
		}
		return nil
	}
	for _, ev := range t.Events {
		switch e := ev.Event.(type) {
		case *replication.QueryEvent:
			if err := use(string(e.Schema)); err != nil {
				return err
			}
			if err := exec(w.sessionSQL(ev.Header.Timestamp, e.SlaveProxyID, e.StatusVars)); err != nil {
				return err
			}
			stmt := string(e.Query)
			if _, err := w.conn.Execute(stmt); err != nil {
				if !(pending && ddlAlreadyApplied(err)) {
					return w.statementError(t, expectation{sql: stmt}, err)
				}
				w.opts.Logger.Info("statement already applied before a restart", "txn", t.ID(), "err", err)
			}
		case *replication.GTIDEvent, *replication.GtidTaggedLogEvent, *replication.MariadbGTIDEvent,
			*replication.MariadbAnnotateRowsEvent, *replication.RowsQueryEvent:
		default:
			sql, load, err := w.contextSQL(ev)
			if err != nil {
				return &ApplyError{Txn: t.ID(), SourceFile: t.Info.SourceFile, SourcePos: ev.Header.LogPos,
					Statement: ev.Header.EventType.String(), Err: fmt.Errorf("in a standalone statement: %w", err)}
			}
			if load != nil {
				for _, q := range load.setup {
					if err := exec(q); err != nil {
						return err
					}
				}
				if err := w.loadData(load); err != nil {
					return w.statementError(t, expectation{sql: load.query}, err)
				}
			} else if sql != "" {
				if err := exec(sql); err != nil {
					return err
				}
			}
		}
	}
	w.schemas.InvalidateAll()
	if _, err := w.conn.Execute("UPDATE "+p.table("applied_transactions")+" SET state='applied' WHERE channel=? AND stream=? AND seq=?",
		p.Channel, stream, seq); err != nil {
		return w.statementError(t, expectation{sql: "mark statement applied"}, err)
	}
	w.opts.Pending.Remove(key)
	if _, err := w.conn.Execute(rowSessionSQL); err != nil {
		return w.statementError(t, expectation{sql: rowSessionSQL}, err)
	}
	w.rowSession = true
	return nil
}

// PendingSet is the set of statements that may or may not have run before a
// restart (their progress row says 'ddl-pending'), and the statement session
// the workers sharing it run statement events on. Safe for concurrent use.
type PendingSet struct {
	mu      sync.Mutex
	keys    map[string]bool
	session statementSession
}

// NewPendingSet returns a set holding the given keys (PendingKey format).
func NewPendingSet(keys map[string]bool) *PendingSet {
	p := &PendingSet{keys: map[string]bool{}}
	for k, v := range keys {
		if v {
			p.keys[k] = true
		}
	}
	return p
}

func (p *PendingSet) Has(k string) bool { p.mu.Lock(); defer p.mu.Unlock(); return p.keys[k] }
func (p *PendingSet) Add(k string)      { p.mu.Lock(); p.keys[k] = true; p.mu.Unlock() }
func (p *PendingSet) Remove(k string)   { p.mu.Lock(); delete(p.keys, k); p.mu.Unlock() }
