package relaylog
import ("testing";"os")
func TestZZInspect(t *testing.T){
	os.RemoveAll("/tmp/rl-inspect")
	l := mustOpen(t, Options{Dir: "/tmp/rl-inspect", SegmentSize: 16<<10})
	appendAll(t, l, raws(fixtureStream(t, mariadbFiles...)))
	l.Close()
	os.RemoveAll("/tmp/rl-inspect2")
	l = mustOpen(t, Options{Dir: "/tmp/rl-inspect2", SegmentSize: 1<<10})
	appendAll(t, l, raws(fixtureStream(t, mysql8Files...)))
	l.Close()
}
