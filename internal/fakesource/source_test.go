package fakesource

import (
	"context"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mtreplica/mtreplica/internal/binlogenc"
)

const testUUID = "7e0c7a86-2b1d-11ef-9c4e-0242ac110002"

// twoFiles: binlog.000001 holds GTIDs 1-3, binlog.000002 GTID 4 (in a compressed payload).
func twoFiles(t *testing.T, s *Source) {
	sid := binlogenc.UUID(testUUID)
	enc := binlogenc.New(binlogenc.MySQL8, 1)
	f := enc.File()
	for gno := int64(1); gno <= 3; gno++ {
		f = binlogenc.Append(f, enc.GTID(binlogenc.GTID{SID: sid, GNO: gno, LastCommitted: gno - 1, SequenceNumber: gno}),
			enc.Query(binlogenc.Query{Schema: "db", SQL: "CREATE TABLE t" + string(rune('0'+gno)) + " (id INT)"}))
	}
	f = append(f, enc.Rotate("binlog.000002", 4)...)
	if err := s.AddFile("binlog.000001", f); err != nil {
		t.Fatal(err)
	}
	enc = binlogenc.New(binlogenc.MySQL8, 1)
	in := enc.Inner()
	f = binlogenc.Append(enc.File(), enc.GTID(binlogenc.GTID{SID: sid, GNO: 4, LastCommitted: 0, SequenceNumber: 1}),
		enc.TransactionPayload(in.Begin(), in.XID(9)))
	if err := s.AddFile("binlog.000002", f); err != nil {
		t.Fatal(err)
	}
}

// received streams from the source until want GTID events arrived and returns their GNOs and the files seen.
func received(t *testing.T, port uint16, set string, want int) (gnos []int64, rotates []string) {
	t.Helper()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 99, Flavor: "mysql", Host: "127.0.0.1",
		Port: port, User: User, Password: Password})
	defer syncer.Close()
	gs, err := mysql.ParseMysqlGTIDSet(set)
	if err != nil {
		t.Fatal(err)
	}
	st, err := syncer.StartSyncGTID(gs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(gnos) < want {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			t.Fatalf("after GTIDs %v: %v", gnos, err)
		}
		switch e := ev.Event.(type) {
		case *replication.GTIDEvent:
			gnos = append(gnos, e.GNO)
		case *replication.RotateEvent:
			rotates = append(rotates, string(e.NextLogName))
		}
	}
	return gnos, rotates
}

func TestServeGTIDDump(t *testing.T) {
	s := New(testUUID)
	twoFiles(t, s)
	port := s.Serve(t)
	gnos, rotates := received(t, port, "", 4)
	if len(gnos) != 4 || gnos[0] != 1 || gnos[3] != 4 {
		t.Errorf("GTIDs %v", gnos)
	}
	if len(rotates) != 2 || rotates[0] != "binlog.000001" || rotates[1] != "binlog.000002" {
		t.Errorf("rotates %v", rotates)
	}
	// A replica that has 1-2 gets 3 and 4 only.
	gnos, _ = received(t, port, testUUID+":1-2", 2)
	if len(gnos) != 2 || gnos[0] != 3 || gnos[1] != 4 {
		t.Errorf("GTIDs after 1-2: %v", gnos)
	}
	if sets := s.GTIDSets(); len(sets) != 2 || sets[1] != testUUID+":1-2" {
		t.Errorf("dump requests %v", sets)
	}
}
