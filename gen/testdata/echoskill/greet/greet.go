// Package greet is a local module the echoskill test guest pulls in through
// a replace directive, so the builder's handling of local replaces is
// exercised by a real build.
package greet

// Prefix is prepended to every echoed input.
const Prefix = "echo: "

// Wrap returns s with Prefix in front.
func Wrap(s []byte) []byte {
	return append([]byte(Prefix), s...)
}
