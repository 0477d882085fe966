// Package artifact writes and reads .palyra-skill artifacts: deterministic
// signed ZIPs holding skill.toml, Wasm modules, assets, a CycloneDX SBOM, SLSA
// provenance and signature.json, byte-compatible with Palyra.
//
// # Writing
//
// Build packages a skill: it rewrites the manifest's integrity list, computes
// the payload digest (see PayloadDigest), signs it (Sign) and writes the ZIP
// deterministically (Write).
//
// # Reading
//
// Open (for an io.ReaderAt, such as an *os.File, which it reads once, in
// chunks, never holding the archive whole) and OpenBytes (for an archive in
// memory, whose stored entries it does not copy) are the hardened reader.
// With ReadOptions.MetadataOnly, modules and assets are checked and hashed
// as they stream through a few chunk buffers and are not kept; every check
// runs all the same. The readers trust nothing in the archive before
// checking it, and check everything before returning anything: the ZIP
// structure from the headers alone, then the decompressed bytes, then the
// content. The first failed check is returned as a *CheckError naming the
// check (the names below) and the entry, wrapping one sentinel error
// (ErrMalformedArchive, ErrTooLarge, ErrInvalidMetadata, ErrInvalidManifest,
// ErrIntegrityMismatch, ErrPayloadDigestMismatch, ErrBadSignature,
// ErrPublisherMismatch) for errors.Is. Open does not decide whether the
// signing key is trusted: that is the trust store's decision, made on
// Artifact.PublicKey and Manifest.Publisher.
//
// The ZIP structure is parsed here, not by archive/zip, because several
// rules (exact tiling of the file, local headers against the central
// directory, hidden bytes) are about what archive/zip deliberately tolerates.
// ZIP64 is refused, not parsed: the caps keep artifacts far below its
// limits, so a ZIP64 record can only be an attempt to confuse readers.
//
// Checks, in the order Open runs them (each CheckXxx constant's value):
//
// Archive framing (headers only):
//
//   - archive-size: the archive is at most 64 MiB (MaxArtifactBytes). [ErrTooLarge]
//   - end-record: the archive ends with a well-formed end of central
//     directory record, single disk. [ErrMalformedArchive]
//   - comment: no archive comment and no entry comments.
//   - trailing-data: no bytes after the end record.
//   - zip64: no ZIP64 end record, locator, saturated field or extra field.
//   - entry-count: at most 256 entries (MaxEntries). [ErrTooLarge]
//   - central-directory: the central directory holds exactly the counted
//     records and ends exactly at the end record (when it ends early, the
//     stray bytes fail leading-data or gap, below).
//   - extra-field: extra fields are well-formed and only timestamps or Unix
//     owner ids (0x5455, 0x7875, 0x000a); never a Unicode path (0x7075),
//     which some extractors prefer to the header name.
//
// Per entry (central directory record):
//
//   - directory: no directory entries (names ending in '/').
//   - path: a relative, portable name: printable ASCII from
//     [A-Za-z0-9] and !#$%&()+,-.=@[]^_{}~ and space, no '\', ':', NUL or
//     other control characters, no non-ASCII bytes, no leading '/', no empty,
//     "." or ".." segment, no segment starting or ending with a space or
//     ending with '.', no Windows device name, at most 512 bytes.
//   - mode: a regular file: Unix file type bits are S_IFREG or unset, no
//     setuid/setgid/sticky, no MS-DOS directory or volume attribute; so no
//     symbolic links, devices or FIFOs.
//   - encryption: flag bits 0, 6 and 13 are clear.
//   - data-descriptor: flag bit 3 is clear, so the headers carry the real
//     sizes and CRC.
//   - flags: no flag bits but 1, 2 (deflate level) and 11 (UTF-8).
//   - method: Store (0) or Deflate (8).
//   - size: a stored entry's compressed and uncompressed sizes are equal.
//   - entry-size: at most 16 MiB uncompressed (MaxEntryBytes). [ErrTooLarge]
//   - metadata-size: signature.json at most 16 KiB, skill.toml 1 MiB,
//     sbom.cdx.json and provenance.json 4 MiB each. [ErrTooLarge]
//   - compression-ratio: uncompressed at most 100 × compressed
//     (MaxCompressionRatio), for entries over 64 KiB (RatioAllowance).
//     [ErrTooLarge]
//
// The set of entries:
//
//   - duplicate: no name twice.
//   - case-collision: no two names equal ignoring ASCII case, and no name
//     that is also (ignoring case) a directory of another.
//   - entry-set: only skill.toml, signature.json, sbom.cdx.json,
//     provenance.json, modules/NAME.wasm and assets/…; all four metadata
//     files and at least one module present. A missing signature.json also
//     wraps ErrBadSignature.
//   - total-size: at most 64 MiB uncompressed in all. [ErrTooLarge]
//
// Layout (local headers):
//
//   - local-header: each entry has a local header where the central
//     directory says, agreeing with it on name, version needed, flags,
//     method, time, date, CRC and both sizes; its extra fields pass
//     extra-field.
//   - leading-data: nothing before the first entry (a prepended stub, with
//     or without adjusted offsets).
//   - overlap: no two entries share bytes, and none runs into the central
//     directory.
//   - gap: no bytes between entries, or between the last and the central
//     directory.
//
// Data (decompressed in path order, each byte hashed as it is inflated):
//
//   - size: the entry inflates to exactly its declared size. Inflation
//     stops one byte past it, so a lying header costs at most the declared
//     (capped) size in memory.
//   - deflate: the deflate stream is valid and ends exactly at the entry's
//     compressed size.
//   - crc: CRC-32 of the data equals the header's.
//
// Content (all wrap the sentinel shown):
//
//   - json: signature.json, sbom.cdx.json and provenance.json are each one
//     JSON object in valid UTF-8, no key twice or twice up to case in one
//     object, nothing after it but whitespace, at most 64 levels deep.
//     [ErrInvalidMetadata]
//   - sbom: bomFormat is "CycloneDX" and specVersion a non-empty string
//     (Palyra's minimum). [ErrInvalidMetadata]
//   - provenance: a top-level builder object and a non-empty subject array
//     (Palyra's minimum). [ErrInvalidMetadata]
//   - signature-fields: signature.json has exactly algorithm, publisher,
//     key_id, public_key_base64, payload_sha256, signature_base64 (strings)
//     and signed_at_unix_ms (an integer); algorithm is "ed25519-sha256";
//     the key is canonical padded base64 of 32 bytes; key_id is
//     "ed25519:" + hex(sha256(key)[0:8]); payload_sha256 is 64 lowercase
//     hex digits; the signature is canonical base64 of 64 bytes; publisher
//     is not empty. [ErrBadSignature]
//   - manifest: skill.toml is UTF-8 and manifest.Parse accepts it.
//     [ErrInvalidManifest]
//   - integrity: skill.toml's integrity list names every entry but
//     skill.toml and signature.json exactly once, nothing else, each with
//     the SHA-256 of its bytes. [ErrIntegrityMismatch]
//   - payload-digest: the payload digest of the entries equals
//     signature.json's payload_sha256. [ErrPayloadDigestMismatch]
//   - signature: the Ed25519 signature over the ASCII hex digest verifies
//     with the embedded key. [ErrBadSignature]
//   - publisher: signature.json's publisher equals the manifest's.
//     [ErrPublisherMismatch]
//
// Checks without a sentinel noted wrap ErrMalformedArchive. ReadOptions can
// tighten the caps, never loosen them: an artifact over Palyra's caps
// would not install in Palyra.
package artifact
