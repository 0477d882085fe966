module github.com/palyra/palyra-go/internal/fueloracle

go 1.26.0

require (
	github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
	github.com/palyra/palyra-go v0.0.0-00010101000000-000000000000
)

require (
	github.com/pelletier/go-toml/v2 v2.4.3 // indirect
	github.com/tetratelabs/wazero v1.12.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/palyra/palyra-go => ../..
