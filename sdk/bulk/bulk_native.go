//go:build !wasip1

package bulk

import "github.com/palyra/palyra-go/sdk/internal/memhost"

func input() []byte {
	var b []byte
	memhost.With("bulk.Input", func(c *memhost.Call) { b = append([]byte{}, c.Input...) })
	return b
}

func output(b []byte) {
	memhost.With("bulk.Output", func(c *memhost.Call) { c.Output = append([]byte{}, b...) })
}
