package inspect

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is what Inspect found in one file.
type Report struct {
	File          string `json:"file"`
	Bytes         int64  `json:"bytes"`
	ServerVersion string `json:"server_version"`
	Flavor        string `json:"flavor"` // "mysql" or "mariadb"
	BinlogVersion uint16 `json:"binlog_version"`
	Checksum      string `json:"checksum"` // "CRC32" or "NONE"

	Events int64 `json:"events"`
	// EventTypes counts the file's events by type; PayloadEventTypes the events
	// inside TRANSACTION_PAYLOAD events (not included in EventTypes).
	EventTypes        map[string]int64 `json:"event_types"`
	PayloadEventTypes map[string]int64 `json:"payload_event_types,omitempty"`

	Transactions int64 `json:"transactions"`
	// Compressed transactions are wrapped in a TRANSACTION_PAYLOAD; Statements
	// are single statements without BEGIN (DDL, non-transactional writes);
	// Anonymous transactions have no GTID.
	Compressed int64 `json:"compressed_transactions"`
	Statements int64 `json:"statement_transactions"`
	Anonymous  int64 `json:"anonymous_transactions"`
	// GTIDs is the set of the transactions' GTIDs; FirstGTID and LastGTID in file order.
	GTIDs     string `json:"gtids,omitempty"`
	FirstGTID string `json:"first_gtid,omitempty"`
	LastGTID  string `json:"last_gtid,omitempty"`

	Rows    RowCounts   `json:"rows"`
	Largest Transaction `json:"largest_transaction"`

	// Parallelism per dependency mode ("logical-clock", "writeset").
	Parallelism map[string]Parallelism `json:"parallelism"`
	// UnknownKeys counts the transactions writeset mode had to treat as
	// barriers because a table map named no primary key.
	UnknownKeys int64 `json:"unknown_keys_transactions"`
	// UnknownKeyTables names (up to 10) the tables without primary key metadata.
	UnknownKeyTables []string `json:"unknown_key_tables,omitempty"`

	// DecodeErrors counts the transactions with an event go-mysql could not
	// decode (their rows are not counted; they count as barriers).
	DecodeErrors     int64  `json:"decode_errors,omitempty"`
	FirstDecodeError string `json:"first_decode_error,omitempty"`

	// Incomplete is set when the file ends inside an event or a transaction
	// (a binlog still being written, a torn relay log): what precedes is reported.
	Incomplete string `json:"incomplete,omitempty"`

	Elapsed time.Duration `json:"elapsed_ns"`
}

// RowCounts counts row images by kind (an update is one row: its before and after images).
type RowCounts struct {
	Events  int64 `json:"rows_events"`
	Written int64 `json:"written"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
}

// Transaction identifies one transaction of the file.
type Transaction struct {
	ID     string `json:"id"` // GTID, or file:position
	Pos    int64  `json:"pos"`
	Bytes  int64  `json:"bytes"`
	Events int64  `json:"events"`
	Rows   int64  `json:"rows"`
}

// Parallelism is how many transactions could run at once under one dependency mode.
type Parallelism struct {
	Average  float64 `json:"average"`
	Max      int64   `json:"max"`
	Steps    int64   `json:"steps"`    // the critical path, in transactions
	Barriers int64   `json:"barriers"` // transactions that waited for all before them (DDL, unknown keys...)
}

// Modes are the dependency modes a Report measures, in print order.
var Modes = []string{"logical-clock", "writeset"}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d bytes, %s %s, binlog v%d, checksum %s\n", r.File, r.Bytes, flavorName(r.Flavor),
		r.ServerVersion, r.BinlogVersion, r.Checksum)
	fmt.Fprintf(&b, "  events: %d (%s)\n", r.Events, typeList(r.EventTypes))
	if len(r.PayloadEventTypes) > 0 {
		fmt.Fprintf(&b, "  in compressed payloads: %s\n", typeList(r.PayloadEventTypes))
	}
	fmt.Fprintf(&b, "  transactions: %d (%d compressed, %d single statements, %d anonymous)\n", r.Transactions,
		r.Compressed, r.Statements, r.Anonymous)
	if r.GTIDs != "" {
		fmt.Fprintf(&b, "  GTIDs: %s (first %s, last %s)\n", r.GTIDs, r.FirstGTID, r.LastGTID)
	}
	fmt.Fprintf(&b, "  rows: %d written, %d updated, %d deleted in %d rows events\n", r.Rows.Written, r.Rows.Updated,
		r.Rows.Deleted, r.Rows.Events)
	if r.Largest.Bytes > 0 {
		fmt.Fprintf(&b, "  largest transaction: %s (offset %d): %d bytes, %d events, %d rows\n", r.Largest.ID, r.Largest.Pos,
			r.Largest.Bytes, r.Largest.Events, r.Largest.Rows)
	}
	fmt.Fprintf(&b, "  parallelism (transactions that could run at once with unlimited workers):\n")
	for _, m := range Modes {
		p, ok := r.Parallelism[m]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "    %-14s average %.2f, max %d (%d steps, %d barriers)", m+":", p.Average, p.Max, p.Steps, p.Barriers)
		if m == "writeset" && r.UnknownKeys > 0 {
			fmt.Fprintf(&b, "; unknown keys: barrier for %d transactions (no primary key in the table map of %s)",
				r.UnknownKeys, strings.Join(r.UnknownKeyTables, ", "))
		}
		b.WriteByte('\n')
	}
	if r.DecodeErrors > 0 {
		fmt.Fprintf(&b, "  decode errors: %d transactions (first: %.200s)\n", r.DecodeErrors, r.FirstDecodeError)
	}
	if r.Incomplete != "" {
		fmt.Fprintf(&b, "  incomplete: %s\n", r.Incomplete)
	}
	secs := r.Elapsed.Seconds()
	if secs > 0 {
		fmt.Fprintf(&b, "  inspected in %.2fs (%.1f MB/s)\n", secs, float64(r.Bytes)/secs/1e6)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func flavorName(f string) string {
	if f == "mariadb" {
		return "MariaDB"
	}
	return "MySQL"
}

// typeList prints counts by type, most frequent first.
func typeList(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || (l[i].v == l[j].v && l[i].k < l[j].k) })
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.v)
	}
	return strings.Join(parts, ", ")
}
