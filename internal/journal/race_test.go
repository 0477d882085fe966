//go:build race

package journal

// raceEnabled scales the process tests down: race-instrumented children
// start and run several times slower.
const raceEnabled = true
