package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// servers are the three throwaway MariaDB servers of a benchmark, all started with the same settings
// (durability, buffer pool, redo log size). The source keeps a binlog; the targets do not: a native replica
// without log_slave_updates does not binlog what it applies, and mtreplica's SQL would otherwise be binlogged by
// its target, so both targets do the same work per transaction.
type servers struct {
	source *mariadbtest.Server
	mt     *mariadbtest.Server // mtreplica's target
	native *mariadbtest.Server // MariaDB's own replica of the source

	// Snapshots of the datadirs taken after the initial data was loaded, each with the server stopped cleanly.
	// Restoring one gives a server exactly that state back (section "reset" in doc.go).
	sourceSnap string
	targetSnap string // the same for both targets
	basePos    gtidPos
}

func startServers(ctx context.Context, c config, logf func(string, ...any)) (*servers, error) {
	opts := func(target bool) mariadbtest.Options {
		return mariadbtest.Options{
			Durability:  c.durability,
			NoBinlog:    target,
			BufferPool:  c.bufferPool,
			RedoLogSize: c.redoLog,
			// The native replica gets these too, which it ignores until CHANGE MASTER; harmless on the others.
			ExtraArgs: []string{"--skip-slave-start", "--innodb-fast-shutdown=1"},
		}
	}
	s := &servers{}
	var err error
	if s.source, err = mariadbtest.StartServer(ctx, opts(false)); err != nil {
		return nil, fmt.Errorf("start source: %w", err)
	}
	if s.mt, err = mariadbtest.StartServer(ctx, opts(true)); err != nil {
		s.stop()
		return nil, fmt.Errorf("start mtreplica's target: %w", err)
	}
	if s.native, err = mariadbtest.StartServer(ctx, opts(true)); err != nil {
		s.stop()
		return nil, fmt.Errorf("start the native replica: %w", err)
	}
	logf("servers: source %s (server_id %d), mtreplica target %s, native replica %s; %s, %s",
		s.source.Addr(), s.source.ServerID, s.mt.Addr(), s.native.Addr(), s.source.Version, c.durability)
	return s, nil
}

// stop stops every server that was started (their directories go with them).
func (s *servers) stop() {
	for _, srv := range []*mariadbtest.Server{s.native, s.mt, s.source} {
		if srv != nil {
			_ = srv.Stop()
		}
	}
}

// loadInitialData creates the bench schema and the sysbench tables on the source, copies them to both targets by
// letting the native replica replicate them and copying its datadir, and takes the snapshots every run starts from.
func (s *servers) loadInitialData(ctx context.Context, c config, work string, logf func(string, ...any)) error {
	if err := s.source.Exec(ctx,
		"CREATE DATABASE bench",
		"CREATE TABLE bench.heartbeat (id INT PRIMARY KEY, ts TIMESTAMP(6) NOT NULL)",
		"INSERT INTO bench.heartbeat VALUES (1, NOW(6))",
		"CREATE TABLE bench.bulk (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)",
	); err != nil {
		return err
	}
	start := time.Now()
	if out, err := mariadbtest.Sysbench(ctx, s.source, "sbtest", "oltp_write_only",
		fmt.Sprintf("--tables=%d", c.tables), fmt.Sprintf("--table-size=%d", c.tableSize), "prepare"); err != nil {
		return fmt.Errorf("sysbench prepare: %w\n%s", err, out)
	}
	pos, err := gtidPosOf(ctx, s.source, "@@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return err
	}
	s.basePos = pos
	logf("initial data: %d tables x %d rows on the source in %.1fs; source at %s", c.tables, c.tableSize,
		time.Since(start).Seconds(), pos)

	// The native replica copies it from the binlog, then stops and forgets its source: its gtid_slave_pos (kept
	// in mysql.gtid_slave_pos) is the starting point of every later run.
	start = time.Now()
	if err := s.native.Exec(ctx,
		"SET GLOBAL gtid_slave_pos = ''",
		changeMasterSQL(s.source),
		"START SLAVE",
	); err != nil {
		return fmt.Errorf("copy initial data: %w", err)
	}
	if err := waitNativeSQLPos(ctx, s.native, pos, 30*time.Minute, nil); err != nil {
		return fmt.Errorf("copy initial data: %w", err)
	}
	if err := s.native.Exec(ctx, "STOP SLAVE", "RESET SLAVE ALL"); err != nil {
		return err
	}
	if err := mariadbtest.Compare(ctx, s.source, s.native); err != nil {
		return fmt.Errorf("initial data differs on the native replica: %w", err)
	}
	logf("initial data replicated to the targets in %.1fs", time.Since(start).Seconds())

	s.sourceSnap = filepath.Join(work, "snap-source")
	s.targetSnap = filepath.Join(work, "snap-target")
	if err := snapshot(ctx, s.source, s.sourceSnap); err != nil {
		return err
	}
	if err := snapshot(ctx, s.native, s.targetSnap); err != nil {
		return err
	}
	if err := restore(ctx, s.mt, s.targetSnap); err != nil {
		return err
	}
	return nil
}

