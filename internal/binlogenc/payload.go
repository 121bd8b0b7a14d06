package binlogenc

import (
	"sync"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/klauspost/compress/zstd"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

// Inner returns an encoder for the events a TRANSACTION_PAYLOAD holds: same
// format, no checksums, log_pos 0 (MySQL writes them from the transaction
// cache before positions are known). It does not advance e's position.
func (e *Encoder) Inner() *Encoder {
	in := *e
	in.inner = true
	in.parent = e
	return &in
}

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
)

// Transaction payload fields (MySQL binary_log::codecs::binary::Transaction_payload).
const (
	payloadEndMark          = 0
	payloadSizeField        = 1
	payloadCompressionField = 2
	payloadUncompressedSize = 3
	compressionZSTD         = 0
)

// TransactionPayload returns a TRANSACTION_PAYLOAD_EVENT holding events (made
// by Inner()) compressed with zstd, as MySQL writes a transaction with
// binlog_transaction_compression=ON: the GTID event stays outside, the payload
// holds BEGIN, table maps, rows and the XID.
func (e *Encoder) TransactionPayload(events ...[]byte) []byte {
	zstdOnce.Do(func() {
		zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	})
	var plain []byte
	for _, ev := range events {
		plain = append(plain, ev...)
	}
	compressed := zstdEnc.EncodeAll(plain, nil)
	field := func(b []byte, t byte, v uint64) []byte {
		enc := appendLenEnc(nil, v)
		b = appendLenEnc(b, uint64(t))
		b = appendLenEnc(b, uint64(len(enc)))
		return append(b, enc...)
	}
	var body []byte
	body = field(body, payloadCompressionField, compressionZSTD)
	body = field(body, payloadUncompressedSize, uint64(len(plain)))
	body = field(body, payloadSizeField, uint64(len(compressed)))
	body = append(body, payloadEndMark)
	body = append(body, compressed...)
	return e.event(replication.TRANSACTION_PAYLOAD_EVENT, body)
}

// PayloadSize reads the compressed size field of a TRANSACTION_PAYLOAD_EVENT
// body (header and checksum stripped). ok is false when the header is malformed.
func PayloadSize(body []byte) (size uint64, ok bool) {
	for len(body) > 0 {
		t, n := binlogfmt.ReadLenEnc(body)
		if n == 0 {
			return 0, false
		}
		body = body[n:]
		if t == payloadEndMark {
			return size, true
		}
		l, n := binlogfmt.ReadLenEnc(body)
		if n == 0 || uint64(len(body)-n) < l {
			return 0, false
		}
		if t == payloadSizeField {
			v, m := binlogfmt.ReadLenEnc(body[n : n+int(l)])
			if m == 0 {
				return 0, false
			}
			size = v
		}
		body = body[n+int(l):]
	}
	return 0, false
}
