package mtreplica

import (
	"math"
	"strings"
	"time"

	"github.com/mtreplica/mtreplica/coordinator"
	"github.com/mtreplica/mtreplica/replica"
)

// Status mirrors SHOW REPLICA STATUS: JSON names are MySQL's column names, and
// Workers are rows of performance_schema.replication_applier_status_by_worker.
// Nothing in it is secret: no password, no TLS material.
type Status struct {
	ChannelName            string     `json:"Channel_Name"`
	ReplicaIOState         string     `json:"Replica_IO_State"`
	ReplicaIORunning       string     `json:"Replica_IO_Running"`
	ReplicaSQLRunning      string     `json:"Replica_SQL_Running"`
	SourceHost             string     `json:"Source_Host"`
	SourcePort             uint16     `json:"Source_Port"`
	SourceUser             string     `json:"Source_User"`
	ConnectRetry           int64      `json:"Connect_Retry"`
	SourceServerID         uint32     `json:"Source_Server_Id"`
	SourceUUID             string     `json:"Source_UUID,omitempty"`
	SourceLogFile          string     `json:"Source_Log_File"`
	ReadSourceLogPos       uint32     `json:"Read_Source_Log_Pos"`
	RelayLogFile           string     `json:"Relay_Log_File"`
	RelayLogPos            int64      `json:"Relay_Log_Pos"`
	RelayLogSpace          int64      `json:"Relay_Log_Space"`
	RelaySourceLogFile     string     `json:"Relay_Source_Log_File"`
	ExecSourceLogPos       uint32     `json:"Exec_Source_Log_Pos"`
	UntilCondition         string     `json:"Until_Condition"`
	UntilLogFile           string     `json:"Until_Log_File"`
	UntilLogPos            uint32     `json:"Until_Log_Pos"`
	SecondsBehindSource    *int64     `json:"Seconds_Behind_Source"`
	RetrievedGtidSet       string     `json:"Retrieved_Gtid_Set"`
	ExecutedGtidSet        string     `json:"Executed_Gtid_Set"`
	LastIOErrno            int        `json:"Last_IO_Errno"`
	LastIOError            string     `json:"Last_IO_Error"`
	LastIOErrorTimestamp   *time.Time `json:"Last_IO_Error_Timestamp"`
	LastSQLErrno           int        `json:"Last_SQL_Errno"`
	LastSQLError           string     `json:"Last_SQL_Error"`
	LastSQLErrorTimestamp  *time.Time `json:"Last_SQL_Error_Timestamp"`
	SQLDelay               int64      `json:"SQL_Delay"`
	SQLRemainingDelay      *int64     `json:"SQL_Remaining_Delay"`
	ReplicaSQLRunningState string     `json:"Replica_SQL_Running_State"`
	AutoPosition           bool       `json:"Auto_Position"`
	// Not in SHOW REPLICA STATUS:
	UntilGtids       string   `json:"Until_Gtids,omitempty"`
	SourceClockSkew  *float64 `json:"Source_Clock_Skew_Seconds"` // source clock minus ours
	ReceiverLagBytes *int64   `json:"Receiver_Lag_Bytes"`        // source binlog bytes not yet received
	// SourceRetentionWarning: the receiver's position is older than half the source's binlog retention.
	SourceRetentionWarning string `json:"Source_Retention_Warning,omitempty"`
	// SkippedErrors counts transactions skipped per error code (replica_skip_errors).
	SkippedErrors          map[uint16]uint64          `json:"Skipped_Errors,omitempty"`
	LastAppliedTransaction string                     `json:"Last_Applied_Transaction"`
	TransactionsApplied    uint64                     `json:"Transactions_Applied"`
	TransactionsSkipped    uint64                     `json:"Transactions_Skipped"`
	Aborts                 uint64                     `json:"Order_Inversion_Aborts"`
	Pipelined              uint64                     `json:"Pipelined_Starts"` // groups started before their dependencies committed (--pipeline)
	Workers                []coordinator.WorkerStatus `json:"Workers,omitempty"`
	Updated                time.Time                  `json:"Updated"`
}

// SQL_Running_State while a transaction is held for SOURCE_DELAY (MySQL's words).
const stateDelayed = "Waiting until SOURCE_DELAY seconds after source executed event"

