package binlogenc

import (
	"encoding/binary"

	"github.com/go-mysql-org/go-mysql/replication"
)

// Query is a QUERY_EVENT.
type Query struct {
	ThreadID  uint32
	ExecTime  uint32
	ErrorCode uint16
	Schema    string
	SQL       string
	// StatusVars are the raw status variables (build them with a StatusVars).
	StatusVars []byte
}

// Query returns a QUERY_EVENT.
func (e *Encoder) Query(q Query) []byte {
	body := make([]byte, 0, 13+len(q.StatusVars)+len(q.Schema)+1+len(q.SQL))
	body = binary.LittleEndian.AppendUint32(body, q.ThreadID)
	body = binary.LittleEndian.AppendUint32(body, q.ExecTime)
	body = append(body, byte(len(q.Schema)))
	body = binary.LittleEndian.AppendUint16(body, q.ErrorCode)
	body = binary.LittleEndian.AppendUint16(body, uint16(len(q.StatusVars)))
	body = append(body, q.StatusVars...)
	body = append(body, q.Schema...)
	body = append(body, 0)
	body = append(body, q.SQL...)
	return e.event(replication.QUERY_EVENT, body)
}

// Begin returns the QUERY_EVENT "BEGIN" that opens a MySQL transaction.
func (e *Encoder) Begin() []byte {
	return e.Query(Query{SQL: "BEGIN", StatusVars: new(StatusVars).Flags2(0).SQLMode(0).Charset(255, 255, 255).Bytes()})
}

// Status variable codes (MySQL log_event.h, MariaDB log_event.h).
const (
	QFlags2Code              = 0
	QSQLModeCode             = 1
	QAutoIncrement           = 3
	QCharsetCode             = 4
	QTimeZoneCode            = 5
	QCatalogNZCode           = 6
	QLCTimeNamesCode         = 7
	QCharsetDatabaseCode     = 8
	QTableMapForUpdateCode   = 9
	QUpdatedDBNames          = 12
	QMicroseconds            = 13
	QDDLLoggedWithXid        = 17
	QDefaultCollationUTF8MB4 = 18
	QSQLRequirePrimaryKey    = 19
	QDefaultTableEncryption  = 20
	QHRNow                   = 128 // MariaDB
	QXid                     = 129 // MariaDB
)

// StatusVars builds the status variables of a QUERY_EVENT, in the order the calls are made.
type StatusVars struct{ b []byte }

// Bytes returns the encoded status variables.
func (s *StatusVars) Bytes() []byte { return s.b }

func (s *StatusVars) code(c byte) *StatusVars { s.b = append(s.b, c); return s }

// Flags2 sets the OPTION_* bits (autocommit off, no foreign key checks, relaxed unique checks...).
func (s *StatusVars) Flags2(v uint32) *StatusVars {
	s.b = binary.LittleEndian.AppendUint32(append(s.b, QFlags2Code), v)
	return s
}

// SQLMode sets the sql_mode bits.
func (s *StatusVars) SQLMode(v uint64) *StatusVars {
	s.b = binary.LittleEndian.AppendUint64(append(s.b, QSQLModeCode), v)
	return s
}

// Catalog sets the catalog ("std").
func (s *StatusVars) Catalog(name string) *StatusVars {
	s.b = append(append(s.b, QCatalogNZCode, byte(len(name))), name...)
	return s
}

// AutoIncrement sets auto_increment_increment and auto_increment_offset.
func (s *StatusVars) AutoIncrement(increment, offset uint16) *StatusVars {
	s.b = binary.LittleEndian.AppendUint16(append(s.b, QAutoIncrement), increment)
	s.b = binary.LittleEndian.AppendUint16(s.b, offset)
	return s
}

// Charset sets character_set_client, collation_connection and collation_server (collation ids).
func (s *StatusVars) Charset(client, connection, server uint16) *StatusVars {
	s.b = binary.LittleEndian.AppendUint16(append(s.b, QCharsetCode), client)
	s.b = binary.LittleEndian.AppendUint16(s.b, connection)
	s.b = binary.LittleEndian.AppendUint16(s.b, server)
	return s
}

// TimeZone sets time_zone.
func (s *StatusVars) TimeZone(tz string) *StatusVars {
	s.b = append(append(s.b, QTimeZoneCode, byte(len(tz))), tz...)
	return s
}

// LCTimeNames sets lc_time_names (a locale number).
func (s *StatusVars) LCTimeNames(n uint16) *StatusVars {
	s.b = binary.LittleEndian.AppendUint16(append(s.b, QLCTimeNamesCode), n)
	return s
}

// CharsetDatabase sets collation_database.
func (s *StatusVars) CharsetDatabase(id uint16) *StatusVars {
	s.b = binary.LittleEndian.AppendUint16(append(s.b, QCharsetDatabaseCode), id)
	return s
}

// TableMapForUpdate sets the bitmap of tables a multi-table update changes.
func (s *StatusVars) TableMapForUpdate(v uint64) *StatusVars {
	s.b = binary.LittleEndian.AppendUint64(append(s.b, QTableMapForUpdateCode), v)
	return s
}

// UpdatedDBNames lists the databases the statement changes.
func (s *StatusVars) UpdatedDBNames(names ...string) *StatusVars {
	s.b = append(s.b, QUpdatedDBNames, byte(len(names)))
	for _, n := range names {
		s.b = append(append(s.b, n...), 0)
	}
	return s
}

// Microseconds sets the microsecond part of the statement's start time.
func (s *StatusVars) Microseconds(us uint32) *StatusVars {
	s.b = append(s.b, QMicroseconds, byte(us), byte(us>>8), byte(us>>16))
	return s
}

// DDLLoggedWithXid marks an atomic DDL with its XID (MySQL 8).
func (s *StatusVars) DDLLoggedWithXid(xid uint64) *StatusVars {
	s.b = binary.LittleEndian.AppendUint64(append(s.b, QDDLLoggedWithXid), xid)
	return s
}

// DefaultCollationForUTF8MB4 sets default_collation_for_utf8mb4 (MySQL 8).
func (s *StatusVars) DefaultCollationForUTF8MB4(id uint16) *StatusVars {
	s.b = binary.LittleEndian.AppendUint16(append(s.b, QDefaultCollationUTF8MB4), id)
	return s
}

// SQLRequirePrimaryKey sets sql_require_primary_key (MySQL 8).
func (s *StatusVars) SQLRequirePrimaryKey(on bool) *StatusVars {
	s.b = append(s.b, QSQLRequirePrimaryKey, b2u(on))
	return s
}

// DefaultTableEncryption sets default_table_encryption (MySQL 8).
func (s *StatusVars) DefaultTableEncryption(on bool) *StatusVars {
	s.b = append(s.b, QDefaultTableEncryption, b2u(on))
	return s
}

// HRNow sets MariaDB's microsecond part of the statement time.
func (s *StatusVars) HRNow(us uint32) *StatusVars {
	s.b = append(s.b, QHRNow, byte(us), byte(us>>8), byte(us>>16))
	return s
}

// MariaDBXid sets MariaDB's XID of a DDL.
func (s *StatusVars) MariaDBXid(xid uint64) *StatusVars {
	s.b = binary.LittleEndian.AppendUint64(append(s.b, QXid), xid)
	return s
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}
