// Command compute is a Go guest with compute-bound exports, for
// BenchmarkGoGuest: what fuel metering costs on code the Go compiler
// wrote.
package main

import (
	"crypto/sha256"
	"slices"
)

func main() {}

var buf = make([]byte, 1<<16)

//go:wasmexport hash
func hash() uint32 {
	var sum [32]byte
	for i := range 16 {
		buf[0] = byte(i)
		sum = sha256.Sum256(buf)
	}
	return uint32(sum[0])
}

var nums = make([]uint32, 20000)

//go:wasmexport sort
func sortNums() uint32 {
	s := uint32(12345)
	for i := range nums {
		s = s*1103515245 + 12345
		nums[i] = s
	}
	slices.Sort(nums)
	return nums[0]
}
