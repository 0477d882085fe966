package tool_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/palyra/palyra-go/sdk/sdktest"
	"github.com/palyra/palyra-go/sdk/tool"
)

type shoutIn struct {
	Text string `json:"text"`
}

type shoutOut struct {
	Text  string   `json:"text"`
	Words []string `json:"words"`
}

// shoutTool is a tool's logic: plain Go, tested natively.
func shoutTool(_ context.Context, in shoutIn) (shoutOut, error) {
	if in.Text == "" {
		return shoutOut{}, errors.New("nothing to shout")
	}
	return shoutOut{Text: strings.ToUpper(in.Text) + "!", Words: strings.Fields(in.Text)}, nil
}

// shoutShapes: the input requires "text"; a nil Words is written as [].
var shoutShapes = tool.Shapes{
	1: {Required: []string{"text"}},
	2: {Props: map[string]int{"words": 3}},
	3: {Null: "[]"},
}

// shout is the body of the tool's export. In the skill, a file built only
// for wasip1 exports it:
//
//	//go:wasmexport shout
//	func wasmShout() int32 { return shout() }
func shout() int32 { return tool.Run(shoutTool, shoutShapes, 1, 2) }

func ExampleRun() {
	var h sdktest.Host
	for _, input := range []string{`{"text":"hi there"}`, `{"text":" "}`, `{}`, `{"txt":"hi"}`, `{"text":""}`} {
		rc, out, err := h.Call(shout, []byte(input))
		fmt.Println(rc, string(out), err)
	}
	// Output:
	// 0 {"text":"HI THERE!","words":["hi","there"]} <nil>
	// 0 {"text":" !","words":[]} <nil>
	// 1  invalid input: missing required field "text"
	// 1  invalid input: json: unknown field "txt"
	// 1  nothing to shout
}
