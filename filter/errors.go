package filter

import "errors"

// ErrRule is wrapped by every error New returns for a malformed rule.
var ErrRule = errors.New("invalid replication filter rule")
