package binlogenc

import (
	"encoding/binary"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
)

// GTID is a MySQL GTID_LOG_EVENT (or ANONYMOUS_GTID_LOG_EVENT).
type GTID struct {
	// Anonymous writes an ANONYMOUS_GTID_LOG_EVENT (gtid_mode OFF): SID and GNO are ignored.
	Anonymous bool
	SID       [16]byte // the source's server_uuid
	GNO       int64
	// Tag, when set, writes a GTID_TAGGED_LOG_EVENT (MySQL 8.4+ tagged GTID uuid:tag:gno).
	Tag string
	// CommitFlag: 1 when the transaction may be applied without a BEGIN (MySQL's FLAG_MAY_HAVE_SBR is 1 too).
	CommitFlag byte
	// LastCommitted and SequenceNumber are the logical clock (binlog_transaction_dependency_tracking).
	LastCommitted, SequenceNumber int64
	// ImmediateCommit and OriginalCommit are the commit timestamps (microseconds); zero OriginalCommit means
	// the same as ImmediateCommit (the transaction originated here).
	ImmediateCommit, OriginalCommit time.Time
	// TransactionLength is the size of the transaction's events, GTID event included (0: not given).
	TransactionLength uint64
	// ServerVersion is the immediate server version as MySQL encodes it (80036); 0: 80036.
	ServerVersion uint32
}

// UUID parses a server_uuid into a SID (panics on a malformed UUID: test input).
func UUID(s string) [16]byte {
	u, err := uuid.Parse(s)
	if err != nil {
		panic("binlogenc: bad UUID " + s + ": " + err.Error())
	}
	var sid [16]byte
	copy(sid[:], u[:])
	return sid
}

const logicalTimestampTypeCode = 2

// GTID returns a GTID_LOG_EVENT (or ANONYMOUS_GTID_LOG_EVENT) as MySQL 8 writes it.
func (e *Encoder) GTID(g GTID) []byte {
	if g.Tag != "" && !g.Anonymous {
		return e.event(taggedType, taggedGTID(g))
	}
	body := make([]byte, 0, 64)
	body = append(body, g.CommitFlag)
	t := replication.GTID_EVENT
	if g.Anonymous {
		t = replication.ANONYMOUS_GTID_EVENT
		body = append(body, make([]byte, 16)...)
		body = binary.LittleEndian.AppendUint64(body, 0)
	} else {
		body = append(body, g.SID[:]...)
		body = binary.LittleEndian.AppendUint64(body, uint64(g.GNO))
	}
	body = append(body, logicalTimestampTypeCode)
	body = binary.LittleEndian.AppendUint64(body, uint64(g.LastCommitted))
	body = binary.LittleEndian.AppendUint64(body, uint64(g.SequenceNumber))
	imm := micros(g.ImmediateCommit)
	orig := micros(g.OriginalCommit)
	if orig != 0 && orig != imm {
		body = appendUint56(body, imm|1<<55)
		body = appendUint56(body, orig)
	} else {
		body = appendUint56(body, imm)
	}
	body = appendLenEnc(body, g.TransactionLength)
	v := g.ServerVersion
	if v == 0 {
		v = 80036
	}
	body = binary.LittleEndian.AppendUint32(body, v)
	return e.event(t, body)
}

func micros(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMicro())
}

func appendUint56(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48))
}

// PreviousGTIDs returns a PREVIOUS_GTIDS_LOG_EVENT for a MySQL GTID set
// (nil: empty), in the untagged format of MySQL 8.0.
func (e *Encoder) PreviousGTIDs(set *mysql.MysqlGTIDSet) []byte {
	var body []byte
	if set == nil {
		body = make([]byte, 8)
	} else {
		body = set.Encode()
	}
	return e.event(replication.PREVIOUS_GTIDS_EVENT, body)
}

// MariaDB GTID event flags.
const (
	MariaDBStandalone    = replication.BINLOG_MARIADB_FL_STANDALONE      // one statement follows, no BEGIN/COMMIT
	MariaDBGroupCommit   = replication.BINLOG_MARIADB_FL_GROUP_COMMIT_ID // commit_id follows
	MariaDBTransactional = 1 << 5                                        // FL_TRANSACTIONAL
	MariaDBDDL           = 1 << 6                                        // FL_DDL
)

// MariaDBGTID is a MariaDB GTID_EVENT.
type MariaDBGTID struct {
	Domain uint32
	Seq    uint64
	// CommitID, when not 0, is written with the group-commit flag: transactions with the same id
	// group-committed together.
	CommitID uint64
	// Flags are OR-ed with the group-commit flag when CommitID is set.
	Flags byte
}

// MariaDBGTID returns a MariaDB GTID_EVENT. The server id of the GTID is the encoder's.
func (e *Encoder) MariaDBGTID(g MariaDBGTID) []byte {
	body := make([]byte, 0, 21)
	body = binary.LittleEndian.AppendUint64(body, g.Seq)
	body = binary.LittleEndian.AppendUint32(body, g.Domain)
	flags := g.Flags
	if g.CommitID != 0 {
		flags |= MariaDBGroupCommit
	}
	body = append(body, flags)
	if g.CommitID != 0 {
		body = binary.LittleEndian.AppendUint64(body, g.CommitID)
	} else {
		body = append(body, make([]byte, 6)...)
	}
	return e.event(replication.MARIADB_GTID_EVENT, body)
}

// MariaDBGTIDList returns a GTID_LIST_EVENT (the state at the start of a MariaDB binlog file).
func (e *Encoder) MariaDBGTIDList(gtids []mysql.MariadbGTID) []byte {
	body := binary.LittleEndian.AppendUint32(nil, uint32(len(gtids)))
	for _, g := range gtids {
		body = binary.LittleEndian.AppendUint32(body, g.DomainID)
		body = binary.LittleEndian.AppendUint32(body, g.ServerID)
		body = binary.LittleEndian.AppendUint64(body, g.SequenceNumber)
	}
	return e.event(replication.MARIADB_GTID_LIST_EVENT, body)
}
