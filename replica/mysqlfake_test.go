package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/server"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// No MySQL server is installable here, so the MySQL flavor is tested against
// go-mysql's server package: a fake source that answers the preflight queries
// and serves a fixed binlog stream on COM_BINLOG_DUMP[_GTID].

const fakeUUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"

type fakeMySQL struct {
	server.EmptyReplicationHandler
	vars   map[string]string
	grants []string

	mu       sync.Mutex
	gtidSets []string         // COM_BINLOG_DUMP_GTID requests
	dumpPos  []mysql.Position // COM_BINLOG_DUMP requests
	streams  []*replication.BinlogStreamer
}

func newFakeMySQL() *fakeMySQL {
	return &fakeMySQL{
		vars: map[string]string{
			"version": "8.0.36", "server_id": "1", "server_uuid": fakeUUID, "log_bin": "ON",
			"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL",
			"binlog_checksum": "CRC32", "gtid_mode": "ON", "binlog_expire_logs_seconds": "2592000",
			"gtid_executed": fakeUUID + ":1-10",
		},
		grants: []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `repl`@`%`"},
	}
}

func (f *fakeMySQL) HandleQuery(q string) (*mysql.Result, error) {
	uq := strings.ToUpper(q)
	var names []string
	var rows [][]any
	switch {
	case strings.HasPrefix(uq, "SET "):
		return nil, nil
	case strings.Contains(uq, "LIKE 'BINLOG_CHECKSUM'"):
		names, rows = []string{"Variable_name", "Value"}, [][]any{{"binlog_checksum", f.vars["binlog_checksum"]}}
	case strings.HasPrefix(uq, "SHOW GLOBAL VARIABLES WHERE"):
		names = []string{"Variable_name", "Value"}
		for k, v := range f.vars {
			rows = append(rows, []any{k, v})
		}
	case uq == "SELECT CURRENT_USER()":
		names, rows = []string{"CURRENT_USER()"}, [][]any{{"repl@%"}}
	case strings.HasPrefix(uq, "SHOW GRANTS"):
		names = []string{"Grants for repl@%"}
		for _, g := range f.grants {
			rows = append(rows, []any{g})
		}
	default:
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "fake source: unexpected query "+q)
	}
	rs, err := mysql.BuildSimpleTextResultset(names, rows)
	if err != nil {
		return nil, err
	}
	return &mysql.Result{Resultset: rs}, nil
}

func (f *fakeMySQL) HandleRegisterSlave([]byte) error { return nil }

func (f *fakeMySQL) HandleBinlogDumpGTID(s *mysql.MysqlGTIDSet) (*replication.BinlogStreamer, error) {
	f.mu.Lock()
	f.gtidSets = append(f.gtidSets, s.String())
	f.mu.Unlock()
	return f.stream(), nil
}

func (f *fakeMySQL) HandleBinlogDump(p mysql.Position) (*replication.BinlogStreamer, error) {
	f.mu.Lock()
	f.dumpPos = append(f.dumpPos, p)
	f.mu.Unlock()
	return f.stream(), nil
}

// mysqlEvents is one MySQL 8 transaction as a dump sends it, then a heartbeat.
func mysqlEvents() [][]byte {
	fd := make([]byte, 2+50+4+1+41+1)
	binary.LittleEndian.PutUint16(fd, 4)
	copy(fd[2:], "8.0.36")
	fd[56] = binlogfmt.HeaderLen
	fd[len(fd)-1] = byte(replication.BINLOG_CHECKSUM_ALG_CRC32)
	gtidBody := make([]byte, 42)
	copy(gtidBody[1:], []byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62})
	binary.LittleEndian.PutUint64(gtidBody[17:], 11)
	return [][]byte{
		binlogfmt.EncodeRotate(1, 4, "binlog.000003", false),
		rawEvent(replication.FORMAT_DESCRIPTION_EVENT, 0, fd, true),
		rawEvent(replication.GTID_EVENT, 300, gtidBody, true),
		rawEvent(replication.QUERY_EVENT, 400, []byte("BEGIN-ish body"), true),
		rawEvent(replication.XID_EVENT, 431, make([]byte, 8), true),
		rawEvent(replication.HEARTBEAT_LOG_EVENT_V2, 431, []byte("binlog.000003"), true),
	}
}

func (f *fakeMySQL) stream() *replication.BinlogStreamer {
	s := replication.NewBinlogStreamer()
	for _, ev := range mysqlEvents() {
		_ = s.AddEventToStreamer(&replication.BinlogEvent{RawData: ev})
	}
	f.mu.Lock()
	f.streams = append(f.streams, s)
	f.mu.Unlock()
	return s
}

