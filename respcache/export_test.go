package respcache

// SetBeforeStore installs a hook that runs after an operation executed and
// before its response is stored: the tests force the race with it.
func (c *Cache) SetBeforeStore(f func()) { c.beforeStore.Store(&f) }
