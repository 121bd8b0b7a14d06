package applier

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/internal/gtid"
)

// Progress reads and writes the progress tables (see the package doc).
type Progress struct {
	Schema  string // default "mtreplica"
	Channel string
}

func (p Progress) table(name string) string {
	return quoteIdent(p.Schema) + "." + quoteIdent(name)
}

// firstSeqColumn: a row of applied_transactions stands for the run
// first_seq..seq of a group (appendRecords).
const firstSeqColumn = "first_seq BIGINT UNSIGNED NULL DEFAULT NULL COMMENT 'the row stands for first_seq..seq; NULL: seq alone'"

// Ensure creates the progress schema and tables if they do not exist.
func (p Progress) Ensure(c *client.Conn) error {
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + quoteIdent(p.Schema),
		"CREATE TABLE IF NOT EXISTS " + p.table("applied_transactions") + ` (
  channel VARCHAR(64) NOT NULL,
  stream VARCHAR(100) NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  server_id INT UNSIGNED NOT NULL DEFAULT 0,
  source_file VARCHAR(255) NOT NULL DEFAULT '',
  source_pos BIGINT UNSIGNED NOT NULL DEFAULT 0,
  state ENUM('applied','ddl-pending') NOT NULL DEFAULT 'applied',
  ` + firstSeqColumn + `,
  applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (channel, stream, seq)
) ENGINE=InnoDB COMMENT='mtreplica: transactions applied from the source (do not edit)'`,
		"CREATE TABLE IF NOT EXISTS " + p.table("low_water") + ` (
  channel VARCHAR(64) NOT NULL,
  stream VARCHAR(100) NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  server_id INT UNSIGNED NOT NULL DEFAULT 0,
  source_file VARCHAR(255) NOT NULL DEFAULT '',
  source_pos BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (channel, stream)
) ENGINE=InnoDB COMMENT='mtreplica: every transaction at or below seq is applied (do not edit)'`,
	} {
		if _, err := c.Execute(q); err != nil {
			return fmt.Errorf("create progress tables in %s: %w", p.Schema, err)
		}
	}
	// Tables created before ranges were recorded: add the column.
	r, err := c.Execute("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'applied_transactions' AND COLUMN_NAME = 'first_seq'", p.Schema)
	if err != nil {
		return fmt.Errorf("read the progress table's columns: %w", err)
	}
	if n, _ := r.GetInt(0, 0); n == 0 {
		if _, err := c.Execute("ALTER TABLE " + p.table("applied_transactions") + " ADD COLUMN " + firstSeqColumn); err != nil {
			return fmt.Errorf("add first_seq to the progress table: %w", err)
		}
	}
	return nil
}

// Executed is what the target holds, read from the progress tables.
type Executed struct {
	Set *gtid.Set // GTID streams and the anonymous "file" stream
	// Pending holds transactions whose implicit-commit statement may or may not have run.
	Pending map[string]bool // key: stream/seq
	// Last source position per stream (for file/position resume): the highest recorded.
	LastFile map[string]string
	LastPos  map[string]uint64
}

// PendingKey formats a Pending map key.
func PendingKey(stream string, seq uint64) string { return stream + "/" + strconv.FormatUint(seq, 10) }

// Load reads the executed set.
func (p Progress) Load(c *client.Conn, flavor gtid.Flavor) (*Executed, error) {
	ex := &Executed{Set: gtid.NewSet(flavor), Pending: map[string]bool{}, LastFile: map[string]string{}, LastPos: map[string]uint64{}}
	note := func(stream string, seq uint64, sid uint32, file string, pos uint64) {
		if last, ok := ex.Set.Last(stream); !ok || seq >= last {
			ex.LastFile[stream], ex.LastPos[stream] = file, pos
			ex.Set.SetServerID(stream, sid)
		}
	}
	r, err := c.Execute("SELECT stream, seq, server_id, source_file, source_pos FROM "+p.table("low_water")+" WHERE channel = ?", p.Channel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.table("low_water"), err)
	}
	for i := range r.Values {
		stream, _ := r.GetString(i, 0)
		seq, _ := r.GetUint(i, 1)
		sid, _ := r.GetUint(i, 2)
		file, _ := r.GetString(i, 3)
		pos, _ := r.GetUint(i, 4)
		if seq > 0 {
			note(stream, seq, uint32(sid), file, pos)
			ex.Set.AddInterval(stream, gtid.Interval{Start: 1, End: seq})
		}
	}
	r, err = c.Execute("SELECT stream, seq, server_id, source_file, source_pos, state, COALESCE(first_seq, seq) FROM "+p.table("applied_transactions")+" WHERE channel = ? ORDER BY stream, seq", p.Channel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.table("applied_transactions"), err)
	}
	for i := range r.Values {
		stream, _ := r.GetString(i, 0)
		seq, _ := r.GetUint(i, 1)
		sid, _ := r.GetUint(i, 2)
		file, _ := r.GetString(i, 3)
		pos, _ := r.GetUint(i, 4)
		state, _ := r.GetString(i, 5)
		first, _ := r.GetUint(i, 6)
		if state == "ddl-pending" {
			ex.Pending[PendingKey(stream, seq)] = true
			continue
		}
		if first == 0 || first > seq {
			first = seq
		}
		note(stream, seq, uint32(sid), file, pos)
		ex.Set.AddInterval(stream, gtid.Interval{Start: first, End: seq})
	}
	return ex, nil
}

