package replica

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	perrors "github.com/pingcap/errors"

	"github.com/go-mysql-org/go-mysql/mysql"
)

func TestClassify(t *testing.T) {
	my := func(code uint16, msg string) error {
		return perrors.Trace(&mysql.MyError{Code: code, Message: msg, State: "HY000"})
	}
	tests := []struct {
		name string
		err  error
		want error // nil = transient
	}{
		{"eof", io.EOF, nil},
		{"timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, nil},
		{"killed", my(1927, "Connection was killed"), nil},
		{"shutdown", my(1053, "Server shutdown in progress"), nil},
		{"too many connections", my(1040, "Too many connections"), nil},
		{"access denied", my(1045, "Access denied for user 'x'@'localhost' (using password: YES)"), ErrAuth},
		{"no replication slave", my(1227, "Access denied; you need (at least one of) the REPLICATION SLAVE privilege(s)"), ErrPrivileges},
		{"mariadb purged gtid", my(1236, "Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged."), ErrBinlogPurged},
		{"purged file", my(1236, "Could not find first log file name in binary log index file"), ErrBinlogPurged},
		{"mysql purged gtids", my(1236, "Cannot replicate because the master purged required binary logs."), ErrBinlogPurged},
		{"diverged", my(1236, "Error: connecting slave requested to start from GTID 0-1-1, which is not in the master's binlog. Since the master's binlog contains GTIDs with higher sequence numbers, it probably means that the slave has diverged due to executing extra erroneous transactions"), ErrSourceFatal},
		{"not in binlog", my(1236, "Error: connecting slave requested to start from GTID 1-1-1, which is not in the master's binlog"), ErrBinlogPurged},
		{"packet", my(1236, "log event entry exceeded max_allowed_packet; Increase max_allowed_packet on master"), ErrSourceFatal},
		{"other 1236", my(1236, "binlog truncated in the middle of event"), ErrSourceFatal},
		{"no tls", perrors.Trace(errors.New("the MySQL Server does not support TLS required by the client")), ErrTLS},
		{"relay", relayError("append", io.ErrShortWrite), ErrRelayLog},
		{"start", fmt.Errorf("%w: %w", ErrStart, io.ErrUnexpectedEOF), ErrStart},
		{"preflight", perrors.Trace(&PreflightError{Check: CheckLogBin}), nil},
	}
	for _, tt := range tests {
		got := classify(tt.err)
		switch {
		case tt.name == "preflight":
			var pf *PreflightError
			if !errors.As(got, &pf) {
				t.Errorf("%s: %v, want the *PreflightError", tt.name, got)
			}
		case tt.want == nil && got != nil:
			t.Errorf("%s: permanent %v, want transient", tt.name, got)
		case tt.want != nil && !errors.Is(got, tt.want):
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	var fe *FatalError
	if !errors.As(classify(my(1236, "purged")), &fe) || fe.Code != 1236 || fe.Hint == "" {
		t.Errorf("fatal error fields: %+v", fe)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
