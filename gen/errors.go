package gen

import (
	"errors"

	"github.com/palyra/palyra-go/internal/toolschema"
)

// Errors callers may need to tell apart. Returned errors wrap them with
// the path or value at fault.
var (
	// ErrNoManifest: the skill directory has no skill.toml.
	ErrNoManifest = errors.New("no skill.toml")
	// ErrNoModules: the skill directory has no modules/*.wasm to package.
	ErrNoModules = errors.New("no modules/*.wasm")
	// ErrNotMain: the package to build is not a main package.
	ErrNotMain = errors.New("not a main package")
	// ErrGoBuild: the go command failed; the error carries its output.
	ErrGoBuild = errors.New("go build failed")
	// ErrExists: an output that must not be overwritten already exists.
	ErrExists = errors.New("already exists")
	// ErrBadPath: a file name cannot be an artifact entry (see docs/artifact-format.md).
	ErrBadPath = errors.New("unsupported path")
	// ErrTooLarge: the artifact would exceed the limits verifiers enforce.
	ErrTooLarge = errors.New("artifact too large")
	// ErrInvalidSchema: a tool's input_schema or output_schema is not a
	// valid JSON Schema; the error names the tool, the schema and the
	// problems.
	ErrInvalidSchema = toolschema.ErrInvalidSchema
)
