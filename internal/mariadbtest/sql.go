package mariadbtest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

const dialTimeout = 10 * time.Second

// DSN returns "user:password@tcp(127.0.0.1:port)/db" in go-sql-driver style (the form the engine's configuration
// takes). password and db may be empty.
func (s *Server) DSN(user, password, db string) string {
	cred := user
	if password != "" {
		cred += ":" + password
	}
	return fmt.Sprintf("%s@tcp(%s)/%s", cred, s.Addr(), db)
}

// RootDSN returns the DSN of root without password and without a default database.
func (s *Server) RootDSN() string { return s.DSN("root", "", "") }

// Conn opens a go-mysql connection as root over TCP. ctx bounds the connect only. The caller closes it.
func (s *Server) Conn(ctx context.Context) (*client.Conn, error) {
	return s.ConnAs(ctx, "root", "", "")
}

// ConnAs opens a go-mysql connection over TCP as user (e.g. ReplUser, ReplPassword) with default database db.
// ctx bounds the connect only. The caller closes it.
func (s *Server) ConnAs(ctx context.Context, user, password, db string) (*client.Conn, error) {
	c, _, err := s.dial(ctx, user, password, db)
	return c, err
}

// dial connects and also returns the raw socket, so callers can abort a blocked query when ctx ends.
func (s *Server) dial(ctx context.Context, user, password, db string) (*client.Conn, net.Conn, error) {
	var nc net.Conn
	var stop func() bool
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		nc = c
		stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) }) // unblocks the handshake
		return c, nil
	}
	c, err := client.ConnectWithDialer(ctx, "tcp", s.Addr(), user, password, db, dialer)
	if stop != nil && !stop() { // ctx ended during the handshake: the socket's deadline is poisoned
		if c != nil {
			c.Close()
		}
		return nil, nil, fmt.Errorf("connect to %s: %w", s.Addr(), ctx.Err())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s as %s: %w", s.Addr(), user, err)
	}
	return c, nc, nil
}

// withConn runs fn on a fresh root connection, aborting its I/O when ctx ends.
func (s *Server) withConn(ctx context.Context, fn func(*client.Conn) error) error {
	c, nc, err := s.dial(ctx, "root", "", "")
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	err = fn(c)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Exec runs the queries in order on one root connection (so session state such as USE or SET carries over) and
// stops at the first error, which names the query.
func (s *Server) Exec(ctx context.Context, queries ...string) error {
	return s.withConn(ctx, func(c *client.Conn) error {
		for _, q := range queries {
			r, err := c.Execute(q)
			if err != nil {
				return fmt.Errorf("exec %q on %s: %w", abbrev(q), s.Addr(), err)
			}
			r.Close()
		}
		return nil
	})
}

// QueryRows runs q as root and returns every row with each value as a string, NULL as "NULL".
func (s *Server) QueryRows(ctx context.Context, q string) ([][]string, error) {
	var rows [][]string
	err := s.withConn(ctx, func(c *client.Conn) error {
		var err error
		rows, err = queryRows(c, q)
		if err != nil {
			return fmt.Errorf("query %q on %s: %w", abbrev(q), s.Addr(), err)
		}
		return nil
	})
	return rows, err
}

// queryRows runs q on c and copies the result out (go-mysql recycles result buffers on Close).
func queryRows(c *client.Conn, q string, args ...any) ([][]string, error) {
	r, err := c.Execute(q, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Resultset == nil {
		return nil, nil
	}
	rows := make([][]string, 0, len(r.Values))
	for _, vals := range r.Values {
		row := make([]string, len(vals))
		for i := range vals {
			row[i] = fieldString(&vals[i])
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func fieldString(v *mysql.FieldValue) string {
	switch v.Type {
	case mysql.FieldValueTypeNull:
		return "NULL"
	case mysql.FieldValueTypeUnsigned:
		return strconv.FormatUint(v.AsUint64(), 10)
	case mysql.FieldValueTypeSigned:
		return strconv.FormatInt(v.AsInt64(), 10)
	case mysql.FieldValueTypeFloat:
		return strconv.FormatFloat(v.AsFloat64(), 'g', -1, 64)
	default:
		return string(v.AsString()) // copies
	}
}

// BinlogFiles returns the absolute paths of the server's binlog files, oldest first (SHOW BINARY LOGS).
func (s *Server) BinlogFiles(ctx context.Context) ([]string, error) {
	if !s.Binlog {
		return nil, fmt.Errorf("binlog files of server_id=%d: started with NoBinlog", s.ServerID)
	}
	rows, err := s.QueryRows(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, err
	}
	files := make([]string, 0, len(rows))
	for _, r := range rows {
		files = append(files, filepath.Join(s.DataDir, r[0]))
	}
	return files, nil
}

// GTIDPos returns @@gtid_binlog_pos: the last GTID written to the binlog in each domain ("" for a fresh server).
func (s *Server) GTIDPos(ctx context.Context) (string, error) {
	rows, err := s.QueryRows(ctx, "SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return "", err
	}
	return rows[0][0], nil
}

// abbrev shortens a query for an error message.
func abbrev(q string) string {
	const max = 200
	if len(q) <= max {
		return q
	}
	return q[:max] + "..."
}
