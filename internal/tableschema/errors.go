package tableschema

import (
	"errors"
	"fmt"
)

// ErrNoTable is matched (errors.Is) by the error Load and Cache.Get return for a table the target does not have.
var ErrNoTable = errors.New("table does not exist on the target")

// NoTableError names the missing table; errors.Is(err, ErrNoTable) holds for it.
type NoTableError struct {
	Schema, Table string
}

func (e *NoTableError) Error() string {
	return fmt.Sprintf("table %s.%s does not exist on the target: create it there (or filter it out)", e.Schema, e.Table)
}

// Is makes errors.Is(err, ErrNoTable) true.
func (e *NoTableError) Is(target error) bool { return target == ErrNoTable }
