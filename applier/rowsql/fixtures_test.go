package rowsql

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")

// fixturesDir finds shared/fixtures: $MTREPLICA_FIXTURES, or a shared/fixtures beside any parent directory.
func fixturesDir(t testing.TB) string {
	if d := os.Getenv("MTREPLICA_FIXTURES"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{filepath.Join(d, "shared", "fixtures"), filepath.Join(d, "..", "shared", "fixtures")} {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
		}
		if filepath.Dir(d) == d {
			t.Skip("shared/fixtures not found; set MTREPLICA_FIXTURES")
		}
	}
}

// brokenFixtures are deliberately broken (fixtures/README.md): the parser may fail on them.
var brokenFixtures = map[string]bool{
	"rust_mysql_common/corrupt-relay-bin.000624":                true,
	"rust_mysql_common/binlog_truncated_event.000001":           true,
	"rust_mysql_common/binlog_truncated_prev_gtid_event.000001": true,
	"canal/tsdb__mysql-bin.000001":                              true,
}

// parserLimitations are valid files go-mysql v1.16.0 cannot parse; the error is the parser's, not ours.
var parserLimitations = map[string]string{
	// MariaDB 10.0 wrote fractional TIMESTAMP(N) in its own format with no metadata in the table map: decoding
	// needs the table's schema, and go-mysql reads 4 bytes and runs off the row.
	"tiflow/mysql-bin.000001": "MariaDB 10.0 hires TIMESTAMP",
	// MySQL 5.1 pre-GA (v0) rows events refer to a table id go-mysql's v0 handling does not keep.
	"rust_mysql_common/ver_5_1-wl2325_s.001": "MySQL 5.1 pre-GA rows events",
}

// expectedRenderErrors are row events the generator must refuse, by fixture, with the error they must match.
var expectedRenderErrors = map[string]error{
	// MySQL partial JSON updates (binlog_row_value_options=PARTIAL_JSON): go-mysql decodes only one diff.
	"rust_mysql_common/json.binlog.000001": ErrPartialJSON,
}

// fixtureStats is what one fixture gave.
type fixtureStats struct {
	events, rowsEvents, statements int
	payloadRows, undecoded         int    // rows events from TRANSACTION_PAYLOADs; rows events without their table map
	version                        string // the format description's server version
	renderErrs                     []error
	sql                            bytes.Buffer // generated SQL, for golden files
}

// parseFixture runs one binlog file through go-mysql's parser (as the engine configures it) and every rows event
// through a Generator with a table synthesized from the table map.
func parseFixture(t *testing.T, path string, keepSQL bool) (st *fixtureStats, parseErr error) {
	st = &fixtureStats{}
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return st, err
		}
		r = bufio.NewReaderSize(zr, 1<<20)
	}
	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil {
		return st, fmt.Errorf("read magic: %w", err)
	}
	if !bytes.Equal(magic, replication.BinLogFileHeader) {
		return st, fmt.Errorf("bad magic %x", magic)
	}
	p := replication.NewBinlogParser()
	p.SetUseDecimal(true)
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	g := NewGenerator(Options{MaxStatementBytes: 4096})
	var out []Statement
	onEvent := func(e *replication.BinlogEvent) error {
		st.events++
		if fd, ok := e.Event.(*replication.FormatDescriptionEvent); ok {
			st.version = fd.ServerVersion
		}
		render := func(h *replication.EventHeader, ev replication.Event) {
			re, ok := ev.(*replication.RowsEvent)
			if !ok {
				return
			}
			if re.Table == nil {
				st.undecoded++
				return
			}
			st.rowsEvents++
			var err error
			out, err = g.Append(out[:0], h.EventType, re, FromTableMap(re.Table))
			if err != nil {
				st.renderErrs = append(st.renderErrs, err)
				if keepSQL {
					fmt.Fprintf(&st.sql, "-- error: %v\n", err)
				}
				return
			}
			st.statements += len(out)
			if keepSQL {
				for _, s := range out {
					fmt.Fprintf(&st.sql, "%s; -- expect=%d key=%s\n", s.SQL, s.Expect, s.Key)
				}
			}
		}
		if tp, ok := e.Event.(*replication.TransactionPayloadEvent); ok {
			for _, inner := range tp.Events {
				if _, ok := inner.Event.(*replication.RowsEvent); ok {
					st.payloadRows++
				}
				render(inner.Header, inner.Event)
			}
			return nil
		}
		render(e.Header, e.Event)
		return nil
	}
	// go-mysql panics on some corrupt input (DESIGN.md §11); that is the parser's, not the generator's: the
	// generator runs inside onEvent, whose panics are re-raised below.
	var inGen bool
	defer func() {
		if rec := recover(); rec != nil {
			if inGen {
				panic(rec)
			}
			parseErr = fmt.Errorf("parser panic: %v", rec)
		}
	}()
	err = p.ParseReader(r, func(e *replication.BinlogEvent) error {
		inGen = true
		defer func() { inGen = false }()
		return onEvent(e)
	})
	return st, err
}

