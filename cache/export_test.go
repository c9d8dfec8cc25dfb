package cache

// SetAfterLoad installs a hook that runs after a batch has read PostgreSQL
// and before it fills Redis: the tests force the reader/writer race with it.
func (c *Cache) SetAfterLoad(f func(kind Kind, ids []string)) { c.afterLoad.Store(&f) }

// SetAfterListLoad installs a hook between a list partition's read and its
// install.
func (c *Cache) SetAfterListLoad(f func(part string)) { c.afterListLoad.Store(&f) }

// SetAfterListChunk installs a hook after each chunk a list fill stages.
func (c *Cache) SetAfterListChunk(f func(part string)) { c.afterListChunk.Store(&f) }

// SetListFillChunk sets how many rows one call of a list fill stages.
func (c *Cache) SetListFillChunk(n int) { c.listChunk = n }

// SetListMaxPartition lowers the largest partition the list index keeps.
func (c *Cache) SetListMaxPartition(n int) { c.listMax = n }

// SetSearchPostingsMax lowers the most postings a user's search hash keeps.
func (c *Cache) SetSearchPostingsMax(n int) { c.postingsMax = n }
