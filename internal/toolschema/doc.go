// Package toolschema compiles the JSON Schemas a skill manifest declares
// for its tools (input_schema, output_schema) and validates tool inputs
// and outputs against them, so that a host enforces the contract an agent
// calling the tool relies on.
//
// Schemas are compiled with github.com/santhosh-tekuri/jsonschema/v6.
// Rules:
//
//   - The dialect is JSON Schema draft 2020-12 unless the schema's
//     "$schema" names another draft the library embeds (draft-04, -06, -07,
//     2019-09); the schema must be valid against that draft's meta-schema.
//   - Nothing is loaded from outside the schema: no network, no files. A
//     "$ref" to another document (anything but a fragment of the schema
//     itself, like "#/$defs/x") is refused, as is a "$schema" naming an
//     unknown meta-schema. The standard meta-schemas are built into the
//     library.
//   - "pattern" and "patternProperties" use Go's regexp syntax (RE2): a
//     lookahead or backreference makes the schema invalid.
//   - "format" is an annotation (draft 2020-12's default), not asserted.
//   - An empty schema ({}) constrains nothing: the document is not even
//     parsed, so a tool with an empty input schema takes any bytes.
//   - Any other schema takes one JSON value (RFC 8259, UTF-8): a document
//     that is not JSON, has data after the value, or holds invalid UTF-8
//     is a violation with rule "json".
//
// Errors callers tell apart: *SchemaError (errors.Is ErrInvalidSchema)
// when a schema does not compile, naming the tool, which schema and the
// problems with their locations in the schema; *ValidationError
// (errors.Is ErrSchemaViolation) when a document breaks a schema, naming
// the tool, the direction, the JSON path of the offending value
// (instance location, a JSON Pointer) and the rule (the schema keyword)
// it broke.
package toolschema