func fixtureFiles(t *testing.T, dir string) []string {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "expected" { // mysqlbinlog dumps, not binlogs
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".tsv") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// TestFixtures: every real binlog in shared/fixtures goes through the parser and the generator without a panic;
// parse errors only on the deliberately broken files, render errors only where expected.
func TestFixtures(t *testing.T) {
	dir := fixturesDir(t)
	files := fixtureFiles(t, dir)
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	var totalRows, totalStmts int
	for _, name := range files {
		t.Run(strings.ReplaceAll(name, "/", "__"), func(t *testing.T) {
			st, err := parseFixture(t, filepath.Join(dir, name), false)
			if err != nil && !brokenFixtures[name] {
				if why, ok := parserLimitations[name]; ok {
					t.Logf("parse (known go-mysql limitation: %s): %.200v", why, err)
				} else {
					t.Errorf("parse: %v", err)
				}
			}
			want := expectedRenderErrors[name]
			for _, e := range st.renderErrs {
				if want == nil || !errors.Is(e, want) {
					t.Errorf("render: %v", e)
				}
			}
			if want != nil && len(st.renderErrs) == 0 {
				t.Errorf("expected a render error matching %v", want)
			}
			totalRows += st.rowsEvents
			totalStmts += st.statements
			t.Logf("%d events, %d rows events, %d statements, %d render errors, parse error: %.200v",
				st.events, st.rowsEvents, st.statements, len(st.renderErrs), err)
		})
	}
	t.Logf("fixtures: %d files, %d rows events, %d statements", len(files), totalRows, totalStmts)
	if totalRows == 0 {
		t.Error("no rows event in any fixture")
	}
}

// goldenFixtures are small fixtures with many column types whose generated SQL is kept in testdata/fixtures/
// (regenerate with go test -run TestFixtureGolden -rewrite).
var goldenFixtures = []string{
	"rust_mysql_common/mysql-enum-string-set.000001",
	"rust_mysql_common/mysql_type_bit.000001",
	"rust_mysql_common/time_issue.000001",
	"rust_mysql_common/json-opaque.binlog",
	"rust_mysql_common/write-full-row.binlog",
	"rust_mysql_common/update-partial-row.binlog",
	"rust_mysql_common/binlog-invisible-columns.000001",
	"rust_mysql_common/vector.binlog",
	"rust_mysql_common/mariadb-bin.000001",
	"mysql-cdc-rs/8.0_19_30_Table_map_event_Write_rows_log_event_binlog.000018",
	"mysql-cdc-rs/8.0_31_update_rows_v2_binlog.000001",
	"mysql-cdc-rs/8.0_32_delete_rows_v2_binlog.000001",
	"tiflow/mysql-bin.000001",
}

func TestFixtureGolden(t *testing.T) {
	dir := fixturesDir(t)
	for _, name := range goldenFixtures {
		t.Run(strings.ReplaceAll(name, "/", "__"), func(t *testing.T) {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err != nil {
				t.Skip(err)
			}
			st, err := parseFixture(t, path, true)
			if err != nil {
				msg := err.Error()
				if i := strings.Index(msg, ", data "); i >= 0 { // the rest prints pointers
					msg = msg[:i]
				}
				fmt.Fprintf(&st.sql, "-- parse error: %s\n", msg)
			}
			golden := filepath.Join("testdata", "fixtures", strings.ReplaceAll(name, "/", "__")+".sql")
			if *rewrite {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, st.sql.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to create it)", err)
			}
			if !bytes.Equal(want, st.sql.Bytes()) {
				t.Errorf("generated SQL differs from %s (rerun with -rewrite and review the diff):\n%s", golden,
					firstDiff(string(want), st.sql.String()))
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n-%s\n+%s", i+1, x, y)
		}
	}
	return ""
}

// TestMySQL8FixtureRows: every MySQL 8.x and 9.x fixture's rows events are decoded (table map attached) and become
// statements, the ones inside compressed TRANSACTION_PAYLOADs included.
func TestMySQL8FixtureRows(t *testing.T) {
	dir := fixturesDir(t)
	files, payload := 0, 0
	for _, name := range fixtureFiles(t, dir) {
		if brokenFixtures[name] {
			continue
		}
		st, err := parseFixture(t, filepath.Join(dir, name), false)
		v := st.version
		if v == "" || v[0] < '8' || v[0] > '9' || strings.Contains(strings.ToLower(v), "mariadb") {
			continue
		}
		files++
		payload += st.payloadRows
		if err != nil {
			t.Errorf("%s (%s): parse: %v", name, v, err)
		}
		if st.undecoded > 0 {
			t.Errorf("%s (%s): %d rows events without their table map", name, v, st.undecoded)
		}
		if st.rowsEvents > 0 && st.statements == 0 {
			t.Errorf("%s (%s): %d rows events but no statement", name, v, st.rowsEvents)
		}
		if expectedRenderErrors[name] == nil && len(st.renderErrs) > 0 {
			t.Errorf("%s (%s): %v", name, v, st.renderErrs[0])
		}
		t.Logf("%s (%s): %d rows events (%d in payloads), %d statements", name, v, st.rowsEvents, st.payloadRows, st.statements)
	}
	if files == 0 {
		t.Skip("no MySQL 8 fixture")
	}
	if payload == 0 {
		t.Error("no rows event inside a TRANSACTION_PAYLOAD in any fixture")
	}
}
