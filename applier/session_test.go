package applier

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
)

// TestParseStatusVarsFixtures decodes the status variables of every QUERY
// event in the MySQL and MariaDB fixtures without error.
func TestParseStatusVarsFixtures(t *testing.T) {
	files, _ := filepath.Glob("../../shared/fixtures/*/*")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".gz") || strings.HasSuffix(f, ".md") || strings.HasSuffix(f, ".tsv") || strings.Contains(f, "expected") ||
			strings.Contains(f, "ver_5_1") || strings.Contains(f, "corrupt") || strings.Contains(f, "truncated") || strings.Contains(f, "tsdb__") {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		p := replication.NewBinlogParser()
		func() {
			defer func() { recover() }()
			p.ParseReader(bufio.NewReaderSize(skipMagic(fh), 1<<20), func(e *replication.BinlogEvent) error {
				q, ok := e.Event.(*replication.QueryEvent)
				if !ok {
					return nil
				}
				n++
				s, err := ParseStatusVars(q.StatusVars)
				if err != nil {
					t.Errorf("%s pos %d: %v (%q)", filepath.Base(f), e.Header.LogPos, err, q.Query)
				}
				if !strings.HasPrefix(s.sessionSQL(), "SET @@session.") {
					t.Errorf("sessionSQL = %q", s.sessionSQL())
				}
				return nil
			})
		}()
		fh.Close()
	}
	if n == 0 {
		t.Skip("no query events in fixtures")
	}
	t.Logf("%d query events decoded", n)
}

func skipMagic(f *os.File) *os.File {
	b := make([]byte, 4)
	f.Read(b)
	return f
}

func TestParseStatusVars(t *testing.T) {
	// flags2 (no FK checks), sql_mode, charset 33/33/8, time zone "+00:00", MariaDB Q_HRNOW.
	b := []byte{qFlags2Code, 0, 0, 0, 4}
	b = append(b, qSQLModeCode, 0, 0, 0x20, 0, 0, 0, 0, 0)
	b = append(b, qCharsetCode, 33, 0, 33, 0, 8, 0)
	b = append(b, qTimeZoneCode, 6, '+', '0', '0', ':', '0', '0')
	b = append(b, qHRNow, 1, 2, 3)
	s, err := ParseStatusVars(b)
	if err != nil {
		t.Fatal(err)
	}
	if !s.HaveFlags2 || s.Flags2&optionNoForeignKeyChecks == 0 || s.SQLMode != 0x200000 || s.CharsetClient != 33 || s.CollationSrv != 8 || s.TimeZone != "+00:00" || s.Microseconds != 0x030201 {
		t.Fatalf("decoded %+v", s)
	}
	got := s.sessionSQL()
	for _, want := range []string{"foreign_key_checks=0", "sql_mode=2097152", "character_set_client=33", "time_zone=_utf8mb4 X'2b30303a3030'"} {
		if !strings.Contains(got, want) {
			t.Errorf("sessionSQL %q lacks %q", got, want)
		}
	}
	if _, err := ParseStatusVars([]byte{qSQLModeCode, 1, 2}); err == nil {
		t.Fatal("truncated status vars accepted")
	}
	if _, err := ParseStatusVars([]byte{200}); err == nil {
		t.Fatal("unknown code accepted")
	}
}
