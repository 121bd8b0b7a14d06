package mtreplica

import (
	"time"

	"github.com/mtreplica/mtreplica/coordinator"
)

// Status mirrors SHOW REPLICA STATUS; JSON names are MySQL's column names.
type Status struct {
	ReplicaIORunning       string `json:"Replica_IO_Running"`
	ReplicaSQLRunning      string `json:"Replica_SQL_Running"`
	SourceHost             string `json:"Source_Host"`
	SourcePort             uint16 `json:"Source_Port"`
	SourceUser             string `json:"Source_User"`
	SourceServerID         uint32 `json:"Source_Server_Id"`
	SourceUUID             string `json:"Source_UUID,omitempty"`
	SourceLogFile          string `json:"Source_Log_File"`
	ReadSourceLogPos       uint32 `json:"Read_Source_Log_Pos"`
	RelayLogFile           string `json:"Relay_Log_File"`
	RelayLogPos            int64  `json:"Relay_Log_Pos"`
	RelayLogSpace          int64  `json:"Relay_Log_Space"`
	RelaySourceLogFile     string `json:"Relay_Source_Log_File"`
	ExecSourceLogPos       uint32 `json:"Exec_Source_Log_Pos"`
	SecondsBehindSource    *int64 `json:"Seconds_Behind_Source"`
	RetrievedGtidSet       string `json:"Retrieved_Gtid_Set"`
	ExecutedGtidSet        string `json:"Executed_Gtid_Set"`
	LastIOErrno            int    `json:"Last_IO_Errno"`
	LastIOError            string `json:"Last_IO_Error"`
	LastSQLError           string `json:"Last_SQL_Error"`
	ReplicaSQLRunningState string `json:"Replica_SQL_Running_State"`
	SQLDelay               int    `json:"SQL_Delay"`
	AutoPosition           bool   `json:"Auto_Position"`
	// Not in SHOW REPLICA STATUS:
	LastAppliedTransaction string                     `json:"Last_Applied_Transaction"`
	TransactionsApplied    uint64                     `json:"Transactions_Applied"`
	TransactionsSkipped    uint64                     `json:"Transactions_Skipped"`
	Aborts                 uint64                     `json:"Order_Inversion_Aborts"`
	Workers                []coordinator.WorkerStatus `json:"Workers,omitempty"`
	Updated                time.Time                  `json:"Updated"`
}

// Status returns a snapshot.
func (r *Replica) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{
		ReplicaIORunning: "No", ReplicaSQLRunning: "No",
		SourceHost: r.cfg.Source.Host, SourcePort: r.cfg.Source.Port, SourceUser: r.cfg.Source.User,
		LastSQLError: r.lastErr, AutoPosition: r.useGTID, Updated: time.Now().UTC(),
	}
	if r.receiver != nil {
		rs := r.receiver.Status()
		s.ReplicaIORunning = rs.IORunning
		s.SourceLogFile, s.ReadSourceLogPos = rs.SourceLogFile, rs.ReadSourceLogPos
		s.SourceServerID, s.SourceUUID = rs.SourceServerID, rs.SourceUUID
		s.LastIOErrno, s.LastIOError = int(rs.LastIOErrno), rs.LastIOError
	}
	if r.relay != nil {
		st := r.relay.State()
		s.RelayLogSpace = st.Bytes
		if st.Retrieved != nil {
			s.RetrievedGtidSet = st.Retrieved.String()
		}
		if n := len(st.Segments); n > 0 {
			s.RelayLogFile = st.Segments[n-1].Name
		}
	}
	if r.coord != nil {
		cs := r.coord.Status()
		if cs.Running {
			s.ReplicaSQLRunning = "Yes"
		}
		s.ReplicaSQLRunningState = cs.State
		s.RelayLogPos = cs.RelayPos.Offset
		s.RelaySourceLogFile, s.ExecSourceLogPos = cs.SourceFile, cs.ExecSourcePos
		s.LastAppliedTransaction = cs.LastApplied
		s.TransactionsApplied, s.TransactionsSkipped = cs.Applied, cs.Skipped
		s.Aborts, s.Workers = cs.Aborts, cs.Workers
		if cs.LastError != "" {
			s.LastSQLError = cs.LastError
		}
		if cs.Running {
			var lag int64
			if !cs.OldestPending.IsZero() {
				lag = max(0, int64(time.Since(cs.OldestPending).Seconds()))
			}
			s.SecondsBehindSource = &lag
		}
	}
	if r.executed != nil {
		s.ExecutedGtidSet = r.executed.String()
	}
	return s
}
