package echoclient

// The client is generated from the echo example's manifest;
// TestClientUpToDate in ../ checks that it still matches.
//go:generate go run ../../../gen/cmd/palyra-gen client --manifest ../../echo/skill.toml --package echoclient --out .
