package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

// streamBatchBytes bounds the raw bytes of one batch of a streamed
// transaction's events handed to the filter and the worker.
const streamBatchBytes = 1 << 20

// EventStream reads a streamed transaction's events again from the relay log,
// decoded, in batches of bounded size, so that a transaction of any size is
// applied in bounded memory.
type EventStream struct {
	t      *Txn
	src    SourceCloser
	parser *replication.BinlogParser
	done   bool
	batch  []*replication.BinlogEvent
}

// OpenEvents opens a reader of a Streamed transaction's events; the caller
// closes it. Each call reads them from the start again (a retry).
func (t *Txn) OpenEvents() (*EventStream, error) {
	if !t.Streamed {
		return nil, fmt.Errorf("%s is held in memory, not streamed", t.ID())
	}
	if t.open == nil {
		return nil, fmt.Errorf("%s: streamed transaction without a relay log to read it from", t.ID())
	}
	src, err := t.open(t.Start)
	if err != nil {
		return nil, fmt.Errorf("read %s again from the relay log at %s: %w", t.ID(), t.Start, err)
	}
	p := replication.NewBinlogParser()
	p.SetUseDecimal(true)
	p.SetParseTime(false)
	p.SetTimestampStringLocation(time.UTC)
	p.SetVerifyChecksum(false)
	p.SetFlavor(t.flavor)
	if len(t.fde) > 0 {
		if _, err := p.Parse(t.fde); err != nil {
			src.Close()
			return nil, fmt.Errorf("%s: format description: %w", t.ID(), err)
		}
	}
	return &EventStream{t: t, src: src, parser: p}, nil
}

// Next returns the next batch of events (at most about 1 MiB of raw events,
// after the coordinator's filter), or io.EOF after the last. The batch is
// valid until the next call.
func (s *EventStream) Next(ctx context.Context) ([]*replication.BinlogEvent, error) {
	s.batch = s.batch[:0]
	var size int
	for !s.done && size < streamBatchBytes {
		ev, err := s.src.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read %s again from the relay log: %w", s.t.ID(), err)
		}
		if ev.Pos.Less(s.t.Start) {
			continue // the segment header a reader starts with; t.fde is the format in force
		}
		if !ev.Pos.Less(s.t.Next) {
			return nil, fmt.Errorf("read %s again from the relay log: event at %s is outside the transaction [%s, %s)", s.t.ID(), ev.Pos, s.t.Start, s.t.Next)
		}
		s.done = ev.Next == s.t.Next
		size += len(ev.Raw)
		decoded, err := s.decode(ev.Raw)
		if err != nil {
			return nil, fmt.Errorf("decode %s at relay log %s: %w", s.t.ID(), ev.Pos, err)
		}
		if tp, ok := decoded.Event.(*replication.TransactionPayloadEvent); ok {
			s.batch = append(s.batch, tp.Events...)
		} else {
			s.batch = append(s.batch, decoded)
		}
	}
	if len(s.batch) == 0 && s.done {
		return nil, io.EOF
	}
	if s.t.filter != nil {
		part := &Txn{Seq: s.t.Seq, Info: s.t.Info, Events: s.batch, Start: s.t.Start, Next: s.t.Next}
		s.t.filter(part)
		s.batch = part.Events
	}
	return s.batch, nil
}

func (s *EventStream) decode(raw []byte) (e *replication.BinlogEvent, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("malformed event: %v", r)
		}
	}()
	return s.parser.Parse(raw)
}

// Close closes the relay log reader.
func (s *EventStream) Close() error { return s.src.Close() }
