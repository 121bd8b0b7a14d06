package inspect

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogfmt"
)

// reader reads a binlog straight into chunk buffers (no intermediate copy).
// Buffers come back from the collector for reuse.
type reader struct {
	r    io.Reader
	o    *Options
	buf  []byte // the current chunk's buffer: [0:len) read so far
	p    int    // start of the next unparsed event in buf
	eof  bool
	err  error
	free chan []byte
}

// need makes n unparsed bytes available at buf[p:], reading more; false at the end of the input.
func (rd *reader) need(n int) bool {
	for len(rd.buf)-rd.p < n {
		if rd.eof {
			return false
		}
		if cap(rd.buf)-len(rd.buf) < max(n, rd.o.BufferSize/4) {
			nb := make([]byte, len(rd.buf), 2*cap(rd.buf)+n+rd.o.BufferSize)
			copy(nb, rd.buf)
			rd.buf = nb
		}
		want := min(cap(rd.buf)-len(rd.buf), rd.o.BufferSize)
		k, err := rd.r.Read(rd.buf[len(rd.buf) : len(rd.buf)+want])
		rd.buf = rd.buf[:len(rd.buf)+k]
		if err == io.EOF {
			rd.eof = true
		} else if err != nil {
			rd.err, rd.eof = err, true
		}
	}
	return true
}

// newBuf returns a recycled or new chunk buffer holding tail.
func (rd *reader) newBuf(tail []byte) []byte {
	var b []byte
	select {
	case b = <-rd.free:
	default:
	}
	if cap(b) < len(tail)+rd.o.ChunkSize+rd.o.BufferSize {
		b = make([]byte, 0, len(tail)+rd.o.ChunkSize+2*rd.o.BufferSize)
	}
	return append(b[:0], tail...)
}

// readChunks reads events, checks their checksums, frames them and sends
// chunks of whole transactions to out.
func readChunks(ctx context.Context, file string, r io.Reader, o *Options, rs *readState, out chan<- *chunk,
	tokens chan struct{}, free chan []byte) error {
	rd := &reader{r: r, o: o, free: free}
	rd.buf = rd.newBuf(nil)
	if !rd.need(len(binlogfmt.Magic)) || !bytes.Equal(rd.buf[:len(binlogfmt.Magic)], binlogfmt.Magic) {
		if rd.err != nil {
			return fmt.Errorf("read: %w", rd.err)
		}
		return ErrNotBinlog
	}
	rd.p = len(binlogfmt.Magic)
	fr := binlogfmt.Framer{VerifyChecksums: true}
	// MySQL's logical clock is per file: a file read from disk starts with no
	// ROTATE naming it, so name it here (a relay log's ROTATEs rename it).
	fr.SetSource(file, uint32(len(binlogfmt.Magic)))
	seq := 0
	var fde []byte
	var txns []txnSpan
	open := -1       // index of the open transaction in txns
	base := int64(0) // file offset of buf[0]
	// send hands buf[:upTo] and its transactions to a decoder and starts a new buffer with the rest.
	send := func(upTo int) error {
		if len(txns) == 0 {
			return nil
		}
		select {
		case tokens <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		c := &chunk{seq: seq, fde: fde, buf: rd.buf[:upTo], txns: txns}
		select {
		case out <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		seq++
		rd.buf = rd.newBuf(rd.buf[upTo:])
		rd.p -= upTo
		base += int64(upTo)
		txns = make([]txnSpan, 0, cap(txns))
		return nil
	}
	for {
		n := rd.p
		off := base + int64(n)
		if !rd.need(binlogfmt.HeaderLen) {
			if k := len(rd.buf) - n; k > 0 {
				rs.incomplete = fmt.Sprintf("truncated event header at offset %d (%d bytes)", off, k)
			}
			break
		}
		h, err := binlogfmt.ParseHeader(rd.buf[n:])
		if err != nil {
			return fmt.Errorf("event at offset %d: %w", off, err)
		}
		size := int(h.EventSize)
		if !rd.need(size) {
			rs.incomplete = fmt.Sprintf("truncated %s at offset %d (%d of %d bytes)", h.Type, off, len(rd.buf)-n, size)
			break
		}
		rd.p += size
		ev := rd.buf[n : n+size]
		rs.types[h.Type]++
		rs.events++
		if h.Type == replication.FORMAT_DESCRIPTION_EVENT {
			// The framer keeps parts of it; the buffer is reused.
			ev = append([]byte(nil), ev...)
		}
		frame, err := fr.Next(ev)
		if err != nil {
			return fmt.Errorf("%s at offset %d: %w", h.Type, off, err)
		}
		if frame.Abandoned && open >= 0 {
			// The source never finished it (crash, rollback mid-write): not a transaction.
			txns = txns[:open]
			open = -1
		}
		if frame.Meta {
			if h.Type == replication.FORMAT_DESCRIPTION_EVENT {
				if err := send(n); err != nil {
					return err
				}
				fde = ev
				rs.fd = fr.FormatDescription()
			}
			continue
		}
		if frame.Start {
			txns = append(txns, txnSpan{start: n, pos: off})
			open = len(txns) - 1
		}
		if open < 0 {
			return fmt.Errorf("%s at offset %d outside any transaction", h.Type, off)
		}
		t := &txns[open]
		t.events++
		switch h.Type {
		case replication.TRANSACTION_PAYLOAD_EVENT:
			t.compressed = true
		case replication.QUERY_EVENT:
			if q := binlogfmt.QueryText(fr.Body(ev), rs.fd.PostHeaderLen(replication.QUERY_EVENT, 13)); !isControl(q) {
				t.statement = true
			}
		case replication.MARIADB_QUERY_COMPRESSED_EVENT, replication.EXECUTE_LOAD_QUERY_EVENT:
			t.statement = true
		}
		if frame.End {
			t.end = n + size
			t.info = fr.Txn()
			open = -1
			if rd.p >= o.ChunkSize {
				if err := send(rd.p); err != nil {
					return err
				}
			}
		}
	}
	if rd.err != nil {
		return fmt.Errorf("read at offset %d: %w", base+int64(len(rd.buf)), rd.err)
	}
	if open >= 0 {
		if rs.incomplete == "" {
			rs.incomplete = fmt.Sprintf("the file ends inside a transaction that began at offset %d", txns[open].pos)
		}
		txns = txns[:open]
	}
	return send(rd.p)
}
