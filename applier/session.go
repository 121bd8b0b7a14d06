package applier

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
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
		case qCharacterSetCollations:
			// A count, then (character set id, collation id) pairs of two bytes each.
			if err := need(1); err != nil {
				return s, err
			}
			n := 1 + 4*int(b[0])
			if err := need(n); err != nil {
				return s, err
			}
			b = b[n:]
		default:
			return s, fmt.Errorf("status variables: unknown code %d", code)
		}
	}
	return s, nil
}

// sessionSQL renders the SET statement that restores a QUERY event's session,
// in the form mysqlbinlog prints.
func (s QuerySession) sessionSQL() string {
	return "SET " + strings.Join(s.setParts(nil), ", ")
}

// statementSessionSQL renders the SET that restores, before a statement event
// runs, the session the statement ran in on the source: its time (the event
// header's timestamp, with Q_MICROSECONDS / Q_HRNOW when given), the source
// connection id (pseudo_thread_id: NOW() is frozen at the timestamp, and the
// id names the session's temporary tables and is CONNECTION_ID()), and the
// status variables. Undecodable status variables restore only what was
// decoded before them (sql_mode at least), or just the time and thread id.
//
// withThread false leaves pseudo_thread_id out (a target user without the
// privilege to set it).
func statementSessionSQL(timestamp, threadID uint32, statusVars []byte, withThread bool) string {
	s, err := ParseStatusVars(statusVars)
	ts := strconv.FormatUint(uint64(timestamp), 10)
	if s.HaveMicros {
		ts += fmt.Sprintf(".%06d", s.Microseconds)
	}
	parts := []string{"@@session.timestamp=" + ts}
	if withThread {
		parts = append(parts, "@@session.pseudo_thread_id="+strconv.FormatUint(uint64(threadID), 10))
	}
	if err == nil {
		// Absent variables had their defaults on the source: a replica restores
		// them too, or an earlier statement's values would leak in.
		if !s.HaveAutoInc {
			s.HaveAutoInc, s.AutoIncInc, s.AutoIncOffset = true, 1, 1
		}
		if !s.HaveLCTime {
			s.HaveLCTime, s.LCTimeNames = true, 0
		}
	}
	if err == nil || s.HaveSQLMode {
		parts = s.setParts(parts)
	}
	return "SET " + strings.Join(parts, ", ")
}

// setParts appends the assignments restoring s.
func (s QuerySession) setParts(parts []string) []string {
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
		parts = append(parts, "@@session.time_zone=DEFAULT") // the source's default: take the target's
	}
	if s.HaveLCTime {
		parts = append(parts, fmt.Sprintf("@@session.lc_time_names=%d", s.LCTimeNames))
	}
	if s.HaveCollDB {
		parts = append(parts, fmt.Sprintf("@@session.collation_database=%d", s.CollationDB))
	}
	return parts
}

// rowSessionSQL is the session row events are applied in.
const rowSessionSQL = "SET @@session.sql_mode='NO_AUTO_VALUE_ON_ZERO', @@session.time_zone='+00:00', @@session.timestamp=DEFAULT, " +
	"@@session.foreign_key_checks=1, @@session.unique_checks=1, @@session.sql_auto_is_null=0, " +
	"@@session.auto_increment_increment=1, @@session.auto_increment_offset=1, " +
	"@@session.character_set_client=utf8mb4, @@session.collation_connection=utf8mb4_general_ci"

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Item_result types of a USER_VAR event's value.
const (
	userVarString  = 0
	userVarReal    = 1
	userVarInt     = 2
	userVarRow     = 3
	userVarDecimal = 4
)

// UserVar is a USER_VAR event: a user variable the next statement reads, with
// the value it had on the source. go-mysql leaves the event raw.
type UserVar struct {
	Name     string
	Null     bool
	Type     byte   // userVarString, userVarReal, userVarInt, userVarDecimal
	Charset  uint32 // collation id of a string value
	Value    []byte // the value as logged: string bytes, 8-byte double or integer, decimal precision+scale+binary
	Unsigned bool   // an integer value is unsigned
}

// ParseUserVar decodes the body of a USER_VAR event (header and checksum
// stripped): name length and name, is_null, then type, charset, value length,
// value and an optional flags byte (UNSIGNED_F).
func ParseUserVar(b []byte) (UserVar, error) {
	var u UserVar
	if len(b) < 5 {
		return u, errors.New("USER_VAR event truncated")
	}
	n := int(binary.LittleEndian.Uint32(b))
	if len(b) < 4+n+1 {
		return u, errors.New("USER_VAR event truncated in the name")
	}
	u.Name = string(b[4 : 4+n])
	b = b[4+n:]
	if u.Null = b[0] != 0; u.Null {
		return u, nil
	}
	b = b[1:]
	if len(b) < 9 {
		return u, fmt.Errorf("USER_VAR @%s truncated", u.Name)
	}
	u.Type = b[0]
	u.Charset = binary.LittleEndian.Uint32(b[1:])
	vlen := int(binary.LittleEndian.Uint32(b[5:]))
	b = b[9:]
	if len(b) < vlen {
		return u, fmt.Errorf("USER_VAR @%s: value of %d bytes truncated to %d", u.Name, vlen, len(b))
	}
	u.Value = b[:vlen]
	if len(b) > vlen {
		u.Unsigned = b[vlen]&1 != 0
	}
	switch u.Type {
	case userVarReal, userVarInt:
		if vlen != 8 {
			return u, fmt.Errorf("USER_VAR @%s: numeric value of %d bytes", u.Name, vlen)
		}
	case userVarDecimal:
		if vlen < 2 {
			return u, fmt.Errorf("USER_VAR @%s: decimal value of %d bytes", u.Name, vlen)
		}
	case userVarString:
	default:
		return u, fmt.Errorf("USER_VAR @%s: value type %d is not supported", u.Name, u.Type)
	}
	return u, nil
}

