package rowsql_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/applier/rowsql"
	"github.com/mtreplica/mtreplica/internal/mariadbtest"
	"github.com/mtreplica/mtreplica/internal/tableschema"
)

// set64 is SET('m0',...,'m63'): the largest SET, whose bitmap uses the top bit of an int64.
func set64() string {
	var m []string
	for i := 0; i < 64; i++ {
		m = append(m, fmt.Sprintf("'m%d'", i))
	}
	return "SET(" + strings.Join(m, ",") + ")"
}

var schemaDDL = []string{
	"CREATE DATABASE rt",
	`CREATE TABLE rt.t_all (
		id INT NOT NULL PRIMARY KEY,
		ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
		i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
		d DECIMAL(65,30), du DECIMAL(10,2) UNSIGNED,
		f FLOAT, db DOUBLE,
		b1 BIT(1), b13 BIT(13), b64 BIT(64),
		dt DATE, dtm DATETIME(6), dt0 DATETIME, ts TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL,
		tm TIME(6), tm0 TIME, tm3 TIME(3), y YEAR,
		cl CHAR(10) CHARACTER SET latin1, vl VARCHAR(100) CHARACTER SET latin1 COLLATE latin1_general_cs,
		cu CHAR(10) CHARACTER SET utf8mb4, vu VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
		v3 VARCHAR(20) CHARACTER SET utf8mb3, tx TEXT CHARACTER SET utf8mb4, ltx LONGTEXT CHARACTER SET latin1,
		bn BINARY(8), vb VARBINARY(300), bl BLOB, mbl MEDIUMBLOB,
		e ENUM('a','b','c'), s SET('x','y','z'), s64 ` + set64() + `,
		j JSON, geo GEOMETRY,
		gs BIGINT AS (i + 1) STORED, gv VARCHAR(400) AS (CONCAT(vu, '!')) VIRTUAL,
		inv INT INVISIBLE DEFAULT 5
	)`,
	`CREATE TABLE rt.t_nokey (a INT, f FLOAT, s VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
		d DOUBLE, c CHAR(4) CHARACTER SET latin1, b BINARY(3))`,
	`CREATE TABLE rt.t_comp (a INT NOT NULL, b VARCHAR(20) CHARACTER SET utf8mb4 NOT NULL, c BINARY(4) NOT NULL,
		v INT, PRIMARY KEY (a, b, c))`,
	`CREATE TABLE rt.t_uk (x INT, code VARCHAR(10) CHARACTER SET ascii NOT NULL, n INT, UNIQUE KEY uk (code))`,
	"CREATE TABLE rt.` odd``name` (`we``ird` INT PRIMARY KEY, `select` VARCHAR(5))",
}

