package coordinator

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
	"github.com/mtreplica/mtreplica/relaylog"
)

const fixturesDir = "../../shared/fixtures"

// fixtureFiles lists every binlog file under shared/fixtures.
func fixtureFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	filepath.Walk(fixturesDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.Contains(p, "/expected/") {
			return nil
		}
		base := filepath.Base(p)
		if strings.HasSuffix(base, ".md") || strings.HasSuffix(base, ".tsv") || strings.HasSuffix(base, ".txt") || strings.HasSuffix(base, ".sql") {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if len(files) == 0 {
		t.Skipf("no fixtures in %s", fixturesDir)
	}
	return files
}

func readFixture(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	return b, nil
}

// splitEvents cuts a binlog file into raw events, checking lengths.
func splitEvents(b []byte) ([][]byte, error) {
	if !bytes.HasPrefix(b, binlogfmt.Magic) {
		return nil, fmt.Errorf("offset 0: not a binlog file (bad magic)")
	}
	var evs [][]byte
	off := len(binlogfmt.Magic)
	for off < len(b) {
		if len(b)-off < binlogfmt.HeaderLen {
			return evs, fmt.Errorf("offset %d: truncated event header", off)
		}
		n := int(binary.LittleEndian.Uint32(b[off+9:]))
		if n < binlogfmt.HeaderLen || off+n > len(b) {
			return evs, fmt.Errorf("offset %d: truncated event (size %d, %d bytes left)", off, n, len(b)-off)
		}
		evs = append(evs, b[off:off+n])
		off += n
	}
	return evs, nil
}

// TestFixturesThroughRelayLog runs every real binlog file through the relay
// log (append, read back) and the assembler: valid files assemble without
// error, broken ones fail with an error naming the file and an offset, and
// nothing panics.
func TestFixturesThroughRelayLog(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		name := strings.TrimPrefix(path, fixturesDir+"/")
		t.Run(name, func(t *testing.T) {
			txns, err := replayFixture(t, path)
			if err != nil {
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "offset") {
					t.Errorf("error does not name the file and the offset: %v", err)
				}
				t.Logf("%s: %d transactions, then: %v", name, txns, err)
				return
			}
			t.Logf("%s: %d transactions", name, txns)
		})
	}
}

func replayFixture(t *testing.T, path string) (txns int, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic on %s: %v", path, r)
		}
	}()
	b, err := readFixture(path)
	if err != nil {
		return 0, err
	}
	evs, splitErr := splitEvents(b)
	log, err := relaylog.Open(relaylog.Options{Dir: t.TempDir(), Sync: relaylog.SyncPolicy{Mode: relaylog.SyncNever}})
	if err != nil {
		return 0, err
	}
	defer log.Close()
	var appendErr error
	off := int64(len(binlogfmt.Magic))
	for _, ev := range evs {
		if err := log.Append(ev); err != nil {
			appendErr = fmt.Errorf("%s: append event at offset %d: %w", path, off, err)
			break
		}
		off += int64(len(ev))
	}
	r, err := log.NewReader(relaylog.Position{})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	asm := NewAssembler()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		ev, err := r.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return txns, fmt.Errorf("%s: %w", path, err)
		}
		tx, err := asm.Add(ev)
		if err != nil {
			return txns, fmt.Errorf("%s: %w", path, err)
		}
		if tx != nil {
			txns++
			if len(tx.Events) == 0 || tx.Next == tx.Start {
				t.Errorf("transaction %d is empty", txns)
			}
		}
	}
	if appendErr != nil {
		return txns, appendErr
	}
	if splitErr != nil {
		return txns, fmt.Errorf("%s: %w", path, splitErr)
	}
	return txns, nil
}

// mysql8Version reports whether a format description names MySQL 8.0 or later (not MariaDB).
func mysql8Version(fd *binlogfmt.FormatDescription) bool {
	if fd == nil || fd.MariaDB() {
		return false
	}
	major := 0
	for _, c := range fd.ServerVersion {
		if c < '0' || c > '9' {
			break
		}
		major = major*10 + int(c-'0')
	}
	return major >= 8
}

