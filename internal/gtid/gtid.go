package gtid

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Flavor is the source server family.
type Flavor uint8

const (
	MariaDB Flavor = iota + 1
	MySQL
)

func (f Flavor) String() string {
	switch f {
	case MariaDB:
		return "mariadb"
	case MySQL:
		return "mysql"
	}
	return "unknown"
}

// ParseFlavor accepts "mariadb" or "mysql" (any case).
func ParseFlavor(s string) (Flavor, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "mariadb":
		return MariaDB, nil
	case "mysql":
		return MySQL, nil
	}
	return 0, fmt.Errorf("unknown flavor %q: use mariadb or mysql", s)
}

// GTID identifies one source transaction. The zero value means "no GTID"
// (an anonymous transaction, identified by its source file and position instead).
type GTID struct {
	Flavor   Flavor
	Stream   string // MariaDB: domain id in decimal; MySQL: lowercase UUID, or UUID:tag
	ServerID uint32 // MariaDB only: the server that wrote it
	Seq      uint64 // MariaDB seq_no or MySQL gno
}

// IsZero reports whether g is the zero GTID (anonymous transaction).
func (g GTID) IsZero() bool { return g.Flavor == 0 }

// Domain returns the MariaDB domain id of g (0 for MySQL GTIDs).
func (g GTID) Domain() uint32 {
	if g.Flavor != MariaDB {
		return 0
	}
	d, _ := strconv.ParseUint(g.Stream, 10, 32)
	return uint32(d)
}

// MariaDBGTID builds a MariaDB GTID.
func MariaDBGTID(domain, serverID uint32, seq uint64) GTID {
	return GTID{Flavor: MariaDB, Stream: strconv.FormatUint(uint64(domain), 10), ServerID: serverID, Seq: seq}
}

// MySQLGTID builds a MySQL GTID; tag may be empty.
func MySQLGTID(uuid, tag string, gno uint64) GTID {
	s := strings.ToLower(uuid)
	if tag != "" {
		s += ":" + strings.ToLower(tag)
	}
	return GTID{Flavor: MySQL, Stream: s, Seq: gno}
}

func (g GTID) String() string {
	switch g.Flavor {
	case MariaDB:
		return fmt.Sprintf("%s-%d-%d", g.Stream, g.ServerID, g.Seq)
	case MySQL:
		return fmt.Sprintf("%s:%d", g.Stream, g.Seq)
	}
	return ""
}