// SetLowWater records that every transaction of a stream up to seq is applied
// (a start position given by the operator, or a clone's snapshot).
func (p Progress) SetLowWater(c *client.Conn, stream string, seq uint64, serverID uint32, file string, pos uint64) error {
	_, err := c.Execute("INSERT INTO "+p.table("low_water")+" (channel, stream, seq, server_id, source_file, source_pos) VALUES (?,?,?,?,?,?) "+
		"ON DUPLICATE KEY UPDATE seq=VALUES(seq), server_id=VALUES(server_id), source_file=VALUES(source_file), source_pos=VALUES(source_pos)",
		p.Channel, stream, seq, serverID, file, pos)
	if err != nil {
		return fmt.Errorf("set low-water mark: %w", err)
	}
	return nil
}

// Reset deletes this channel's progress (RESET REPLICA ALL on the target side).
func (p Progress) Reset(c *client.Conn) error {
	for _, t := range []string{"applied_transactions", "low_water"} {
		if _, err := c.Execute("DELETE FROM "+p.table(t)+" WHERE channel = ?", p.Channel); err != nil {
			return fmt.Errorf("reset progress: %w", err)
		}
	}
	return nil
}

// appendRecord appends the INSERT of a progress row.
func (p Progress) appendRecord(b sqlWriter, stream string, seq uint64, serverID uint32, file string, pos uint32, state string) {
	fmt.Fprintf(b, "INSERT INTO %s (channel, stream, seq, server_id, source_file, source_pos, state) VALUES (%s, %s, %d, %d, %s, %d, '%s')",
		p.table("applied_transactions"), quoteString(p.Channel), quoteString(stream), seq, serverID, quoteString(file), pos, state)
}

// appendRecords records several transactions (state 'applied') in one
// multi-row INSERT: one statement for a group's progress. Consecutive members
// of one stream with consecutive sequence numbers (a group usually is one such
// run) share one row, first_seq..seq, with the last one's server_id and source
// position: the target writes one progress row per run, not per transaction.
func (p Progress) appendRecords(b sqlWriter, ts []*coordinator.Txn) {
	fmt.Fprintf(b, "INSERT INTO %s (channel, stream, seq, first_seq, server_id, source_file, source_pos, state) VALUES ", p.table("applied_transactions"))
	ch := quoteString(p.Channel)
	rows := 0
	for i := 0; i < len(ts); {
		stream, first := ts[i].ProgressKey()
		j, last := i, first
		for j+1 < len(ts) {
			s, q := ts[j+1].ProgressKey()
			if s != stream || q != last+1 {
				break
			}
			j, last = j+1, q
		}
		t := ts[j]
		if rows > 0 {
			b.WriteByte(',')
		}
		rows++
		firstSQL := "NULL"
		if first != last {
			firstSQL = strconv.FormatUint(first, 10)
		}
		fmt.Fprintf(b, "(%s, %s, %d, %s, %d, %s, %d, 'applied')", ch, quoteString(stream), last, firstSQL, t.Info.GTID.ServerID, quoteString(t.Info.SourceFile), t.Info.EndPos)
		i = j + 1
	}
}

// appendPrune appends the statements that raise the low-water mark to seq and
// delete the rows it covers.
func (p Progress) appendPrune(b sqlWriter, stream string, seq uint64, serverID uint32, file string, pos uint32) {
	fmt.Fprintf(b, "INSERT INTO %s (channel, stream, seq, server_id, source_file, source_pos) VALUES (%s, %s, %d, %d, %s, %d) "+
		"ON DUPLICATE KEY UPDATE seq=GREATEST(seq, VALUES(seq)), server_id=VALUES(server_id), source_file=VALUES(source_file), source_pos=VALUES(source_pos)",
		p.table("low_water"), quoteString(p.Channel), quoteString(stream), seq, serverID, quoteString(file), pos)
	b.WriteString(";")
	fmt.Fprintf(b, "DELETE FROM %s WHERE channel = %s AND stream = %s AND seq <= %d",
		p.table("applied_transactions"), quoteString(p.Channel), quoteString(stream), seq)
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteString renders s as a string literal safe under any sql_mode
// (hex, so neither backslashes nor quotes matter).
func quoteString(s string) string {
	if s == "" {
		return "''"
	}
	return fmt.Sprintf("_utf8mb4 X'%x'", s)
}
