// Package audit is the static security audit of a verified skill artifact,
// compatible with Palyra's audit_skill_artifact_security: a Report of named
// checks, each pass, warn, fail or skipped with a severity (info, warning,
// error) and a message naming what it is about, and a verdict. Any failed
// check makes the report not Passed and ShouldQuarantine, with the check's
// message among QuarantineReasons; warnings inform and never quarantine.
//
// Audit runs after verification: it takes the parsed manifest, the
// artifact's entries and the caller's word that the signature was checked.
// Modules are validated with wazero (the runtime's own validator) and their
// structure is then read with wabin's decoder; nothing here parses Wasm by
// hand.
//
// # Checks
//
// In report order. Ids marked (Palyra) are Palyra's, with its meaning; the
// others are palyra-go's. Module checks repeat for each modules/*.wasm entry
// in path order and name the module; a module failing the size or
// validation check gets no further module checks.
//
//   - signature_validity (Palyra): the caller verified signature.json, the
//     payload digest and the trust decision (Input.SignatureVerified).
//   - sbom_presence (Palyra): sbom.cdx.json is a JSON object with bomFormat
//     "CycloneDX" and a non-empty specVersion.
//   - provenance_presence (Palyra): provenance.json is a JSON object with a
//     "builder" object and a non-empty "subject" array.
//   - manifest_sanity (Palyra): manifest_version is 1 or 2; publisher,
//     skill_id, version and tool ids follow Palyra's grammar; tool ids are
//     namespaced by the publisher and unique; every tool has a name; quotas
//     are non-zero and max_memory_bytes is at least one page (65536).
//   - manifest_tool_schemas: every tool's input_schema and output_schema
//     compiles as a JSON Schema (package toolschema: draft 2020-12 unless
//     "$schema" names another standard draft, valid against its
//     meta-schema, no "$ref" outside the schema itself); a failure names
//     the tool, which schema, and each problem with its location in the
//     schema. Hosts validate calls against these schemas. Palyra has no
//     such check: there, input_schema = { type = 42 } passes.
//   - manifest_warning:CODE (Palyra, warn): one per non-fatal manifest
//     finding, with Palyra's codes: legacy_manifest_version,
//     missing_operator_metadata, missing_operator_display_name,
//     empty_operator_config_contract, operator_config_redaction_recommended.
//   - manifest_filesystem_scopes (Palyra): every read and write root is
//     relative, '/'-separated, without '.', '..' or empty segments, ':', '\'
//     or control characters, and '*' only with wildcard_opt_in.filesystem.
//   - manifest_http_egress_scopes (Palyra): every host is a DNS name of
//     [a-z0-9.-] (labels <= 63, names <= 253 bytes), and '*' only with
//     wildcard_opt_in.http_egress and only as a whole label ("*",
//     "*.example.com", "api.*.example.com"): manifest.HostProblem, the
//     parser's rule. Stricter than Palyra, which takes any entry
//     containing '*' once opted in.
//   - manifest_secret_scopes (Palyra): every scope is global, principal:ID,
//     channel:ID or skill:ID, lists key_names, and uses '*' only with
//     wildcard_opt_in.secrets.
//   - manifest_secret_owner: every skill:ID scope names the skill itself
//     (ID == skill_id); a skill asking for another skill's secrets fails,
//     the message naming both ids. Palyra has no such check: there, any
//     skill may request any skill's scope.
//   - forbidden_device_capabilities (Palyra): no device_capabilities, unless
//     Policy.AllowDeviceCapabilities.
//   - forbidden_node_capabilities: no node_capabilities, unless
//     Policy.AllowNodeCapabilities.
//   - forbidden_wildcard_capabilities (Palyra): no wildcard_opt_in flag set,
//     unless Policy.AllowWildcardCapabilities.
//   - wasm_module_presence (Palyra): at least one modules/*.wasm entry.
//   - wasm_module_size_limit (Palyra): module size <= Policy.MaxModuleBytes
//     (default 8 MiB), checked before any decoder sees the bytes.
//   - wasm_module_validation (Palyra), first part: no length or count in
//     the module claims more than the bytes behind it (checked before any
//     decoder runs, since the decoders allocate from those numbers), and
//     every function body reads as a sequence of known instructions.
//   - The compile limits, checked on that walk over the bytes, before any
//     decoder or compiler sees the module, since compile time is what
//     they bound; a module over any of them gets no further module
//     checks. Per function, naming the function (its index counting
//     imported functions first) and its value against the limit:
//     wasm_function_body_limit (body bytes <= max_function_body_bytes,
//     default 1 MiB), wasm_control_depth_limit (block, loop, if and
//     try_table open at once <= max_control_depth, default 4096),
//     wasm_function_locals_limit (locals declared, summed over the local
//     declarations without overflow, <= max_function_locals, default and
//     most 50,000), wasm_br_table_limit (one br_table's targets <=
//     max_br_table_targets, default 16,384). Per module:
//     wasm_control_nesting_total_limit (the sum, over control
//     instructions, of how deeply each is nested <=
//     max_control_nesting_total, default 10,000,000: compile time grows
//     with the square of nesting depth), wasm_loop_nesting_total_limit
//     (the same over loops alone <= max_loop_nesting_total, default
//     25,000), wasm_module_locals_limit (<= max_module_locals, default
//     1,000,000), wasm_module_br_table_limit (all br_tables' targets <=
//     max_module_br_table_targets, default 200,000).
//   - wasm_module_validation (Palyra), second part: wazero compiles the
//     module (WebAssembly 2.0) and wabin decodes it.
//   - wasm_exported_function_limit (Palyra): function exports <=
//     Policy.MaxExportedFunctions (default 128).
//   - wasm_wasi_filesystem_imports (Palyra): fails when the module imports
//     a component-model wasi:filesystem interface and the manifest declares
//     no filesystem root; warns when it imports WASI preview 1 path_*
//     functions without roots (they then reach no preopen).
//     fd_prestat_get and fd_prestat_dir_name are not flagged: they only
//     list preopens, and every Go program linking package os imports them.
//   - wasm_import_allowlist: every import is a function the runtime
//     provides: from extism:host/env (the Extism kernel and host functions
//     of extism/go-sdk v1.7), extism:host/user (palyra_secret_get only),
//     palyra:host/env (any name; the runtime owns that set),
//     wasi_snapshot_preview1 (its 46 functions) or Palyra's native
//     palyra:plugins/host-capabilities@0.1.0 (exactly http-count,
//     secret-count, storage-count, channel-count: () -> i32, and
//     http-handle, secret-handle, storage-handle, channel-handle:
//     (i32) -> i32; another type fails). Memory, table and global imports
//     fail. A module importing from palyra:plugins/host-capabilities@0.1.0
//     and from any other module fails: a Palyra-native module gets no WASI
//     and no Extism kernel, in Palyra as here.
//   - wasm_capability_imports (warn): the module imports
//     extism:host/env.http_request while http_egress_allowlist is empty, or
//     extism:host/user.palyra_secret_get while no secret key is requested.
//     A warning, since the runtime denies such calls anyway and some PDKs
//     import every host function.
//   - wasm_memory_limits: a memory's minimum (pages × 64 KiB) must fit
//     quotas.max_memory_bytes, or the module can never be instantiated
//     (fail). A declared maximum above the quota warns: the runtime caps
//     the memory at the quota and memory.grow past it fails in the guest.
//     No maximum passes, for the same reason.
//   - wasm_table_limit: the tables' initial elements, summed, <=
//     Policy.MaxTableElements (default 100,000); the host allocates them
//     outside the memory quota. No table may declare a maximum above it
//     either; a table without a maximum passes (the runtime bounds its
//     growth).
//   - wasm_import_limit: imports <= Policy.MaxImports (default 256).
//   - wasm_function_limit: defined functions <= Policy.MaxFunctions
//     (default 100,000).
//   - wasm_data_segment_limit: data segments <= Policy.MaxDataSegments
//     (default 100,000).
//   - wasm_tool_exports: one per tool. An Extism tool: the tool's name is
//     an exported function of exactly one Extism module, with no
//     parameters and at most one i32 result (how Extism calls plugin
//     functions). Missing, exported by two modules, exported as something
//     other than a function, or with another type: fail. A tool no Extism
//     module exports is a Palyra-native tool when the module Palyra would
//     run ([operator.plugin] default_module_path, else the only module) is
//     Palyra-native (guestabi.Detect: it imports Palyra's host
//     capabilities, or imports nothing, exports the entrypoint and none of
//     the tools' names): that module must export the entrypoint
//     ([operator.plugin] default_entrypoint, else "run") as a () -> i32
//     function; the tool's name need not be exported.
//   - vulnerability_feed_hook (Palyra): the Go modules sbom.cdx.json
//     lists (components with a pkg:golang purl) are matched against the
//     OSV feed Policy.VulnerabilityFeedHook names, which the caller loads
//     with package vuln into Input.VulnerabilityFeed (see that package for
//     the feed format, version semantics and severities). No feed
//     configured: warn. A feed configured but not loaded (unreadable,
//     invalid; Input.VulnerabilityFeedError says why), a
//     vulnerability_severity_threshold that is not low, moderate, high or
//     critical, or an SBOM whose components cannot be read: fail, naming
//     the feed. Otherwise one check per finding, naming the module,
//     version, advisory id, its aliases (CVE, GHSA), severity and the
//     fixed version when known: fail at or above
//     Policy.VulnerabilitySeverityThreshold (default low), warn below it;
//     a finding no record grades (the Go vulndb grades none) ranks as
//     high. A module the feed has advisories for whose version cannot be
//     compared warns. No finding: pass. Report.VulnerabilityScan sums the
//     checks up (worst status; feed, threshold and findings in Details).
//
// Palyra reads the feed hook from the PALYRA_SKILL_AUDIT_VULN_FEED_HOOK
// environment variable; here it is part of the Policy, and the loaded feed
// part of the Input, so that an audit depends on its arguments only.
package audit
