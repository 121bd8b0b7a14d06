package relaylog

// tailCacheSize bounds the bytes the tail cache holds.
const tailCacheSize = 4 << 20

// tailCache holds the newest published bytes of the segment being written, so
// that a reader following the writer takes them from memory instead of the
// file (the idea of Aurora's binlog I/O cache). Guarded by Log.mu. Bytes in
// buf are never changed once added: add appends (or starts a new slice), so a
// reader may keep a slice of it without the lock.
type tailCache struct {
	seg   uint64
	start int64  // segment offset of buf[0]
	buf   []byte // bytes [start, start+len(buf)) of segment seg
}

// add records the published bytes [from, from+n) of segment seg; b holds
// them, or is nil when they are no longer in memory (the cache then restarts
// after them).
func (c *tailCache) add(seg uint64, from int64, b []byte, n int64) {
	if b == nil || int64(len(b)) != n || n > tailCacheSize/2 {
		*c = tailCache{seg: seg, start: from + n}
		return
	}
	if c.seg != seg || c.start+int64(len(c.buf)) != from {
		*c = tailCache{seg: seg, start: from}
	}
	if len(c.buf)+len(b) > tailCacheSize { // keep the newer half, in a new slice
		keep := c.buf[len(c.buf)/2:]
		nb := make([]byte, len(keep), tailCacheSize)
		copy(nb, keep)
		c.start += int64(len(c.buf) - len(keep))
		c.buf = nb
	}
	c.buf = append(c.buf, b...)
}

// get returns bytes [off, limit) of segment seg when the cache holds them all.
func (c *tailCache) get(seg uint64, off, limit int64) []byte {
	if seg != c.seg || off < c.start || limit > c.start+int64(len(c.buf)) || off >= limit {
		return nil
	}
	return c.buf[off-c.start : limit-c.start : limit-c.start]
}
