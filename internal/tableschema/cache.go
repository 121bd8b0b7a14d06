package tableschema

import "sync"

// Cache holds table definitions loaded from the target, keyed by schema and table name (compared exactly, as on a
// server with lower_case_table_names=0). It is safe for concurrent use. The *Table values it returns are shared and
// must not be modified.
//
// Invalidate after DDL: the applier runs DDL behind a barrier, invalidates the affected tables (or the schema, or
// everything when it cannot tell), and the next Get reloads. A Get that raced with an invalidation does not store
// what it loaded, so a definition read before the DDL never outlives the invalidation.
type Cache struct {
	mu     sync.Mutex
	tables map[tableKey]*Table
	gen    uint64 // bumped by every invalidation
}

type tableKey struct{ schema, table string }

// NewCache returns an empty cache. The zero Cache is ready to use too.
func NewCache() *Cache { return &Cache{} }

// Get returns the cached definition of schema.table, loading it through q on a miss. Errors (ErrNoTable among
// them) are not cached.
func (c *Cache) Get(q Querier, schema, table string) (*Table, error) {
	k := tableKey{schema, table}
	c.mu.Lock()
	if t, ok := c.tables[k]; ok {
		c.mu.Unlock()
		return t, nil
	}
	gen := c.gen
	c.mu.Unlock()

	t, err := Load(q, schema, table)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.tables[k]; ok {
		return prev, nil // another caller loaded it meanwhile
	}
	if c.gen == gen {
		if c.tables == nil {
			c.tables = make(map[tableKey]*Table)
		}
		c.tables[k] = t
	}
	return t, nil
}

// Put stores a definition obtained elsewhere (tests, or a definition derived from DDL).
func (c *Cache) Put(t *Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tables == nil {
		c.tables = make(map[tableKey]*Table)
	}
	c.tables[tableKey{t.Schema, t.Name}] = t
}

// Invalidate forgets schema.table.
func (c *Cache) Invalidate(schema, table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.tables, tableKey{schema, table})
}

// InvalidateSchema forgets every table of schema.
func (c *Cache) InvalidateSchema(schema string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k := range c.tables {
		if k.schema == schema {
			delete(c.tables, k)
		}
	}
}

// InvalidateAll forgets everything.
func (c *Cache) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.tables = nil
}

// Len returns the number of cached tables.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tables)
}
