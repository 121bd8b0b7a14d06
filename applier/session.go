package applier

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// QUERY_EVENT status variable codes (sql/log_event.h in MySQL and MariaDB).
const (
	qFlags2Code              = 0
	qSQLModeCode             = 1
	qCatalogCode             = 2
	qAutoIncrement           = 3
	qCharsetCode             = 4
	qTimeZoneCode            = 5
	qCatalogNZCode           = 6
	qLCTimeNamesCode         = 7
	qCharsetDatabaseCode     = 8
	qTableMapForUpdateCode   = 9
	qMasterDataWrittenCode   = 10
	qInvoker                 = 11
	qUpdatedDBNames          = 12
	qMicroseconds            = 13
	qCommitTS                = 14
	qCommitTS2               = 15
	qExplicitDefaultsForTS   = 16
	qDDLLoggedWithXid        = 17
	qDefaultCollationUTF8MB4 = 18
	qSQLRequirePrimaryKey    = 19
	qDefaultTableEncryption  = 20
	qHRNow                   = 128 // MariaDB
	qXid                     = 129 // MariaDB
	qGTIDFlags3              = 130 // MariaDB 10.8+
	qCharacterSetCollations  = 131 // MariaDB 11+
)

// flags2 bits.
const (
	optionAutoIsNull          = 1 << 14
	optionNotAutocommit       = 1 << 19
	optionNoForeignKeyChecks  = 1 << 26
	optionRelaxedUniqueChecks = 1 << 27
)

// QuerySession is the session state a QUERY event carries.
type QuerySession struct {
	HaveFlags2    bool
	Flags2        uint32
	HaveSQLMode   bool
	SQLMode       uint64
	HaveCharset   bool
	CharsetClient uint16
	CollationConn uint16
	CollationSrv  uint16
	TimeZone      string
	HaveAutoInc   bool
	AutoIncInc    uint16
	AutoIncOffset uint16
	LCTimeNames   uint16
	HaveLCTime    bool
	CollationDB   uint16
	HaveCollDB    bool
	Microseconds  uint32
	HaveMicros    bool
}

// ParseStatusVars decodes the status variables of a QUERY event. Unknown codes
// stop the walk (their length is unknown); what was decoded before is returned
// with an error.
func ParseStatusVars(b []byte) (QuerySession, error) {
	var s QuerySession
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("status variables truncated")
		}
		return nil
	}
	for len(b) > 0 {
		code := b[0]
		b = b[1:]
		switch code {
		case qFlags2Code:
			if err := need(4); err != nil {
				return s, err
			}
			s.HaveFlags2, s.Flags2 = true, binary.LittleEndian.Uint32(b)
			b = b[4:]
		case qSQLModeCode:
			if err := need(8); err != nil {
				return s, err
			}
			s.HaveSQLMode, s.SQLMode = true, binary.LittleEndian.Uint64(b)
			b = b[8:]
		case qCatalogCode:
			if err := need(1); err != nil {
				return s, err
			}
			n := int(b[0]) + 2
			if err := need(n); err != nil {
				return s, err
			}
			b = b[n:]
		case qAutoIncrement:
			if err := need(4); err != nil {
				return s, err
			}
			s.HaveAutoInc = true
			s.AutoIncInc, s.AutoIncOffset = binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:])
			b = b[4:]
		case qCharsetCode:
			if err := need(6); err != nil {
				return s, err
			}
			s.HaveCharset = true
			s.CharsetClient = binary.LittleEndian.Uint16(b)
			s.CollationConn = binary.LittleEndian.Uint16(b[2:])
			s.CollationSrv = binary.LittleEndian.Uint16(b[4:])
			b = b[6:]
		case qTimeZoneCode, qCatalogNZCode:
			if err := need(1); err != nil {
				return s, err
			}
			n := int(b[0])
			if err := need(1 + n); err != nil {
				return s, err
			}
			if code == qTimeZoneCode {
				s.TimeZone = string(b[1 : 1+n])
			}
			b = b[1+n:]
		case qLCTimeNamesCode:
			if err := need(2); err != nil {
				return s, err
			}
			s.HaveLCTime, s.LCTimeNames = true, binary.LittleEndian.Uint16(b)
			b = b[2:]
		case qCharsetDatabaseCode:
			if err := need(2); err != nil {
				return s, err
			}
			s.HaveCollDB, s.CollationDB = true, binary.LittleEndian.Uint16(b)
			b = b[2:]
		case qTableMapForUpdateCode, qDDLLoggedWithXid, qXid:
			if err := need(8); err != nil {
				return s, err
			}
			b = b[8:]
		case qMasterDataWrittenCode:
			if err := need(4); err != nil {
				return s, err
			}
			b = b[4:]
		case qInvoker:
			for i := 0; i < 2; i++ {
				if err := need(1); err != nil {
					return s, err
				}
				n := int(b[0])
				if err := need(1 + n); err != nil {
					return s, err
				}
				b = b[1+n:]
			}
		case qUpdatedDBNames:
			if err := need(1); err != nil {
				return s, err
			}
			n := int(b[0])
			b = b[1:]
			if n == 254 { // OVER_MAX_DBS_IN_EVENT_MTS
				n = 0
			}
			for i := 0; i < n; i++ {
				j := strings.IndexByte(string(b), 0)
				if j < 0 {
					return s, fmt.Errorf("status variables: unterminated db name")
				}
				b = b[j+1:]
			}
		case qMicroseconds, qHRNow:
			if err := need(3); err != nil {
				return s, err
			}
			s.HaveMicros = true
			s.Microseconds = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			b = b[3:]
		case qExplicitDefaultsForTS, qSQLRequirePrimaryKey, qDefaultTableEncryption, qGTIDFlags3:
			if err := need(1); err != nil {
				return s, err
			}
			b = b[1:]
		case qDefaultCollationUTF8MB4:
			if err := need(2); err != nil {
				return s, err
			}
			b = b[2:]
		default:
			return s, fmt.Errorf("status variables: unknown code %d", code)
		}
	}
	return s, nil
}

