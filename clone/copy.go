package clone

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// loadSessionSQL sets up a target connection for loading: the values are exact literals, checked by the source
// already, so foreign keys and unique secondary keys are not checked again; nothing strict (zero dates and ENUM
// index 0 must load), UTC for TIMESTAMP literals, utf8mb4 statements.
const loadSessionSQL = "SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', " +
	"SESSION time_zone = '+00:00', SESSION character_set_client = utf8mb4, SESSION collation_connection = utf8mb4_general_ci, " +
	"SESSION innodb_lock_wait_timeout = 600"

// counters are the rows and bytes copied of one table, read by the progress reporter.
type counters struct {
	rows, bytes atomic.Int64
	started     atomic.Bool
	remaining   atomic.Int64 // chunks not yet loaded
	finished    atomic.Int64 // unix nanos when the last chunk was loaded (and its indexes added)
}

// copier loads chunks.
type copier struct {
	o       *Options
	st      state
	resumed bool // chunks may have been in flight when an earlier run died: clear their range first
	limit   *limiter
	tables  map[*tableRow]*tableInfo
	count   map[*tableRow]*counters
}

// copyChunk reads ch from src (in the snapshot) and writes it to dst in one transaction that also marks it done.
func (cp *copier) copyChunk(ctx context.Context, src, dst *client.Conn, ch *chunk) (err error) {
	t := cp.tables[ch.table]
	cnt := cp.count[ch.table]
	cnt.started.Store(true)
	where := ""
	if t.key != nil {
		where = t.rangeWhere(ch.lower, ch.upper)
	}
	if where != "" {
		where = " WHERE " + where
	}
	if _, err := dst.Execute("START TRANSACTION"); err != nil {
		return fmt.Errorf("load %s chunk %d: %w", t.row, ch.n, err)
	}
	defer func() {
		if err != nil {
			dst.Execute("ROLLBACK")
		}
	}()
	if cp.resumed {
		if _, err := dst.Execute("DELETE FROM " + t.quoted() + where); err != nil {
			return fmt.Errorf("load %s chunk %d: clear the range: %w", t.row, ch.n, err)
		}
	}
	var (
		buf           = make([]byte, 0, cp.o.InsertBytes+cp.o.InsertBytes/8)
		rows, bytes   int64 // this chunk
		pending, pend int64 // rows and value bytes in buf
	)
	buf = append(buf, t.insertHead...)
	head := len(buf)
	flush := func() error {
		if len(buf) == head {
			return nil
		}
		if _, err := dst.Execute(string(buf)); err != nil {
			return fmt.Errorf("load %s chunk %d: INSERT: %w", t.row, ch.n, err)
		}
		cnt.rows.Add(pending)
		cnt.bytes.Add(pend)
		buf, pending, pend = buf[:head], 0, 0
		return ctx.Err()
	}
	var res mysql.Result
	err = src.ExecuteSelectStreaming("SELECT "+t.selectCols+" FROM "+t.quoted()+where, &res, func(row []mysql.FieldValue) error {
		if len(buf) > head {
			buf = append(buf, ',')
		}
		buf = append(buf, '(')
		for i := range row {
			if i > 0 {
				buf = append(buf, ',')
			}
			pend += fieldLen(&row[i])
			buf = appendField(buf, &t.cols[i], &row[i])
		}
		buf = append(buf, ')')
		rows++
		pending++
		if cp.limit != nil {
			if err := cp.limit.take(ctx, 1); err != nil {
				return err
			}
		}
		if len(buf) >= cp.o.InsertBytes {
			bytes += pend
			return flush()
		}
		return nil
	}, nil)
	var myErr *mysql.MyError
	if errors.As(err, &myErr) && myErr.Code == mysql.ER_NO_SUCH_TABLE {
		// Dropped on the source after the first snapshot: the binlog replay drops it on the target too.
		cp.o.Logger.Warn("table no longer exists on the source; its rows come from the binlog replay", "table", t.row.String())
		err = nil
	}
	if err != nil {
		return fmt.Errorf("read %s chunk %d: %w", t.row, ch.n, err)
	}
	bytes += pend
	if err := flush(); err != nil {
		return err
	}
	if _, err := dst.Execute(cp.st.chunkDoneSQL(ch, rows, bytes)); err != nil {
		return fmt.Errorf("load %s chunk %d: checkpoint: %w", t.row, ch.n, err)
	}
	if _, err := dst.Execute("COMMIT"); err != nil {
		return fmt.Errorf("load %s chunk %d: COMMIT: %w", t.row, ch.n, err)
	}
	ch.done, ch.rows, ch.bytes = true, rows, bytes
	return nil
}

// addIndexes adds a table's deferred secondary indexes (those it does not have yet) and records it.
func (cp *copier) addIndexes(dst *client.Conn, t *tableRow) error {
	if len(t.deferred) > 0 {
		missing, err := missingIndexes(dst, t)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			start := time.Now()
			q := "ALTER TABLE " + quoteIdent(t.db) + "." + quoteIdent(t.name) + " " + joinComma(missing)
			if _, err := dst.Execute(q); err != nil {
				return fmt.Errorf("add secondary indexes of %s: %w", t, err)
			}
			cp.o.Logger.Info("secondary indexes added", "table", t.String(), "indexes", len(missing), "took", time.Since(start).Round(time.Millisecond))
		}
	}
	if err := cp.st.updateTable(dst, t, "indexed", "1"); err != nil {
		return err
	}
	t.indexed = true
	return nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// limiter paces rows to a rate shared by all workers.
type limiter struct {
	rate  float64
	mu    sync.Mutex
	start time.Time
	n     float64
}

func newLimiter(perSecond int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{rate: float64(perSecond), start: time.Now()}
}

func (l *limiter) take(ctx context.Context, n int) error {
	l.mu.Lock()
	l.n += float64(n)
	due := l.start.Add(time.Duration(l.n / l.rate * float64(time.Second)))
	l.mu.Unlock()
	if d := time.Until(due); d > 5*time.Millisecond {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
