package audit

// Check ids. Those Palyra has are Palyra's, so reports read the same in
// both; the package documentation lists what each one checks.
const (
	checkSignatureValidity     = "signature_validity"
	checkSBOMPresence          = "sbom_presence"
	checkProvenancePresence    = "provenance_presence"
	checkManifestSanity        = "manifest_sanity"
	checkManifestWarningPrefix = "manifest_warning:"
	checkToolSchemas           = "manifest_tool_schemas"
	checkFilesystemScopes      = "manifest_filesystem_scopes"
	checkHTTPScopes            = "manifest_http_egress_scopes"
	checkSecretScopes          = "manifest_secret_scopes"
	checkSecretOwner           = "manifest_secret_owner"
	checkForbiddenDevice       = "forbidden_device_capabilities"
	checkForbiddenNode         = "forbidden_node_capabilities"
	checkForbiddenWildcard     = "forbidden_wildcard_capabilities"
	checkModulePresence        = "wasm_module_presence"
	checkModuleSize            = "wasm_module_size_limit"
	checkModuleValidation      = "wasm_module_validation"
	checkExportedFunctionLimit = "wasm_exported_function_limit"
	checkWASIFilesystemImports = "wasm_wasi_filesystem_imports"
	checkImportAllowlist       = "wasm_import_allowlist"
	checkCapabilityImports     = "wasm_capability_imports"
	checkMemoryLimits          = "wasm_memory_limits"
	checkTableLimit            = "wasm_table_limit"
	checkImportLimit           = "wasm_import_limit"
	checkFunctionLimit         = "wasm_function_limit"
	checkDataSegmentLimit      = "wasm_data_segment_limit"
	checkToolExports           = "wasm_tool_exports"
	checkVulnerabilityFeedHook = "vulnerability_feed_hook"
)

// Compile-limit check ids (palyra-go's), in report order.
const (
	checkFunctionBodyLimit   = "wasm_function_body_limit"
	checkControlDepthLimit   = "wasm_control_depth_limit"
	checkControlNestingLimit = "wasm_control_nesting_total_limit"
	checkLoopNestingLimit    = "wasm_loop_nesting_total_limit"
	checkFunctionLocalsLimit = "wasm_function_locals_limit"
	checkModuleLocalsLimit   = "wasm_module_locals_limit"
	checkBrTableLimit        = "wasm_br_table_limit"
	checkModuleBrTableLimit  = "wasm_module_br_table_limit"
)
