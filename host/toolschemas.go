package host

import (
	"context"
	"fmt"

	"github.com/palyra/palyra-go/internal/toolschema"
)

// Tool schema modes, Policy.ToolSchemas: what a call does with a tool
// input or output that breaks the tool's schema in the manifest.
const (
	// SchemaEnforce (the default) refuses the call: an input before the
	// guest runs, an output after (the output is not returned).
	SchemaEnforce = "enforce"
	// SchemaWarn logs the violation (at warn level, naming the skill, tool,
	// JSON path and rule) and lets the call go on.
	SchemaWarn = "warn"
	// SchemaOff neither compiles nor checks the schemas.
	SchemaOff = "off"
)

// ErrSchemaViolation: a call's input or output broke the tool's schema
// (errors.As gives the *SchemaViolation).
var ErrSchemaViolation = toolschema.ErrSchemaViolation

// SchemaViolation is a call's input or output that broke the tool's
// schema: which tool, which direction, the JSON path of the offending
// value and the schema keyword it broke.
type SchemaViolation = toolschema.ValidationError

func checkSchemaMode(mode string) error {
	switch mode {
	case "", SchemaEnforce, SchemaWarn, SchemaOff:
		return nil
	}
	return fmt.Errorf("tool_schemas %q: want %s, %s or %s", mode, SchemaEnforce, SchemaWarn, SchemaOff)
}

// compileSchemas compiles the skill's tool schemas once per loaded
// version, unless the policy turns them off.
func (ls *loadedSkill) compileSchemas(m *Manifest, mode string) error {
	if mode == SchemaOff {
		return nil
	}
	ls.schemaWarn = mode == SchemaWarn
	tools, err := toolschema.CompileManifest(m)
	if err != nil {
		return err
	}
	for id, s := range tools {
		if lt := ls.tools[id]; lt != nil {
			lt.schemas = s
		}
	}
	return nil
}

// checkInput validates a call's input before the guest runs. A
// Palyra-native tool's input is checked too, though its guest never sees
// it: the schema is the tool's contract with the caller.
func (ls *loadedSkill) checkInput(ctx context.Context, t *loadedTool, input []byte) error {
	if t.schemas == nil {
		return nil
	}
	return ls.schemaResult(ctx, t.schemas.ValidateInput(input))
}

// checkOutput validates a call's output. Not for Palyra-native tools:
// their output is the host's {"exit_code":N}, not the tool's output.
func (ls *loadedSkill) checkOutput(ctx context.Context, t *loadedTool, out []byte) error {
	if t.schemas == nil || t.native {
		return nil
	}
	return ls.schemaResult(ctx, t.schemas.ValidateOutput(out))
}

func (ls *loadedSkill) schemaResult(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ls.schemaWarn {
		ls.h.log.WarnContext(ctx, "tool schema violation", "skill", ls.skillID, "version", ls.version, "error", err.Error())
		return nil
	}
	return fmt.Errorf("%s %s: %w", ls.skillID, ls.version, err)
}
