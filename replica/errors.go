package replica

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Sentinels. Run's permanent errors match one of them with errors.Is.
var (
	// ErrRunning: Run was called while another Run of the same Client is active.
	ErrRunning = errors.New("receiver is already running")
	// ErrAuth: the source refused our user or password.
	ErrAuth = errors.New("source refused the login")
	// ErrPrivileges: the user lacks a privilege the receiver needs.
	ErrPrivileges = errors.New("missing privilege on the source")
	// ErrBinlogPurged: the source no longer has the binlog (file, position or GTID)
	// we asked to resume from. Only a fresh copy of the data can fix this.
	ErrBinlogPurged = errors.New("source no longer has the requested binlog")
	// ErrSourceFatal: the source stopped the stream with an error that reconnecting
	// cannot fix (MySQL's error 1236 other than a purged binlog: an event larger than
	// max_allowed_packet, a corrupt binlog, another replica with our server_id, ...).
	ErrSourceFatal = errors.New("source stopped sending the binlog")
	// ErrTLS: TLS is required and could not be set up (the source does not offer it,
	// or its certificate failed verification).
	ErrTLS = errors.New("TLS connection to the source failed")
	// ErrBadStart: the source rejected the start position we sent.
	ErrBadStart = errors.New("source rejected the start position")
	// ErrTooManyReconnects: MaxReconnects consecutive attempts failed.
	ErrTooManyReconnects = errors.New("too many failed reconnects")
	// ErrRelayLog: the relay log failed to store an event or to discard a partial transaction.
	ErrRelayLog = errors.New("relay log failed")
	// ErrStart: the start function failed.
	ErrStart = errors.New("cannot compute the start position")
)

// Names of the preflight checks, in PreflightError.Check.
const (
	CheckFlavor       = "flavor"
	CheckLogBin       = "log_bin"
	CheckServerID     = "server_id"
	CheckBinlogFormat = "binlog_format"
	CheckRowImage     = "binlog_row_image"
	CheckGTIDMode     = "gtid_mode"
	CheckPrivileges   = "privileges"
	CheckStart        = "start_position"
)

// PreflightError is a source setting that makes replication impossible or
// wrong. Msg says what is wrong and what to change.
type PreflightError struct {
	Check string // one of the Check* names
	Msg   string
}

func (e *PreflightError) Error() string { return "preflight " + e.Check + ": " + e.Msg }

// Is makes errors.Is(err, ErrPrivileges) true for a failed privileges check.
func (e *PreflightError) Is(target error) bool {
	return target == ErrPrivileges && e.Check == CheckPrivileges
}

// FatalError is an error that reconnecting cannot fix. Kind is one of the
// sentinels (errors.Is matches it); Code is the server's error code, 0 if none.
type FatalError struct {
	Kind error
	Code uint16
	Hint string // what to do
	Err  error
}

func (e *FatalError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *FatalError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Server error codes we classify (MySQL and MariaDB share them).
const (
	erDBAccessDenied       = 1044
	erAccessDenied         = 1045
	erSpecificAccessDenied = 1227
	erNotSupportedAuthMode = 1251
	erAccessDeniedNoPass   = 1698
	erSourceFatalReading   = mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG // 1236
)

// classify turns an error of one connection into a permanent *FatalError (or
// *PreflightError, or a relay/start error, returned as is), or returns nil when
// reconnecting may help.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pf *PreflightError
	if errors.As(err, &pf) {
		return pf
	}
	var fe *FatalError
	if errors.As(err, &fe) {
		return fe
	}
	if errors.Is(err, ErrRelayLog) || errors.Is(err, ErrStart) {
		return err
	}
	var my *mysql.MyError
	if errors.As(err, &my) {
		switch my.Code {
		case erAccessDenied, erAccessDeniedNoPass, erNotSupportedAuthMode:
			return &FatalError{Kind: ErrAuth, Code: my.Code, Err: my,
				Hint: "check the user and password, and that the user may connect from this host"}
		case erDBAccessDenied, erSpecificAccessDenied:
			return &FatalError{Kind: ErrPrivileges, Code: my.Code, Err: my, Hint: grantHint("")}
		case erSourceFatalReading:
			return fatalReading(my)
		}
		return nil
	}
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &recErr) {
		return &FatalError{Kind: ErrTLS, Err: err,
			Hint: "check the source's certificate against the TLS config (RootCAs, ServerName)"}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not support TLS"):
		return &FatalError{Kind: ErrTLS, Err: err,
			Hint: "the source offers no TLS: configure ssl_cert/ssl_key on the source, or connect without TLS"}
	case strings.Contains(msg, "@slave_connect_state"):
		return &FatalError{Kind: ErrBadStart, Err: err,
			Hint: "the GTID position must be domain-server-seq per domain"}
	}
	return nil
}

// fatalReading classifies error 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG),
// which both servers use for every reason they stop a binlog dump.
func fatalReading(my *mysql.MyError) *FatalError {
	m := strings.ToLower(my.Message)
	switch {
	case strings.Contains(m, "diverged"), strings.Contains(m, "more gtids than"),
		strings.Contains(m, "even though a subsequent sequence number does exist"):
		return &FatalError{Kind: ErrSourceFatal, Code: my.Code, Err: my,
			Hint: "the replica's GTID position is not in the source's history (the target diverged, or holds " +
				"transactions the source never had): compare the two, or rebuild the target from a fresh copy"}
	case strings.Contains(m, "purged"),
		strings.Contains(m, "could not find first log file"),
		strings.Contains(m, "could not find gtid state"),
		strings.Contains(m, "which is not in the master's binlog"),
		strings.Contains(m, "not in the master's binlog"),
		strings.Contains(m, "could not open log file"),
		strings.Contains(m, "position > file size"),
		strings.Contains(m, "requested gtid") && strings.Contains(m, "not"):
		return &FatalError{Kind: ErrBinlogPurged, Code: my.Code, Err: my,
			Hint: "the binlogs this replica needs are gone from the source: rebuild the target from a fresh " +
				"copy of the source and start from that copy's position, and raise binlog_expire_logs_seconds"}
	case strings.Contains(m, "same server_uuid/server_id") || strings.Contains(m, "same server_id"):
		return &FatalError{Kind: ErrSourceFatal, Code: my.Code, Err: my,
			Hint: "another replica uses our server_id: give this replica a unique ServerID"}
	case strings.Contains(m, "max_allowed_packet"):
		return &FatalError{Kind: ErrSourceFatal, Code: my.Code, Err: my,
			Hint: "raise max_allowed_packet on the source (it bounds the events it may send)"}
	}
	return &FatalError{Kind: ErrSourceFatal, Code: my.Code, Err: my,
		Hint: "see the source's error log; restart the receiver once the cause is fixed"}
}

// relayError marks an error of the relay log, so classify treats it as permanent.
func relayError(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrRelayLog, op, err)
}

// grantHint tells the user the statement to run. who is 'user'@'host', or "" for a placeholder.
func grantHint(who string) string {
	if who == "" {
		who = "'<user>'@'<host>'"
	}
	return "run on the source: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO " + who +
		" (REPLICATION CLIENT is BINLOG MONITOR on MariaDB 10.5+)"
}
