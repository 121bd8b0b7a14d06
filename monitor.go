package mtreplica

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/mtreplica/mtreplica/replica"
)

// monitorInterval is how often the source monitor polls.
const monitorInterval = 2 * time.Second

// monitorSource runs beside the receiver until ctx is done. On its own
// connection to the source it measures the clock skew at connect (SELECT
// UNIX_TIMESTAMP(NOW(6)), against the midpoint of the round trip) and reads
// SHOW BINARY LOGS every monitorInterval for the receiver lag in bytes. It
// also counts the receiver's connection errors by code. Failures only make the
// figures unknown: the receiver reports connection problems itself.
func (r *Replica) monitorSource(ctx context.Context) {
	var conn *client.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
		r.lagBytes.Store(-1)
	}()
	var lastErrAt time.Time
	tick := time.NewTicker(monitorInterval)
	defer tick.Stop()
	for {
		r.mu.Lock()
		recv := r.receiver
		r.mu.Unlock()
		rs := recv.Status()
		if !rs.LastIOErrorTimestamp.IsZero() && rs.LastIOErrorTimestamp != lastErrAt {
			lastErrAt = rs.LastIOErrorTimestamp
			r.m.errors.WithLabelValues("receiver", strconv.Itoa(int(rs.LastIOErrno))).Inc()
		}
		if conn == nil {
			c, err := r.dialSource(ctx)
			if err == nil {
				err = r.measureSkew(c)
				if err != nil {
					c.Close()
				}
			}
			if err != nil {
				r.cfg.Logger.Debug("source monitor", "err", err)
			} else {
				conn = c
			}
		}
		if conn != nil {
			if n, err := receiverLag(conn, rs); err != nil {
				r.cfg.Logger.Debug("source monitor: receiver lag", "err", err)
				r.lagBytes.Store(-1)
				conn.Close()
				conn = nil
			} else {
				r.lagBytes.Store(n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *Replica) dialSource(ctx context.Context) (*client.Conn, error) {
	s := r.cfg.Source
	addr := net.JoinHostPort(s.Host, strconv.Itoa(int(s.Port)))
	c, err := client.ConnectWithContext(ctx, addr, s.User, s.Password, "", 10*time.Second, func(c *client.Conn) error {
		if s.TLS != nil {
			c.SetTLSConfig(s.TLS)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("connect to source %s: %w", addr, err)
	}
	c.ReadTimeout, c.WriteTimeout = 10*time.Second, 10*time.Second
	return c, nil
}

// measureSkew sets r.skew to the source's clock minus ours.
func (r *Replica) measureSkew(c *client.Conn) error {
	t0 := time.Now()
	res, err := c.Execute("SELECT UNIX_TIMESTAMP(NOW(6))")
	t1 := time.Now()
	if err != nil {
		return fmt.Errorf("read the source's clock: %w", err)
	}
	defer res.Close()
	v, err := res.GetString(0, 0)
	if err != nil {
		return fmt.Errorf("read the source's clock: %w", err)
	}
	src, err := parseUnixMicros(v)
	if err != nil {
		return fmt.Errorf("read the source's clock: %w", err)
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	skew := src.Sub(mid)
	r.skew.Store(int64(skew))
	r.skewKnown.Store(true)
	r.cfg.Logger.Debug("source clock skew measured", "skew", skew, "round_trip", t1.Sub(t0))
	return nil
}

// parseUnixMicros parses "1764000000.123456" exactly.
func parseUnixMicros(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
	}
	var us int64
	if frac != "" {
		frac = (frac + "000000")[:6]
		if us, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
		}
	}
	return time.Unix(n, us*1000), nil
}

// receiverLag sums the source's binlog bytes after what the receiver read.
func receiverLag(c *client.Conn, rs replica.Status) (int64, error) {
	if rs.SourceLogFile == "" {
		return 0, fmt.Errorf("the receiver has not read a position yet")
	}
	res, err := c.Execute("SHOW BINARY LOGS")
	if err != nil {
		return 0, err
	}
	defer res.Close()
	var lag int64
	seen := false
	for i := range res.Values {
		name, _ := res.GetString(i, 0)
		size, _ := res.GetInt(i, 1)
		switch {
		case name == rs.SourceLogFile:
			seen = true
			lag += max(0, size-int64(rs.ReadSourceLogPos))
		case seen:
			lag += size
		}
	}
	if !seen {
		return 0, fmt.Errorf("the source no longer lists %s", rs.SourceLogFile)
	}
	return lag, nil
}