var sourceDML = []string{
	"SET SESSION sql_mode = '', time_zone = '+00:00', NAMES utf8mb4",
	// Extremes.
	`INSERT INTO rt.t_all (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, d, du, f, db, b1, b13, b64, dt, dtm, dt0, ts, ts0,
		tm, tm0, tm3, y, cl, vl, cu, vu, v3, tx, ltx, bn, vb, bl, mbl, e, s, s64, j, geo, inv) VALUES
		(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808,
		 18446744073709551615, '-99999999999999999999999999999999999.999999999999999999999999999999', 99999999.99,
		 -3.40282e38, -1.7976931348623157e308, b'1', b'1111111111111', b'1111111111111111111111111111111111111111111111111111111111111111',
		 '1000-01-01', '1000-01-01 00:00:00.000000', '9999-12-31 23:59:59', '1970-01-01 00:00:01.000000', '2038-01-19 03:14:07',
		 '-838:59:59.000000', '838:59:59', '-00:00:00.001', 1901,
		 'caf` + "\u00e9" + `  ', 'ABC', 'x` + "\U0001F600" + `', '` + "\U0001F600\U0001F601" + ` emoji', 'utf8mb3 ` + "\u20ac" + `', 'text ` + "\U0001F680" + `', 'latin1 ` + "\u00ff" + `',
		 X'00FF000000000000', X'00FF00', X'00FFFE0000', REPEAT(X'00FF', 5000), 'c', 'x,z', 'm0,m63',
		 '{"a": [1, 2.5, "x"], "b": null, "c": "\u00e9"}', ST_GeomFromText('POINT(1 2)'), 7)`,
	`INSERT INTO rt.t_all (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, d, du, f, db, b1, b13, b64, dt, dtm, dt0, ts, ts0,
		tm, tm0, tm3, y, cl, vl, cu, vu, v3, tx, ltx, bn, vb, bl, mbl, e, s, s64, j, geo) VALUES
		(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
		 '99999999999999999999999999999999999.999999999999999999999999999999', 0,
		 1.1, 0.1, b'0', 0, 0, '9999-12-31', '9999-12-31 23:59:59.999999', '0000-00-00 00:00:00',
		 '2038-01-19 03:14:07.999999', '0000-00-00 00:00:00', '838:59:59.999999', '-01:00:00', '12:34:56.789', 2155,
		 '', '', '', '', '', '', '', X'41', '', '', '', 0, '', '', '[]', NULL),
		(3, 0, 128, 0, 32768, 0, 8388608, 0, 2147483648, 0, 9223372036854775808,
		 '0.000000000000000000000000000001', 0.01, 1e-38, 2.2250738585072014e-308, NULL, 4096, 9223372036854775808,
		 '0000-00-00', '2024-02-29 12:00:00.5', '2024-02-29 12:00:00', NULL, NULL, '-00:00:00.000001', '00:00:00',
		 '-12:34:56.789', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL)`,
	// Every nullable column NULL.
	"INSERT INTO rt.t_all (id) VALUES (4)",
	// A multi-row insert big enough to be split.
	"INSERT INTO rt.t_all (id, i, vu, bl) SELECT 100 + seq, seq, REPEAT('x', seq % 50), REPEAT(X'FF', seq) FROM rt.seq_1_to_200",
	// Updates: many columns, a primary key change, many rows at once.
	`UPDATE rt.t_all SET ti = ti - 1, f = 2.5, d = d / 3, tm = '-00:00:01.5', cl = 'x', vb = X'00', s = 'y', e = 'a',
		j = '{"k": 1}', b64 = 1 WHERE id = 2`,
	"UPDATE rt.t_all SET id = 1000, vu = 'moved' WHERE id = 1",
	"UPDATE rt.t_all SET i = i * 2, bl = NULL WHERE id BETWEEN 101 AND 150",
	"DELETE FROM rt.t_all WHERE id BETWEEN 151 AND 190",
	"DELETE FROM rt.t_all WHERE id = 3",

	// Keyless: identical duplicates, rows that differ only in case, floats.
	`INSERT INTO rt.t_nokey VALUES (1, 1.1, 'a', 0.1, 'ab', X'41'), (1, 1.1, 'a', 0.1, 'ab', X'41'),
		(1, 1.1, 'A', 0.1, 'ab', X'41'), (2, NULL, NULL, NULL, NULL, NULL), (3, -3.4e38, 'x ', 1e300, 'a ', X'000000'),
		(4, 16777217, '', -0.0, '', '')`,
	"UPDATE rt.t_nokey SET a = 5 WHERE s = 'A' COLLATE utf8mb4_bin",
	"UPDATE rt.t_nokey SET f = 2.5 WHERE a = 1 LIMIT 1",
	"DELETE FROM rt.t_nokey WHERE a = 1 AND s = 'a' LIMIT 1",
	"UPDATE rt.t_nokey SET d = d + 1 WHERE a IN (2, 3)",
	"DELETE FROM rt.t_nokey WHERE a = 4",

	// Composite key with a BINARY column whose trailing 0x00 the binlog drops.
	`INSERT INTO rt.t_comp VALUES (1, 'a', X'41000000', 1), (1, 'b', X'41', 2), (2, 'a', X'00000000', 3),
		(2, 'b', X'4142', 4), (3, '` + "\U0001F600" + `', X'FF', 5)`,
	"UPDATE rt.t_comp SET a = 10, v = 10 WHERE a = 1 AND b = 'a'",
	"UPDATE rt.t_comp SET c = X'42' WHERE a = 2 AND b = 'b'",
	"DELETE FROM rt.t_comp WHERE v IN (2, 3, 5)",

	// Unique NOT NULL key without a primary key.
	"INSERT INTO rt.t_uk VALUES (1, 'k1', 1), (NULL, 'k2', 2), (3, 'k3', 3)",
	"UPDATE rt.t_uk SET code = 'k9', x = NULL WHERE code = 'k1'",
	"DELETE FROM rt.t_uk WHERE code IN ('k2', 'k3')",

	"INSERT INTO rt.` odd``name` VALUES (1, 'a'), (2, 'b')",
	"UPDATE rt.` odd``name` SET `select` = 'c' WHERE `we``ird` = 2",
	// A transaction mixing tables.
	"BEGIN",
	"INSERT INTO rt.t_all (id, vu) VALUES (5000, 'txn')",
	"DELETE FROM rt.t_nokey WHERE a = 5",
	"COMMIT",
}

