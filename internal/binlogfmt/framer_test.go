package binlogfmt

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
)

const fixtures = "../../../shared/fixtures"

func loadEvents(t testing.TB, path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	if !bytes.HasPrefix(b, Magic) {
		return nil, io.ErrUnexpectedEOF
	}
	var evs [][]byte
	for off := 4; off < len(b); {
		if len(b)-off < HeaderLen {
			return evs, io.ErrUnexpectedEOF
		}
		n := int(binary.LittleEndian.Uint32(b[off+9:]))
		if n < HeaderLen || off+n > len(b) {
			return evs, io.ErrUnexpectedEOF
		}
		evs = append(evs, b[off:off+n])
		off += n
	}
	return evs, nil
}

// TestFramerFixtures frames every real binlog: no panics; the well-formed
// files frame without errors, start and end transactions in pairs.
func TestFramerFixtures(t *testing.T) {
	var files []string
	filepath.Walk(fixtures, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.Contains(p, "/expected/") &&
			!strings.HasSuffix(p, ".md") && !strings.HasSuffix(p, ".tsv") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	total := 0
	for _, p := range files {
		evs, lerr := loadEvents(t, p)
		f := Framer{VerifyChecksums: true}
		starts, ends := 0, 0
		var ferr error
		for i, ev := range evs {
			fr, err := f.Next(ev)
			if err != nil {
				ferr = err
				t.Logf("%s: event %d: %v", filepath.Base(p), i, err)
				break
			}
			if fr.Start {
				starts++
			}
			if fr.End {
				ends++
			}
		}
		total += ends
		t.Logf("%s: %d events, %d transactions (load error %v, frame error %v)", filepath.Base(p), len(evs), ends, lerr, ferr)
		if lerr == nil && ferr == nil && starts-ends > 1 {
			t.Errorf("%s: %d starts but %d ends", p, starts, ends)
		}
	}
	if total == 0 {
		t.Fatal("no transactions framed in any fixture")
	}
}

func TestQueryTextAndClassify(t *testing.T) {
	body := make([]byte, 13)
	body[8] = 2 // schema length
	binary.LittleEndian.PutUint16(body[11:], 0)
	body = append(body, 'd', 'b', 0)
	body = append(body, "BEGIN"...)
	if got := string(QueryText(body, 13)); got != "BEGIN" {
		t.Fatalf("QueryText = %q", got)
	}
	if got := string(QuerySchema(body, 13)); got != "db" {
		t.Fatalf("QuerySchema = %q", got)
	}
	if QueryText(body[:10], 13) != nil {
		t.Fatal("short body must give nil")
	}
	for q, want := range map[string]bool{"BEGIN": true, " begin ;": true, "XA START 'x'": true, "COMMIT": false} {
		if isBegin([]byte(q)) != want {
			t.Errorf("isBegin(%q) != %v", q, want)
		}
	}
	for q, want := range map[string]bool{"COMMIT": true, "rollback": true, "XA PREPARE 'x'": true, "SAVEPOINT a": false} {
		if isCommit([]byte(q)) != want {
			t.Errorf("isCommit(%q) != %v", q, want)
		}
	}
}

func TestRotateRoundTrip(t *testing.T) {
	for _, cs := range []bool{false, true} {
		ev := EncodeRotate(7, 1234, "mysql-bin.000042", cs)
		if cs {
			if err := VerifyChecksum(ev); err != nil {
				t.Fatal(err)
			}
		}
		pos, file, err := ParseRotate(ev, cs)
		if err != nil || pos != 1234 || file != "mysql-bin.000042" {
			t.Fatalf("ParseRotate = %d %q %v", pos, file, err)
		}
		h, _ := ParseHeader(ev)
		if h.Type != replication.ROTATE_EVENT || int(h.EventSize) != len(ev) {
			t.Fatalf("header %+v", h)
		}
	}
}

// FuzzFramer: arbitrary events never panic the framer.
func FuzzFramer(f *testing.F) {
	evs, _ := loadEvents(f, filepath.Join(fixtures, "mariadb-poc/domain_id_0__mariadb-repl-bin.000001"))
	for i, ev := range evs {
		if i > 20 {
			break
		}
		f.Add(ev)
	}
	f.Fuzz(func(t *testing.T, ev []byte) {
		var fr Framer
		for _, e := range evs[:min(len(evs), 2)] {
			fr.Next(e)
		}
		fr.Next(ev)
		fr.Next(ev)
	})
}

func TestFormatUUID(t *testing.T) {
	u := []byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}
	if got := formatUUID(u); got != "3e11fa47-71ca-11e1-9e33-c80aa9429562" {
		t.Errorf("formatUUID = %s", got)
	}
}
