package artifact

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/manifest"
)

// base is a good artifact's files: every variant starts from it.
type base struct {
	files []File
	t     *testing.T
}

func (b base) raw() *rawZip { return rawFromFiles(b.files) }

// signed writes files after re-signing them with the good key, so the
// variant is wrong in exactly one way and only the intended check can fire.
func (b base) signed(files []File) []byte {
	return write(b.t, resign(b.t, files, testKey("good"), "acme"), Deflate)
}

// withEntry adds a raw entry in sorted position.
func (z *rawZip) withEntry(e *rawEntry) *rawZip {
	i := 0
	for i < len(z.entries) && z.entries[i].central.name < e.central.name {
		i++
	}
	z.entries = append(z.entries[:i], append([]*rawEntry{e}, z.entries[i:]...)...)
	return z
}

func (z *rawZip) drop(name string) *rawZip {
	for i, e := range z.entries {
		if e.central.name == name {
			z.entries = append(z.entries[:i], z.entries[i+1:]...)
			return z
		}
	}
	panic("no entry " + name)
}

func renamed(name string) func(*rawHeader) { return func(h *rawHeader) { h.name = name } }

const module = "modules/echo.wasm"

func TestOpenRejects(t *testing.T) {
	good := build(t, goodRequest(testKey("good")))
	b := base{files: mustOpen(t, good.Bytes).Files, t: t}
	asset := func(name string, data []byte, method uint16) *rawEntry { return newRawEntry(name, data, method) }
	zeros := func(n int) []byte { return make([]byte, n) }

	tests := []struct {
		name  string
		make  func() []byte
		opts  *ReadOptions
		check string
		entry string
		class error
	}{
		// Archive framing.
		{"archive over cap", func() []byte { return good.Bytes }, &ReadOptions{MaxArtifactBytes: 1000}, CheckArchiveSize, "", ErrTooLarge},
		{"not a zip", func() []byte { return []byte("definitely not a zip archive") }, nil, CheckEndRecord, "", ErrMalformedArchive},
		{"truncated", func() []byte { return good.Bytes[:len(good.Bytes)-1] }, nil, CheckEndRecord, "", ErrMalformedArchive},
		{"bytes appended", func() []byte { return append(bytes.Clone(good.Bytes), "tail"...) }, nil, CheckTrailingData, "", ErrMalformedArchive},
		{"archive comment", func() []byte { z := b.raw(); z.comment = []byte("hi"); return z.bytes() }, nil, CheckComment, "", ErrMalformedArchive},
		{"entry comment", func() []byte { z := b.raw(); z.entry(module).central.comment = []byte("c"); return z.bytes() }, nil, CheckComment, module, ErrMalformedArchive},
		{"bytes prepended", func() []byte { return append([]byte("#!/bin/sh\nexit 0\n"), good.Bytes...) }, nil, CheckLeadingData, "", ErrMalformedArchive},
		{"bytes prepended, offsets fixed", func() []byte {
			z := b.raw()
			z.prefix, z.adjustPrefix = []byte("MZ\x90\x00stub"), true
			return z.bytes()
		}, nil, CheckLeadingData, "assets/readme.txt", ErrMalformedArchive},
		{"bytes between entries", func() []byte { z := b.raw(); z.entries[0].gapAfter = []byte("hidden"); return z.bytes() }, nil, CheckGap, "modules/echo.wasm", ErrMalformedArchive},
		{"zip64 count", func() []byte { z := b.raw(); z.count = 0xffff; return z.bytes() }, nil, CheckZip64, "", ErrMalformedArchive},
		{"zip64 extra", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.extra = []byte{1, 0, 8, 0, 8, 0, 0, 0, 0, 0, 0, 0} })
			return z.bytes()
		}, nil, CheckZip64, module, ErrMalformedArchive},
		{"unicode path extra", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.extra = append([]byte{0x75, 0x70, 6, 0, 1, 0, 0, 0, 0}, 'x') })
			return z.bytes()
		}, nil, CheckExtraField, module, ErrMalformedArchive},
		{"central count too high", func() []byte { z := b.raw(); z.count = uint16(len(z.entries) + 1); return z.bytes() }, nil, CheckCentralDirectory, "", ErrMalformedArchive},
		{"too many entries", func() []byte {
			z := b.raw()
			for i := range MaxEntries {
				z.withEntry(asset(fmt.Sprintf("assets/f%03d", i), nil, methodStore))
			}
			return z.bytes()
		}, nil, CheckEntryCount, "", ErrTooLarge},
		{"too many entries (option)", func() []byte { return good.Bytes }, &ReadOptions{MaxEntries: 5}, CheckEntryCount, "", ErrTooLarge},

		// Names.
		{"duplicate name", func() []byte { return b.raw().withEntry(newRawEntry(module, emptyWasm, methodStore)).bytes() }, nil, CheckDuplicate, module, ErrMalformedArchive},
		{"case-fold collision", func() []byte { return b.raw().withEntry(asset("modules/ECHO.wasm", emptyWasm, methodStore)).bytes() }, nil, CheckCaseCollision, "modules/echo.wasm", ErrMalformedArchive},
		{"case-fold metadata", func() []byte { return b.raw().withEntry(asset("Skill.toml", nil, methodStore)).bytes() }, nil, CheckCaseCollision, "skill.toml", ErrMalformedArchive},
		{"file is also a directory", func() []byte {
			return b.raw().withEntry(asset("assets/readme.txt/x", nil, methodStore)).bytes()
		}, nil, CheckCaseCollision, "assets/readme.txt/x", ErrMalformedArchive},
		{"dot-dot", func() []byte { return b.raw().withEntry(asset("assets/../../etc/passwd", nil, methodStore)).bytes() }, nil, CheckPath, "assets/../../etc/passwd", ErrMalformedArchive},
		{"leading dot-dot", func() []byte { return b.raw().withEntry(asset("../evil", nil, methodStore)).bytes() }, nil, CheckPath, "../evil", ErrMalformedArchive},
		{"absolute", func() []byte { return b.raw().withEntry(asset("/etc/cron.d/x", nil, methodStore)).bytes() }, nil, CheckPath, "/etc/cron.d/x", ErrMalformedArchive},
		{"backslash", func() []byte { return b.raw().withEntry(asset(`assets\..\x`, nil, methodStore)).bytes() }, nil, CheckPath, `assets\..\x`, ErrMalformedArchive},
		{"colon", func() []byte { return b.raw().withEntry(asset("assets/c:x", nil, methodStore)).bytes() }, nil, CheckPath, "assets/c:x", ErrMalformedArchive},
		{"NUL", func() []byte { return b.raw().withEntry(asset("assets/a\x00.txt", nil, methodStore)).bytes() }, nil, CheckPath, "assets/a\x00.txt", ErrMalformedArchive},
		{"control", func() []byte { return b.raw().withEntry(asset("assets/a\nb", nil, methodStore)).bytes() }, nil, CheckPath, "assets/a\nb", ErrMalformedArchive},
		{"non-ASCII", func() []byte { return b.raw().withEntry(asset("assets/caf\u00e9", nil, methodStore)).bytes() }, nil, CheckPath, "assets/caf\u00e9", ErrMalformedArchive},
		{"empty segment", func() []byte { return b.raw().withEntry(asset("assets//x", nil, methodStore)).bytes() }, nil, CheckPath, "assets//x", ErrMalformedArchive},
		{"dot segment", func() []byte { return b.raw().withEntry(asset("assets/./x", nil, methodStore)).bytes() }, nil, CheckPath, "assets/./x", ErrMalformedArchive},
		{"windows device", func() []byte { return b.raw().withEntry(asset("assets/con.txt", nil, methodStore)).bytes() }, nil, CheckPath, "assets/con.txt", ErrMalformedArchive},
		{"trailing dot", func() []byte { return b.raw().withEntry(asset("assets/x.", nil, methodStore)).bytes() }, nil, CheckPath, "assets/x.", ErrMalformedArchive},
		{"directory entry", func() []byte { return b.raw().withEntry(asset("modules/", nil, methodStore)).bytes() }, nil, CheckDirectory, "modules/", ErrMalformedArchive},

		// Modes.
		{"symlink", func() []byte {
			z := b.raw()
			z.entry("assets/readme.txt").central.external = 0o120777 << 16
			return z.bytes()
		}, nil, CheckMode, "assets/readme.txt", ErrMalformedArchive},
		{"directory mode", func() []byte { z := b.raw(); z.entry(module).central.external = 0o040755 << 16; return z.bytes() }, nil, CheckMode, module, ErrMalformedArchive},
		{"fifo", func() []byte { z := b.raw(); z.entry(module).central.external = 0o010644 << 16; return z.bytes() }, nil, CheckMode, module, ErrMalformedArchive},
		{"device", func() []byte { z := b.raw(); z.entry(module).central.external = 0o060644 << 16; return z.bytes() }, nil, CheckMode, module, ErrMalformedArchive},
		{"setuid", func() []byte { z := b.raw(); z.entry(module).central.external = 0o104755 << 16; return z.bytes() }, nil, CheckMode, module, ErrMalformedArchive},
		{"socket", func() []byte { z := b.raw(); z.entry(module).central.external = 0o140644 << 16; return z.bytes() }, nil, CheckMode, module, ErrMalformedArchive},
		{"MS-DOS directory", func() []byte { z := b.raw(); z.entry(module).central.external = 0x10; return z.bytes() }, nil, CheckMode, module, ErrMalformedArchive},

		// Flags and methods.
		{"encrypted", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.flags |= 1 })
			return z.bytes()
		}, nil, CheckEncryption, module, ErrMalformedArchive},
		{"strong encryption", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.flags |= 1 << 6 })
			return z.bytes()
		}, nil, CheckEncryption, module, ErrMalformedArchive},
		{"data descriptor", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.flags |= 1 << 3 })
			return z.bytes()
		}, nil, CheckDataDescriptor, module, ErrMalformedArchive},
		{"archive/zip streaming writer", func() []byte {
			// zip.Writer.Create streams entries with data descriptors, as
			// many generic tools do; the format forbids them.
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for _, f := range b.files {
				w, err := zw.Create(f.Path)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(f.Data)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}, nil, CheckDataDescriptor, "assets/readme.txt", ErrMalformedArchive},
		{"unknown flag", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.flags |= 1 << 4 })
			return z.bytes()
		}, nil, CheckFlags, module, ErrMalformedArchive},
		{"bzip2", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.method = 12 })
			return z.bytes()
		}, nil, CheckMethod, module, ErrMalformedArchive},
		{"AES", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.method = 99 })
			return z.bytes()
		}, nil, CheckMethod, module, ErrMalformedArchive},

		// Local header against central directory.
		{"local name differs", func() []byte { z := b.raw(); renamed("modules/evil.wasm")(&z.entry(module).local); return z.bytes() }, nil, CheckLocalHeader, module, ErrMalformedArchive},
		{"local crc differs", func() []byte { z := b.raw(); z.entry(module).local.crc ^= 1; return z.bytes() }, nil, CheckLocalHeader, module, ErrMalformedArchive},
		{"local method differs", func() []byte { z := b.raw(); z.entry(module).local.method = methodStore; return z.bytes() }, nil, CheckLocalHeader, module, ErrMalformedArchive},
		{"local flags differ", func() []byte { z := b.raw(); z.entry(module).local.flags = 1 << 11; return z.bytes() }, nil, CheckLocalHeader, module, ErrMalformedArchive},
		{"local size differs", func() []byte { z := b.raw(); z.entry(module).local.usize++; return z.bytes() }, nil, CheckLocalHeader, module, ErrMalformedArchive},
		{"no local header", func() []byte { z := b.raw(); z.entry(module).central.offset = 7; return z.bytes() }, nil, CheckLocalHeader, module, ErrMalformedArchive},
		{"overlapping entries", func() []byte {
			z := b.raw()
			// A second central record, same bytes, another name: the
			// overlapping-entries zip bomb in miniature.
			e := newRawEntry("assets/zz", []byte("hello\n"), methodDeflate)
			e.sameOffsetAs = 1
			z.entries = append(z.entries, e)
			return z.bytes()
		}, nil, CheckOverlap, "assets/zz", ErrMalformedArchive},

		// Sizes, bombs and data.
		{"entry over cap (real data)", func() []byte {
			return b.raw().withEntry(asset("assets/big", zeros(MaxEntryBytes+1), methodDeflate)).bytes()
		}, nil, CheckEntrySize, "assets/big", ErrTooLarge},
		{"entry over cap (header)", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.usize = 1 << 30 })
			return z.bytes()
		}, nil, CheckEntrySize, module, ErrTooLarge},
		{"total over cap", func() []byte {
			z := b.raw()
			// ~10:1 compressible, so neither the archive size nor the
			// ratio cap fires first.
			data := bytes.Repeat(pseudoRandom(30<<10, "total"), 14)
			for i := range 4 {
				z.withEntry(asset(fmt.Sprintf("assets/r%d", i), data, methodDeflate))
			}
			return z.bytes()
		}, &ReadOptions{MaxArtifactBytes: 1 << 20}, CheckTotalSize, "", ErrTooLarge},
		{"compression ratio", func() []byte {
			return b.raw().withEntry(asset("assets/zeros", zeros(1<<20), methodDeflate)).bytes()
		}, nil, CheckCompressionRatio, "assets/zeros", ErrTooLarge},
		{"size header lies low", func() []byte {
			// Declares 1000 bytes, inflates to 8 MiB: reading stops at 1001.
			e := asset("assets/bomb", zeros(8<<20), methodDeflate)
			e.both(func(h *rawHeader) { h.usize = 1000; h.crc = 0 })
			return b.raw().withEntry(e).bytes()
		}, nil, CheckSize, "assets/bomb", ErrMalformedArchive},
		{"size header lies high", func() []byte {
			z := b.raw()
			z.entry("assets/readme.txt").both(func(h *rawHeader) { h.usize++ })
			return z.bytes()
		}, nil, CheckSize, "assets/readme.txt", ErrMalformedArchive},
		{"stored sizes differ", func() []byte {
			z := b.raw()
			e := z.entry(module)
			*e = *newRawEntry(module, emptyWasm, methodStore)
			e.both(func(h *rawHeader) { h.usize = 4 })
			return z.bytes()
		}, nil, CheckSize, module, ErrMalformedArchive},
		{"data after deflate stream", func() []byte {
			z := b.raw()
			e := z.entry(module)
			e.body = append(bytes.Clone(e.body), "hidden"...)
			e.both(func(h *rawHeader) { h.csize = uint32(len(e.body)) })
			return z.bytes()
		}, nil, CheckDeflate, module, ErrMalformedArchive},
		{"truncated deflate stream", func() []byte {
			z := b.raw()
			e := z.entry(SBOMPath)
			e.body = e.body[:len(e.body)/2]
			e.both(func(h *rawHeader) { h.csize = uint32(len(e.body)) })
			return z.bytes()
		}, nil, CheckDeflate, SBOMPath, ErrMalformedArchive},
		{"corrupt deflate", func() []byte {
			z := b.raw()
			e := z.entry(module)
			e.body = bytes.Repeat([]byte{0xff}, len(e.body))
			return z.bytes()
		}, nil, CheckDeflate, module, ErrMalformedArchive},
		{"crc mismatch", func() []byte {
			z := b.raw()
			z.entry(module).both(func(h *rawHeader) { h.crc ^= 0x80 })
			return z.bytes()
		}, nil, CheckCRC, module, ErrMalformedArchive},
		{"module byte flipped in place", func() []byte {
			z := b.raw()
			e := z.entry(module)
			*e = *newRawEntry(module, emptyWasm, methodStore)
			e.body = bytes.Clone(emptyWasm)
			e.body[7] ^= 1
			return z.bytes()
		}, nil, CheckCRC, module, ErrMalformedArchive},

		// Entry set.
		{"extra top-level file", func() []byte { return b.raw().withEntry(asset("README.md", nil, methodStore)).bytes() }, nil, CheckEntrySet, "README.md", ErrMalformedArchive},
		{"nested module", func() []byte { return b.raw().withEntry(asset("modules/sub/x.wasm", emptyWasm, methodStore)).bytes() }, nil, CheckEntrySet, "modules/sub/x.wasm", ErrMalformedArchive},
		{"module not .wasm", func() []byte { return b.raw().withEntry(asset("modules/x.so", emptyWasm, methodStore)).bytes() }, nil, CheckEntrySet, "modules/x.so", ErrMalformedArchive},
		{"sbom missing", func() []byte { return b.raw().drop(SBOMPath).bytes() }, nil, CheckEntrySet, SBOMPath, ErrMalformedArchive},
		{"no module", func() []byte { return b.raw().drop(module).bytes() }, nil, CheckEntrySet, "modules/*.wasm", ErrMalformedArchive},
		{"signature.json removed", func() []byte { return b.raw().drop(SignaturePath).bytes() }, nil, CheckEntrySet, SignaturePath, ErrBadSignature},

		// Metadata JSON.
		{"signature duplicate key", func() []byte {
			sig, _ := (&Artifact{Files: b.files}).File(SignaturePath)
			dup := bytes.Replace(sig, []byte(`"publisher": "acme",`), []byte(`"publisher": "acme", "publisher": "mallory",`), 1)
			return write(t, replace(b.files, SignaturePath, dup), Deflate)
		}, nil, CheckJSON, SignaturePath, ErrInvalidMetadata},
		{"signature case-variant key", func() []byte {
			sig, _ := (&Artifact{Files: b.files}).File(SignaturePath)
			v := bytes.Replace(sig, []byte(`"publisher": "acme",`), []byte(`"publisher": "acme", "Publisher": "mallory",`), 1)
			return write(t, replace(b.files, SignaturePath, v), Deflate)
		}, nil, CheckJSON, SignaturePath, ErrInvalidMetadata},
		{"signature trailing data", func() []byte {
			sig, _ := (&Artifact{Files: b.files}).File(SignaturePath)
			return write(t, replace(b.files, SignaturePath, append(bytes.Clone(sig), "{}"...)), Deflate)
		}, nil, CheckJSON, SignaturePath, ErrInvalidMetadata},
		{"signature oversized", func() []byte {
			sig, _ := (&Artifact{Files: b.files}).File(SignaturePath)
			return write(t, replace(b.files, SignaturePath, append(bytes.Clone(sig), bytes.Repeat([]byte(" "), MaxSignatureBytes)...)), Deflate)
		}, nil, CheckMetadataSize, SignaturePath, ErrTooLarge},
		{"sbom oversized", func() []byte {
			return b.signed(replace(b.files, SBOMPath, append([]byte(testSBOM), bytes.Repeat([]byte("\n"), MaxDocumentBytes)...)))
		}, nil, CheckMetadataSize, SBOMPath, ErrTooLarge},
		{"sbom duplicate key", func() []byte {
			return b.signed(withIntegrity(t, replace(b.files, SBOMPath, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","specVersion":"1.5"}`))))
		}, nil, CheckJSON, SBOMPath, ErrInvalidMetadata},
		{"provenance case-variant key", func() []byte {
			return b.signed(withIntegrity(t, replace(b.files, ProvenancePath, []byte(`{"builder":{"id":"x"},"Builder":{"id":"y"},"subject":[{}]}`))))
		}, nil, CheckJSON, ProvenancePath, ErrInvalidMetadata},
		{"sbom invalid UTF-8", func() []byte {
			return b.signed(withIntegrity(t, replace(b.files, SBOMPath, []byte("{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\xff\"}"))))
		}, nil, CheckJSON, SBOMPath, ErrInvalidMetadata},
		{"sbom not CycloneDX", func() []byte {
			return b.signed(withIntegrity(t, replace(b.files, SBOMPath, []byte(`{"BOMFORMAT":"CycloneDX","specVersion":"1.6"}`))))
		}, nil, CheckSBOM, SBOMPath, ErrInvalidMetadata},
		{"provenance without builder", func() []byte {
			return b.signed(withIntegrity(t, replace(b.files, ProvenancePath, []byte(`{"subject":[{}]}`))))
		}, nil, CheckProvenance, ProvenancePath, ErrInvalidMetadata},

		// signature.json fields.
		{"wrong algorithm", func() []byte { return b.editSignature(func(s *Signature) { s.Algorithm = "rsa-sha256" }) }, nil, CheckSignatureFields, SignaturePath, ErrBadSignature},
		{"key id of another key", func() []byte {
			return b.editSignature(func(s *Signature) { s.KeyID = Sign(testKey("other"), "acme", s.PayloadSHA256, signedAt).KeyID })
		}, nil, CheckSignatureFields, SignaturePath, ErrBadSignature},
		{"short key", func() []byte { return b.editSignature(func(s *Signature) { s.PublicKeyBase64 = "AAAA" }) }, nil, CheckSignatureFields, SignaturePath, ErrBadSignature},
		{"uppercase digest", func() []byte {
			return b.editSignature(func(s *Signature) { s.PayloadSHA256 = strings.ToUpper(s.PayloadSHA256) })
		}, nil, CheckSignatureFields, SignaturePath, ErrBadSignature},
		{"short signature", func() []byte {
			return b.editSignature(func(s *Signature) { s.SignatureBase64 = s.SignatureBase64[:40] + "==" })
		}, nil, CheckSignatureFields, SignaturePath, ErrBadSignature},

		// Manifest, integrity, digest, signature, publisher.
		{"manifest does not parse", func() []byte {
			return b.signed(replace(b.files, ManifestPath, []byte("skill_id = [")))
		}, nil, CheckManifest, ManifestPath, ErrInvalidManifest},
		{"file missing from integrity list", func() []byte {
			return b.signed(replace(b.files, "assets/extra.txt", []byte("not listed")))
		}, nil, CheckIntegrity, "assets/extra.txt", ErrIntegrityMismatch},
		{"integrity lists an absent file", func() []byte {
			return b.signed(withManifest(t, b.files, func(m *manifest.Manifest) {
				m.Integrity.Files = append(m.Integrity.Files, manifest.IntegrityFile{Path: "assets/ghost.txt", SHA256: strings.Repeat("0", 64)})
			}))
		}, nil, CheckIntegrity, "assets/ghost.txt", ErrIntegrityMismatch},
		{"module byte flipped, validly re-signed", func() []byte {
			return b.signed(replace(b.files, module, []byte("\x00asm\x01\x00\x00\x01")))
		}, nil, CheckIntegrity, module, ErrIntegrityMismatch},
		{"module and integrity changed, old signature", func() []byte {
			return write(t, withIntegrity(t, replace(b.files, module, []byte("\x00asm\x01\x00\x00\x01"))), Deflate)
		}, nil, CheckPayloadDigest, SignaturePath, ErrPayloadDigestMismatch},
		{"signature.json replaced (other key, old signature)", func() []byte {
			return b.editSignature(func(s *Signature) {
				o := Sign(testKey("other"), "acme", s.PayloadSHA256, signedAt)
				s.PublicKeyBase64, s.KeyID = o.PublicKeyBase64, o.KeyID
			})
		}, nil, CheckSignature, SignaturePath, ErrBadSignature},
		{"signature over another digest", func() []byte {
			return b.editSignature(func(s *Signature) {
				s.SignatureBase64 = Sign(testKey("good"), "acme", strings.Repeat("ab", 32), signedAt).SignatureBase64
			})
		}, nil, CheckSignature, SignaturePath, ErrBadSignature},
		{"signer is not the manifest publisher", func() []byte {
			return write(t, resign(t, b.files, testKey("mallory"), "mallory"), Deflate)
		}, nil, CheckPublisher, SignaturePath, ErrPublisherMismatch},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.make()
			a, err := open(data, tc.opts)
			if err == nil {
				t.Fatalf("Open accepted the variant (digest %s)", a.PayloadSHA256)
			}
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *CheckError", err, err)
			}
			if ce.Check != tc.check || ce.Entry != tc.entry {
				t.Errorf("check %q entry %q, want check %q entry %q\n(%v)", ce.Check, ce.Entry, tc.check, tc.entry, err)
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("error %v is not %v", err, tc.class)
			}
			t.Log(err)
			seen[ce.Check] = true
		})
	}
	// Every named check has at least one variant that trips it.
	for _, c := range allChecks {
		if !seen[c] {
			t.Errorf("no variant trips check %q", c)
		}
	}
}