// changeMasterSQL points a native replica at src, by GTID, as the replication user.
func changeMasterSQL(src *mariadbtest.Server) string {
	return fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
		"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", src.Host, src.Port, mariadbtest.ReplUser, mariadbtest.ReplPassword)
}

// snapshot shuts s down cleanly, copies its datadir to dir, and starts it again.
func snapshot(ctx context.Context, s *mariadbtest.Server, dir string) error {
	if err := cleanShutdown(ctx, s); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := copyTree(s.DataDir, dir); err != nil {
		return fmt.Errorf("snapshot %s: %w", s.Addr(), err)
	}
	return s.Restart(ctx)
}

// restore replaces s's datadir with a copy of the snapshot dir and starts s on it. The running server is killed:
// its state is being thrown away, so there is nothing to shut down cleanly for.
func restore(ctx context.Context, s *mariadbtest.Server, dir string) error {
	_ = s.Kill() // an error means it had already died: a failed run; the restore still helps
	if err := os.RemoveAll(s.DataDir); err != nil {
		return err
	}
	if err := copyTree(dir, s.DataDir); err != nil {
		return fmt.Errorf("restore %s: %w", s.Addr(), err)
	}
	if err := s.Restart(ctx); err != nil {
		return fmt.Errorf("restore %s: %w", s.Addr(), err)
	}
	return nil
}

// cleanShutdown stops s with SHUTDOWN (a clean InnoDB shutdown, so its files need no recovery) and leaves its
// directory in place. mariadbtest has no such call (Stop removes the directory), so the exit is acknowledged with
// Kill, which then returns "exited before Stop": expected here.
func cleanShutdown(ctx context.Context, s *mariadbtest.Server) error {
	if err := s.Exec(ctx, "SHUTDOWN"); err != nil && s.Running() {
		var myErr *mysql.MyError
		if errors.As(err, &myErr) {
			return fmt.Errorf("shutdown %s: %w", s.Addr(), err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for s.Running() {
		if time.Now().After(deadline) {
			return fmt.Errorf("shutdown %s: still running after 2 minutes", s.Addr())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = s.Kill()
	return nil
}

// copyTree copies the regular files and directories under src to dst (which must not exist). On Linux io.Copy
// between files uses copy_file_range, so the data stays in the kernel.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			return copyFile(path, target)
		default:
			return nil // sockets, pid files' links: not part of the data
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// gtidPosOf reads a GTID position variable (e.g. @@GLOBAL.gtid_binlog_pos) from s.
func gtidPosOf(ctx context.Context, s *mariadbtest.Server, variable string) (gtidPos, error) {
	rows, err := s.QueryRows(ctx, "SELECT "+variable)
	if err != nil {
		return nil, err
	}
	return parseGTIDPos(rows[0][0])
}

// queryMap runs q on c and returns its first row by column name ("" for NULL); nil when there is no row.
func queryMap(c *client.Conn, q string) (map[string]string, error) {
	r, err := c.Execute(q)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Resultset == nil || len(r.Values) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(r.Fields))
	for i, f := range r.Fields {
		v, _ := r.GetString(0, i)
		m[string(f.Name)] = v
	}
	return m, nil
}

// queryString runs q on c and returns the first column of the first row ("" when there is none).
func queryString(c *client.Conn, q string) (string, error) {
	r, err := c.Execute(q)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if r.Resultset == nil || len(r.Values) == 0 {
		return "", nil
	}
	return r.GetString(0, 0)
}

// commitCounts are target counters that show how commits were grouped.
type commitCounts struct {
	// LogWrites is Innodb_log_writes: with innodb_flush_log_at_trx_commit=1 and no binlog, about one per group
	// of commits the server makes durable together (MariaDB 10.8 and later have no Innodb_os_log_fsyncs).
	LogWrites int64
	// Commits is Com_commit: COMMIT statements (mtreplica sends one per target transaction).
	Commits int64
}

func (a commitCounts) sub(b commitCounts) commitCounts {
	return commitCounts{LogWrites: a.LogWrites - b.LogWrites, Commits: a.Commits - b.Commits}
}

// readCommitCounts reads s's commitCounts.
func readCommitCounts(ctx context.Context, s *mariadbtest.Server) (commitCounts, error) {
	var c commitCounts
	rows, err := s.QueryRows(ctx, "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('INNODB_LOG_WRITES', 'COM_COMMIT')")
	if err != nil {
		return c, err
	}
	for _, r := range rows {
		v, err := strconv.ParseInt(r[1], 10, 64)
		if err != nil {
			return c, fmt.Errorf("%s: %w", r[0], err)
		}
		switch r[0] {
		case "INNODB_LOG_WRITES":
			c.LogWrites = v
		case "COM_COMMIT":
			c.Commits = v
		}
	}
	if len(rows) != 2 {
		return c, errors.New("no Innodb_log_writes or Com_commit in GLOBAL_STATUS")
	}
	return c, nil
}
