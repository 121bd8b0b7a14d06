package replica

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionWarning(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, c := range []struct {
		name string
		st   Status
		warn bool
	}{
		{"no retention", Status{LastEventTimestamp: now.Add(-100 * time.Hour)}, false},
		{"nothing received", Status{ExpireLogsSeconds: 3600}, false},
		{"well within", Status{ExpireLogsSeconds: 3600, LastEventTimestamp: now.Add(-10 * time.Minute), LastEventTime: now}, false},
		{"half the retention behind", Status{ExpireLogsSeconds: 3600, LastEventTimestamp: now.Add(-31 * time.Minute), LastEventTime: now}, true},
		{"caught up since (heartbeat after the event)", Status{ExpireLogsSeconds: 3600, LastEventTimestamp: now.Add(-2 * time.Hour),
			LastEventTime: now.Add(-time.Minute), LastHeartbeat: now.Add(-time.Second)}, false},
		{"disconnected for long since the last heartbeat", Status{ExpireLogsSeconds: 3600, LastEventTimestamp: now.Add(-3 * time.Hour),
			LastEventTime: now.Add(-3 * time.Hour), LastHeartbeat: now.Add(-40 * time.Minute)}, true},
	} {
		w := retentionWarning(c.st, now)
		if (w != "") != c.warn {
			t.Errorf("%s: warning %q, want %v", c.name, w, c.warn)
		}
		if w != "" && !strings.Contains(w, "binlog_expire_logs_seconds") {
			t.Errorf("%s: warning does not name the setting: %q", c.name, w)
		}
	}
}
