package seed

// SetSkipChecksAllowed switches skipping foreign-key checks on or off and
// returns a function that restores the previous setting.
func SetSkipChecksAllowed(on bool) (restore func()) {
	old := skipChecksAllowed
	skipChecksAllowed = on
	return func() { skipChecksAllowed = old }
}

// SetBulkMin sets the smallest Reset run that loads in bulk and returns a
// function that restores the previous value.
func SetBulkMin(n int) (restore func()) {
	old := bulkMin
	bulkMin = n
	return func() { bulkMin = old }
}
