package fakesource

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/server"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

// User and Password are the replication account the fake source accepts.
const (
	User     = "repl"
	Password = "pw"
)

// File is one binlog file the source serves: its name and its events (the
// format description first, as in the file after the magic).
type File struct {
	Name   string
	Events [][]byte
}

// Source is a fake MySQL 8 source. Set Vars, Grants and files before Serve;
// AddFile may also be called while serving (new dumps see the new file).
type Source struct {
	server.EmptyReplicationHandler

	// Vars are the global variables preflight reads (SHOW GLOBAL VARIABLES).
	Vars map[string]string
	// Grants are the replication account's grants (SHOW GRANTS).
	Grants []string

	mu       sync.Mutex
	files    []File
	gtidSets []string         // COM_BINLOG_DUMP_GTID requests
	dumpPos  []mysql.Position // COM_BINLOG_DUMP requests
	streams  []*replication.BinlogStreamer
	stop     chan struct{}
}

// New returns a source with the variables of a MySQL 8.0 server with GTIDs,
// row-based binlogs with full metadata, and CRC32 checksums.
func New(serverUUID string) *Source {
	return &Source{
		Vars: map[string]string{
			"version": "8.0.36", "server_id": "1", "server_uuid": serverUUID, "log_bin": "ON",
			"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL",
			"binlog_checksum": "CRC32", "gtid_mode": "ON", "binlog_expire_logs_seconds": "2592000",
			"gtid_executed": "",
		},
		Grants: []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `repl`@`%`"},
		stop:   make(chan struct{}),
	}
}

// AddFile adds a binlog file, given as the file's bytes (magic, then events).
func (s *Source) AddFile(name string, data []byte) error {
	if !bytes.HasPrefix(data, binlogfmt.Magic) {
		return fmt.Errorf("fakesource: %s: not a binlog file", name)
	}
	var evs [][]byte
	for off := len(binlogfmt.Magic); off < len(data); {
		h, err := binlogfmt.ParseHeader(data[off:])
		if err != nil || off+int(h.EventSize) > len(data) {
			return fmt.Errorf("fakesource: %s: bad event at offset %d", name, off)
		}
		evs = append(evs, data[off:off+int(h.EventSize)])
		off += int(h.EventSize)
	}
	s.mu.Lock()
	s.files = append(s.files, File{Name: name, Events: evs})
	s.mu.Unlock()
	return nil
}

// GTIDSets returns the GTID sets of the COM_BINLOG_DUMP_GTID requests so far.
func (s *Source) GTIDSets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.gtidSets...)
}

// DumpPositions returns the positions of the COM_BINLOG_DUMP requests so far.
func (s *Source) DumpPositions() []mysql.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mysql.Position(nil), s.dumpPos...)
}

