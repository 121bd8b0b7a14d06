package relaylog

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Options.
const (
	DefaultBaseName     = "relay-bin"
	DefaultSegmentSize  = 256 << 20
	DefaultSyncInterval = 50 * time.Millisecond
)

// SyncMode says when the log fsyncs its segment files.
type SyncMode uint8

const (
	// SyncInterval (the default) fsyncs at most once per SyncPolicy.Interval,
	// within Interval of a write even when the writer goes idle, and on Close
	// and rotation. A host crash loses at most the last Interval of events;
	// the receiver fetches them again (State reflects what survived).
	SyncInterval SyncMode = iota
	// SyncEveryTxn fsyncs before each transaction (or metadata event) is
	// published: readers only ever see durable events.
	SyncEveryTxn
	// SyncNever leaves flushing to the operating system (Sync still fsyncs).
	// The index is always written durably.
	SyncNever
)

func (m SyncMode) String() string {
	switch m {
	case SyncInterval:
		return "interval"
	case SyncEveryTxn:
		return "every-txn"
	case SyncNever:
		return "never"
	}
	return fmt.Sprintf("SyncMode(%d)", uint8(m))
}

// SyncPolicy is the fsync policy of a Log.
type SyncPolicy struct {
	Mode     SyncMode
	Interval time.Duration // SyncInterval only; 0 means DefaultSyncInterval
}

// Options configure a Log. Only Dir is required.
type Options struct {
	Dir      string // created if needed
	BaseName string // segment files are BaseName.000001, ...; the index is BaseName.index
	// SegmentSize: after a transaction ends in a segment this large or larger,
	// the next one starts a new segment. Default 256 MiB.
	SegmentSize int64
	Sync        SyncPolicy
	// RepairCorruption makes Open truncate the log at damage that is not a
	// torn tail (logging what it cut) instead of returning a *CorruptionError.
	RepairCorruption bool
	Registerer       prometheus.Registerer // nil: no metrics
	Logger           *slog.Logger          // nil: discard
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("relay log options: Dir is required")
	}
	if o.BaseName == "" {
		o.BaseName = DefaultBaseName
	}
	if strings.ContainsAny(o.BaseName, "/\\\t\n ") || o.BaseName == "." || o.BaseName == ".." {
		return o, fmt.Errorf("relay log options: BaseName %q must be a plain file name", o.BaseName)
	}
	if o.SegmentSize < 0 {
		return o, fmt.Errorf("relay log options: SegmentSize %d is negative", o.SegmentSize)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.Sync.Mode > SyncNever {
		return o, fmt.Errorf("relay log options: unknown sync mode %d", o.Sync.Mode)
	}
	if o.Sync.Interval < 0 {
		return o, fmt.Errorf("relay log options: negative sync interval %s", o.Sync.Interval)
	}
	if o.Sync.Interval == 0 {
		o.Sync.Interval = DefaultSyncInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
