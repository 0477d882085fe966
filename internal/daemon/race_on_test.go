//go:build race

package daemon

// raceEnabled: the load test shrinks under the race detector, which slows
// every call several times over; the full 1,000 calls run in the plain pass.
const raceEnabled = true
