package relaylog

import (
	"errors"
	"testing"
)

// TestOpenLocksDirectory: a second Log on the same directory is refused
// while the first is open, and allowed once it is closed.
func TestOpenLocksDirectory(t *testing.T) {
	o := Options{Dir: t.TempDir()}
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if l2, err := Open(o); !errors.Is(err, ErrLocked) {
		if l2 != nil {
			l2.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l3, err := Open(o)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	l3.Close()
}
