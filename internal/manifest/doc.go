// Package manifest parses, validates and encodes skill.toml, the manifest of
// a Palyra skill, in Palyra's schema versions 1 (legacy) and 2 (current;
// the default when manifest_version is absent).
//
// The schema and the rules are Palyra's (crates/palyra-skills, manifest.rs
// and models.rs), reimplemented. Where this package is stricter than Palyra
// it says so below; everything it accepts, Palyra accepts too.
//
// # Decoding
//
// Parse reads the TOML with go-toml/v2 and checks it against the schema
// itself, so that:
//
//   - keys are case-sensitive: "Skill_ID" is an unknown key, reported with
//     the key it resembles ("did you mean skill_id?");
//   - unknown keys, wrong types, out-of-range integers (u32 fields, negative
//     u64 quotas) and missing required keys are errors;
//   - [compat] also accepts Palyra's older names min_protocol_major and
//     min_runtime_version; giving both spellings of one key is an error;
//   - absent keys take Palyra's defaults: manifest_version 2, quotas 30000 ms
//     / 10_000_000 fuel / 64 MiB, operator.config.schema_version 1, plugin
//     contract version 1, everything else empty or false;
//   - tool schemas and config defaults must be JSON values: TOML date-times
//     and nan/inf are rejected;
//   - an optional string key that is present must not be "" (Palyra holds
//     these as Option<String> and rejects Some(""));
//   - an [operator] or [operator.plugin] table that carries nothing is read as
//     absent (Palyra writes an empty [operator] even into v1 manifests).
//
// Every error is an *Error with the dotted key path (list indexes included,
// e.g. "entrypoints.tools[1].id") and, from Parse, the line; errors.Is tells
// ErrSyntax, ErrUnknownKey, ErrDuplicateKey, ErrMissingKey, ErrType and
// ErrInvalid apart.
//
// # Validation rules
//
// Validate applies these checks, in this order, and reports the first that
// fails (Parse runs it after decoding):
//
//   - manifest-version: manifest_version is 1 or 2.
//   - publisher: non-empty, only [a-z0-9._:-].
//   - skill-id: an identifier as above, without ':', made of non-empty
//     dot-separated segments.
//   - version: exactly MAJOR.MINOR.PATCH, three decimal u32 numbers.
//     Stricter than Palyra: no sign, no leading zeros, no blanks, so that one
//     version has one spelling.
//   - compat: required_protocol_major is a u32; min_palyra_version and, when
//     given, max_palyra_version are versions as above, with max >= min.
//   - name: not blank.
//   - tools: at least one; each id an identifier starting with
//     "<publisher>." and something after it, ids unique; description not
//     blank; input_schema and output_schema JSON objects. Stricter than
//     Palyra: a tool name must be a usable export name (no spaces or
//     control characters) and names are unique, since each tool calls its own
//     export.
//   - filesystem: every read_roots/write_roots entry is a relative path with
//     no empty, "." or ".." segment, no leading '/', no ':' (and, stricter
//     than Palyra, which rewrites them, no '\' or surrounding blanks); '*'
//     only with wildcard_opt_in.filesystem.
//   - http-egress: every host is letters, digits, '-' and '.', with no empty
//     label and no label starting or ending with '-' (one trailing '.' and
//     upper case allowed, as Palyra); stricter: labels <= 63 and hosts <= 253
//     bytes. A wildcard needs wildcard_opt_in.http_egress and must be a
//     whole label ("*", "*.example.com", "api.*.example.com"); stricter than
//     Palyra, which takes any string containing '*' once opted in
//     (HostProblem).
//   - secrets: scope is global, principal:ID, channel:ID or skill:ID (ID an
//     identifier, ':' allowed); key_names non-empty, each an identifier, or
//     containing '*' with wildcard_opt_in.secrets.
//   - device/node: each capability an identifier, or containing '*' with
//     wildcard_opt_in.device / wildcard_opt_in.node.
//   - quotas: wall_clock_timeout_ms > 0, max_memory_bytes >= 65536,
//     fuel_budget > 0.
//   - builder (when present): experimental = true; source_kind, source_ref
//     and rollout_flag not blank; the checklist paths are relative paths as
//     for filesystem roots.
//   - operator (when not empty): only with manifest_version 2;
//     display_name, summary, description not blank; categories and tags
//     only [a-z0-9._-]; docs_url https:// without spaces or fragment;
//     plugin.default_tool_id names a declared tool of this publisher;
//     plugin.default_module_path is a modules/*.wasm relative path;
//     plugin.default_entrypoint only [a-z0-9_-]; plugin.contracts have a
//     kind of Palyra's TypedPluginContractKind, no other (ContractKinds),
//     version 1 (non-zero; the only one the plugin SDK ABI publishes) and
//     no kind twice.
//   - operator-config: schema_version > 0; required entries are [a-z0-9._-]
//     and declared properties; property names [a-z0-9._-]; type is string,
//     integer, number, boolean or string_list; title/description not blank;
//     enum_values only for strings, non-blank and unique; default of the
//     declared type and, with enum_values, one of them.
//   - integrity: each path a relative path as above, not skill.toml or
//     signature.json, no path twice, sha256 64 lowercase hex digits. Palyra
//     checks these only against the artifact; this catches them earlier.
//
// Warnings returns Palyra's non-fatal findings (legacy version, missing
// operator metadata, secret-looking config keys not marked redacted).
//
// Encode writes deterministic TOML that Parse reads back to an equal
// Manifest, with schemas as inline tables and Palyra's current key names.
package manifest