// Status returns a snapshot. Safe for concurrent use, before, during and after Run.
func (r *Replica) Status() Status {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{
		ChannelName:      r.cfg.Channel,
		ReplicaIORunning: "No", ReplicaSQLRunning: "No",
		SourceHost: r.cfg.Source.Host, SourcePort: r.cfg.Source.Port, SourceUser: r.cfg.Source.User,
		ConnectRetry: int64(r.cfg.Source.ConnectRetry.Seconds()),
		AutoPosition: r.useGTID, Updated: now.UTC(),
		SQLDelay:       int64(time.Duration(r.delay.Load()).Seconds()),
		UntilCondition: r.until.Condition(), UntilLogFile: r.until.SourceLogFile, UntilLogPos: r.until.SourceLogPos,
		UntilGtids: r.until.GTIDs,
	}
	s.LastIOErrno, s.LastIOError, s.LastIOErrorTimestamp = r.ioErr.code, r.ioErr.msg, timePtr(r.ioErr.at)
	s.LastSQLErrno, s.LastSQLError, s.LastSQLErrorTimestamp = r.sqlErr.code, r.sqlErr.msg, timePtr(r.sqlErr.at)
	if r.skewKnown.Load() {
		v := time.Duration(r.skew.Load()).Seconds()
		s.SourceClockSkew = &v
	}
	if n := r.lagBytes.Load(); n >= 0 && r.io != nil {
		s.ReceiverLagBytes = &n
	}
	var rs replica.Status
	if r.receiver != nil {
		rs = r.receiver.Status()
		s.ReplicaIORunning = rs.IORunning
		if r.io != nil && rs.IORunning == replica.IONo {
			s.ReplicaIORunning = replica.IOConnecting // started, not yet connecting
		}
		s.SourceLogFile, s.ReadSourceLogPos = rs.SourceLogFile, rs.ReadSourceLogPos
		s.SourceServerID, s.SourceUUID = rs.SourceServerID, rs.SourceUUID
		s.ConnectRetry = int64(rs.ConnectRetry.Seconds())
		s.SourceRetentionWarning = rs.RetentionWarning
		if r.ioErr.msg == "" && rs.LastIOError != "" { // a connection error the receiver is retrying after
			s.LastIOErrno, s.LastIOError, s.LastIOErrorTimestamp = int(rs.LastIOErrno), rs.LastIOError, timePtr(rs.LastIOErrorTimestamp)
		}
		switch rs.IORunning {
		case replica.IOYes:
			s.ReplicaIOState = "Waiting for source to send event"
		case replica.IOConnecting:
			s.ReplicaIOState = "Connecting to source"
		}
	}
	if r.relay != nil {
		st := r.relay.State()
		s.RelayLogSpace = st.Bytes
		if st.Retrieved != nil {
			s.RetrievedGtidSet = st.Retrieved.String()
		}
	}
	if r.coord != nil {
		cs := r.coord.Status()
		if !cs.RelayPos.IsZero() {
			s.RelayLogFile = r.relay.FormatPosition(cs.RelayPos)
			s.RelayLogFile = s.RelayLogFile[:max(0, strings.LastIndexByte(s.RelayLogFile, ':'))]
		}
		s.RelayLogPos = cs.RelayPos.Offset
		s.RelaySourceLogFile, s.ExecSourceLogPos = cs.SourceFile, cs.ExecSourcePos
		s.LastAppliedTransaction = cs.LastApplied
		s.TransactionsApplied, s.TransactionsSkipped = cs.Applied, cs.Skipped
		s.Aborts, s.Workers, s.Pipelined = cs.Aborts, cs.Workers, cs.Pipelined
		if r.sql != nil && cs.Running {
			s.ReplicaSQLRunningState = cs.State
			s.SecondsBehindSource = r.behind(cs, rs, now)
			if due := r.holding.Load(); due != 0 {
				s.ReplicaSQLRunningState = stateDelayed
				left := int64(math.Ceil(time.Unix(0, due).Sub(now).Seconds()))
				left = max(left, 0)
				s.SQLRemainingDelay = &left
			}
		}
	}
	if r.sql != nil {
		s.ReplicaSQLRunning = "Yes" // from the start call on, as MySQL shows it
	}
	if r.executed != nil {
		s.ExecutedGtidSet = r.executed.String()
	}
	if counts := r.cfg.skip.Counts(); len(counts) > 0 {
		s.SkippedErrors = counts
	}
	return s
}

// behind computes Seconds_Behind_Source: the age of the oldest transaction
// read but not committed (its original commit timestamp, or its event
// timestamp corrected for the clock skew); 0 when the applier has caught up
// and the receiver hears from the source (events or heartbeats); the time
// since the source was last heard from when that is more than two heartbeat
// periods; NULL when caught up and the receiver is not running.
func (r *Replica) behind(cs coordinator.Status, rs replica.Status, now time.Time) *int64 {
	var lag time.Duration
	held := r.heldCommit.Load() // a transaction held for SOURCE_DELAY, not yet in the coordinator's window
	switch {
	case !cs.OldestPending.IsZero():
		src := cs.OldestPending
		if !r.origCommit.Load() {
			src = src.Add(-time.Duration(r.skew.Load()))
		}
		lag = now.Sub(src)
	case held != 0:
	case rs.IORunning != replica.IOYes:
		return nil
	default:
		heard := rs.LastEventTime
		if rs.LastHeartbeat.After(heard) {
			heard = rs.LastHeartbeat
		}
		if hb := r.receiver.Options().HeartbeatPeriod; hb > 0 && !heard.IsZero() && now.Sub(heard) > 2*hb {
			lag = now.Sub(heard)
		}
	}
	if held != 0 { // with a delay the lag includes it, as on MySQL
		lag = max(lag, now.Sub(time.Unix(0, held)))
	}
	v := max(0, int64(lag.Seconds()))
	return &v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
