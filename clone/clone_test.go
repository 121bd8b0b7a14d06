package clone_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/applier"
	"github.com/mtreplica/mtreplica/clone"
	"github.com/mtreplica/mtreplica/internal/gtid"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

func pair(t *testing.T) (src, dst *mariadbtest.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts MariaDB servers")
	}
	return mariadbtest.Start(t, mariadbtest.Options{}), mariadbtest.Start(t, mariadbtest.Options{})
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
}

func options(t testing.TB, src, dst *mariadbtest.Server) clone.Options {
	return clone.Options{
		Source: mtreplica.SourceConfig{Flavor: gtid.MariaDB, Host: src.Host, Port: uint16(src.Port), User: "root",
			HeartbeatPeriod: time.Second},
		Target:           applier.TargetOptions{Addr: dst.Addr(), User: "root"},
		Workers:          3,
		ChunkRows:        700,
		InsertBytes:      64 << 10,
		ProgressInterval: time.Second,
		Logger:           testLogger(t),
	}
}

// allTypesDDL is the table of TestAllTypes in the root package, plus rows with floating point values that have no
// short decimal form, a table without a key and one with a composite string key.
var allTypesDDL = []string{
	"CREATE DATABASE types", "CREATE DATABASE IF NOT EXISTS seq",
	`CREATE TABLE types.all_types (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), d2 DECIMAL(10,2) UNSIGNED, f FLOAT, db DOUBLE,
  b1 BIT(1), b64 BIT(64),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR,
  c_latin CHAR(10) CHARACTER SET latin1, v_latin VARCHAR(50) CHARACTER SET latin1,
  c_utf8 CHAR(10) CHARACTER SET utf8mb4, v_utf8 VARCHAR(50) CHARACTER SET utf8mb4, tx TEXT CHARACTER SET utf8mb4,
  bin BINARY(8), vbin VARBINARY(20), bl BLOB, lbl LONGBLOB,
  e ENUM('red','green','blue'), s SET('a','b','c','d'),
  j JSON,
  gen_stored BIGINT AS (i * 2) STORED,
  gen_virtual VARCHAR(60) AS (CONCAT(v_utf8, '!')) VIRTUAL,
  KEY k_v (v_utf8), UNIQUE KEY u_bi (bi)
) ENGINE=InnoDB`,
	`INSERT INTO types.all_types (ti,tiu,si,siu,mi,miu,i,iu,bi,biu,d,d2,f,db,b1,b64,dt,dtm,ts,tm,y,c_latin,v_latin,c_utf8,v_utf8,tx,bin,vbin,bl,lbl,e,s,j) VALUES
 (-128,255,-32768,65535,-8388608,16777215,-2147483648,4294967295,-9223372036854775808,18446744073709551615,
  '-12345678901234567890123456789012345.123456789012345678901234567890', 99999999.99, 3.14159, -2.718281828459045,
  b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
  '1000-01-01', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '-838:59:59.000000', 2155,
  _latin1 X'636166E9', _latin1 X'6E61EF766520FC', '😀', 'emoji 😀🎉 ünï', 'long text ✓ \'q\' \\ \n\r\t end',
  X'00FF00FF00FF00FF', X'00FF', X'000102FFFE5C27', REPEAT(X'00FF5C27', 1000), 'blue', 'a,c,d', '{"k": [1, 2.5, "x", null, true], "n": {"m": "ü"}}'),
 (127,0,32767,0,8388607,0,2147483647,0,9223372036854775807,0,
  '0.000000000000000000000000000001', 0.00, -1.5e-10, 1.7976931348623157e308,
  b'0', b'0', '2024-02-29', '1970-01-01 00:00:00.000001', '1970-01-01 00:00:01.000000', '838:59:59.999999', 1901,
  '', '', '', '', '', X'', X'', X'', X'', 'red', '', '[]')`,
	`INSERT INTO types.all_types (id) VALUES (100)`,
	`INSERT INTO types.all_types (id, f, db, bi) VALUES (101, 0.1, 0.1 + 0.2, 1), (102, 1/3, 1e0/3, 2), (103, 16777217, 4.9e-324, 3),
  (104, -3.4028234e38, 2.2250738585072014e-308, 4), (105, 1.17549435e-38, 123456789.12345679, 5)`,
	`CREATE TABLE types.nokey (a INT, f FLOAT, v VARCHAR(10), KEY (a)) ENGINE=InnoDB`,
	`INSERT INTO types.nokey VALUES (1, 1.5, 'x'), (1, 1.5, 'x'), (2, 0.1, 'y'), (NULL, NULL, NULL), (NULL, NULL, '')`,
	`CREATE TABLE types.composite (a INT, b VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, v INT, PRIMARY KEY (a, b))`,
	`INSERT INTO types.composite SELECT seq % 7, CONCAT(CHAR(65 + seq % 26), seq), seq FROM seq.seq_1_to_3000`,
	`CREATE TABLE types.sparse (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB`,
	`INSERT INTO types.sparse SELECT seq * 1000000000000, seq FROM seq.seq_1_to_2000`,
	`INSERT INTO types.sparse VALUES (18446744073709551615, 'max'), (0, 'zero')`,
}

