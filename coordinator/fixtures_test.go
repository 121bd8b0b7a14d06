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
