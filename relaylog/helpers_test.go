package relaylog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

const fixtures = "/work/shared/fixtures"

// Real binlog files, in stream order.
var (
	mariadbFiles = []string{
		"mariadb-poc/domain_id_0__mariadb-repl-bin.000005",
		"mariadb-poc/domain_id_0__mariadb-repl-bin.000006",
		"mariadb-poc/domain_id_0__mariadb-repl-bin.000009",
		"mariadb-poc/domain_id_0__mariadb-repl-bin.000010",
	}
	mysql8Files = []string{
		"rust_mysql_common/mysql-enum-string-set.000001", // 8.0.28, GTIDs
		"rust_mysql_common/binlog-invisible-columns.000001",
		"mysql-cdc-rs/8.0_02_query_bigger_binlog.000733", // 8.0.31, anonymous GTIDs
	}
	mysqlNoChecksumFiles = []string{"mysql-binlog-connector-java/mysql-bin.checksum-none"}
)

// streamEvent is one event of a simulated dump stream.
type streamEvent struct {
	raw    []byte
	stored bool // the relay log stores it as is (not a heartbeat, fake ROTATE or FDE)
}

// fixtureStream turns binlog files into what a dump thread sends: for each
// file a fake ROTATE, its FORMAT_DESCRIPTION, then its events, with a
// heartbeat after every seventh event.
func fixtureStream(t testing.TB, files ...string) []streamEvent {
	t.Helper()
	var out []streamEvent
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(fixtures, rel))
		if err != nil {
			t.Skipf("fixture: %v", err)
		}
		name := filepath.Base(rel)
		if _, after, ok := strings.Cut(name, "__"); ok {
			name = after
		}
		if !bytes.HasPrefix(data, binlogfmt.Magic) {
			t.Fatalf("%s: no magic", rel)
		}
		evs := splitEvents(t, data[4:])
		fd, err := binlogfmt.ParseFormatDescription(evs[0])
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		out = append(out, streamEvent{raw: binlogfmt.EncodeRotate(0, 4, name, fd.Checksum)})
		for i, ev := range evs {
			h, _ := binlogfmt.ParseHeader(ev)
			out = append(out, streamEvent{raw: ev, stored: i > 0})
			if i%7 == 6 {
				out = append(out, streamEvent{raw: heartbeat(name, h.LogPos, fd.Checksum)})
			}
		}
	}
	return out
}

func splitEvents(t testing.TB, b []byte) [][]byte {
	var evs [][]byte
	for len(b) > 0 {
		h, err := binlogfmt.ParseHeader(b)
		if err != nil || int(h.EventSize) > len(b) {
			t.Fatalf("split events: %v (size %d, %d left)", err, h.EventSize, len(b))
		}
		evs = append(evs, b[:h.EventSize:h.EventSize])
		b = b[h.EventSize:]
	}
	return evs
}

func heartbeat(file string, pos uint32, checksum bool) []byte {
	n := binlogfmt.HeaderLen + len(file)
	if checksum {
		n += binlogfmt.ChecksumLen
	}
	ev := make([]byte, n)
	binlogfmt.PutHeader(ev, binlogfmt.Header{Type: replication.HEARTBEAT_EVENT, ServerID: 1, EventSize: uint32(n), LogPos: pos, Flags: replication.LOG_EVENT_ARTIFICIAL_F})
	copy(ev[binlogfmt.HeaderLen:], file)
	if checksum {
		binlogfmt.FixChecksum(ev)
	}
	return ev
}

// synth builds MariaDB-style transactions (GTID, BEGIN, TABLE_MAP,
// WRITE_ROWS with rowBytes of payload, XID) after a fake ROTATE and a format
// description taken from a real MariaDB binlog.
type synth struct {
	fde  []byte
	file string
	pos  uint32
	seq  uint64
}

func newSynth(t testing.TB) *synth {
	data, err := os.ReadFile(filepath.Join(fixtures, mariadbFiles[2]))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	return &synth{fde: splitEvents(t, data[4:])[0], file: "mariadb-bin.000001", pos: 4}
}

// preamble is what a dump thread sends first.
func (s *synth) preamble() [][]byte {
	return [][]byte{binlogfmt.EncodeRotate(0, uint64(s.pos), s.file, true), s.fde}
}

func (s *synth) event(t replication.EventType, body []byte) []byte {
	n := binlogfmt.HeaderLen + len(body) + binlogfmt.ChecksumLen
	s.pos += uint32(n)
	ev := make([]byte, n)
	binlogfmt.PutHeader(ev, binlogfmt.Header{Timestamp: 1700000000, Type: t, ServerID: 1, EventSize: uint32(n), LogPos: s.pos})
	copy(ev[binlogfmt.HeaderLen:], body)
	binlogfmt.FixChecksum(ev)
	return ev
}

func (s *synth) query(q string) []byte {
	body := make([]byte, 13, 13+len(q)+8)
	body = append(body, "test\x00"...) // schema
	body[8] = 4                        // schema length
	body = append(body, q...)
	return s.event(replication.QUERY_EVENT, body)
}

// txn returns the events of the next transaction.
func (s *synth) txn(rowBytes int) [][]byte {
	s.seq++
	g := make([]byte, 13+6) // seq_no, domain, flags (transactional), padding
	binary.LittleEndian.PutUint64(g, s.seq)
	g[12] = 0x0c // FL_TRANSACTIONAL | FL_ALLOW_PARALLEL
	tm := make([]byte, 30)
	rows := bytes.Repeat([]byte{byte(s.seq)}, rowBytes)
	xid := make([]byte, 8)
	binary.LittleEndian.PutUint64(xid, s.seq)
	return [][]byte{
		s.event(replication.MARIADB_GTID_EVENT, g),
		s.query("BEGIN"),
		s.event(replication.TABLE_MAP_EVENT, tm),
		s.event(replication.WRITE_ROWS_EVENTv1, rows),
		s.event(replication.XID_EVENT, xid),
	}
}

// fastTempDir is a temporary directory on tmpfs when there is one: the
// crash tests open thousands of logs, and the index is always fsynced.
func fastTempDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "relaylog-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

func mustOpen(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func appendAll(t testing.TB, l *Log, evs [][]byte) {
	t.Helper()
	for i, ev := range evs {
		if err := l.Append(ev); err != nil {
			t.Fatalf("Append #%d: %v", i, err)
		}
	}
}

func raws(s []streamEvent) [][]byte {
	out := make([][]byte, len(s))
	for i, e := range s {
		out[i] = e.raw
	}
	return out
}

// readAvailable reads every published event, stopping when Next would block.
func readAvailable(t testing.TB, r *Reader) []Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []Event
	for {
		ev, err := r.Next(ctx)
		if errors.Is(err, context.Canceled) {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(out), err)
		}
		out = append(out, ev)
	}
}

func within(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
