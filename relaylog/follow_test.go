package relaylog

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestFollow: a reader blocked in Next wakes when a transaction ends, never
// sees part of an open one, and never sees a discarded one.
func TestFollow(t *testing.T) {
	s := newSynth(t)
	l := mustOpen(t, Options{Dir: t.TempDir(), SegmentSize: 2000})
	r, err := l.NewReader(Position{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := within(20 * time.Millisecond)
	if _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty log: %v", err)
	}
	cancel()

	events := make(chan Event, 100)
	done := make(chan error, 1)
	go func() {
		for {
			ev, err := r.Next(context.Background())
			if err != nil {
				done <- err
				return
			}
			events <- ev
		}
	}()
	expect := func(what string, want ...[]byte) {
		t.Helper()
		for i, w := range want {
			select {
			case ev := <-events:
				if w != nil && !bytes.Equal(ev.Raw, w) {
					t.Fatalf("%s: event %d differs", what, i)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: event %d not delivered", what, i)
			}
		}
		select {
		case ev := <-events:
			t.Fatalf("%s: unexpected event at %v", what, ev.Pos)
		case <-time.After(30 * time.Millisecond):
		}
	}

	appendAll(t, l, s.preamble())
	expect("preamble") // nothing stored yet
	tx := s.txn(100)
	appendAll(t, l, tx[:4])
	expect("open transaction", nil, nil) // only the new segment's header
	if err := l.Append(tx[4]); err != nil {
		t.Fatal(err)
	}
	expect("committed transaction", tx...)

	partial := s.txn(100)
	appendAll(t, l, partial[:3])
	expect("partial transaction")
	if err := l.DiscardPartial(); err != nil {
		t.Fatal(err)
	}
	if l.w.off != l.w.boundary {
		t.Fatalf("DiscardPartial left %d bytes", l.w.off-l.w.boundary)
	}
	tx2 := s.txn(50)
	appendAll(t, l, tx2)
	expect("transaction after DiscardPartial", tx2...)

	// Another partial transaction, then the stream restarts (reconnect):
	// the receiver forgets DiscardPartial, the fake ROTATE drops it.
	appendAll(t, l, s.txn(100)[:2])
	appendAll(t, l, s.preamble())
	tx3 := s.txn(100)
	appendAll(t, l, tx3)
	expect("after reconnect", append([][]byte{nil, nil}, tx3...)...) // a new segment: reconnects start one

	// A transaction abandoned by the source (a new GTID arrives first).
	appendAll(t, l, s.txn(100)[:3])
	tx4 := s.txn(100)
	appendAll(t, l, tx4)
	expect("after an abandoned transaction", tx4...)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("reader after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader not woken by Close")
	}
	if got := l.State().Retrieved.IntervalString(); got != "0:1:3:5:7" {
		t.Errorf("Retrieved %s", got)
	}
}

// TestConcurrent runs a writer, three followers, Purge and State at once
// (run with -race). Every follower reads the same, complete stream.
func TestConcurrent(t *testing.T) {
	stream := fixtureStream(t, mariadbFiles...)
	l := mustOpen(t, Options{Dir: t.TempDir(), SegmentSize: 8 << 10, Sync: SyncPolicy{Mode: SyncInterval, Interval: time.Millisecond}})
	const n = 3
	got := make([][]Event, n)
	firstPos := make(chan Position, 1000)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		r, err := l.NewReader(Position{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				ev, err := r.Next(context.Background())
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("reader %d: %v", i, err)
					return
				}
				got[i] = append(got[i], ev)
				if i == 0 {
					select {
					case firstPos <- ev.Next:
					default:
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	var purged int
	wg.Add(1)
	go func() { // purge behind reader 0; readers 1 and 2 protect their segments
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case p := <-firstPos:
				k, err := l.Purge(p)
				if err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Purge: %v", err)
				}
				purged += k
				_ = l.State()
			}
		}
	}()
	for i, e := range stream {
		if err := l.Append(e.raw); err != nil {
			t.Fatalf("Append #%d: %v", i, err)
		}
	}
	st := l.State()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	for i := 0; i < n; i++ {
		checkStream(t, stream, got[i], st)
	}
	t.Logf("%d segments, %d purged while reading", len(st.Segments)+purged, purged)
}
