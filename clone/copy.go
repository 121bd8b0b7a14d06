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

// chunkAttempts bounds the tries of one chunk that the target refuses with a deadlock or a lock wait timeout.
const chunkAttempts = 5

// copyChunk reads ch from src (in the snapshot) and writes it to dst in one transaction that also marks it done.
// A deadlock or lock wait timeout on the target rolls the chunk back and reads it again (the snapshot stays).
func (cp *copier) copyChunk(ctx context.Context, src, dst *client.Conn, ch *chunk) error {
	for attempt := 1; ; attempt++ {
		err := cp.copyChunkOnce(ctx, src, dst, ch)
		if err == nil || attempt == chunkAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		cp.o.Logger.Warn("chunk rolled back, retrying", "table", ch.table.String(), "chunk", ch.n, "attempt", attempt, "err", err)
		select {
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// retryable: a deadlock (1213) or a lock wait timeout (1205) on the target.
func retryable(err error) bool {
	var me *mysql.MyError
	return errors.As(err, &me) && (me.Code == mysql.ER_LOCK_DEADLOCK || me.Code == mysql.ER_LOCK_WAIT_TIMEOUT)
}

func (cp *copier) copyChunkOnce(ctx context.Context, src, dst *client.Conn, ch *chunk) (err error) {
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
	var rows, bytes int64 // this chunk, counted as INSERTs succeed
	if _, err := dst.Execute("START TRANSACTION"); err != nil {
		return fmt.Errorf("load %s chunk %d: %w", t.row, ch.n, err)
	}
	defer func() {
		if err != nil {
			dst.Execute("ROLLBACK")
			cnt.rows.Add(-rows)
			cnt.bytes.Add(-bytes)
		}
	}()
	// A non-transactional target table keeps what a killed run inserted: clear the range first.
	if cp.resumed && !t.transactional {
		if _, err := dst.Execute("DELETE FROM " + t.quoted() + where); err != nil {
			return fmt.Errorf("load %s chunk %d: clear the range: %w", t.row, ch.n, err)
		}
	}
	var (
		buf           = make([]byte, 0, cp.o.InsertBytes+cp.o.InsertBytes/8)
		pending, pend int64 // rows and value bytes in buf
		dstErr        error // the target failed: the rest of the result is read and dropped
	)
	buf = append(buf, t.insertHead...)
	head := len(buf)
	flush := func() {
		if len(buf) == head || dstErr != nil {
			return
		}
		if _, err := dst.Execute(string(buf)); err != nil {
			dstErr = fmt.Errorf("load %s chunk %d: INSERT: %w", t.row, ch.n, err)
			return
		}
		rows += pending
		bytes += pend
		cnt.rows.Add(pending)
		cnt.bytes.Add(pend)
		buf, pending, pend = buf[:head], 0, 0
	}
	var res mysql.Result
	// The callback returns an error only when ctx is done: go-mysql stops reading at a callback error and the
	// snapshot connection, which cannot be replaced, would be out of step.
	err = src.ExecuteSelectStreaming("SELECT "+t.selectCols+" FROM "+t.quoted()+where, &res, func(row []mysql.FieldValue) error {
		if dstErr != nil {
			return nil
		}
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
		pending++
		if cp.limit != nil {
			if err := cp.limit.take(ctx, 1); err != nil {
				return err
			}
		}
		if len(buf) >= cp.o.InsertBytes {
			flush()
		}
		return nil
	}, nil)
	if isNoTable(err) {
		// Dropped on the source after the first snapshot: the binlog replay drops it on the target too.
		cp.o.Logger.Warn("table no longer exists on the source; the binlog replay drops it", "table", t.row.String())
		err = nil
	}
	if err != nil {
		return fmt.Errorf("read %s chunk %d: %w", t.row, ch.n, err)
	}
	flush()
	if dstErr != nil {
		return dstErr
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
