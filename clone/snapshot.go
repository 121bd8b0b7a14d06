package clone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Position is where a snapshot stands in the source's binary log.
type Position struct {
	GTID string // the GTID set of every transaction the snapshot holds (MariaDB: a GTID position); "" if none
	File string // binlog file and position (MariaDB: binlog_snapshot_file/pos)
	Pos  uint64
}

func (p Position) String() string {
	if p.GTID != "" {
		return p.GTID
	}
	return fmt.Sprintf("%s:%d", p.File, p.Pos)
}

// snapshot is N source connections in one consistent snapshot.
type snapshot struct {
	conns  []*client.Conn
	pos    Position
	locked bool // FLUSH TABLES WITH READ LOCK was used
}

func (s *snapshot) close() {
	for _, c := range s.conns {
		if c != nil {
			c.Execute("ROLLBACK")
			c.Close()
		}
	}
}

// dialSource opens a source connection for reading: binary results (values as stored), UTC, long network
// timeouts (a worker may stall reading while the target is slow), REPEATABLE READ.
func dialSource(ctx context.Context, o *Options) (*client.Conn, error) {
	addr := net.JoinHostPort(o.Source.Host, strconv.Itoa(int(o.Source.Port)))
	var opts []client.Option
	if o.Source.TLS != nil {
		opts = append(opts, func(c *client.Conn) error { c.SetTLSConfig(o.Source.TLS); return nil })
	}
	c, err := client.ConnectWithContext(ctx, addr, o.Source.User, o.Source.Password, "", 10*time.Second, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to source %s as %s: %w", addr, o.Source.User, err)
	}
	qs := []string{
		"SET SESSION character_set_results = binary",
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600, SESSION wait_timeout = 86400",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	}
	if o.Source.Flavor == gtid.MariaDB {
		qs = append(qs, "SET SESSION max_statement_time = 0")
	}
	for _, q := range qs {
		if _, err := c.Execute(q); err != nil {
			c.Close()
			return nil, fmt.Errorf("set up source session (%s): %w", q, err)
		}
	}
	return c, nil
}

// lockFreeTries is how often N MariaDB snapshots are started without a lock before the lock is taken.
const lockFreeTries = 5

// takeSnapshot opens n connections sharing one snapshot and returns its position.
func takeSnapshot(ctx context.Context, o *Options, n int) (_ *snapshot, err error) {
	s := &snapshot{conns: make([]*client.Conn, n)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	for i := range s.conns {
		if s.conns[i], err = dialSource(ctx, o); err != nil {
			return nil, err
		}
	}
	if o.Source.Flavor == gtid.MariaDB && !o.SnapshotLock {
		for try := 0; try < lockFreeTries; try++ {
			files, poss, err := s.startAll(true)
			if err != nil {
				return nil, err
			}
			if allEqual(files) && allEqual(poss) {
				pos, _ := strconv.ParseUint(poss[0], 10, 64)
				s.pos = Position{File: files[0], Pos: pos}
				return s, s.mariaDBGTID()
			}
			if err := s.rollbackAll(); err != nil {
				return nil, err
			}
		}
	}
	// The brief lock: no commit while the N transactions start.
	lock, err := dialSource(ctx, o)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if _, err := lock.Execute("SET SESSION lock_wait_timeout = 60"); err != nil {
		return nil, fmt.Errorf("snapshot lock: %w", err)
	}
	if _, err := lock.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
		return nil, fmt.Errorf("FLUSH TABLES WITH READ LOCK (needs the RELOAD privilege): %w", err)
	}
	s.locked = true
	unlock := func() error {
		if _, err := lock.Execute("UNLOCK TABLES"); err != nil {
			return fmt.Errorf("UNLOCK TABLES: %w", err)
		}
		return nil
	}
	if o.Source.Flavor == gtid.MariaDB {
		files, poss, err := s.startAll(true)
		if err != nil {
			unlock()
			return nil, err
		}
		if err := unlock(); err != nil {
			return nil, err
		}
		if !allEqual(files) || !allEqual(poss) {
			return nil, fmt.Errorf("snapshots under FLUSH TABLES WITH READ LOCK differ: files %v positions %v", files, poss)
		}
		pos, _ := strconv.ParseUint(poss[0], 10, 64)
		s.pos = Position{File: files[0], Pos: pos}
		return s, s.mariaDBGTID()
	}
	if _, _, err := s.startAll(false); err != nil {
		unlock()
		return nil, err
	}
	p, err := mysqlPosition(lock)
	if uerr := unlock(); err == nil {
		err = uerr
	}
	if err != nil {
		return nil, err
	}
	s.pos = p
	return s, nil
}

// startAll starts the snapshot transaction on every connection at once (concurrently, so that they are as close
// in time as possible) and, for MariaDB, returns each one's binlog_snapshot_file and _pos.
func (s *snapshot) startAll(mariadb bool) (files, poss []string, err error) {
	files, poss = make([]string, len(s.conns)), make([]string, len(s.conns))
	errs := make([]error, len(s.conns))
	var wg sync.WaitGroup
	for i, c := range s.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
				errs[i] = fmt.Errorf("START TRANSACTION WITH CONSISTENT SNAPSHOT: %w", err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	if !mariadb {
		return nil, nil, nil
	}
	for i, c := range s.conns {
		rows, err := queryRows(c, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return nil, nil, fmt.Errorf("read binlog snapshot position: %w", err)
		}
		for _, r := range rows {
			switch r[0] {
			case "Binlog_snapshot_file":
				files[i] = r[1]
			case "Binlog_snapshot_position":
				poss[i] = r[1]
			}
		}
		if files[i] == "" {
			return nil, nil, errors.New("the source reports no binlog_snapshot_file: is log_bin on?")
		}
	}
	return files, poss, nil
}

func (s *snapshot) rollbackAll() error {
	for _, c := range s.conns {
		if _, err := c.Execute("ROLLBACK"); err != nil {
			return fmt.Errorf("rollback snapshot: %w", err)
		}
	}
	return nil
}

// mariaDBGTID turns the snapshot's binlog position into a GTID position.
func (s *snapshot) mariaDBGTID() error {
	rows, err := queryRows(s.conns[0], fmt.Sprintf("SELECT BINLOG_GTID_POS(%s, %d)", quoteString(s.pos.File), s.pos.Pos))
	if err != nil {
		return fmt.Errorf("BINLOG_GTID_POS(%s, %d): %w", s.pos.File, s.pos.Pos, err)
	}
	if len(rows) == 1 {
		s.pos.GTID = rows[0][0]
	}
	return nil
}

// mysqlPosition reads the binlog position and gtid_executed (under the lock).
func mysqlPosition(c *client.Conn) (Position, error) {
	var p Position
	rows, err := queryRows(c, "SHOW MASTER STATUS")
	if err != nil {
		rows, err = queryRows(c, "SHOW BINARY LOG STATUS") // MySQL 8.4
	}
	if err != nil {
		return p, fmt.Errorf("read binlog position: %w", err)
	}
	if len(rows) == 1 && len(rows[0]) >= 2 {
		p.File = rows[0][0]
		p.Pos, _ = strconv.ParseUint(rows[0][1], 10, 64)
	}
	rows, err = queryRows(c, "SELECT @@GLOBAL.gtid_executed")
	if err != nil {
		return p, fmt.Errorf("read gtid_executed: %w", err)
	}
	if len(rows) == 1 {
		p.GTID = stripSpace(rows[0][0])
	}
	return p, nil
}

func stripSpace(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' && s[i] != ' ' && s[i] != '\r' && s[i] != '\t' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func allEqual(v []string) bool {
	for _, x := range v[1:] {
		if x != v[0] {
			return false
		}
	}
	return true
}

// queryRows runs q and returns its rows as strings ("" for NULL; use queryNullable to tell them apart).
func queryRows(c *client.Conn, q string, args ...any) ([][]string, error) {
	r, err := c.Execute(q, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([][]string, len(r.Values))
	for i, row := range r.Values {
		out[i] = make([]string, len(row))
		for j := range row {
			out[i][j] = fieldString(&row[j])
		}
	}
	return out, nil
}

func fieldString(v *mysql.FieldValue) string {
	switch v.Type {
	case mysql.FieldValueTypeNull:
		return ""
	case mysql.FieldValueTypeString:
		return string(v.AsString())
	}
	return v.String()
}