var allChecks = []string{
	CheckArchiveSize, CheckEndRecord, CheckTrailingData, CheckComment, CheckZip64,
	CheckEntryCount, CheckCentralDirectory, CheckDirectory, CheckPath, CheckMode,
	CheckEncryption, CheckDataDescriptor, CheckFlags, CheckMethod, CheckExtraField,
	CheckEntrySize, CheckCompressionRatio, CheckMetadataSize, CheckDuplicate,
	CheckCaseCollision, CheckEntrySet, CheckTotalSize, CheckLocalHeader,
	CheckLeadingData, CheckOverlap, CheckGap, CheckSize, CheckDeflate, CheckCRC,
	CheckJSON, CheckSignatureFields, CheckManifest, CheckIntegrity,
	CheckPayloadDigest, CheckSignature, CheckPublisher, CheckSBOM, CheckProvenance,
}

var signedAt = time.Unix(1700000000, 0)

// editSignature rewrites signature.json's fields (as valid JSON) and nothing
// else.
func (b base) editSignature(edit func(*Signature)) []byte {
	sigJSON, _ := (&Artifact{Files: b.files}).File(SignaturePath)
	var s Signature
	if err := json.Unmarshal(sigJSON, &s); err != nil {
		b.t.Fatal(err)
	}
	edit(&s)
	js, err := s.marshal()
	if err != nil {
		b.t.Fatal(err)
	}
	return write(b.t, replace(b.files, SignaturePath, js), Deflate)
}

// withIntegrity rewrites skill.toml's integrity list to match files, so a
// variant gets past the integrity check.
func withIntegrity(t testing.TB, files []File) []File {
	return withManifest(t, files, func(m *manifest.Manifest) {
		m.Integrity.Files = nil
		for _, f := range files {
			if f.Path != ManifestPath && f.Path != SignaturePath {
				m.Integrity.Files = append(m.Integrity.Files, manifest.IntegrityFile{Path: f.Path, SHA256: SHA256Hex(f.Data)})
			}
		}
	})
}
