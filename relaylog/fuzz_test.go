package relaylog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes as a segment file, both as the last
// segment (which Open verifies) and as an older one (which only a Reader
// checks). Nothing may panic; errors name the segment and an offset in it;
// after a successful Open a reader reads every published event cleanly.
func FuzzReader(f *testing.F) {
	_, seg, txnAt := synthLog(f, 3)
	dir := fastTempDir(f) // reused: execs within a worker are sequential
	f.Add(seg)
	f.Add(seg[:txnAt[1]+7])
	f.Add(seg[:40])
	for _, rel := range []string{mariadbFiles[2], "rust_mysql_common/binlog_truncated_event.000001", "canal/tsdb__mysql-bin.000001"} {
		if b, err := os.ReadFile(filepath.Join(fixtures, rel)); err == nil {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile(filepath.Join(fixtures, "rust_mysql_common/corrupt-relay-bin.000624")); err == nil {
		f.Add(b[:min(len(b), 4096)])
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOne(t, dir, seg, data) })
}

func fuzzOne(t *testing.T, dir string, seg, data []byte) {
	{
		checkErr := func(what string, err error) {
			var cerr *CorruptionError
			if !errors.As(err, &cerr) {
				t.Fatalf("%s: %v is not a CorruptionError", what, err)
			}
			if cerr.Segment != "relay-bin.000001" || cerr.Offset < 0 || cerr.Offset > int64(len(data)) {
				t.Fatalf("%s: %v: bad segment or offset", what, err)
			}
		}
		write := func(index string, files map[string][]byte) {
			os.RemoveAll(dir)
			os.MkdirAll(dir, 0o750)
			os.WriteFile(filepath.Join(dir, "relay-bin.index"), []byte(index), 0o640)
			for n, b := range files {
				os.WriteFile(filepath.Join(dir, n), b, 0o640)
			}
		}
		opts := Options{Dir: dir, Sync: SyncPolicy{Mode: SyncNever}}

		// As the last segment.
		write("relay-bin.000001\n", map[string][]byte{"relay-bin.000001": data})
		l, err := Open(opts)
		if err != nil {
			checkErr("Open", err)
		} else {
			r, err := l.NewReader(Position{})
			if err != nil {
				t.Fatal(err)
			}
			readAvailable(t, r) // fails the test on any error
			r.Close()
			l.Close()
		}

		// As an older segment, followed by a sound one.
		meta := "\tflavor=mariadb\tretrieved=\n"
		write("relay-bin.000001"+meta+"relay-bin.000002"+meta, map[string][]byte{"relay-bin.000001": data, "relay-bin.000002": seg})
		l, err = Open(opts)
		if err != nil {
			t.Fatalf("Open with a sound last segment: %v", err)
		}
		defer l.Close()
		r, err := l.NewReader(Position{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for {
			ev, err := r.Next(ctx)
			if errors.Is(err, context.Canceled) {
				return
			}
			if err != nil {
				checkErr("Next", err)
				return
			}
			if ev.Pos.Segment == 1 && ev.Next.Offset > int64(len(data)) {
				t.Fatalf("event at %v ends past the segment", ev.Pos)
			}
		}

	}
}
