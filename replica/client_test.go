package replica

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// recordRelay records appended events and can fail.
type recordRelay struct {
	events   [][]byte
	discards atomic.Int32
	err      error
}

func (r *recordRelay) Append(ev []byte) error {
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recordRelay) DiscardPartial() error { r.discards.Add(1); return nil }

func newTestClient(t *testing.T, o Options, relay RelayLog) *Client {
	t.Helper()
	if o.Flavor == 0 {
		o.Flavor = gtid.MariaDB
	}
	if o.Host == "" {
		o.Host, o.User = "127.0.0.1", "repl"
	}
	c, err := New(o, relay)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rawEvent(typ replication.EventType, logPos uint32, body []byte, checksum bool) []byte {
	n := binlogfmt.HeaderLen + len(body)
	if checksum {
		n += binlogfmt.ChecksumLen
	}
	ev := make([]byte, n)
	binlogfmt.PutHeader(ev, binlogfmt.Header{Timestamp: 1, Type: typ, ServerID: 9, EventSize: uint32(n), LogPos: logPos})
	copy(ev[binlogfmt.HeaderLen:], body)
	if checksum {
		binlogfmt.FixChecksum(ev)
	}
	return ev
}

func binlogEvent(raw []byte, ev replication.Event) *replication.BinlogEvent {
	h := &replication.EventHeader{}
	if err := h.Decode(raw); err != nil {
		panic(err)
	}
	return &replication.BinlogEvent{RawData: raw, Header: h, Event: ev}
}

func TestHandlerChecksumsOpeningRotate(t *testing.T) {
	for _, crc := range []bool{true, false} {
		relay := &recordRelay{}
		c := newTestClient(t, Options{}, relay)
		h := &streamHandler{c: c}
		rot := binlogfmt.EncodeRotate(9, 4, "mysql-bin.000007", false)
		alg := replication.BINLOG_CHECKSUM_ALG_OFF
		if crc {
			alg = replication.BINLOG_CHECKSUM_ALG_CRC32
		}
		fdRaw := rawEvent(replication.FORMAT_DESCRIPTION_EVENT, 256, []byte("fd"), crc)
		hb := rawEvent(replication.HEARTBEAT_EVENT, 300, []byte("mysql-bin.000007"), crc)
		xid := rawEvent(replication.XID_EVENT, 400, make([]byte, 8), crc)
		midRotate := binlogfmt.EncodeRotate(9, 4, "mysql-bin.000008", crc)
		for _, e := range []*replication.BinlogEvent{
			binlogEvent(rot, &replication.RotateEvent{Position: 4, NextLogName: []byte("mysql-bin.000007")}),
			binlogEvent(fdRaw, &replication.FormatDescriptionEvent{ChecksumAlgorithm: alg}),
			binlogEvent(hb, &replication.GenericEvent{}),
			binlogEvent(xid, &replication.GenericEvent{}),
			binlogEvent(midRotate, &replication.RotateEvent{Position: 4, NextLogName: []byte("mysql-bin.000008")}),
		} {
			if err := h.HandleEvent(e); err != nil {
				t.Fatal(err)
			}
		}
		if len(relay.events) != 4 {
			t.Fatalf("crc=%v: %d events appended, want 4 (heartbeat dropped)", crc, len(relay.events))
		}
		got := relay.events[0]
		if crc {
			if len(got) != len(rot)+4 || binlogfmt.VerifyChecksum(got) != nil {
				t.Errorf("opening rotate not checksummed: %x", got)
			}
			pos, file, err := binlogfmt.ParseRotate(got, true)
			if err != nil || pos != 4 || file != "mysql-bin.000007" {
				t.Errorf("rotate with checksum: %d %q %v", pos, file, err)
			}
		} else if string(got) != string(rot) {
			t.Errorf("rotate changed without checksums")
		}
		if string(relay.events[3]) != string(midRotate) {
			t.Errorf("later rotate changed")
		}
		st := c.Status()
		if st.EventsReceived != 4 || st.HeartbeatsReceived != 1 || st.LastHeartbeat.IsZero() ||
			st.SourceLogFile != "mysql-bin.000008" || st.ReadSourceLogPos != 4 {
			t.Errorf("status %+v", st)
		}
	}
}

func TestHandlerRelayError(t *testing.T) {
	relay := &recordRelay{err: io.ErrShortWrite}
	h := &streamHandler{c: newTestClient(t, Options{}, relay)}
	err := h.HandleEvent(binlogEvent(rawEvent(replication.XID_EVENT, 10, make([]byte, 8), false), &replication.GenericEvent{}))
	if !errors.Is(err, ErrRelayLog) || !errors.Is(err, io.ErrShortWrite) || classify(err) == nil {
		t.Errorf("relay error %v: want a permanent ErrRelayLog", err)
	}
}

func TestToGoMySQLSet(t *testing.T) {
	s := gtid.NewSet(gtid.MariaDB)
	s.Add(gtid.MariaDBGTID(0, 1, 1))
	s.Add(gtid.MariaDBGTID(0, 5, 2))
	s.Add(gtid.MariaDBGTID(0, 5, 7)) // a hole: MariaDB positions hold the last GTID only
	s.Add(gtid.MariaDBGTID(3, 2, 9))
	ms, err := toGoMySQLSet(s)
	if err != nil || ms.String() != "0-5-7,3-2-9" {
		t.Errorf("mariadb: %v %v", ms, err)
	}
	empty, err := toGoMySQLSet(gtid.NewSet(gtid.MariaDB))
	if err != nil || empty.String() != "" {
		t.Errorf("empty mariadb: %q %v", empty, err)
	}
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	my, _ := gtid.ParseSet(gtid.MySQL, u+":1-5:7-9,"+u+":tag1:1-3")
	gs, err := toGoMySQLSet(my)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mysql.ParseMysqlGTIDSet(u + ":1-5:7-9:tag1:1-3")
	if !gs.Equal(want) {
		t.Errorf("mysql: %v, want %v", gs, want)
	}
}

func TestRunStartFlavorMismatch(t *testing.T) {
	c := newTestClient(t, Options{Flavor: gtid.MySQL}, &recordRelay{})
	err := c.Run(context.Background(), func() (StartPosition, error) {
		return StartPosition{GTIDs: gtid.NewSet(gtid.MariaDB)}, nil
	})
	var pf *PreflightError
	if !errors.As(err, &pf) || pf.Check != CheckStart {
		t.Errorf("Run: %v, want a start_position preflight error", err)
	}
}

func TestRunStartError(t *testing.T) {
	c := newTestClient(t, Options{}, &recordRelay{})
	boom := errors.New("target unreachable")
	err := c.Run(context.Background(), func() (StartPosition, error) { return StartPosition{}, boom })
	if !errors.Is(err, ErrStart) || !errors.Is(err, boom) {
		t.Errorf("Run: %v", err)
	}
	if st := c.Status(); st.IORunning != IONo || !strings.Contains(st.LastIOError, "target unreachable") {
		t.Errorf("status %+v", st)
	}
}

// TestRunGivesUp runs against a listener that hangs up on every connection:
// every attempt fails, each after DiscardPartial and start, until MaxReconnects.
func TestRunGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	relay := &recordRelay{}
	reg := prometheus.NewRegistry()
	c := newTestClient(t, Options{Port: uint16(ln.Addr().(*net.TCPAddr).Port), MaxReconnects: 3,
		ConnectRetry: time.Millisecond, MaxConnectRetry: 5 * time.Millisecond, Registerer: reg}, relay)
	var starts atomic.Int32
	err = c.Run(context.Background(), func() (StartPosition, error) { starts.Add(1); return StartPosition{}, nil })
	if !errors.Is(err, ErrTooManyReconnects) {
		t.Fatalf("Run: %v, want ErrTooManyReconnects", err)
	}
	if starts.Load() != 4 || relay.discards.Load() != 4 {
		t.Errorf("start called %d times, DiscardPartial %d, want 4 (1 + 3 reconnects)", starts.Load(), relay.discards.Load())
	}
	st := c.Status()
	if st.Reconnects != 3 || st.LastIOErrno != crConnHostError || st.IORunning != IONo {
		t.Errorf("status %+v", st)
	}
	m := gather(t, reg)
	if len(m) != 5 || m["mtreplica_receiver_reconnects_total"] != 3 || m["mtreplica_receiver_connected"] != 0 {
		t.Errorf("metrics %v", m)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // connection refused from now on
	c := newTestClient(t, Options{Port: port, ConnectRetry: time.Hour, MaxConnectRetry: time.Hour}, &recordRelay{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func() (StartPosition, error) { return StartPosition{}, nil }) }()
	waitFor(t, 5*time.Second, "a failed attempt", func() bool { return c.Status().LastIOError != "" })
	if st := c.Status(); st.IORunning != IOConnecting {
		t.Errorf("while waiting to reconnect: IORunning %q", st.IORunning)
	}
	if err := c.Run(ctx, nil); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gather returns the value of every single-series metric in reg.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}
