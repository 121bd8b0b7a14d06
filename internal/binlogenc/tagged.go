package binlogenc

import (
	"encoding/binary"

	"github.com/go-mysql-org/go-mysql/replication"
)

// taggedGTID encodes a GTID_TAGGED_LOG_EVENT (MySQL 8.4+) in MySQL's
// mysql::serialization format, as go-mysql decodes it: a message header
// (format version, size, last non-ignorable field), then numbered fields;
// optional fields equal to their defaults are left out.
func taggedGTID(g GTID) []byte {
	var f []byte
	field := func(id byte) { f = append(f, id<<1) }
	field(0)
	f = appendFixed(f, []byte{g.CommitFlag})
	field(1)
	f = appendFixed(f, g.SID[:])
	field(2)
	f = appendVarInt(f, g.GNO)
	field(3)
	f = append(append(f, byte(len(g.Tag))<<1), g.Tag...)
	field(4)
	f = appendVarInt(f, g.LastCommitted)
	field(5)
	f = appendVarInt(f, g.SequenceNumber)
	imm, orig := micros(g.ImmediateCommit), micros(g.OriginalCommit)
	field(6)
	f = appendVarUint(f, imm)
	if orig != 0 && orig != imm {
		field(7)
		f = appendVarUint(f, orig)
	}
	field(8)
	f = appendVarUint(f, g.TransactionLength)
	v := g.ServerVersion
	if v == 0 {
		v = 90600
	}
	field(9)
	f = appendVarUint(f, uint64(v))
	// Header: format version 1, the size of the whole message, the last
	// non-ignorable field (0), as MySQL 9.6 writes them.
	size := uint64(len(f) + 3)
	if size >= 1<<7 {
		size++ // the size itself takes two bytes
	}
	msg := []byte{1 << 1}
	msg = appendVarUint(msg, size)
	msg = append(msg, 0)
	return append(msg, f...)
}

// appendFixed writes a fixed-length integer's bytes: below 0x80 one byte
// (b<<1), else two bytes ((b&0x3f)<<2|1, b>>6).
func appendFixed(b, v []byte) []byte {
	for _, x := range v {
		if x < 0x80 {
			b = append(b, x<<1)
		} else {
			b = append(b, (x&0x3f)<<2|1, x>>6)
		}
	}
	return b
}

// appendVarUint writes MySQL's varlen_integer_format: n-1 trailing one bits
// then a zero in the first byte say the value takes n bytes (values below 2^56).
func appendVarUint(b []byte, v uint64) []byte {
	n := 1
	for n < 8 && v >= 1<<(7*n) {
		n++
	}
	t := v<<n | (1<<(n-1) - 1)
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], t)
	return append(b, buf[:n]...)
}

func appendVarInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendVarUint(b, uint64(v)<<1)
	}
	return appendVarUint(b, uint64(-(v+1))<<1|1)
}

// taggedType is the event type of a tagged GTID.
const taggedType = replication.GTID_TAGGED_LOG_EVENT