// TestMySQL8FixturesRowsDecoded: every MySQL 8.x and 9.x fixture assembles into
// transactions whose rows events are all decoded (table map attached, every
// row image complete), the ones inside zstd TRANSACTION_PAYLOAD events
// included, and the assembler hands on every rows event the file holds.
func TestMySQL8FixturesRowsDecoded(t *testing.T) {
	broken := map[string]bool{
		"rust_mysql_common/corrupt-relay-bin.000624":                true,
		"rust_mysql_common/binlog_truncated_event.000001":           true,
		"rust_mysql_common/binlog_truncated_prev_gtid_event.000001": true,
	}
	var files, totalRows, payloadRows int
	for _, path := range fixtureFiles(t) {
		name := strings.TrimPrefix(path, fixturesDir+"/")
		b, err := readFixture(path)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := splitEvents(b)
		if err != nil || len(evs) == 0 {
			continue
		}
		fd, err := binlogfmt.ParseFormatDescription(evs[0])
		if err != nil || !mysql8Version(fd) || broken[name] {
			continue
		}
		files++
		t.Run(name, func(t *testing.T) {
			asm := NewAssembler()
			var rows, inPayload, topLevel, tagged int
			off := int64(len(binlogfmt.Magic))
			for _, raw := range evs {
				h, _ := binlogfmt.ParseHeader(raw)
				if rowsType(h.Type) {
					topLevel++
				}
				ev := relaylog.Event{Raw: raw, Pos: relaylog.Position{Offset: off}, Next: relaylog.Position{Offset: off + int64(len(raw))}}
				off += int64(len(raw))
				tx, err := asm.Add(ev)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if tx == nil {
					continue
				}
				if h.Type == replication.XID_EVENT && strings.Contains(tx.Info.GTID.Stream, ":") {
					tagged++
				}
				for _, e := range tx.Events {
					re, ok := e.Event.(*replication.RowsEvent)
					if !ok {
						if _, nested := e.Event.(*replication.TransactionPayloadEvent); nested {
							t.Errorf("%s: transaction %s still holds a TRANSACTION_PAYLOAD event", name, tx.ID())
						}
						continue
					}
					rows++
					if e.Header.LogPos == 0 {
						t.Errorf("%s: rows event without a source position", name)
					}
					if h.Type == replication.TRANSACTION_PAYLOAD_EVENT {
						inPayload++
					}
					if re.Table == nil || len(re.Rows) == 0 {
						t.Errorf("%s: %s of transaction %s not decoded (table map %v, %d rows)", name, e.Header.EventType, tx.ID(), re.Table != nil, len(re.Rows))
						continue
					}
					for i, r := range re.Rows {
						if len(r) != int(re.ColumnCount) {
							t.Errorf("%s: %s row %d has %d values for %d columns", name, e.Header.EventType, i, len(r), re.ColumnCount)
						}
					}
				}
			}
			if rows != topLevel+inPayload {
				t.Errorf("%s: %d rows events assembled, the file holds %d (+%d in payloads)", name, rows, topLevel, inPayload)
			}
			if strings.Contains(name, "GTID_TAG") && tagged == 0 {
				t.Errorf("%s: no transaction recorded with its GTID tag", name)
			}
			if strings.Contains(name, "transaction_compression") && inPayload == 0 {
				t.Errorf("%s: no rows event came out of a TRANSACTION_PAYLOAD", name)
			}
			totalRows += rows
			payloadRows += inPayload
			t.Logf("%s (%s): %d rows events, %d of them from compressed payloads", name, fd.ServerVersion, rows, inPayload)
		})
	}
	if files == 0 {
		t.Skip("no MySQL 8 fixtures")
	}
	if payloadRows == 0 {
		t.Error("no rows event decoded from a TRANSACTION_PAYLOAD in any fixture")
	}
	t.Logf("%d MySQL 8.x/9.x fixtures, %d rows events (%d from payloads)", files, totalRows, payloadRows)
}

func rowsType(t replication.EventType) bool {
	switch t {
	case replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
		replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2,
		replication.PARTIAL_UPDATE_ROWS_EVENT:
		return true
	}
	return false
}
