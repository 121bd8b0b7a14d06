package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// Integration tests against real MariaDB servers (skipped when mariadbd is not installed).

func sourceOptions(s *mariadbtest.Server) Options {
	return Options{
		Flavor: gtid.MariaDB, Host: s.Host, Port: uint16(s.Port),
		User: mariadbtest.ReplUser, Password: mariadbtest.ReplPassword,
		HeartbeatPeriod: 200 * time.Millisecond, ConnectRetry: 20 * time.Millisecond, MaxConnectRetry: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// receiver runs c.Run in the background; stop cancels it and returns Run's error.
type receiver struct {
	c      *Client
	cancel context.CancelFunc
	done   chan error
}

func runReceiver(t *testing.T, c *Client, start func() (StartPosition, error)) *receiver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &receiver{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, start) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *receiver) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

// resumeFrom returns a start function that resumes after the fake relay log's
// last complete transaction, or starts at first.
func resumeFrom(relay *fakeRelay, first StartPosition) func() (StartPosition, error) {
	return func() (StartPosition, error) {
		if s, ok := relay.resume(); ok {
			return StartPosition{GTIDs: s}, nil
		}
		return first, nil
	}
}

// seqs returns the sequence numbers of domain 0's GTIDs.
func seqs(gs []gtid.GTID) []uint64 {
	out := make([]uint64, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Seq)
	}
	return out
}

// lastSeq parses the domain-0 sequence number of a gtid_binlog_pos.
func lastSeq(t *testing.T, s *mariadbtest.Server) uint64 {
	t.Helper()
	pos, err := s.GTIDPos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pos == "" {
		return 0
	}
	g, err := gtid.Parse(pos)
	if err != nil {
		t.Fatal(err)
	}
	return g.Seq
}

// checkExactly checks that relay holds transactions from..to of domain 0, each once, in order.
func checkExactly(t *testing.T, relay *fakeRelay, from, to uint64) {
	t.Helper()
	if err := relay.check(); err != nil {
		t.Fatalf("relay log: %v", err)
	}
	got := seqs(relay.gtids())
	var want []uint64
	for i := from; i <= to; i++ {
		want = append(want, i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("relay log holds GTIDs %v, want %d..%d once each in order", got, from, to)
	}
}

func waitForSeq(t *testing.T, relay *fakeRelay, seq uint64) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("GTID 0-*-%d in the relay log", seq), func() bool {
		gs := relay.gtids()
		return len(gs) > 0 && gs[len(gs)-1].Seq >= seq
	})
}

func mustExec(t *testing.T, s *mariadbtest.Server, queries ...string) {
	t.Helper()
	if err := s.Exec(context.Background(), queries...); err != nil {
		t.Fatal(err)
	}
}

