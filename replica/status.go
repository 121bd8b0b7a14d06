package replica

import (
	"errors"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Receiver states, as SHOW REPLICA STATUS prints Replica_IO_Running.
const (
	IOYes        = "Yes"        // a binlog dump is streaming
	IOConnecting = "Connecting" // Run is connecting or waiting to reconnect
	IONo         = "No"         // Run is not running
)

// Client-side error codes used for LastIOErrno when the server sent none
// (MySQL's CR_CONN_HOST_ERROR and CR_SERVER_LOST).
const (
	crConnHostError = 2003 // could not connect
	crServerLost    = 2013 // lost the connection while streaming
)

// Status is the receiver's part of SHOW REPLICA STATUS (names without the
// Replica_/Source_ prefixes where they would repeat), plus counters.
type Status struct {
	IORunning  string // IOYes, IOConnecting or IONo
	SourceHost string
	SourcePort uint16
	SourceUser string
	// ConnectRetry and SourceRetryCount are the configured retry delay and limit.
	ConnectRetry     time.Duration
	SourceRetryCount int

	// SourceLogFile and ReadSourceLogPos: the source binlog coordinates up to which
	// events have been received (Source_Log_File, Read_Source_Log_Pos).
	SourceLogFile    string
	ReadSourceLogPos uint32
	// StartPosition is where the current (or last) connection asked to start.
	StartPosition string

	// The last error of the receiver. Kept until Run is started again, like
	// MySQL keeps it until START REPLICA; LastIOErrorTimestamp tells a stale one.
	LastIOErrno          uint16
	LastIOError          string
	LastIOErrorTimestamp time.Time

	SourceServerID uint32
	SourceUUID     string // MySQL only
	SourceVersion  string

	ConnectedSince     time.Time // start of the current connection (zero when not connected)
	LastEventTime      time.Time // when the last event was received (our clock)
	LastEventTimestamp time.Time // the source's timestamp of that event (zero for artificial events)
	LastHeartbeat      time.Time // when the last heartbeat was received (our clock)

	// ExpireLogsSeconds is the source's binlog retention read at connect
	// (binlog_expire_logs_seconds, else expire_logs_days); 0 = never purged.
	ExpireLogsSeconds int64
	// RetentionWarning is set while the receiver's position is older than half
	// the source's binlog retention: if the receiver falls further behind, or
	// stays disconnected, the source may purge a binlog it still needs.
	RetentionWarning string

	Reconnects         uint64
	EventsReceived     uint64 // heartbeats excluded
	BytesReceived      uint64
	HeartbeatsReceived uint64
}

// Status returns a snapshot of the receiver's state. Safe for concurrent use.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.RetentionWarning = retentionWarning(st, c.now())
	return st
}

func (c *Client) setState(s string) {
	c.mu.Lock()
	c.st.IORunning = s
	if s != IOYes {
		c.st.ConnectedSince = time.Time{}
	}
	c.mu.Unlock()
	if s == IOYes {
		c.m.connected.Set(1)
	} else {
		c.m.connected.Set(0)
	}
}

func (c *Client) setConnected(info *SourceInfo) {
	c.mu.Lock()
	if info != nil {
		c.st.SourceServerID = info.ServerID
		c.st.SourceUUID = info.ServerUUID
		c.st.SourceVersion = info.Version
		c.st.ExpireLogsSeconds = info.ExpireLogsSeconds
	}
	c.st.IORunning = IOYes
	c.st.ConnectedSince = c.now()
	c.mu.Unlock()
	c.m.connected.Set(1)
}

func (c *Client) recordError(err error, connected bool) {
	code := uint16(crConnHostError)
	if connected {
		code = crServerLost
	}
	var my *mysql.MyError
	if errors.As(err, &my) {
		code = my.Code
	}
	c.mu.Lock()
	c.st.LastIOErrno = code
	c.st.LastIOError = err.Error()
	c.st.LastIOErrorTimestamp = c.now()
	c.mu.Unlock()
}

// onEvent records an event appended to the relay log. Called from the stream goroutine.
func (c *Client) onEvent(e *replication.BinlogEvent, now time.Time) {
	n := len(e.RawData)
	c.mu.Lock()
	c.st.EventsReceived++
	c.st.BytesReceived += uint64(n)
	c.st.LastEventTime = now
	if e.Header.Timestamp != 0 {
		c.st.LastEventTimestamp = time.Unix(int64(e.Header.Timestamp), 0)
	}
	if r, ok := e.Event.(*replication.RotateEvent); ok {
		c.st.SourceLogFile = string(r.NextLogName)
		c.st.ReadSourceLogPos = uint32(r.Position)
	} else if e.Header.LogPos != 0 && e.Header.Flags&replication.LOG_EVENT_ARTIFICIAL_F == 0 {
		c.st.ReadSourceLogPos = e.Header.LogPos
	}
	check := e.Header.Timestamp != 0 && c.st.ExpireLogsSeconds > 0
	c.mu.Unlock()
	c.m.events.Inc()
	c.m.bytes.Add(float64(n))
	if check {
		c.checkRetention()
	}
}

func (c *Client) onHeartbeat(now time.Time) {
	c.mu.Lock()
	c.st.HeartbeatsReceived++
	c.st.LastHeartbeat = now
	c.mu.Unlock()
	c.m.heartbeats.Inc()
}