// CollationName names a collation id: its character set and collation.
type CollationName func(id uint32) (charset, collation string, err error)

// SQL renders the assignment restoring the variable with its type: a string
// as an introducer, hex literal and collation, a real in exponent form (a
// DOUBLE), a decimal with its scale (a DECIMAL), an integer (unsigned when it
// was). names resolves a string's collation id.
func (u UserVar) SQL(names CollationName) (string, error) {
	lhs := "SET @" + quoteIdent(u.Name) + ":="
	if u.Null {
		return lhs + "NULL", nil
	}
	switch u.Type {
	case userVarString:
		cs, coll, err := names(u.Charset)
		if err != nil {
			return "", fmt.Errorf("USER_VAR @%s: collation %d: %w", u.Name, u.Charset, err)
		}
		return lhs + "_" + cs + " X'" + hex.EncodeToString(u.Value) + "' COLLATE " + quoteIdent(coll), nil
	case userVarReal:
		f := math.Float64frombits(binary.LittleEndian.Uint64(u.Value))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("USER_VAR @%s: real value %v", u.Name, f)
		}
		return lhs + strconv.FormatFloat(f, 'e', -1, 64), nil
	case userVarInt:
		v := binary.LittleEndian.Uint64(u.Value)
		if u.Unsigned {
			return lhs + strconv.FormatUint(v, 10), nil
		}
		return lhs + strconv.FormatInt(int64(v), 10), nil
	case userVarDecimal:
		d, err := decodeBinaryDecimal(u.Value[2:], int(u.Value[0]), int(u.Value[1]))
		if err != nil {
			return "", fmt.Errorf("USER_VAR @%s: %w", u.Name, err)
		}
		return lhs + d, nil
	}
	return "", fmt.Errorf("USER_VAR @%s: value type %d is not supported", u.Name, u.Type)
}

var dig2bytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// decodeBinaryDecimal renders a DECIMAL(precision, scale) in the server's
// binary format as text with exactly scale fraction digits.
func decodeBinaryDecimal(data []byte, precision, scale int) (string, error) {
	if precision <= 0 || precision > 81 || scale < 0 || scale > precision {
		return "", fmt.Errorf("decimal(%d,%d) is not valid", precision, scale)
	}
	intg := precision - scale
	intg0, intg0x, frac0, frac0x := intg/9, intg%9, scale/9, scale%9
	size := intg0*4 + dig2bytes[intg0x] + frac0*4 + dig2bytes[frac0x]
	if len(data) < size {
		return "", fmt.Errorf("decimal(%d,%d) needs %d bytes, has %d", precision, scale, size, len(data))
	}
	b := append([]byte(nil), data[:size]...)
	neg := b[0]&0x80 == 0
	b[0] ^= 0x80
	if neg {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	read := func(n int) uint64 {
		var v uint64
		for _, c := range b[:n] {
			v = v<<8 | uint64(c)
		}
		b = b[n:]
		return v
	}
	var ip strings.Builder
	if intg0x > 0 {
		ip.WriteString(strconv.FormatUint(read(dig2bytes[intg0x]), 10))
	}
	for i := 0; i < intg0; i++ {
		fmt.Fprintf(&ip, "%09d", read(4))
	}
	digits := strings.TrimLeft(ip.String(), "0")
	if digits == "" {
		digits = "0"
	}
	var out strings.Builder
	if neg {
		out.WriteByte('-')
	}
	out.WriteString(digits)
	if scale > 0 {
		out.WriteByte('.')
		for i := 0; i < frac0; i++ {
			fmt.Fprintf(&out, "%09d", read(4))
		}
		if frac0x > 0 {
			fmt.Fprintf(&out, "%0*d", frac0x, read(dig2bytes[frac0x]))
		}
	}
	return out.String(), nil
}

// randSQL renders a RAND event (two 8-byte seeds) as the SET restoring the
// seeds of the next statement's RAND().
func randSQL(b []byte) (string, error) {
	if len(b) < 16 {
		return "", fmt.Errorf("RAND event of %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("SET @@RAND_SEED1=%d, @@RAND_SEED2=%d", binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])), nil
}