// HandleQuery answers the preflight queries.
func (s *Source) HandleQuery(q string) (*mysql.Result, error) {
	uq := strings.ToUpper(strings.TrimSpace(q))
	var names []string
	var rows [][]any
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.HasPrefix(uq, "SET "):
		return nil, nil
	case strings.Contains(uq, "LIKE 'BINLOG_CHECKSUM'"):
		names, rows = []string{"Variable_name", "Value"}, [][]any{{"binlog_checksum", s.Vars["binlog_checksum"]}}
	case strings.HasPrefix(uq, "SHOW GLOBAL VARIABLES"), strings.HasPrefix(uq, "SHOW VARIABLES"):
		names = []string{"Variable_name", "Value"}
		for k, v := range s.Vars {
			rows = append(rows, []any{k, v})
		}
	case uq == "SELECT CURRENT_USER()":
		names, rows = []string{"CURRENT_USER()"}, [][]any{{User + "@%"}}
	case strings.HasPrefix(uq, "SHOW GRANTS"):
		names = []string{"Grants for " + User + "@%"}
		for _, g := range s.Grants {
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

// HandleRegisterSlave accepts COM_REGISTER_SLAVE.
func (s *Source) HandleRegisterSlave([]byte) error { return nil }

// HandleBinlogDumpGTID serves every file from the first, skipping the
// transactions in set.
func (s *Source) HandleBinlogDumpGTID(set *mysql.MysqlGTIDSet) (*replication.BinlogStreamer, error) {
	s.mu.Lock()
	s.gtidSets = append(s.gtidSets, set.String())
	files := append([]File(nil), s.files...)
	s.mu.Unlock()
	if len(files) == 0 {
		return nil, mysql.NewError(mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, "fake source: no binlog files")
	}
	return s.serve(files, 0, set), nil
}

// HandleBinlogDump serves from a file and position.
func (s *Source) HandleBinlogDump(p mysql.Position) (*replication.BinlogStreamer, error) {
	s.mu.Lock()
	s.dumpPos = append(s.dumpPos, p)
	files := append([]File(nil), s.files...)
	s.mu.Unlock()
	for i, f := range files {
		if f.Name == p.Name || p.Name == "" {
			return s.serve(files[i:], p.Pos, nil), nil
		}
	}
	return nil, mysql.NewError(mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, "fake source: could not find first log file name in binary log index file")
}

// serve streams files from a goroutine: a fake ROTATE naming the first file,
// then each file's format description and its events from pos (the first file
// only) that are not in skip.
func (s *Source) serve(files []File, pos uint32, skip *mysql.MysqlGTIDSet) *replication.BinlogStreamer {
	st := replication.NewBinlogStreamerWithChanSize(64)
	s.mu.Lock()
	s.streams = append(s.streams, st)
	s.mu.Unlock()
	go func() {
		send := func(ev []byte) bool {
			select {
			case <-s.stop:
				return false
			default:
			}
			return st.AddEventToStreamer(&replication.BinlogEvent{RawData: ev}) == nil
		}
		var lastName string
		var lastOff uint32
		var checksum bool
		for i, f := range files {
			start := uint32(4)
			if i == 0 && pos > 4 {
				start = pos
			}
			// A fake ROTATE names the first file; the next files follow the
			// real ROTATE that ends each file, as a server sends them.
			if i == 0 && !send(binlogfmt.EncodeRotate(1, uint64(start), f.Name, false)) {
				return
			}
			var fr binlogfmt.Framer
			skipping := false
			off := uint32(4)
			for j, ev := range f.Events {
				evOff := off
				off += uint32(len(ev))
				frame, err := fr.Next(ev)
				if err != nil {
					st.AddErrorToStreamer(fmt.Errorf("fake source: %s event %d: %w", f.Name, j, err))
					return
				}
				if frame.Start {
					skipping = skip != nil && fr.Txn().GTID.Flavor != 0 && skip.Contain(gtidSetOf(fr.Txn().GTID.String()))
				}
				if j > 0 && (evOff < start || (skipping && !frame.Meta)) {
					continue
				}
				if !send(ev) {
					return
				}
			}
			lastName, lastOff = f.Name, off
			if fd := fr.FormatDescription(); fd != nil {
				checksum = fd.Checksum
			}
		}
		// Idle, as a server with nothing new: a heartbeat every 250 ms (a
		// receiver treats a silent connection as dead after its heartbeat
		// period).
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			if !send(heartbeat(lastName, lastOff, checksum)) {
				return
			}
		}
	}()
	return st
}

// heartbeat encodes a HEARTBEAT_EVENT naming the current file and position.
func heartbeat(file string, pos uint32, checksum bool) []byte {
	n := binlogfmt.HeaderLen + len(file)
	if checksum {
		n += binlogfmt.ChecksumLen
	}
	ev := make([]byte, n)
	binlogfmt.PutHeader(ev, binlogfmt.Header{Type: replication.HEARTBEAT_EVENT, ServerID: 1, EventSize: uint32(n), LogPos: pos})
	copy(ev[binlogfmt.HeaderLen:], file)
	if checksum {
		binlogfmt.FixChecksum(ev)
	}
	return ev
}

func gtidSetOf(g string) mysql.GTIDSet {
	set, err := mysql.ParseMysqlGTIDSet(g)
	if err != nil {
		return &mysql.MysqlGTIDSet{}
	}
	return set
}

// Serve serves the source on a loopback port until the test ends and returns the port.
func (s *Source) Serve(t testing.TB) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(s.Vars["version"], mysql.DEFAULT_COLLATION_ID, mysql.AUTH_NATIVE_PASSWORD, nil, nil)
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
				if err := auth.AddUser(User, Password); err != nil {
					nc.Close()
					return
				}
				c, err := srv.NewCustomizedConn(nc, auth, s)
				if err != nil {
					nc.Close()
					return
				}
				for c.HandleCommand() == nil {
				}
				nc.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(s.stop)
		s.mu.Lock()
		for _, st := range s.streams {
			st.AddErrorToStreamer(errors.New("fake source closed"))
		}
		s.mu.Unlock()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}