// sessionSQL renders the SET statement that restores a QUERY event's session,
// in the form mysqlbinlog prints.
func (s QuerySession) sessionSQL() string {
	var parts []string
	if s.HaveFlags2 {
		parts = append(parts,
			fmt.Sprintf("@@session.foreign_key_checks=%d", b2i(s.Flags2&optionNoForeignKeyChecks == 0)),
			fmt.Sprintf("@@session.sql_auto_is_null=%d", b2i(s.Flags2&optionAutoIsNull != 0)),
			fmt.Sprintf("@@session.unique_checks=%d", b2i(s.Flags2&optionRelaxedUniqueChecks == 0)))
	}
	if s.HaveSQLMode {
		parts = append(parts, fmt.Sprintf("@@session.sql_mode=%d", s.SQLMode))
	}
	if s.HaveAutoInc {
		parts = append(parts, fmt.Sprintf("@@session.auto_increment_increment=%d, @@session.auto_increment_offset=%d", s.AutoIncInc, s.AutoIncOffset))
	}
	if s.HaveCharset {
		parts = append(parts, fmt.Sprintf("@@session.character_set_client=%d, @@session.collation_connection=%d, @@session.collation_server=%d",
			s.CharsetClient, s.CollationConn, s.CollationSrv))
	}
	if s.TimeZone != "" {
		parts = append(parts, "@@session.time_zone="+quoteString(s.TimeZone))
	} else {
		parts = append(parts, "@@session.time_zone='SYSTEM'")
	}
	if s.HaveLCTime {
		parts = append(parts, fmt.Sprintf("@@session.lc_time_names=%d", s.LCTimeNames))
	}
	if s.HaveCollDB {
		parts = append(parts, fmt.Sprintf("@@session.collation_database=%d", s.CollationDB))
	}
	return "SET " + strings.Join(parts, ", ")
}

// rowSessionSQL is the session row events are applied in.
const rowSessionSQL = "SET @@session.sql_mode='NO_AUTO_VALUE_ON_ZERO', @@session.time_zone='+00:00', " +
	"@@session.foreign_key_checks=1, @@session.unique_checks=1, @@session.sql_auto_is_null=0, " +
	"@@session.auto_increment_increment=1, @@session.auto_increment_offset=1, " +
	"@@session.character_set_client=utf8mb4, @@session.collation_connection=utf8mb4_general_ci"

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
