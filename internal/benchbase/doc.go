// Package benchbase holds the baselines palyra's benchmarks compare
// against, so that the runtime's and the host's benchmarks measure them
// the same way: extism/go-sdk on the same guest, the guest in plain
// wazero, and interleaved timing that measures a baseline in the same run
// as the code under test.
//
// It exists for benchmarks only: nothing outside _test.go files imports
// it, and it pulls go-sdk into no binary.
package benchbase
