package applier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/coordinator"
)

// fakeWorker fails every transaction that has changes with err, and records
// what it applied.
type fakeWorker struct {
	err     error
	applied [][]*replication.BinlogEvent
}

func (f *fakeWorker) Apply(_ context.Context, t *coordinator.Txn, _ coordinator.Gate) error {
	for _, ev := range t.Events {
		if _, ok := ev.Event.(*replication.RowsEvent); ok && f.err != nil {
			return f.err
		}
	}
	f.applied = append(f.applied, t.Events)
	return nil
}

func (f *fakeWorker) ConnectionID() uint32 { return 0 }

func TestSkipErrorsWrap(t *testing.T) {
	ev := func(e replication.Event) *replication.BinlogEvent {
		return &replication.BinlogEvent{Header: &replication.EventHeader{}, Event: e}
	}
	txn := func() *coordinator.Txn {
		return &coordinator.Txn{Events: []*replication.BinlogEvent{ev(&replication.MariadbGTIDEvent{}),
			ev(&replication.QueryEvent{Query: []byte("BEGIN")}), ev(&replication.TableMapEvent{}), ev(&replication.RowsEvent{}),
			ev(&replication.XIDEvent{})}}
	}
	dup := &ApplyError{Txn: "0-1-1", Statement: "INSERT", Err: &mysql.MyError{Code: 1062, Message: "Duplicate entry"}}
	missing := &DivergenceError{Txn: "0-1-2", Op: "UPDATE", Expected: 1}
	other := &ApplyError{Txn: "0-1-3", Statement: "INSERT", Err: &mysql.MyError{Code: 1146, Message: "no table"}}

	s, err := NewSkipErrors([]uint16{1062, 1032}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err     error
		skipped bool
	}{{dup, true}, {missing, true}, {other, false}} {
		f := &fakeWorker{err: c.err}
		err := s.Wrap(f).Apply(context.Background(), txn(), nil)
		if c.skipped {
			if err != nil || len(f.applied) != 1 || len(f.applied[0]) != 3 {
				t.Errorf("%v: err %v, applied %d transactions (%v), want the framing events only", c.err, err, len(f.applied), f.applied)
			}
		} else if !errors.Is(err, c.err) {
			t.Errorf("%v: err %v, want it returned", c.err, err)
		}
	}
	if got := fmt.Sprint(s.Counts()); got != "map[1032:1 1062:1]" {
		t.Errorf("counts %s", got)
	}
	// No codes: the worker itself, so grouping and everything else stay.
	f := &fakeWorker{}
	if w := (*SkipErrors)(nil).Wrap(f); w != coordinator.Worker(f) {
		t.Error("a nil policy wraps the worker")
	}
	if _, err := NewSkipErrors([]uint16{0}, nil, nil); err == nil {
		t.Error("code 0 accepted")
	}
}

func TestErrorCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		code uint16
	}{
		{&DivergenceError{}, 1032},
		{&DivergenceError{ServerError: &mysql.MyError{Code: 1062}}, 1062},
		{fmt.Errorf("wrapped: %w", &ApplyError{Err: &mysql.MyError{Code: 1213}}), 1213},
		{errors.New("plain"), 0},
	} {
		if got := ErrorCode(c.err); got != c.code {
			t.Errorf("ErrorCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
}

func TestTargetOptionsRedactAndServerName(t *testing.T) {
	o := TargetOptions{Addr: "db.example:3307", User: "u", Password: "hunter2", TLS: &tls.Config{}}
	if s := fmt.Sprintf("%v %+v %#v %s", o, o, o, o); strings.Contains(s, "hunter2") {
		t.Errorf("formatted target options show the password: %s", s)
	}
	if c := o.tlsConfig(); c.ServerName != "db.example" || o.TLS.ServerName != "" {
		t.Errorf("server name %q (caller's config changed: %q)", c.ServerName, o.TLS.ServerName)
	}
	o.TLS = &tls.Config{InsecureSkipVerify: true}
	if c := o.tlsConfig(); c.ServerName != "" {
		t.Errorf("unverified TLS got a server name %q", c.ServerName)
	}
}
