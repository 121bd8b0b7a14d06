package applier

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// DivergenceError reports that the target does not hold the rows the source
// changed: a row to update or delete is missing, or a row to insert exists.
type DivergenceError struct {
	Txn         string // GTID or source file:position
	SourceFile  string
	SourcePos   uint32
	Schema      string
	Table       string
	Key         string // the first row's key, e.g. (id)=(42)
	Op          string // INSERT, UPDATE, DELETE
	Expected    int64
	Affected    int64
	ServerError error // the target's error, if any (duplicate key)
}

func (e *DivergenceError) Error() string {
	what := fmt.Sprintf("%d of %d rows matched", e.Affected, e.Expected)
	if e.ServerError != nil {
		what = e.ServerError.Error()
	}
	return fmt.Sprintf("target diverged from source: %s on `%s`.`%s` key %s in transaction %s (source %s:%d): %s; "+
		"compare the table with the source, repair it, then restart (or run with idempotent mode)",
		e.Op, e.Schema, e.Table, e.Key, e.Txn, e.SourceFile, e.SourcePos, what)
}

// ApplyError wraps any other failure to apply a transaction.
type ApplyError struct {
	Txn        string
	SourceFile string
	SourcePos  uint32
	Statement  string // shortened
	Err        error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("apply transaction %s (source %s:%d): %s: %v", e.Txn, e.SourceFile, e.SourcePos, e.Statement, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// ErrRetriesExhausted is wrapped when a transaction kept failing with transient errors.
var ErrRetriesExhausted = errors.New("retries exhausted")

// Server error codes the worker decides on.
const (
	erDupEntry          = 1062
	erLockWaitTimeout   = 1205
	erLockDeadlock      = 1213
	erTableExists       = 1050
	erBadTable          = 1051
	erDupFieldName      = 1060
	erDupKeyName        = 1061
	erCantDropField     = 1091
	erDBCreateExists    = 1007
	erDBDropExists      = 1008
	erNoSuchTable       = 1146
	erBadDB             = 1049
	erServerShutdown    = 1053
	erConnKilled        = 1927 // MariaDB ER_CONNECTION_KILLED
	erQueryInterrupted  = 1317
	erNoSuchTableOld    = 1109
	erCantDropFieldOrKy = 1091
)

func serverCode(err error) uint16 {
	var me *mysql.MyError
	if errors.As(cause(err), &me) || errors.As(err, &me) {
		return me.Code
	}
	return 0
}

// cause unwraps pingcap/errors wrappers (go-mysql's), which predate Unwrap.
func cause(err error) error {
	for err != nil {
		c, ok := err.(interface{ Cause() error })
		if !ok || c.Cause() == nil || c.Cause() == err {
			return err
		}
		err = c.Cause()
	}
	return err
}

// isConnError reports errors after which the connection cannot be used.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	err = cause(err)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, mysql.ErrBadConn) || errors.Is(err, mysql.ErrMalformPacket) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	switch serverCode(err) {
	case erServerShutdown, erConnKilled, 2006, 2013:
		return true
	}
	return false
}

// isTransient reports errors worth retrying the whole transaction for.
func isTransient(err error) bool {
	switch serverCode(err) {
	case erLockDeadlock, erLockWaitTimeout, erQueryInterrupted:
		return true
	}
	return isConnError(err)
}

// ddlAlreadyApplied reports errors a re-run DDL gives when its first run succeeded.
func ddlAlreadyApplied(err error) bool {
	switch serverCode(err) {
	case erTableExists, erBadTable, erDupFieldName, erDupKeyName, erCantDropField,
		erDBCreateExists, erDBDropExists, erNoSuchTable, erNoSuchTableOld:
		return true
	}
	return false
}

// erKeyNotFound is ER_KEY_NOT_FOUND, MySQL's code for a row event whose row is missing.
const erKeyNotFound = 1032

// ErrorCode returns the server error code an apply error stands for: the
// target's code, 1062 for a duplicate key and 1032 (ER_KEY_NOT_FOUND) for a
// row to update or delete that is missing, 0 when there is none (a client-side
// or connection error).
func ErrorCode(err error) uint16 {
	var d *DivergenceError
	if errors.As(err, &d) {
		if d.ServerError != nil {
			return serverCode(d.ServerError)
		}
		return erKeyNotFound
	}
	return serverCode(err)
}

// isControlQuery reports BEGIN, COMMIT and ROLLBACK.
func isControlQuery(q []byte) bool {
	s := strings.TrimSpace(string(q))
	return strings.EqualFold(s, "BEGIN") || strings.EqualFold(s, "COMMIT") || strings.EqualFold(s, "ROLLBACK")
}
