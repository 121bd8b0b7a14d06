package applier

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// queryPacket is the multi-statement COM_QUERY a worker builds. It is built in
// place behind room for the packet header, so that it goes to the socket as
// it is: client.Conn.ExecuteMultiple would copy it twice (into a growing
// buffer, then into a pooled packet), and on the hot path those copies and
// their zeroing cost more than building the statements.
type queryPacket struct {
	b []byte // queryRoom bytes of room, then the statements
}

// queryRoom: the 4-byte packet header, COM_QUERY, and the two bytes a
// connection with CLIENT_QUERY_ATTRIBUTES sends before the query (no
// attributes, one parameter set).
const queryRoom = 7

// maxKeptPacket: a larger buffer is not kept for the next packet, so a large
// transaction's 4 MiB packets do not stay pinned by every worker. A full group
// (GroupBytes, 1 MiB of events, base64 in a BINLOG statement) fits.
const maxKeptPacket = 2 << 20

func (q *queryPacket) grow() {
	if len(q.b) == 0 {
		q.b = append(q.b[:0], make([]byte, queryRoom)...)
	}
}

// Len returns the length of the statements.
func (q *queryPacket) Len() int {
	if len(q.b) == 0 {
		return 0
	}
	return len(q.b) - queryRoom
}

func (q *queryPacket) WriteString(s string) (int, error) {
	q.grow()
	q.b = append(q.b, s...)
	return len(s), nil
}
func (q *queryPacket) Write(p []byte) (int, error) {
	q.grow()
	q.b = append(q.b, p...)
	return len(p), nil
}
func (q *queryPacket) WriteByte(c byte) error { q.grow(); q.b = append(q.b, c); return nil }

// sqlWriter is what SQL text is appended to: a queryPacket, or a strings.Builder.
type sqlWriter interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

// Reset empties the packet, keeping its buffer unless it grew very large.
func (q *queryPacket) Reset() {
	if cap(q.b) > maxKeptPacket {
		q.b = nil
		return
	}
	q.b = q.b[:0]
}

// String returns the statements (for tests and errors).
func (q *queryPacket) String() string {
	if len(q.b) == 0 {
		return ""
	}
	return string(q.b[queryRoom:])
}

// errUnexpectedReply: the target answered a statement with something other
// than OK or an error (a result set, a LOCAL INFILE request). The connection
// is in an unknown state.
var errUnexpectedReply = errors.New("unexpected reply from the target (a result set or a LOCAL INFILE request) to a statement applied in a batch")

// execute sends the packet on conn and calls result for each statement's
// reply in order, as ExecuteMultiple does: it stops after the first error or
// the last reply (no SERVER_MORE_RESULTS_EXISTS). The returned error is a
// connection error or errUnexpectedReply; statement errors go to result.
// The packet's bytes are changed by sending (headers of packets over 16 MiB).
func (q *queryPacket) execute(conn *client.Conn, rbuf *[]byte, result func(*mysql.Result, error)) error {
	q.grow()
	data := q.b
	if conn.HasCapability(mysql.CLIENT_QUERY_ATTRIBUTES) {
		data[4], data[5], data[6] = mysql.COM_QUERY, 0, 1
	} else {
		data = data[2:]
		data[4] = mysql.COM_QUERY
	}
	conn.ResetSequence()
	if err := conn.WritePacket(data); err != nil {
		return err
	}
	for {
		p, err := conn.ReadPacketReuseMem((*rbuf)[:0])
		if err != nil {
			return err
		}
		*rbuf = p
		if len(p) == 0 {
			return fmt.Errorf("%w: an empty packet", errUnexpectedReply)
		}
		switch p[0] {
		case mysql.OK_HEADER:
			r := conn.HandleOKPacket(p)
			result(r, nil)
			if r.Status&mysql.SERVER_MORE_RESULTS_EXISTS == 0 {
				return nil
			}
		case mysql.ERR_HEADER:
			result(nil, conn.HandleErrorPacket(bytes.Clone(p)))
			return nil
		default:
			return errUnexpectedReply
		}
	}
}
