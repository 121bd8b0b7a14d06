package deptrack

import (
	"fmt"
	"strings"
)

// Mode is a set of dependency tracking modes. Enabled modes combine: a transaction's dependency is the lowest any
// of them proves safe (barriers excepted, see Tracker).
type Mode uint8

const (
	// CommitOrder: every transaction depends on its predecessor (serial apply; the reference for correctness).
	CommitOrder Mode = 1 << iota
	// LogicalClock: the source's own record of what committed together: MySQL's last_committed and
	// sequence_number, MariaDB's group commit_id.
	LogicalClock
	// WriteSet: the keys of the rows a transaction changes, computed on the replica (Extractor).
	WriteSet
	// Database: one lane per schema, like MySQL's replica_parallel_type=DATABASE.
	Database

	allModes = CommitOrder | LogicalClock | WriteSet | Database
)

var modeNames = [...]struct {
	m    Mode
	name string
}{
	{CommitOrder, "commit-order"},
	{LogicalClock, "logical-clock"},
	{WriteSet, "writeset"},
	{Database, "database"},
}

// ParseMode parses a mode name ("commit-order", "logical-clock", "writeset", "database") or several joined by "+"
// ("logical-clock+writeset"). Names are case-insensitive.
func ParseMode(s string) (Mode, error) {
	var m Mode
	for _, part := range strings.Split(s, "+") {
		name := strings.ToLower(strings.TrimSpace(part))
		found := false
		for _, mn := range modeNames {
			if mn.name == name {
				m |= mn.m
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("parse dependency mode %q: unknown mode %q: %w", s, part, ErrBadMode)
		}
	}
	return m, nil
}

// String returns the mode names joined by "+", as ParseMode reads them.
func (m Mode) String() string {
	var parts []string
	for _, mn := range modeNames {
		if m&mn.m != 0 {
			parts = append(parts, mn.name)
		}
	}
	if rest := m &^ allModes; rest != 0 {
		parts = append(parts, fmt.Sprintf("Mode(%#x)", uint8(rest)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}
