package relaylog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

// segment is one segment file of the log. num, name and the index metadata
// are set when the segment is created (or at Open); the writer may rewrite
// srcFile/srcPos of an empty segment when it writes its header. All fields
// that change are guarded by Log.mu.
type segment struct {
	num  uint64
	name string

	srcFile string // source binlog file of the segment's first event
	srcPos  uint32 // source position of the segment's first event
	// meta: the fields below are known (recorded in the index).
	meta      bool
	flavor    gtid.Flavor
	retrieved string // IntervalString of the GTIDs retrieved before this segment
	servers   string // MariaDB: "domain:server_id,..." for the highest GTID of each domain
	lastGTID  string // the last GTID retrieved before this segment

	size   int64 // published bytes (the whole file once sealed)
	sealed bool  // a newer segment exists: size is final
}

func (s *segment) info() SegmentInfo {
	return SegmentInfo{Name: s.name, Number: s.num, Size: s.size, SourceFile: s.srcFile, SourcePos: s.srcPos, Retrieved: s.retrieved}
}

// setBefore records the GTID state retrieved before the segment.
func (s *segment) setBefore(set *gtid.Set, last gtid.GTID) {
	s.meta = true
	s.flavor = set.Flavor
	s.retrieved, s.servers = encodeSet(set)
	s.lastGTID = last.String()
}

// before decodes the GTID state retrieved before the segment.
func (s *segment) before() (*gtid.Set, gtid.GTID, error) {
	set, err := decodeSet(s.flavor, s.retrieved, s.servers)
	if err != nil {
		return nil, gtid.GTID{}, err
	}
	var last gtid.GTID
	if s.lastGTID != "" {
		if last, err = gtid.Parse(s.lastGTID); err != nil {
			return nil, gtid.GTID{}, err
		}
	}
	return set, last, nil
}

func encodeSet(s *gtid.Set) (retrieved, servers string) {
	var b strings.Builder
	for _, k := range s.Streams() {
		if id := s.ServerID(k); id != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s:%d", k, id)
		}
	}
	return s.IntervalString(), b.String()
}

func decodeSet(f gtid.Flavor, retrieved, servers string) (*gtid.Set, error) {
	set := gtid.NewSet(f)
	if retrieved != "" {
		if f == 0 {
			return nil, errors.New("GTID set without a flavor")
		}
		var err error
		if set, err = gtid.ParseSet(f, retrieved); err != nil {
			return nil, err
		}
	}
	for _, p := range strings.Split(servers, ",") {
		if p == "" {
			continue
		}
		i := strings.LastIndexByte(p, ':')
		id, err := strconv.ParseUint(p[i+1:], 10, 32)
		if i <= 0 || err != nil {
			return nil, fmt.Errorf("bad server id entry %q", p)
		}
		set.SetServerID(p[:i], uint32(id))
	}
	return set, nil
}

// The index file lists the segments, oldest first, one per line:
//
//	relay-bin.000002<TAB>source=mysql-bin.000007:1234<TAB>flavor=mariadb<TAB>retrieved=0:1-17,1:1-4<TAB>servers=0:1,1:2<TAB>last=0-1-17
//
// Only the name is required; unknown keys are ignored.
func encodeIndex(segs []*segment) []byte {
	var b bytes.Buffer
	for _, s := range segs {
		b.WriteString(s.name)
		if s.srcFile != "" && clean(s.srcFile) {
			fmt.Fprintf(&b, "\tsource=%s:%d", s.srcFile, s.srcPos)
		}
		if s.meta && s.flavor != 0 {
			fmt.Fprintf(&b, "\tflavor=%s\tretrieved=%s", s.flavor, s.retrieved)
			if s.servers != "" {
				fmt.Fprintf(&b, "\tservers=%s", s.servers)
			}
			if s.lastGTID != "" {
				fmt.Fprintf(&b, "\tlast=%s", s.lastGTID)
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func clean(s string) bool { return !strings.ContainsAny(s, "\t\n\r") }

// decodeIndex parses an index file. Metadata it cannot parse is dropped (the
// log rescans segments to rebuild it); a bad segment name is an error.
func decodeIndex(data []byte, base string) (segs []*segment, warnings []string, err error) {
	off := 0
	for _, line := range strings.SplitAfter(string(data), "\n") {
		lineOff := off
		off += len(line)
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		name := filepath.Base(strings.TrimSpace(fields[0])) // MySQL writes "./relay-bin.000001"
		num, ok := parseSegmentName(base, name)
		if !ok {
			return nil, nil, &CorruptionError{Segment: base + ".index", Offset: int64(lineOff), Err: fmt.Errorf("bad segment name %q", fields[0])}
		}
		if len(segs) > 0 && num <= segs[len(segs)-1].num {
			return nil, nil, &CorruptionError{Segment: base + ".index", Offset: int64(lineOff), Err: fmt.Errorf("segment %s out of order", name)}
		}
		s := &segment{num: num, name: name}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "source":
				i := strings.LastIndexByte(v, ':')
				p, err := strconv.ParseUint(v[i+1:], 10, 32)
				if i <= 0 || err != nil {
					warnings = append(warnings, fmt.Sprintf("%s: bad source %q", name, v))
					continue
				}
				s.srcFile, s.srcPos = v[:i], uint32(p)
			case "flavor":
				fl, err := gtid.ParseFlavor(v)
				if err != nil {
					warnings = append(warnings, fmt.Sprintf("%s: %v", name, err))
					continue
				}
				s.flavor, s.meta = fl, true
			case "retrieved":
				s.retrieved = v
			case "servers":
				s.servers = v
			case "last":
				s.lastGTID = v
			}
		}
		if s.meta {
			if _, _, err := s.before(); err != nil {
				warnings = append(warnings, fmt.Sprintf("%s: bad GTID metadata: %v", name, err))
				s.meta, s.flavor, s.retrieved, s.servers, s.lastGTID = false, 0, "", "", ""
			}
		}
		segs = append(segs, s)
	}
	return segs, warnings, nil
}

// writeFileDurably replaces path with data: tmp -> fsync -> rename -> fsync(dir).
func writeFileDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readIndex reads the index; exists is false when there is none.
func readIndex(path, base string) (segs []*segment, warnings []string, exists bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read relay log index: %w", err)
	}
	segs, warnings, err = decodeIndex(data, base)
	return segs, warnings, true, err
}
