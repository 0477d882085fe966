package bulk_test

import (
	"bytes"
	"fmt"

	"github.com/palyra/palyra-go/sdk/bulk"
	"github.com/palyra/palyra-go/sdk/sdktest"
)

func ExampleInput() {
	// A tool that handles large inputs: one copy instead of a host call
	// per 8 bytes, in the Palyra host only.
	count := func() int32 {
		in := bulk.Input()
		bulk.Output(fmt.Appendf(nil, "%d lines", bytes.Count(in, []byte("\n"))))
		return 0
	}

	var h sdktest.Host
	_, out, _ := h.Call(count, bytes.Repeat([]byte("a line\n"), 1000))
	fmt.Println(string(out))
	// Output: 1000 lines
}

func ExampleOutput() {
	double := func() int32 {
		in := bulk.Input()
		bulk.Output(append(in, in...))
		return 0
	}

	var h sdktest.Host
	_, out, _ := h.Call(double, []byte("ab"))
	fmt.Println(string(out))
	// Output: abab
}
