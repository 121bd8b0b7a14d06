package relaylog

import (
	"context"
	"errors"
	"testing"
)

// sysbenchTxns returns n transactions of sysbench-sized events: a row event
// of ~300 bytes with its GTID, BEGIN, TABLE_MAP and XID.
func sysbenchTxns(b *testing.B, s *synth, n int) ([][][]byte, int64) {
	txns := make([][][]byte, n)
	var size int64
	for i := range txns {
		txns[i] = s.txn(280)
		for _, ev := range txns[i] {
			size += int64(len(ev))
		}
	}
	return txns, size / int64(n)
}

// BenchmarkAppend appends sysbench-sized transactions; one op is one
// transaction (5 events, ~470 bytes).
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []SyncMode{SyncNever, SyncInterval, SyncEveryTxn} {
		b.Run("sync="+mode.String(), func(b *testing.B) {
			s := newSynth(b)
			l := mustOpen(b, Options{Dir: b.TempDir(), Sync: SyncPolicy{Mode: mode}})
			defer l.Close()
			appendAll(b, l, s.preamble())
			txns, size := sysbenchTxns(b, s, 4096)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, ev := range txns[i%len(txns)] {
					if err := l.Append(ev); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
		})
	}
}

// BenchmarkRead reads a log of 20k sysbench-sized transactions from the
// start; one op reads the whole log.
func BenchmarkRead(b *testing.B) {
	s := newSynth(b)
	l := mustOpen(b, Options{Dir: b.TempDir(), SegmentSize: 4 << 20, Sync: SyncPolicy{Mode: SyncNever}})
	defer l.Close()
	appendAll(b, l, s.preamble())
	txns, _ := sysbenchTxns(b, s, 20000)
	for _, tx := range txns {
		appendAll(b, l, tx)
	}
	st := l.State()
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	events := 0
	for i := 0; i < b.N; i++ {
		r, err := l.NewReader(Position{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Next(ctx)
			if errors.Is(err, context.Canceled) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			events++
		}
		r.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
