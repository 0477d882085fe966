// Command badskill is gen's test of generator errors: every tool here is
// wrong in its own way, and errors.golden lists what Generate says.
package main

import (
	"context"
	"unsafe"
)

func main() {}

// Events holds a channel, which JSON cannot carry.
type Events struct {
	C chan int `json:"c"`
}

// Stream has an unsupported field.
//
//palyra:tool
func Stream(ctx context.Context, in Events) (string, error) { return "", nil }

// Odd holds one unsupported type per field.
type Odd struct {
	Callback func()            `json:"callback"`
	Num      complex128        `json:"num"`
	ByPair   map[[2]int]string `json:"by_pair"`
	Any      interface{ M() }  `json:"any"`
	Nested   struct {
		P unsafe.Pointer
	} `json:"nested"`
	Skipped chan int `json:"-"`
}

// Odds reports every bad field at once.
//
//palyra:tool
func Odds(in Odd) (int, error) { return 0, nil }

// In is a fine input.
type In struct {
	X int `json:"x"`
}

// One is fine.
//
//palyra:tool name=dup
func One(in In) (In, error) { return in, nil }

// Two takes the name of One.
//
//palyra:tool name=dup
func Two(in In) (In, error) { return in, nil }

// BadName has a name that is not a tool name.
//
//palyra:tool name=Bad-Name
func BadName(in In) (In, error) { return in, nil }

// NoError returns no error.
//
//palyra:tool
func NoError(in In) In { return in }

// NotStruct takes a string.
//
//palyra:tool
func NotStruct(ctx context.Context, s string) (string, error) { return s, nil }

//palyra:tool
func NoDoc(in In) (In, error) { return in, nil }

// Typo has a misspelt key.
//
//palyra:tool nme=typo
func Typo(in In) (In, error) { return in, nil }

// T is not a function.
//
//palyra:tool
type T struct{}

// M is a method.
//
//palyra:tool
func (T) M(in In) (In, error) { return in, nil }

// Misspelt directive.
//
//palyra:tools
func Misspelt(in In) (In, error) { return in, nil }

// palyraShapes is a name the generated file declares.
func palyraShapes() {}

// Hello and hello would share one export wrapper.
//
//palyra:tool name=hello_a
func Hello(in In) (In, error) { return in, nil }

// hello is Hello in lower case.
//
//palyra:tool name=hello_b
func hello(in In) (In, error) { return in, nil }