// writeTxns runs n transactions of different shapes on conn.
func writeTxns(conn *client.Conn, first, n int) error {
	for i := first; i < first+n; i++ {
		var qs []string
		switch i % 3 {
		case 0: // autocommit single row
			qs = []string{fmt.Sprintf("INSERT INTO app.t VALUES (%d, REPEAT('a', 100))", i)}
		case 1: // multi-statement transaction with several rows events
			qs = []string{"BEGIN",
				fmt.Sprintf("INSERT INTO app.t VALUES (%d, REPEAT('b', 3000))", i),
				fmt.Sprintf("UPDATE app.t SET v = REPEAT('c', 2000) WHERE id = %d", i),
				"INSERT INTO app.t2 SELECT seq, 'x' FROM app.seq_1_to_50 ON DUPLICATE KEY UPDATE v = 'y'",
				"COMMIT"}
		case 2:
			qs = []string{fmt.Sprintf("INSERT INTO app.t VALUES (%d, 'z')", i),
				fmt.Sprintf("DELETE FROM app.t WHERE id = %d", i)}
		}
		for _, q := range qs {
			if _, err := conn.Execute(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	return nil
}

func setupSchema(t *testing.T, s *mariadbtest.Server) {
	t.Helper()
	mustExec(t, s, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)",
		"CREATE TABLE app.t2 (id INT PRIMARY KEY, v TEXT)")
}

func rootConn(t *testing.T, s *mariadbtest.Server) *client.Conn {
	t.Helper()
	conn, err := s.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestStreamInOrder(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{})
	setupSchema(t, src)
	relay := newFakeRelay()
	reg := prometheus.NewRegistry()
	opts := sourceOptions(src)
	opts.Registerer = reg
	c, err := New(opts, relay)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Preflight(context.Background())
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if info.Flavor != gtid.MariaDB || info.ServerID != src.ServerID || info.BinlogFormat != "ROW" || len(info.Warnings) != 0 {
		t.Errorf("source info %+v", info)
	}
	r := runReceiver(t, c, resumeFrom(relay, StartPosition{}))
	if err := writeTxns(rootConn(t, src), 0, 60); err != nil {
		t.Fatal(err)
	}
	mustExec(t, src, "FLUSH BINARY LOGS", "CREATE TABLE app.t3 (id INT PRIMARY KEY)", "INSERT INTO app.t3 VALUES (1)")
	last := lastSeq(t, src)
	waitForSeq(t, relay, last)
	checkExactly(t, relay, 1, last)

	st := c.Status()
	if st.IORunning != IOYes || st.SourceServerID != src.ServerID || st.SourceLogFile != "mysql-bin.000002" ||
		st.ReadSourceLogPos <= 4 || st.EventsReceived == 0 || st.BytesReceived == 0 || st.LastEventTimestamp.IsZero() ||
		st.Reconnects != 0 || st.LastIOError != "" {
		t.Errorf("status %+v", st)
	}
	m := gather(t, reg)
	if m["mtreplica_receiver_connected"] != 1 || m["mtreplica_receiver_events_total"] != float64(st.EventsReceived) ||
		m["mtreplica_receiver_bytes_total"] != float64(st.BytesReceived) {
		t.Errorf("metrics %v, status %+v", m, st)
	}
	// Idle: heartbeats keep coming, and never reach the relay log.
	hb := c.Status().HeartbeatsReceived
	waitFor(t, 5*time.Second, "three heartbeats", func() bool { return c.Status().HeartbeatsReceived >= hb+3 })
	if n := relay.count(replication.HEARTBEAT_LOG_EVENT_V2, replication.HEARTBEAT_EVENT); n != 0 {
		t.Errorf("%d heartbeats reached the relay log", n)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	if st := c.Status(); st.IORunning != IONo {
		t.Errorf("after stop: IORunning %q", st.IORunning)
	}
}

// dumpThreads returns the ids of the source's Binlog Dump threads.
func dumpThreads(t *testing.T, s *mariadbtest.Server) []string {
	t.Helper()
	rows, err := s.QueryRows(context.Background(), "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r[0])
	}
	return ids
}

func TestReconnectAfterKill(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{})
	setupSchema(t, src)
	mustExec(t, src, "CREATE TABLE app.big (id INT PRIMARY KEY, v VARCHAR(255))")
	// A backlog dominated by two big transactions (~10 MB each, over a thousand rows
	// events). The relay log is slowed down, so the source's dump thread blocks
	// on a full socket, mostly inside a big transaction: that is where the kills land.
	conn := rootConn(t, src)
	for i := 0; i < 2; i++ {
		if err := writeTxns(conn, i*30, 30); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Execute(fmt.Sprintf("INSERT INTO app.big SELECT seq + %d, REPEAT('x', 200) "+
			"FROM app.seq_1_to_40000", i*100000)); err != nil {
			t.Fatal(err)
		}
	}
	relay := newFakeRelay()
	relay.delay.Store(int64(100 * time.Microsecond))
	c, err := New(sourceOptions(src), relay)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, c, resumeFrom(relay, StartPosition{}))
	writeErr := make(chan error, 1)
	go func() { writeErr <- writeTxns(conn, 60, 300) }() // and keep writing while the kills happen

	const kills = 4
	killed := map[string]bool{}
	for k := 0; k < kills; k++ {
		var id string
		waitFor(t, 30*time.Second, "a new Binlog Dump thread", func() bool {
			for _, d := range dumpThreads(t, src) {
				if !killed[d] {
					id = d
					return true
				}
			}
			return false
		})
		time.Sleep(time.Duration(150+k*37) * time.Millisecond) // let it stream a little
		killed[id] = true
		if err := src.Exec(context.Background(), "KILL "+id); err != nil && !strings.Contains(err.Error(), "Unknown thread") {
			t.Fatal(err)
		}
	}
	relay.delay.Store(0)
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	last := lastSeq(t, src)
	waitForSeq(t, relay, last)
	checkExactly(t, relay, 1, last)
	waitFor(t, 10*time.Second, "a reconnect per kill", func() bool { return c.Status().Reconnects >= kills })
	relay.mu.Lock()
	discards := relay.discards
	relay.mu.Unlock()
	st := c.Status()
	t.Logf("%d transactions, %d reconnects, %d partial transactions discarded, last error %q",
		last, st.Reconnects, discards, st.LastIOError)
	if discards == 0 {
		t.Errorf("no kill landed inside a transaction: DiscardPartial was not exercised")
	}
}

func TestStartFromFilePosition(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{})
	setupSchema(t, src)
	conn := rootConn(t, src)
	if err := writeTxns(conn, 0, 10); err != nil {
		t.Fatal(err)
	}
	rows, err := src.QueryRows(context.Background(), "SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	file := rows[0][0]
	pos, _ := strconv.ParseUint(rows[0][1], 10, 32)
	from := lastSeq(t, src) + 1
	if err := writeTxns(conn, 10, 10); err != nil {
		t.Fatal(err)
	}
	relay := newFakeRelay()
	c, err := New(sourceOptions(src), relay)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, c, func() (StartPosition, error) { return StartPosition{File: file, Pos: uint32(pos)}, nil })
	last := lastSeq(t, src)
	waitForSeq(t, relay, last)
	checkExactly(t, relay, from, last)
	if st := c.Status(); st.SourceLogFile != file || st.StartPosition != fmt.Sprintf("%s:%d", file, pos) {
		t.Errorf("status %+v", st)
	}
}

