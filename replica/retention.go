package replica

import (
	"fmt"
	"time"
)

// retentionFraction: warn once the receiver's position is older than this
// fraction of the source's binlog retention.
const retentionFraction = 0.5

// positionAge is how old the source binlog position the receiver needs next
// is: now minus the source timestamp of the last event received, or minus
// the last heartbeat when one came after it (a heartbeat means the source had
// nothing more to send: the receiver was caught up then). Zero when nothing
// was received yet.
func positionAge(st Status, now time.Time) time.Duration {
	ref := st.LastEventTimestamp
	if !st.LastHeartbeat.IsZero() && st.LastHeartbeat.After(st.LastEventTime) {
		ref = st.LastHeartbeat
	}
	if ref.IsZero() {
		return 0
	}
	return max(0, now.Sub(ref))
}

// retentionWarning returns the warning for Status.RetentionWarning, "" when
// the position is well within the source's retention.
func retentionWarning(st Status, now time.Time) string {
	if st.ExpireLogsSeconds <= 0 {
		return ""
	}
	ret := time.Duration(st.ExpireLogsSeconds) * time.Second
	age := positionAge(st, now)
	if age < time.Duration(float64(ret)*retentionFraction) {
		return ""
	}
	return fmt.Sprintf("the receiver is %v behind and the source purges binlogs after %v (binlog_expire_logs_seconds): "+
		"a binlog it still needs may be purged soon; fix the receiver's connection or raise the source's retention",
		age.Truncate(time.Second), ret)
}

// checkRetention logs the retention warning when it appears (once until it
// clears). Called on every event and before every reconnect.
func (c *Client) checkRetention() {
	c.mu.Lock()
	w := retentionWarning(c.st, c.now())
	fresh := w != "" && !c.retentionWarned
	c.retentionWarned = w != ""
	c.mu.Unlock()
	if fresh {
		c.log.Warn("binlog retention close to the receiver's lag", "warning", w)
	}
}