// Parse parses one GTID in either flavor's syntax: "0-1-42" or "uuid:42" or "uuid:tag:42".
func Parse(s string) (GTID, error) {
	s = strings.TrimSpace(s)
	if strings.Count(s, "-") == 2 && !strings.Contains(s, ":") {
		p := strings.Split(s, "-")
		d, err1 := strconv.ParseUint(p[0], 10, 32)
		sid, err2 := strconv.ParseUint(p[1], 10, 32)
		seq, err3 := strconv.ParseUint(p[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return GTID{}, fmt.Errorf("parse MariaDB GTID %q: %w", s, err)
		}
		return MariaDBGTID(uint32(d), uint32(sid), seq), nil
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return GTID{}, fmt.Errorf("parse GTID %q: want domain-server-seq or uuid[:tag]:gno", s)
	}
	gno, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || gno == 0 {
		return GTID{}, fmt.Errorf("parse MySQL GTID %q: bad gno", s)
	}
	return GTID{Flavor: MySQL, Stream: strings.ToLower(s[:i]), Seq: gno}, nil
}

// Interval is a closed range of sequence numbers [Start, End].
type Interval struct{ Start, End uint64 }

// Set is a set of GTIDs: closed, sorted, non-adjacent intervals per stream.
// The zero value is not usable: call NewSet. A Set is not safe for concurrent use.
type Set struct {
	Flavor  Flavor
	streams map[string][]Interval
	servers map[string]uint32 // MariaDB: server id of the highest GTID added per domain
}

// NewSet returns an empty set of the given flavor.
func NewSet(f Flavor) *Set {
	return &Set{Flavor: f, streams: map[string][]Interval{}, servers: map[string]uint32{}}
}

// Clone returns a deep copy.
func (s *Set) Clone() *Set {
	c := NewSet(s.Flavor)
	for k, v := range s.streams {
		c.streams[k] = append([]Interval(nil), v...)
	}
	for k, v := range s.servers {
		c.servers[k] = v
	}
	return c
}

// Empty reports whether the set holds nothing.
func (s *Set) Empty() bool { return len(s.streams) == 0 }

// Streams returns the stream keys in sorted order.
func (s *Set) Streams() []string {
	keys := make([]string, 0, len(s.streams))
	for k := range s.streams {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, ea := strconv.ParseUint(keys[i], 10, 64)
		b, eb := strconv.ParseUint(keys[j], 10, 64)
		if ea == nil && eb == nil {
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}

// Intervals returns a copy of the intervals of one stream.
func (s *Set) Intervals(stream string) []Interval {
	return append([]Interval(nil), s.streams[stream]...)
}

// Contains reports whether g is in the set.
func (s *Set) Contains(g GTID) bool {
	iv := s.streams[g.Stream]
	i := sort.Search(len(iv), func(i int) bool { return iv[i].End >= g.Seq })
	return i < len(iv) && iv[i].Start <= g.Seq
}

// Add adds g to the set.
func (s *Set) Add(g GTID) {
	if g.IsZero() {
		return
	}
	s.AddInterval(g.Stream, Interval{g.Seq, g.Seq})
	if g.Flavor == MariaDB {
		if last, ok := s.Last(g.Stream); ok && last == g.Seq {
			s.servers[g.Stream] = g.ServerID
		}
	}
}

// AddInterval adds [iv.Start, iv.End] to one stream.
func (s *Set) AddInterval(stream string, iv Interval) {
	if iv.End < iv.Start {
		return
	}
	cur := s.streams[stream]
	// Fast path, once per transaction in order: extend or follow the last interval in place.
	if n := len(cur); n > 0 && iv.Start > cur[n-1].Start && cur[n-1].End != ^uint64(0) {
		last := &cur[n-1]
		switch {
		case iv.Start <= last.End+1:
			last.End = max(last.End, iv.End)
			return
		default:
			s.streams[stream] = append(cur, iv)
			return
		}
	}
	out := make([]Interval, 0, len(cur)+1)
	i := 0
	for ; i < len(cur) && cur[i].End+1 < iv.Start && cur[i].End != ^uint64(0); i++ {
		out = append(out, cur[i])
	}
	for ; i < len(cur) && cur[i].Start <= iv.End+1 || (i < len(cur) && iv.End == ^uint64(0)); i++ {
		if cur[i].Start < iv.Start {
			iv.Start = cur[i].Start
		}
		if cur[i].End > iv.End {
			iv.End = cur[i].End
		}
	}
	out = append(out, iv)
	out = append(out, cur[i:]...)
	s.streams[stream] = out
}

// Union adds every GTID of o to s.
func (s *Set) Union(o *Set) {
	for k, ivs := range o.streams {
		for _, iv := range ivs {
			s.AddInterval(k, iv)
		}
		if sid, ok := o.servers[k]; ok {
			if ol, _ := o.Last(k); ol >= s.lastOr0(k) {
				s.servers[k] = sid
			}
		}
	}
}

func (s *Set) lastOr0(stream string) uint64 { l, _ := s.Last(stream); return l }

// Last returns the highest sequence number of a stream.
func (s *Set) Last(stream string) (uint64, bool) {
	iv := s.streams[stream]
	if len(iv) == 0 {
		return 0, false
	}
	return iv[len(iv)-1].End, true
}

// ServerID returns the server id recorded for a MariaDB domain's highest GTID.
func (s *Set) ServerID(stream string) uint32 { return s.servers[stream] }

// SetServerID records the server id of the highest GTID of a MariaDB domain.
func (s *Set) SetServerID(stream string, id uint32) { s.servers[stream] = id }

// Equal reports whether both sets hold the same GTIDs.
func (s *Set) Equal(o *Set) bool {
	if len(s.streams) != len(o.streams) {
		return false
	}
	for k, a := range s.streams {
		b := o.streams[k]
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
	}
	return true
}

// String prints the set in its flavor's syntax. For MariaDB it prints the
// highest GTID of each domain (a MariaDB GTID position), which is exact only when
// every domain is contiguous from 1 or its holes are known to be filled; use
// IntervalString for the exact content.
func (s *Set) String() string {
	if s.Flavor == MariaDB {
		parts := make([]string, 0, len(s.streams))
		for _, k := range s.Streams() {
			last, _ := s.Last(k)
			parts = append(parts, fmt.Sprintf("%s-%d-%d", k, s.servers[k], last))
		}
		return strings.Join(parts, ",")
	}
	return s.IntervalString()
}

// IntervalString prints every stream with its intervals: "key:1-5:7".
func (s *Set) IntervalString() string {
	parts := make([]string, 0, len(s.streams))
	for _, k := range s.Streams() {
		var b strings.Builder
		b.WriteString(k)
		for _, iv := range s.streams[k] {
			if iv.Start == iv.End {
				fmt.Fprintf(&b, ":%d", iv.Start)
			} else {
				fmt.Fprintf(&b, ":%d-%d", iv.Start, iv.End)
			}
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}

// ParseSet parses a set in the flavor's syntax. MariaDB: "0-1-5,1-2-9" (each
// domain taken as 1..seq, as a GTID position means) or the exact IntervalString
// form "0:1-5:7". MySQL: "uuid:1-5:7,uuid2:tag:1-3".
func ParseSet(f Flavor, str string) (*Set, error) {
	s := NewSet(f)
	str = strings.TrimSpace(str)
	if str == "" {
		return s, nil
	}
	for _, part := range strings.Split(str, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if f == MariaDB && !strings.Contains(part, ":") {
			g, err := Parse(part)
			if err != nil {
				return nil, err
			}
			if g.Flavor != MariaDB {
				return nil, fmt.Errorf("parse GTID set %q: %q is not a MariaDB GTID", str, part)
			}
			s.AddInterval(g.Stream, Interval{1, g.Seq})
			s.servers[g.Stream] = g.ServerID
			continue
		}
		fields := strings.Split(part, ":")
		// stream key: everything up to the first field that starts with a digit range,
		// after the UUID (MySQL) or the domain (MariaDB exact form).
		n := 1
		if f == MySQL {
			for n < len(fields) && !isRange(fields[n]) {
				n++
			}
		}
		key := strings.ToLower(strings.Join(fields[:n], ":"))
		if len(fields) == n {
			return nil, fmt.Errorf("parse GTID set %q: %q has no intervals", str, part)
		}
		for _, r := range fields[n:] {
			iv, err := parseRange(r)
			if err != nil {
				return nil, fmt.Errorf("parse GTID set %q: %w", str, err)
			}
			s.AddInterval(key, iv)
		}
	}
	return s, nil
}

func isRange(s string) bool {
	if s == "" {
		return false
	}
	return s[0] >= '0' && s[0] <= '9' && strings.Trim(s, "0123456789-") == ""
}

func parseRange(r string) (Interval, error) {
	a, b, found := strings.Cut(r, "-")
	start, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return Interval{}, fmt.Errorf("bad interval %q", r)
	}
	end := start
	if found {
		if end, err = strconv.ParseUint(b, 10, 64); err != nil || end < start {
			return Interval{}, fmt.Errorf("bad interval %q", r)
		}
	}
	return Interval{start, end}, nil
}