func TestStartFromGTID(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{DomainID: 0})
	setupSchema(t, src)
	conn := rootConn(t, src)
	if err := writeTxns(conn, 0, 10); err != nil {
		t.Fatal(err)
	}
	mustExec(t, src, "FLUSH BINARY LOGS")
	if err := writeTxns(conn, 10, 5); err != nil {
		t.Fatal(err)
	}
	posStr, err := src.GTIDPos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	startSet, err := gtid.ParseSet(gtid.MariaDB, posStr)
	if err != nil {
		t.Fatal(err)
	}
	from := lastSeq(t, src) + 1
	if err := writeTxns(conn, 15, 10); err != nil {
		t.Fatal(err)
	}
	relay := newFakeRelay()
	c, err := New(sourceOptions(src), relay)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, c, func() (StartPosition, error) { return StartPosition{GTIDs: startSet}, nil })
	last := lastSeq(t, src)
	waitForSeq(t, relay, last)
	checkExactly(t, relay, from, last)
}

func TestPurgedBinlog(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{})
	setupSchema(t, src)
	mustExec(t, src, "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (1, 'a')", "FLUSH BINARY LOGS",
		"PURGE BINARY LOGS TO 'mysql-bin.000003'")
	for _, tt := range []struct {
		name  string
		start StartPosition
	}{
		{"file", StartPosition{File: "mysql-bin.000001", Pos: 4}},
		{"gtid", StartPosition{GTIDs: gtid.NewSet(gtid.MariaDB)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(sourceOptions(src), newFakeRelay())
			if err != nil {
				t.Fatal(err)
			}
			err = c.Run(context.Background(), func() (StartPosition, error) { return tt.start, nil })
			if !errors.Is(err, ErrBinlogPurged) {
				t.Fatalf("Run: %v, want ErrBinlogPurged", err)
			}
			t.Log(err)
			if st := c.Status(); st.LastIOErrno != 1236 || st.IORunning != IONo {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestPreflightFailures(t *testing.T) {
	type tc struct {
		name   string
		server mariadbtest.Options
		setup  func(t *testing.T, s *mariadbtest.Server, o *Options)
		check  string
		msg    string
	}
	tests := []tc{
		{name: "binlog off", server: mariadbtest.Options{NoBinlog: true}, check: CheckLogBin, msg: "--log-bin"},
		{name: "statement format", server: mariadbtest.Options{ExtraArgs: []string{"--binlog-format=STATEMENT"}},
			check: CheckBinlogFormat, msg: "binlog_format is STATEMENT; set binlog_format=ROW"},
		{name: "minimal row image", server: mariadbtest.Options{ExtraArgs: []string{"--binlog-row-image=MINIMAL"}},
			check: CheckRowImage, msg: "binlog_row_image is MINIMAL; set binlog_row_image=FULL"},
		{name: "server id clash", setup: func(_ *testing.T, s *mariadbtest.Server, o *Options) { o.ServerID = s.ServerID },
			check: CheckServerID, msg: "equals the source's server_id"},
		{name: "no privileges", setup: func(t *testing.T, s *mariadbtest.Server, o *Options) {
			mustExec(t, s, "CREATE USER 'nopriv'@'%' IDENTIFIED BY 'pw'")
			o.User, o.Password = "nopriv", "pw"
		}, check: CheckPrivileges,
			msg: "lacks REPLICATION SLAVE and REPLICATION CLIENT (BINLOG MONITOR); run on the source: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'nopriv'@'%'"},
		{name: "only replication slave", setup: func(t *testing.T, s *mariadbtest.Server, o *Options) {
			mustExec(t, s, "CREATE USER 'half'@'%' IDENTIFIED BY 'pw'", "GRANT REPLICATION SLAVE ON *.* TO 'half'@'%'")
			o.User, o.Password = "half", "pw"
		}, check: CheckPrivileges, msg: "lacks REPLICATION CLIENT (BINLOG MONITOR)"},
		{name: "wrong flavor", setup: func(_ *testing.T, _ *mariadbtest.Server, o *Options) { o.Flavor = gtid.MySQL },
			check: CheckFlavor, msg: "the source is mariadb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := mariadbtest.Start(t, tt.server)
			opts := sourceOptions(src)
			if tt.setup != nil {
				tt.setup(t, src, &opts)
			}
			c, err := New(opts, newFakeRelay())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Preflight(context.Background())
			var pf *PreflightError
			if !errors.As(err, &pf) || pf.Check != tt.check || !strings.Contains(pf.Msg, tt.msg) {
				t.Fatalf("Preflight: %v\nwant check %s saying %q", err, tt.check, tt.msg)
			}
			// Run fails the same way, at once, without retrying.
			err = c.Run(context.Background(), func() (StartPosition, error) { return StartPosition{}, nil })
			if !errors.As(err, &pf) || pf.Check != tt.check {
				t.Fatalf("Run: %v, want the %s preflight error", err, tt.check)
			}
			if st := c.Status(); st.Reconnects != 0 || st.IORunning != IONo {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestPreflightWarnings(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: []string{
		"--binlog-row-metadata=MINIMAL", "--binlog-expire-logs-seconds=3600"}})
	c, err := New(sourceOptions(src), newFakeRelay())
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Preflight(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(info.Warnings, "\n")
	if !strings.Contains(w, "binlog_row_metadata=FULL") || !strings.Contains(w, "after 1h0m0s") {
		t.Errorf("warnings %q", w)
	}
}

func TestAuthFailure(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{})
	opts := sourceOptions(src)
	opts.Password = "wrong"
	c, err := New(opts, newFakeRelay())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Preflight(context.Background()); !errors.Is(err, ErrAuth) {
		t.Errorf("Preflight: %v, want ErrAuth", err)
	}
	err = c.Run(context.Background(), func() (StartPosition, error) { return StartPosition{}, nil })
	if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Run: %v, want ErrAuth (without the password)", err)
	}
	if st := c.Status(); st.LastIOErrno != 1045 {
		t.Errorf("status %+v", st)
	}
}

// TestReadTimeoutOnStoppedSource: a source that stops answering (SIGSTOP: no
// heartbeats, no FIN) is noticed after ReadTimeout, and streaming resumes once
// it is back.
func TestReadTimeoutOnStoppedSource(t *testing.T) {
	src := mariadbtest.Start(t, mariadbtest.Options{})
	setupSchema(t, src)
	relay := newFakeRelay()
	opts := sourceOptions(src)
	opts.HeartbeatPeriod, opts.ReadTimeout = 100*time.Millisecond, 600*time.Millisecond
	c, err := New(opts, relay)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, c, resumeFrom(relay, StartPosition{}))
	waitForSeq(t, relay, lastSeq(t, src))
	waitFor(t, 5*time.Second, "heartbeats", func() bool { return c.Status().HeartbeatsReceived >= 3 })

	pid := src.PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	cont := sync.OnceFunc(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	t.Cleanup(cont)
	waitFor(t, 10*time.Second, "the receiver to notice the silence", func() bool {
		st := c.Status()
		return st.IORunning == IOConnecting && st.LastIOError != ""
	})
	noticed := time.Since(stopped)
	st := c.Status()
	t.Logf("noticed after %v: errno %d %q", noticed.Round(time.Millisecond), st.LastIOErrno, st.LastIOError)
	if noticed < opts.ReadTimeout-opts.HeartbeatPeriod || !strings.Contains(st.LastIOError, "timeout") ||
		st.LastIOErrno != crServerLost {
		t.Errorf("after %v: status %+v", noticed, st)
	}
	time.Sleep(2 * opts.ReadTimeout) // a few failed reconnects against the stopped server
	cont()
	mustExec(t, src, "INSERT INTO app.t VALUES (1000, 'after')")
	last := lastSeq(t, src)
	waitForSeq(t, relay, last)
	checkExactly(t, relay, 1, last)
	waitFor(t, 10*time.Second, "reconnected", func() bool { return c.Status().IORunning == IOYes })
	if st := c.Status(); st.Reconnects == 0 {
		t.Errorf("status %+v", st)
	}
}
