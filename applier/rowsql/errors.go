package rowsql

import (
	"errors"
	"fmt"
)

var (
	// ErrColumnMismatch: the binlog's columns cannot be matched to the target table's (a missing column, more
	// columns than the target has, or a positional mapping whose types disagree). Matched by *ColumnMismatchError.
	ErrColumnMismatch = errors.New("binlog columns do not match the target table")
	// ErrUnsupportedType: a value of a binlog type (or Go type) this package cannot render exactly.
	// Matched by *UnsupportedTypeError.
	ErrUnsupportedType = errors.New("unsupported column type")
	// ErrPartialJSON: a MySQL partial JSON update (PARTIAL_UPDATE_ROWS_EVENT carrying a JSON diff). go-mysql
	// decodes only the first diff of a column, so the change cannot be applied exactly.
	ErrPartialJSON = errors.New("partial JSON update cannot be applied exactly; set binlog_row_value_options='' on the source")
	// ErrKeyNotInImage: the target's key columns are not all in the before image (binlog_row_image=MINIMAL with a
	// source key that differs from the target's), so the row cannot be found.
	ErrKeyNotInImage = errors.New("key columns of the target are missing from the before image")
	// ErrBadEvent: a rows event that cannot be rendered (no table map, an unknown event type, an odd number of
	// update images, rows shorter than the column count).
	ErrBadEvent = errors.New("malformed rows event")
	// ErrBadValue: a value that MySQL cannot hold (NaN) or a malformed character set name.
	ErrBadValue = errors.New("invalid value")
)

// ColumnMismatchError says why the binlog columns of schema.table could not be mapped onto the target.
type ColumnMismatchError struct {
	Schema, Table string
	BinlogColumns int
	TargetColumns int
	Column        string // the column at fault, if one
	Reason        string
	ByName        bool // mapped by name (binlog_row_metadata=FULL) rather than by position
}

func (e *ColumnMismatchError) Error() string {
	how := "by position"
	if e.ByName {
		how = "by name"
	}
	col := ""
	if e.Column != "" {
		col = " column " + e.Column + ":"
	}
	return fmt.Sprintf("map binlog columns of %s.%s onto the target %s (binlog has %d columns, target %d):%s %s; "+
		"make the target table match the source", e.Schema, e.Table, how, e.BinlogColumns, e.TargetColumns, col, e.Reason)
}

// Is makes errors.Is(err, ErrColumnMismatch) true.
func (e *ColumnMismatchError) Is(target error) bool { return target == ErrColumnMismatch }

// UnsupportedTypeError names the column and the binlog type that could not be rendered.
type UnsupportedTypeError struct {
	Column   string
	Type     byte   // binlog column type
	RealType byte   // resolved type (differs from Type for ENUM/SET/CHAR)
	Value    string // Go type of the decoded value, if any
	Reason   string // why, when more is known than the type
}

func (e *UnsupportedTypeError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("column %s: binlog type %d (real type %d): %s", e.Column, e.Type, e.RealType, e.Reason)
	}
	return fmt.Sprintf("column %s: binlog type %d (real type %d) with decoded value of Go type %s is not supported",
		e.Column, e.Type, e.RealType, e.Value)
}

// Is makes errors.Is(err, ErrUnsupportedType) true.
func (e *UnsupportedTypeError) Is(target error) bool { return target == ErrUnsupportedType }
