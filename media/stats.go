package media

// StatsReporter is implemented by a Feature that shows counters in the
// admin view; the engine type-asserts its features to it. Stats returns a
// fresh JSON-encodable map and may be called from any goroutine.
type StatsReporter interface {
	Stats() map[string]any
}
