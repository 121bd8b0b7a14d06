package relaylog

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestTailCache: a reader that keeps up with the writer takes the
// transactions from memory (hits), and reads exactly what was written; a
// reader opened later on the same bytes reads them from the file (misses).
func TestTailCache(t *testing.T) {
	s := newSynth(t)
	l := mustOpen(t, Options{Dir: t.TempDir(), SegmentSize: 1 << 20})
	defer l.Close()
	r, err := l.NewReader(Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	appendAll(t, l, s.preamble())
	next := func(r *Reader) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ev, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Raw
	}
	var written [][]byte
	for i := 0; i < 50; i++ {
		tx := s.txn(200 + i)
		appendAll(t, l, tx)
		written = append(written, tx...)
		if i == 0 {
			next(r) // the segment header: FORMAT_DESCRIPTION, ROTATE
			next(r)
		}
		for _, want := range tx {
			if got := next(r); !bytes.Equal(got, want) {
				t.Fatalf("transaction %d: the reader read different bytes", i)
			}
		}
	}
	hit, miss := counterValue(l.m.cacheHit), counterValue(l.m.cacheMiss)
	if hit == 0 || hit < 10*miss {
		t.Fatalf("a following reader: %v bytes from the cache, %v from the file; want mostly the cache", hit, miss)
	}

	late, err := l.NewReader(Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	next(late)
	next(late)
	for i, want := range written {
		if got := next(late); !bytes.Equal(got, want) {
			t.Fatalf("late reader, event %d differs", i)
		}
	}
	if m := counterValue(l.m.cacheMiss); m <= miss {
		t.Fatalf("a late reader should read the file: misses %v -> %v", miss, m)
	}
}

// TestTailCacheBounds: the cache keeps at most tailCacheSize bytes, the newest.
func TestTailCacheBounds(t *testing.T) {
	var c tailCache
	chunk := bytes.Repeat([]byte{1}, 100<<10)
	off := int64(100)
	for i := 0; i < 100; i++ {
		c.add(1, off, chunk, int64(len(chunk)))
		off += int64(len(chunk))
		if len(c.buf) > tailCacheSize {
			t.Fatalf("cache holds %d bytes", len(c.buf))
		}
	}
	if c.get(1, off-int64(len(chunk)), off) == nil {
		t.Fatal("the newest bytes are not cached")
	}
	if c.get(1, 100, 200) != nil || c.get(2, off-10, off) != nil {
		t.Fatal("old bytes or another segment served")
	}
	c.add(1, off, nil, 10) // bytes no longer in memory: restart after them
	if c.get(1, off-10, off) != nil || c.start != off+10 {
		t.Fatalf("after a gap: start %d", c.start)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