// connectApplier opens the connection the engine uses on the target: CLIENT_FOUND_ROWS (UPDATE reports matched
// rows), multi-statements, and the session the generated SQL assumes.
func connectApplier(ctx context.Context, t *testing.T, srv *mariadbtest.Server) *client.Conn {
	t.Helper()
	c, err := client.ConnectWithContext(ctx, srv.Addr(), "root", "", "", 10*time.Second, func(c *client.Conn) error {
		if err := c.SetCapability(mysql.CLIENT_FOUND_ROWS); err != nil {
			return err
		}
		return c.SetCapability(mysql.CLIENT_MULTI_STATEMENTS)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00', NAMES utf8mb4"); err != nil {
		t.Fatal(err)
	}
	return c
}

// replay parses the source's binlog files and applies every rows event to the target, one multi-statement packet
// per event, checking each statement's affected rows against Expect. It returns the number of statements.
func replay(ctx context.Context, t *testing.T, src, dst *mariadbtest.Server, opts rowsql.Options) int {
	t.Helper()
	files, err := src.BinlogFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apply := connectApplier(ctx, t, dst)
	meta, err := dst.Conn(ctx) // schema loads
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	cache := tableschema.NewCache()
	g := rowsql.NewGenerator(opts)
	var (
		stmts []rowsql.Statement
		total int
		sql   bytes.Buffer
	)
	p := replication.NewBinlogParser()
	p.SetUseDecimal(true)
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	p.SetFlavor(mysql.MariaDBFlavor)
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReaderSize(f, 1<<20)
		if _, err := io.CopyN(io.Discard, r, 4); err != nil {
			t.Fatal(err)
		}
		err = p.ParseReader(r, func(e *replication.BinlogEvent) error {
			re, ok := e.Event.(*replication.RowsEvent)
			if !ok {
				return nil
			}
			schema, table := string(re.Table.Schema), string(re.Table.Table)
			if schema != "rt" {
				return nil
			}
			tbl, err := cache.Get(meta, schema, table)
			if err != nil {
				return err
			}
			if stmts, err = g.Append(stmts[:0], e.Header.EventType, re, tbl); err != nil {
				return err
			}
			sql.Reset()
			for i, s := range stmts {
				if i > 0 {
					sql.WriteByte(';')
				}
				sql.WriteString(s.SQL)
			}
			i := 0
			var execErr error
			_, err = apply.ExecuteMultiple(sql.String(), func(res *mysql.Result, err error) {
				if execErr != nil {
					return
				}
				if err != nil {
					execErr = fmt.Errorf("statement %d %.300s: %w", i, stmts[i].SQL, err)
					return
				}
				if s := stmts[i]; s.Expect >= 0 && int64(res.AffectedRows) != s.Expect {
					execErr = fmt.Errorf("divergence: %s.%s %s key %s: affected %d, expected %d: %.300s",
						s.Schema, s.Table, s.Kind, s.Key, res.AffectedRows, s.Expect, s.SQL)
				}
				i++
			})
			if err == nil {
				err = execErr
			}
			if err == nil && i != len(stmts) {
				err = fmt.Errorf("%d results for %d statements", i, len(stmts))
			}
			total += len(stmts)
			return err
		})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	return total
}

func TestReplicateAllTypes(t *testing.T) {
	variants := []struct {
		name string
		args []string
	}{
		{"full", nil}, // binlog_row_metadata=FULL (names, signedness), binlog_row_image=FULL
		{"minimal", []string{"--binlog-row-metadata=MINIMAL", "--binlog-row-image=MINIMAL"}},
		{"nolog-noblob", []string{"--binlog-row-metadata=NO_LOG", "--binlog-row-image=NOBLOB"}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			src := mariadbtest.Start(t, mariadbtest.Options{ExtraArgs: v.args})
			dst := mariadbtest.Start(t, mariadbtest.Options{NoBinlog: true})
			if err := src.Exec(ctx, schemaDDL...); err != nil {
				t.Fatal(err)
			}
			if err := dst.Exec(ctx, schemaDDL...); err != nil {
				t.Fatal(err)
			}
			if err := src.Exec(ctx, sourceDML...); err != nil {
				t.Fatal(err)
			}
			n := replay(ctx, t, src, dst, rowsql.Options{MaxStatementBytes: 8 << 10})
			t.Logf("%d statements applied", n)
			if err := mariadbtest.Compare(ctx, src, dst, "rt"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Replaying the same binlog twice in idempotent mode converges; in strict mode the second pass is divergence.
func TestReplayIdempotent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := mariadbtest.Start(t, mariadbtest.Options{})
	dst := mariadbtest.Start(t, mariadbtest.Options{NoBinlog: true})
	ddl := []string{"CREATE DATABASE rt", "CREATE TABLE rt.t (id INT PRIMARY KEY, v VARCHAR(10))"}
	if err := src.Exec(ctx, ddl...); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, ddl...); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "INSERT INTO rt.t VALUES (1,'a'),(2,'b'),(3,'c')", "UPDATE rt.t SET v='z' WHERE id=2",
		"DELETE FROM rt.t WHERE id=3"); err != nil {
		t.Fatal(err)
	}
	replay(ctx, t, src, dst, rowsql.Options{})
	replay(ctx, t, src, dst, rowsql.Options{Idempotent: true})
	if err := mariadbtest.Compare(ctx, src, dst, "rt"); err != nil {
		t.Fatal(err)
	}

	// Strict replay of the same events: the first INSERT hits duplicate keys.
	files, err := src.BinlogFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apply := connectApplier(ctx, t, dst)
	tbl, err := tableschema.Load(apply, "rt", "t")
	if err != nil {
		t.Fatal(err)
	}
	p := replication.NewBinlogParser()
	p.SetUseDecimal(true)
	var failed error
	_ = p.ParseFile(files[0], 0, func(e *replication.BinlogEvent) error {
		re, ok := e.Event.(*replication.RowsEvent)
		if !ok || failed != nil || string(re.Table.Table) != "t" {
			return nil
		}
		st, err := rowsql.NewGenerator(rowsql.Options{}).Append(nil, e.Header.EventType, re, tbl)
		if err != nil {
			return err
		}
		_, failed = apply.Execute(st[0].SQL)
		return nil
	})
	if failed == nil || !strings.Contains(failed.Error(), "Duplicate") {
		t.Fatalf("strict replay: %v", failed)
	}
}
