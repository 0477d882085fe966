//go:build !race

package identity

// raceEnabled: CPU-heavy tests shrink under the race detector.
const raceEnabled = false
