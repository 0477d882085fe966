package artifact

// Names of the checks Open performs, as they appear in CheckError.Check.
// The package documentation gives the rule behind each.
const (
	CheckArchiveSize      = "archive-size"
	CheckEndRecord        = "end-record"
	CheckTrailingData     = "trailing-data"
	CheckComment          = "comment"
	CheckZip64            = "zip64"
	CheckEntryCount       = "entry-count"
	CheckCentralDirectory = "central-directory"
	CheckDirectory        = "directory"
	CheckPath             = "path"
	CheckMode             = "mode"
	CheckEncryption       = "encryption"
	CheckDataDescriptor   = "data-descriptor"
	CheckFlags            = "flags"
	CheckMethod           = "method"
	CheckExtraField       = "extra-field"
	CheckEntrySize        = "entry-size"
	CheckCompressionRatio = "compression-ratio"
	CheckMetadataSize     = "metadata-size"
	CheckDuplicate        = "duplicate"
	CheckCaseCollision    = "case-collision"
	CheckEntrySet         = "entry-set"
	CheckTotalSize        = "total-size"
	CheckLocalHeader      = "local-header"
	CheckLeadingData      = "leading-data"
	CheckOverlap          = "overlap"
	CheckGap              = "gap"
	CheckSize             = "size"
	CheckDeflate          = "deflate"
	CheckCRC              = "crc"
	CheckJSON             = "json"
	CheckSignatureFields  = "signature-fields"
	CheckManifest         = "manifest"
	CheckIntegrity        = "integrity"
	CheckPayloadDigest    = "payload-digest"
	CheckSignature        = "signature"
	CheckPublisher        = "publisher"
	CheckSBOM             = "sbom"
	CheckProvenance       = "provenance"
)

// Palyra's caps (crates/palyra-skills constants), plus palyra-go's own for
// metadata files and the compression ratio.
const (
	// MaxArtifactBytes caps both the archive file and the sum of its
	// entries' uncompressed sizes.
	MaxArtifactBytes = 64 << 20
	// MaxEntryBytes caps one entry's uncompressed size.
	MaxEntryBytes = 16 << 20
	// MaxEntries caps the number of entries.
	MaxEntries = 256
	// MaxSignatureBytes caps signature.json (a real one is ~420 bytes).
	MaxSignatureBytes = 16 << 10
	// MaxManifestBytes caps skill.toml.
	MaxManifestBytes = 1 << 20
	// MaxDocumentBytes caps sbom.cdx.json and provenance.json, which grow
	// with the number of Go modules compiled into the skill.
	MaxDocumentBytes = 4 << 20
	// MaxCompressionRatio caps uncompressed:compressed per entry. Deflate
	// reaches ~1032:1 on degenerate input; real Wasm compresses 2–5:1 and
	// JSON/TOML 3–15:1, so 100:1 leaves an order of magnitude of headroom
	// while bounding the work a small archive can demand.
	MaxCompressionRatio = 100
	// RatioAllowance exempts entries this small (uncompressed) from the ratio
	// cap: tiny files of zeros or repeated text legitimately exceed 100:1,
	// and at this size they cost nothing.
	RatioAllowance = 64 << 10
	// maxJSONDepth bounds nesting in metadata JSON.
	maxJSONDepth = 64
	// maxNameBytes bounds an entry name.
	maxNameBytes = 512
)