// serveFake serves f on a loopback port until the test ends.
func serveFake(t *testing.T, f *fakeMySQL) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer("8.0.36", mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				auth := server.NewInMemoryAuthenticationHandler(mysql.AUTH_NATIVE_PASSWORD)
				if err := auth.AddUser("repl", "pw"); err != nil {
					nc.Close()
					return
				}
				c, err := srv.NewCustomizedConn(nc, auth, f)
				if err != nil {
					nc.Close()
					return
				}
				for c.HandleCommand() == nil {
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, s := range f.streams {
			s.AddErrorToStreamer(errors.New("fake source closed"))
		}
		f.mu.Unlock()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func fakeOptions(port uint16) Options {
	return Options{Flavor: gtid.MySQL, Host: "127.0.0.1", Port: port, User: "repl", Password: "pw",
		HeartbeatPeriod: time.Second, ConnectRetry: 10 * time.Millisecond}
}

func TestMySQLFlavorGTIDStream(t *testing.T) {
	f := newFakeMySQL()
	port := serveFake(t, f)
	relay := &recordRelay{}
	c := newTestClient(t, fakeOptions(port), relay)
	info, err := c.Preflight(context.Background())
	if err != nil || info.Flavor != gtid.MySQL || info.ServerUUID != fakeUUID || info.GTIDMode != "ON" {
		t.Fatalf("preflight: %+v, %v", info, err)
	}
	start, _ := gtid.ParseSet(gtid.MySQL, fakeUUID+":1-10")
	r := runReceiver(t, c, func() (StartPosition, error) { return StartPosition{GTIDs: start}, nil })
	waitFor(t, 10*time.Second, "the transaction and the heartbeat", func() bool {
		st := c.Status()
		return st.EventsReceived == 5 && st.HeartbeatsReceived == 1
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	sets := f.gtidSets
	f.mu.Unlock()
	if len(sets) != 1 || sets[0] != fakeUUID+":1-10" {
		t.Errorf("COM_BINLOG_DUMP_GTID sets %v", sets)
	}
	want := mysqlEvents()
	if len(relay.events) != 5 {
		t.Fatalf("%d events in the relay log, want 5", len(relay.events))
	}
	for i, ev := range relay.events {
		if binlogfmt.VerifyChecksum(ev) != nil {
			t.Errorf("event %d has no valid checksum", i)
		}
		if i > 0 && string(ev) != string(want[i]) {
			t.Errorf("event %d changed", i)
		}
	}
	st := c.Status()
	if st.SourceUUID != fakeUUID || st.SourceServerID != 1 || st.SourceLogFile != "binlog.000003" || st.ReadSourceLogPos != 431 {
		t.Errorf("status %+v", st)
	}
}

func TestMySQLFlavorGTIDModeOff(t *testing.T) {
	f := newFakeMySQL()
	f.vars["gtid_mode"] = "OFF"
	port := serveFake(t, f)
	c := newTestClient(t, fakeOptions(port), &recordRelay{})
	if _, err := c.Preflight(context.Background()); err != nil {
		t.Fatalf("preflight (no start position yet): %v", err)
	}
	start, _ := gtid.ParseSet(gtid.MySQL, fakeUUID+":1-10")
	err := c.Run(context.Background(), func() (StartPosition, error) { return StartPosition{GTIDs: start}, nil })
	var pf *PreflightError
	if !errors.As(err, &pf) || pf.Check != CheckGTIDMode {
		t.Fatalf("Run from a GTID set with gtid_mode=OFF: %v", err)
	}
	// A file/position start works.
	relay := &recordRelay{}
	c = newTestClient(t, fakeOptions(port), relay)
	runReceiver(t, c, func() (StartPosition, error) { return StartPosition{File: "binlog.000003", Pos: 126}, nil })
	waitFor(t, 10*time.Second, "the transaction", func() bool { return c.Status().EventsReceived == 5 })
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dumpPos) != 1 || f.dumpPos[0] != (mysql.Position{Name: "binlog.000003", Pos: 126}) {
		t.Errorf("COM_BINLOG_DUMP positions %v", f.dumpPos)
	}
}

func TestMySQLFlavorAgainstMariaDBFake(t *testing.T) {
	f := newFakeMySQL()
	port := serveFake(t, f)
	o := fakeOptions(port)
	o.Flavor = gtid.MariaDB
	c := newTestClient(t, o, &recordRelay{})
	_, err := c.Preflight(context.Background())
	var pf *PreflightError
	if !errors.As(err, &pf) || pf.Check != CheckFlavor || !strings.Contains(pf.Msg, "set Flavor to mysql") {
		t.Fatalf("Preflight: %v", err)
	}
}

// TestGoMySQLPanicIsAnError: go-mysql's client panics when a server asks for
// caching_sha2_password full authentication and then sends a public key that
// is not PEM (the fake's default auth handler does). It must not crash us.
func TestGoMySQLPanicIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := server.NewServer("8.0.36", mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_, _ = srv.NewConn(nc, "repl", "pw", newFakeMySQL()) // caching_sha2_password, no RSA key
			}()
		}
	}()
	o := fakeOptions(uint16(ln.Addr().(*net.TCPAddr).Port))
	o.MaxReconnects = 1
	c := newTestClient(t, o, &recordRelay{})
	if _, err := c.Preflight(context.Background()); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Preflight: %v, want the recovered panic", err)
	}
	err = c.Run(context.Background(), func() (StartPosition, error) { return StartPosition{}, nil })
	if !errors.Is(err, ErrTooManyReconnects) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Run: %v", err)
	}
}