// setup fills the source: sysbench tables and the types schema.
func setup(t *testing.T, src *mariadbtest.Server, tables, rows int) {
	t.Helper()
	ctx := context.Background()
	if out, err := mariadbtest.Sysbench(ctx, src, "sbtest", "oltp_write_only", fmt.Sprintf("--tables=%d", tables),
		fmt.Sprintf("--table-size=%d", rows), "prepare"); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	if err := src.Exec(ctx, allTypesDDL...); err != nil {
		t.Fatal(err)
	}
}

// workload runs sysbench oltp_write_only on the source until stop is called.
func workload(t *testing.T, src *mariadbtest.Server, tables, rows int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		mariadbtest.Sysbench(ctx, src, "sbtest", "oltp_write_only", fmt.Sprintf("--tables=%d", tables),
			fmt.Sprintf("--table-size=%d", rows), "--threads=2", "--time=300", "--rate=200", "run")
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	time.Sleep(500 * time.Millisecond) // let it start writing
	return stop
}

// replicate runs the replica from the position the clone recorded until it has everything the source has,
// then compares.
func replicateAndCompare(t *testing.T, src, dst *mariadbtest.Server, stopWorkload func()) {
	t.Helper()
	ctx := context.Background()
	r, err := mtreplica.New(mtreplica.Config{
		Source: mtreplica.SourceConfig{Flavor: gtid.MariaDB, Host: src.Host, Port: uint16(src.Port),
			User: mariadbtest.ReplUser, Password: mariadbtest.ReplPassword, HeartbeatPeriod: time.Second},
		Target:   applier.TargetOptions{Addr: dst.Addr(), User: "root"},
		RelayDir: t.TempDir(),
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica: %v", err)
		}
	}()
	time.Sleep(time.Second) // the replica applies while the source still writes
	stopWorkload()
	pos, err := src.GTIDPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := gtid.ParseSet(gtid.MariaDB, pos)
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := dst.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := applier.Progress{Schema: "mtreplica"}.Load(c, gtid.MariaDB)
		c.Close()
		if err == nil && coversAll(ex.Set, want) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("replica stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not caught up after 90s: source %s, target %v (%v)", pos, ex.Set, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, q := range []string{"SELECT * FROM types.all_types ORDER BY id", "SELECT * FROM types.nokey ORDER BY a, f, v",
		"SELECT id, CAST(f AS DOUBLE), f, db FROM types.all_types ORDER BY id", "SELECT id, HEX(b1), HEX(b64), HEX(bin), HEX(bl), HEX(lbl), HEX(c_latin), HEX(v_latin), HEX(tx), HEX(j) FROM types.all_types ORDER BY id"} {
		a, err1 := src.QueryRows(ctx, q)
		b, err2 := dst.QueryRows(ctx, q)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if d := diffRows(a, b); d != "" {
			t.Fatalf("%s: rows differ: %s", q, d)
		}
	}
	if err := mariadbtest.Compare(ctx, src, dst, "sbtest", "types"); err != nil {
		t.Fatalf("target differs from source: %v", err)
	}
}

func coversAll(have, want *gtid.Set) bool {
	for _, s := range want.Streams() {
		last, _ := want.Last(s)
		if !have.Contains(gtid.GTID{Stream: s, Seq: last}) {
			return false
		}
		ivs := have.Intervals(s)
		if len(ivs) == 0 || ivs[0].Start != 1 || ivs[0].End < last {
			return false
		}
	}
	return true
}

// TestCloneUnderLoad: sysbench tables and the all-types tables are cloned while the source runs a write
// workload, then replicated from the clone's position: the target equals the source. Once with the lock-free
// snapshot (MariaDB's default) and secondary indexes added after the load, once with FLUSH TABLES WITH READ LOCK
// and the indexes kept during the load.
func TestCloneUnderLoad(t *testing.T) {
	for _, lock := range []bool{false, true} {
		t.Run(fmt.Sprintf("lock=%v", lock), func(t *testing.T) {
			src, dst := pair(t)
			setup(t, src, 4, 5000)
			stop := workload(t, src, 4, 5000)
			o := options(t, src, dst)
			o.SnapshotLock = lock
			o.IndexesDuringLoad = lock // both ways of building the secondary indexes
			var reports int
			o.OnProgress = func(clone.Report) { reports++ }
			res, err := clone.Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("clone: %+v", res)
			if res.Resumed || res.Snapshot.GTID == "" || res.Rows < 4*5000 {
				t.Fatalf("unexpected result %+v", res)
			}
			if lock && !res.Locked {
				t.Fatal("SnapshotLock set but the snapshot took no lock")
			}
			if reports == 0 {
				t.Error("no progress report")
			}
			// The secondary indexes are back.
			rows, err := dst.QueryRows(context.Background(), "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'sbtest' AND INDEX_NAME LIKE 'k%'")
			if err != nil || rows[0][0] != "4" {
				t.Fatalf("k_N indexes on the target: %v %v", rows, err)
			}
			replicateAndCompare(t, src, dst, stop)
			// A second run has nothing to do.
			res, err = clone.Run(context.Background(), o)
			if err != nil || !res.AlreadyDone {
				t.Fatalf("second run: %+v %v", res, err)
			}
		})
	}
}

// TestCloneRefusesTargetWithTables: a target that already has a table to clone is refused.
func TestCloneRefusesTargetWithTables(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	if err := src.Exec(ctx, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	_, err := clone.Run(ctx, options(t, src, dst))
	if err == nil || !strings.Contains(err.Error(), "already has 1 of the tables") {
		t.Fatalf("err = %v, want a refusal naming the existing table", err)
	}
}

const helperEnv = "MTREPLICA_CLONE_HELPER"

// TestHelperCloneProcess is the clone run in a child process by TestCloneKilledAndResumed (skipped otherwise).
func TestHelperCloneProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for TestCloneKilledAndResumed")
	}
	var h struct {
		SrcHost, DstAddr string
		SrcPort          int
		RowsPerSec       int
	}
	if err := json.Unmarshal([]byte(spec), &h); err != nil {
		t.Fatal(err)
	}
	o := clone.Options{
		Source:           mtreplica.SourceConfig{Flavor: gtid.MariaDB, Host: h.SrcHost, Port: uint16(h.SrcPort), User: "root"},
		Target:           applier.TargetOptions{Addr: h.DstAddr, User: "root"},
		Workers:          2,
		ChunkRows:        500,
		MaxRowsPerSecond: h.RowsPerSec,
		Logger:           testLogger(t),
	}
	if _, err := clone.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

// TestCloneKilledAndResumed: a clone killed with SIGKILL mid-way continues from its checkpoints (no chunk loaded
// twice), replays the binlog between its two snapshots and then hands over: the target equals the source.
func TestCloneKilledAndResumed(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	setup(t, src, 4, 5000)
	stop := workload(t, src, 4, 5000)

	spec, _ := json.Marshal(map[string]any{"SrcHost": src.Host, "SrcPort": src.Port, "DstAddr": dst.Addr(), "RowsPerSec": 3000})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCloneProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(spec))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Kill it once some chunks of the sysbench tables are loaded (the keyless table goes first).
	deadline := time.Now().Add(60 * time.Second)
	doneBefore := 0
	for {
		rows, err := dst.QueryRows(ctx, "SELECT COUNT(*) FROM mtreplica.clone_chunks WHERE done = 1 AND db = 'sbtest'")
		if err == nil {
			doneBefore, _ = strconv.Atoi(rows[0][0])
		}
		if doneBefore >= 8 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("clone exited before it was killed: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("clone loaded %d sbtest chunks in 60s", doneBefore)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	rows, err := dst.QueryRows(ctx, "SELECT SUM(done), COUNT(*) FROM mtreplica.clone_chunks")
	if err != nil {
		t.Fatal(err)
	}
	done, _ := strconv.Atoi(rows[0][0])
	total, _ := strconv.Atoi(rows[0][1])
	t.Logf("killed with %d of %d chunks loaded", done, total)
	if done >= total {
		t.Fatalf("the clone finished before it was killed (%d of %d chunks)", done, total)
	}
	time.Sleep(500 * time.Millisecond) // more writes: the second snapshot differs from the first

	o := options(t, src, dst)
	res, err := clone.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed clone: %+v", res)
	if !res.Resumed {
		t.Fatal("the second run did not resume")
	}
	if res.Chunks != total-done {
		t.Fatalf("the resumed run loaded %d chunks, want the %d left", res.Chunks, total-done)
	}
	if res.Snapshot == res.CaughtUpTo {
		t.Fatalf("the resumed run's snapshot equals the first one (%v): the workload did not write in between", res.Snapshot)
	}
	replicateAndCompare(t, src, dst, stop)
}

// diffRows describes the first differences between two query results, values quoted and shortened.
func diffRows(a, b [][]string) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d rows on the source, %d on the target", len(a), len(b))
	}
	short := func(v string) string {
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	var diffs []string
	for i := range a {
		for j := range a[i] {
			if j < len(b[i]) && a[i][j] != b[i][j] && len(diffs) < 10 {
				diffs = append(diffs, fmt.Sprintf("row %d column %d: source %s, target %s", i, j, short(a[i][j]), short(b[i][j])))
			}
		}
	}
	return strings.Join(diffs, "; ")
}

// TestCloneFilter: only the tables the replication filters keep are cloned.
func TestCloneFilter(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	if err := src.Exec(ctx, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "CREATE TABLE app.skip (id INT PRIMARY KEY)",
		"INSERT INTO app.t VALUES (1),(2)", "CREATE DATABASE other", "CREATE TABLE other.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	o := options(t, src, dst)
	o.Filter.IgnoreDB = []string{"other"}
	o.Filter.IgnoreTable = []string{"app.skip"}
	res, err := clone.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := dst.QueryRows(ctx, "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('app', 'other')")
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 1 || len(rows) != 1 || rows[0][0] != "app.t" {
		t.Fatalf("cloned %d tables, target has %v; want app.t only", res.Tables, rows)
	}
}

// TestCloneStartsOverForKeylessTable: a clone stopped while a table without a key is loading cannot be resumed
// from a later snapshot (the binlog replay would duplicate its rows): the next run starts over, and the result
// still equals the source.
func TestCloneStartsOverForKeylessTable(t *testing.T) {
	src, dst := pair(t)
	ctx := context.Background()
	if err := src.Exec(ctx, "CREATE DATABASE seq", "CREATE DATABASE app", "CREATE TABLE app.nokey (a INT, v VARCHAR(10))",
		"INSERT INTO app.nokey SELECT seq % 10, 'x' FROM seq.seq_1_to_2000",
		"CREATE TABLE app.t (id INT PRIMARY KEY, v INT)", "INSERT INTO app.t SELECT seq, seq FROM seq.seq_1_to_2000"); err != nil {
		t.Fatal(err)
	}
	o := options(t, src, dst)
	o.MaxRowsPerSecond = 500 // the keyless table (first in line) takes 4 s
	cctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err := clone.Run(cctx, o)
	cancel()
	if err == nil {
		t.Fatal("the throttled clone finished within 1.5 s")
	}
	rows, qerr := dst.QueryRows(ctx, "SELECT COUNT(*) FROM mtreplica.clone_chunks WHERE db = 'app' AND tbl = 'nokey' AND done = 0")
	if qerr != nil || rows[0][0] != "1" {
		t.Fatalf("the keyless table's chunk should be unfinished: %v %v (run error %v)", rows, qerr, err)
	}
	// A write between the two snapshots, to a table without a key.
	if err := src.Exec(ctx, "INSERT INTO app.nokey VALUES (1, 'new')", "UPDATE app.t SET v = 0 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	o.MaxRowsPerSecond = 0
	res, err := clone.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed {
		t.Fatalf("the clone resumed instead of starting over: %+v", res)
	}
	if err := mariadbtest.Compare(ctx, src, dst, "app"); err != nil {
		t.Fatal(err)
	}
}
