package gtid

import (
	"testing"

	"pgregory.net/rapid"
)

func TestParseAndString(t *testing.T) {
	for _, in := range []string{"0-1-42", "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", "3e11fa47-71ca-11e1-9e33-c80aa9429562:tag1:5"} {
		g, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if g.String() != in {
			t.Errorf("round trip %q -> %q", in, g.String())
		}
	}
	for _, bad := range []string{"", "x", "0-1", "uuid:0", "a-b-c"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestSetMariaDB(t *testing.T) {
	s := NewSet(MariaDB)
	for _, seq := range []uint64{1, 2, 3, 5} {
		s.Add(MariaDBGTID(0, 7, seq))
	}
	s.Add(MariaDBGTID(1, 8, 1))
	if got := s.IntervalString(); got != "0:1-3:5,1:1" {
		t.Fatalf("IntervalString = %q", got)
	}
	if got := s.String(); got != "0-7-5,1-8-1" {
		t.Fatalf("String = %q", got)
	}
	if s.Contains(MariaDBGTID(0, 7, 4)) || !s.Contains(MariaDBGTID(0, 9, 3)) {
		t.Fatal("Contains wrong")
	}
	s.Add(MariaDBGTID(0, 7, 4))
	if got := s.IntervalString(); got != "0:1-5,1:1" {
		t.Fatalf("after fill = %q", got)
	}
	p, err := ParseSet(MariaDB, "0-7-5,1-8-1")
	if err != nil || !p.Equal(s) {
		t.Fatalf("ParseSet = %v, %v", p, err)
	}
	p2, err := ParseSet(MariaDB, s.IntervalString())
	if err != nil || !p2.Equal(s) {
		t.Fatalf("ParseSet exact = %v, %v", p2, err)
	}
}

func TestSetMySQL(t *testing.T) {
	in := "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,3e11fa47-71ca-11e1-9e33-c80aa9429562:tag:1-2"
	s, err := ParseSet(MySQL, in)
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != in {
		t.Fatalf("String = %q", s.String())
	}
	if !s.Contains(MySQLGTID("3E11FA47-71CA-11E1-9E33-C80AA9429562", "", 7)) {
		t.Fatal("Contains is not case-insensitive")
	}
}

// TestSetProperty checks Set against a map oracle for random additions.
func TestSetProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := NewSet(MariaDB)
		oracle := map[uint64]bool{}
		n := rapid.IntRange(0, 60).Draw(t, "n")
		for i := 0; i < n; i++ {
			a := rapid.Uint64Range(1, 40).Draw(t, "a")
			b := rapid.Uint64Range(a, a+rapid.Uint64Range(0, 5).Draw(t, "len")).Draw(t, "b")
			s.AddInterval("0", Interval{a, b})
			for x := a; x <= b; x++ {
				oracle[x] = true
			}
		}
		for x := uint64(0); x <= 50; x++ {
			if s.Contains(MariaDBGTID(0, 1, x)) != oracle[x] {
				t.Fatalf("Contains(%d) = %v, want %v; set %s", x, !oracle[x], oracle[x], s.IntervalString())
			}
		}
		iv := s.Intervals("0")
		for i := 1; i < len(iv); i++ {
			if iv[i].Start <= iv[i-1].End+1 {
				t.Fatalf("intervals not normalised: %v", iv)
			}
		}
	})
}

func BenchmarkSetAddInOrder(b *testing.B) {
	s := NewSet(MariaDB)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Add(MariaDBGTID(0, 1, uint64(i+1)))
	}
}
